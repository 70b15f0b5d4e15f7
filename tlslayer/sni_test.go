package tlslayer

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServerSNIContexts(t *testing.T) {
	p := newTestPKI(t)
	ctxFor := func(names ...string) (*SecureContext, string) {
		cert, key, _ := p.ca.issue(t, leafOpts{dns: names})
		sc, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
		if err != nil {
			t.Fatal(err)
		}
		return sc, names[0]
	}
	exact, exactCN := ctxFor("api.example.com")
	wild, wildCN := ctxFor("*.example.com")
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	if err := ts.srv.AddContext("*.example.com", wild); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.AddContext("API.example.com.", exact); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		sni, wantCN string
	}{
		{"api.example.com", exactCN},
		{"API.Example.COM", exactCN},
		{"www.example.com", wildCN},
		{"a.b.example.com", "localhost"}, // a wildcard covers one label only
		{"example.com.", "localhost"},
		{"example.com", "localhost"},
		{"", "localhost"},
	} {
		c := dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true, ServerName: tt.sni})
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != tt.wantCN {
			t.Errorf("SNI %q got certificate %q, want %q", tt.sni, cn, tt.wantCN)
		}
		if sc := nextAccepted(t, ts); sc.Certificate().Subject.Get("CN") != tt.wantCN {
			t.Errorf("SNI %q: server Certificate() = %v", tt.sni, sc.Certificate().Subject)
		}
	}

	if err := ts.srv.AddContext("", exact); err == nil {
		t.Error("AddContext with an empty name accepted")
	}
	if err := ts.srv.AddContext("x.test", nil); err == nil {
		t.Error("AddContext with nil context accepted")
	}
}

func TestServerSNICallback(t *testing.T) {
	p := newTestPKI(t)
	cert, key, _ := p.ca.issue(t, leafOpts{dns: []string{"cb.test"}})
	cb, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		SNICallback: func(name string) (*SecureContext, error) {
			seen = append(seen, name)
			switch name {
			case "cb.test":
				return cb, nil
			case "refuse.test":
				return nil, errors.New("no such site")
			}
			return nil, nil
		}})
	c := dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true, ServerName: "CB.test."})
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "cb.test" {
		t.Errorf("callback context not used: %q", cn)
	}
	c = dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true, ServerName: "other.test"})
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "localhost" {
		t.Errorf("nil from callback did not select the default: %q", cn)
	}
	if _, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true,
		ServerName: "refuse.test"}); err == nil {
		t.Error("callback error did not fail the handshake")
	}
	if err := ts.waitClientError(t, 5e9); err == nil {
		t.Error("callback error not reported")
	}
	if seen[0] != "cb.test" {
		t.Errorf("callback saw %q, want the normalized name", seen[0])
	}
}

func TestServerSNILastAddedWins(t *testing.T) {
	p := newTestPKI(t)
	mk := func(cn string) *SecureContext {
		cert, key, _ := p.ca.issue(t, leafOpts{cn: cn, dns: []string{"x.test"}})
		sc, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	steps := []struct {
		pattern, cn string
		sni, want   string
	}{
		{"api.example.com", "exact", "api.example.com", "exact"},
		{"*.example.com", "wild", "api.example.com", "wild"}, // Node: newest first
		{"*", "single-label", "intranet", "single-label"},
		{"", "", "deep.api.example.com", "localhost"},
	}
	for _, st := range steps {
		if st.pattern != "" {
			if err := ts.srv.AddContext(st.pattern, mk(st.cn)); err != nil {
				t.Fatal(err)
			}
		}
		c := dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true, ServerName: st.sni})
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != st.want {
			t.Errorf("after adding %q, SNI %q got %q, want %q", st.pattern, st.sni, cn, st.want)
		}
	}
}

func TestServerSetSecureContextReloads(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	old := dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true})
	cert, key, _ := p.ca.issue(t, leafOpts{cn: "reloaded", dns: []string{"localhost"}})
	sc, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.SetSecureContext(sc); err != nil {
		t.Fatal(err)
	}
	c := dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true})
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "reloaded" {
		t.Errorf("new connection got %q", cn)
	}
	echo(t, old) // the old connection is not dropped
	if err := ts.srv.SetSecureContext(nil); err == nil {
		t.Error("nil context accepted")
	}
}

// TestInteropOpenSSLTrailingDotSNIIsRefused records a limit of crypto/tls:
// its server rejects a ClientHello whose server_name ends in "." (RFC 6066
// forbids it), so such clients cannot connect at all, where Node accepts
// them and reports "other.test.". SNICallback never sees the name.
func TestInteropOpenSSLTrailingDotSNIIsRefused(t *testing.T) {
	p := newTestPKI(t)
	var mu sync.Mutex
	var seen []string
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		SNICallback: func(name string) (*SecureContext, error) {
			mu.Lock()
			seen = append(seen, name)
			mu.Unlock()
			return nil, nil
		}})

	out := sClient(t, ts.addr, "-servername", "other.test.")
	if strings.Contains(out, "New, TLSv1") {
		t.Fatalf("trailing-dot SNI was accepted; update README.md:\n%s", out)
	}
	err := ts.waitClientError(t, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "error decoding message") {
		t.Errorf("client error = %v, want crypto/tls's decoding error", err)
	}

	out = sClient(t, ts.addr, "-servername", "other.test", "-no_ign_eof")
	if !strings.Contains(out, "New, TLSv1") {
		t.Errorf("SNI without the dot refused:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "other.test" {
		t.Errorf("SNICallback saw %q, want only other.test", seen)
	}
}
