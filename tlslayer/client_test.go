package tlslayer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// serveChain starts a server presenting chain (leaf first) with key.
func serveChain(t testing.TB, chain [][]byte, key []byte) *testServer {
	t.Helper()
	sc, err := NewSecureContext(ContextOptions{
		Cert: [][]byte{bytes.Join(chain, nil)}, Key: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, ServerOptions{Context: sc})
}

func TestConnectAuthorization(t *testing.T) {
	root := newTestCA(t, "root")
	inter := root.intermediate(t, "intermediate")
	other := newTestCA(t, "other root")
	host := leafOpts{dns: []string{"localhost"}, ips: []string{"127.0.0.1"}}

	good, goodKey, _ := root.issue(t, host)
	viaInter, viaInterKey, _ := inter.issue(t, host)
	expiredOpts := host
	expiredOpts.notBefore = time.Now().Add(-48 * time.Hour)
	expiredOpts.notAfter = time.Now().Add(-24 * time.Hour)
	expired, expiredKey, _ := root.issue(t, expiredOpts)
	futureOpts := host
	futureOpts.notBefore = time.Now().Add(24 * time.Hour)
	futureOpts.notAfter = time.Now().Add(48 * time.Hour)
	future, futureKey, _ := root.issue(t, futureOpts)
	wrongName, wrongNameKey, _ := root.issue(t, leafOpts{dns: []string{"elsewhere.test"}})
	noSAN, noSANKey, _ := root.issue(t, leafOpts{cn: "localhost"})
	selfCert, selfKey, err := SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		chain [][]byte
		key   []byte
		ca    [][]byte
		code  string
	}{
		{"trusted", [][]byte{good}, goodKey, [][]byte{root.pem}, ""},
		{"trusted via intermediate", [][]byte{viaInter, inter.pem}, viaInterKey,
			[][]byte{root.pem}, ""},
		{"wrong CA", [][]byte{good}, goodKey, [][]byte{other.pem},
			CodeUnableToVerifyLeafSignature},
		{"system roots", [][]byte{good}, goodKey, nil, CodeUnableToVerifyLeafSignature},
		{"missing root", [][]byte{viaInter, inter.pem}, viaInterKey, [][]byte{other.pem},
			CodeUnableToGetIssuerCertLocally},
		{"untrusted root in chain", [][]byte{viaInter, inter.pem, root.pem}, viaInterKey,
			[][]byte{other.pem}, CodeSelfSignedCertInChain},
		{"self-signed", [][]byte{selfCert}, selfKey, [][]byte{root.pem},
			CodeDepthZeroSelfSignedCert},
		{"self-signed is its own CA", [][]byte{selfCert}, selfKey, [][]byte{selfCert}, ""},
		{"expired", [][]byte{expired}, expiredKey, [][]byte{root.pem}, CodeCertHasExpired},
		{"not yet valid", [][]byte{future}, futureKey, [][]byte{root.pem},
			CodeCertNotYetValid},
		{"wrong host", [][]byte{wrongName}, wrongNameKey, [][]byte{root.pem},
			CodeAltNameInvalid},
		// Node falls back to the common name when there are no DNS SANs.
		{"no SANs, CN matches", [][]byte{noSAN}, noSANKey, [][]byte{root.pem}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := serveChain(t, tt.chain, tt.key)
			opts := ClientOptions{Port: portOf(t, ts.addr), Host: "127.0.0.1",
				ServerName: "localhost", ContextOptions: ContextOptions{CA: tt.ca}}

			c, err := Connect(opts)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				defer c.Close()
				if !c.Authorized() || c.AuthorizationError() != "" {
					t.Errorf("Authorized=%v error=%q", c.Authorized(), c.AuthorizationError())
				}
				echo(t, c)
				return
			}
			var verr *VerifyError
			if !errors.As(err, &verr) || verr.Code != tt.code {
				t.Fatalf("Connect error %v, want code %s", err, tt.code)
			}

			opts.AllowUnauthorized = true
			c, err = Connect(opts)
			if err != nil {
				t.Fatalf("Connect with AllowUnauthorized: %v", err)
			}
			defer c.Close()
			if c.Authorized() || c.AuthorizationError() != tt.code {
				t.Errorf("Authorized=%v error=%q, want false %q", c.Authorized(),
					c.AuthorizationError(), tt.code)
			}
			echo(t, c)
		})
	}
}

func TestConnectEnforcesCRL(t *testing.T) {
	root := newTestCA(t, "crl root")
	cert, key, leaf := root.issue(t, leafOpts{dns: []string{"localhost"}})
	ts := serveChain(t, [][]byte{cert}, key)

	makeCRL := func(revoked bool, next time.Time) []byte {
		tmpl := &x509.RevocationList{Number: big.NewInt(1),
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next}
		if revoked {
			tmpl.RevokedCertificateEntries = []x509.RevocationListEntry{{
				SerialNumber: leaf.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)}}
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, root.cert, root.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	otherCRL := func() []byte {
		o := newTestCA(t, "unrelated")
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
			NextUpdate: time.Now().Add(time.Hour)}, o.cert, o.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}

	for _, tt := range []struct {
		name string
		crl  []byte
		code string
	}{
		{"not revoked", makeCRL(false, time.Now().Add(time.Hour)), ""},
		{"revoked", makeCRL(true, time.Now().Add(time.Hour)), CodeCertRevoked},
		{"stale CRL", makeCRL(false, time.Now().Add(-time.Minute)), CodeCRLHasExpired},
		{"no CRL from issuer", otherCRL(), CodeUnableToGetCRL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
				ContextOptions: ContextOptions{CA: [][]byte{root.pem},
					CRL: [][]byte{tt.crl}}})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			var verr *VerifyError
			if !errors.As(err, &verr) || verr.Code != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

func TestConnectCustomCheckServerIdentity(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	var gotHost string
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), ServerName: "renamed.test",
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}},
		CheckServerIdentity: func(host string, cert *x509.Certificate) error {
			gotHost = host
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if gotHost != "renamed.test" {
		t.Errorf("check got host %q", gotHost)
	}

	_, err = Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}},
		CheckServerIdentity: func(string, *x509.Certificate) error {
			return errors.New("pinned key mismatch")
		}})
	var verr *VerifyError
	if !errors.As(err, &verr) || verr.Code != "pinned key mismatch" {
		t.Errorf("err = %v, want the custom error's message as code", err)
	}
}

func TestConnectNeverSendsIPAsSNI(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c, err := Connect(ClientOptions{Host: "127.0.0.1", Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
	if sn := nextAccepted(t, ts).ServerName(); sn != "" {
		t.Errorf("server saw SNI %q for an IP host", sn)
	}
	if !c.Authorized() {
		t.Errorf("IP SAN not matched: %s", c.AuthorizationError())
	}
}

func TestConnectTransports(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	serve := func(inner net.Listener) {
		ln := srv.Listen(inner)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
			}
		}()
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(tcp)
	sock := filepath.Join(t.TempDir(), "tls.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	serve(unix)
	ctxOpts := ContextOptions{CA: [][]byte{p.ca.pem}}
	port := portOf(t, tcp.Addr().String())

	var dialed []string
	var mu sync.Mutex
	tests := []struct {
		name string
		opts ClientOptions
	}{
		{"kernel", ClientOptions{Port: port}},
		{"unix socket", ClientOptions{Path: sock}},
		{"dial function", ClientOptions{Port: port, Host: "example.test",
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dialed = append(dialed, addr)
				mu.Unlock()
				var d net.Dialer
				return d.DialContext(ctx, network, tcp.Addr().String())
			}}},
		{"lookup", ClientOptions{Port: port, Host: "example.test",
			Lookup: func(ctx context.Context, host string) ([]string, error) {
				return []string{"127.0.0.2", "127.0.0.1"}, nil
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.ContextOptions = ctxOpts
			c, err := Connect(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo(t, c)
		})
	}
	if len(dialed) != 1 || dialed[0] != net.JoinHostPort("example.test", strconv.Itoa(port)) {
		t.Errorf("dial function saw %v", dialed)
	}

	t.Run("existing conn", func(t *testing.T) {
		raw, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, err := Client(context.Background(), raw, ClientOptions{ContextOptions: ctxOpts})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		echo(t, c)
	})
}

func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and say nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = Connect(ClientOptions{Port: portOf(t, ln.Addr().String()),
		Timeout: 200 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestConnectALPNListAndWire(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		ALPNProtocols: []string{"h2", "http/1.1"}})
	for _, tt := range []struct {
		list []string
		wire []byte
		want string
	}{
		{[]string{"http/1.1"}, nil, "http/1.1"},
		{nil, []byte("\x02h2\x08http/1.1"), "h2"},
	} {
		c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), ALPNProtocols: tt.list,
			ALPNWire: tt.wire, ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
		if err != nil {
			t.Fatal(err)
		}
		if c.ALPNProtocol() != tt.want {
			t.Errorf("ALPN %q, want %q", c.ALPNProtocol(), tt.want)
		}
		c.Close()
	}
	if _, err := ParseALPNWire([]byte("\x05h2")); err == nil {
		t.Error("truncated wire list accepted")
	}
	if _, err := Connect(ClientOptions{Port: 1, ALPNWire: []byte{0}}); err == nil {
		t.Error("zero-length wire entry accepted")
	}
}

func TestConnectRejectsBadOptions(t *testing.T) {
	for _, o := range []ClientOptions{
		{},
		{Port: 70000},
		{Port: 443, MinDHSize: -1},
		{Port: 443, ALPNProtocols: []string{""}},
		{Port: 443, Session: []byte("junk")},
	} {
		if _, err := Connect(o); err == nil || !strings.HasPrefix(err.Error(), "tlslayer: ") {
			t.Errorf("Connect(%+v) = %v", o, err)
		}
	}
}

func TestConnectServerNameCaseAndTrailingDot(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), ServerName: "LocalHost.",
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Authorized() {
		t.Errorf("not authorized: %s", c.AuthorizationError())
	}
	if sn := nextAccepted(t, ts).ServerName(); !strings.EqualFold(sn, "localhost") {
		t.Errorf("server saw SNI %q", sn)
	}
}
