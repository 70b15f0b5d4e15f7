package tlslayer

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeFiles writes name→content into a temporary directory and returns
// the paths.
func writeFiles(t testing.TB, files map[string][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// greetServer starts a server whose handler writes "hello\n" and closes,
// so that peers reading to EOF terminate.
func greetServer(t testing.TB, opts ServerOptions) (*Server, string) {
	t.Helper()
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := srv.Listen(inner)
	t.Cleanup(func() { srv.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Write([]byte("hello\n"))
			}()
		}
	}()
	return srv, inner.Addr().String()
}

// sClient runs openssl s_client against addr with extra arguments and
// returns its combined output.
func sClient(t *testing.T, addr string, args ...string) string {
	t.Helper()
	openssl := needTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"s_client", "-connect", addr, "-ign_eof"}, args...)
	cmd := exec.CommandContext(ctx, openssl, full...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil {
		t.Fatalf("openssl %v timed out:\n%s", full, out)
	}
	return string(out)
}

func TestInteropOpenSSLClientReconnectTLS12(t *testing.T) {
	p := newTestPKI(t)
	_, addr := greetServer(t, ServerOptions{Context: p.context(t, nil)})
	f := writeFiles(t, map[string][]byte{"ca.pem": p.ca.pem})
	out := sClient(t, addr, "-tls1_2", "-reconnect", "-CAfile", f["ca.pem"],
		"-servername", "localhost")
	if n := strings.Count(out, "Reused, TLSv1.2"); n < 5 {
		t.Errorf("%d reused connections, want 5:\n%s", n, out)
	}
	if !strings.Contains(out, "Verify return code: 0 (ok)") {
		t.Errorf("certificate not verified:\n%s", out)
	}
}

func TestInteropOpenSSLClientTLS13SessionFile(t *testing.T) {
	p := newTestPKI(t)
	_, addr := greetServer(t, ServerOptions{Context: p.context(t, nil)})
	f := writeFiles(t, map[string][]byte{"ca.pem": p.ca.pem})
	sess := filepath.Join(filepath.Dir(f["ca.pem"]), "sess.pem")

	out := sClient(t, addr, "-tls1_3", "-sess_out", sess, "-CAfile", f["ca.pem"])
	if !strings.Contains(out, "New, TLSv1.3") {
		t.Fatalf("first connection:\n%s", out)
	}
	if st, err := os.Stat(sess); err != nil || st.Size() == 0 {
		t.Fatalf("no session saved: %v", err)
	}
	out = sClient(t, addr, "-tls1_3", "-sess_in", sess, "-CAfile", f["ca.pem"])
	if !strings.Contains(out, "Reused, TLSv1.3") {
		t.Errorf("session not resumed:\n%s", out)
	}
}

func TestInteropOpenSSLClientExternalStore(t *testing.T) {
	p := newTestPKI(t)
	store := newMapStore()
	_, addr := greetServer(t, ServerOptions{Context: p.context(t, nil),
		OnNewSession: store.put, OnResumeSession: store.get})
	out := sClient(t, addr, "-tls1_2", "-reconnect")
	if n := strings.Count(out, "Reused, TLSv1.2"); n < 5 || store.len() == 0 {
		t.Errorf("%d reused with %d stored sessions:\n%s", n, store.len(), out)
	}
}

func TestInteropOpenSSLClientStatusSNIALPN(t *testing.T) {
	p := newTestPKI(t)
	alt, altKey, _ := p.ca.issue(t, leafOpts{dns: []string{"alt.test"}})
	altCtx, err := NewSecureContext(ContextOptions{Cert: [][]byte{alt}, Key: [][]byte{altKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := greetServer(t, ServerOptions{
		Context:       p.context(t, func(o *ContextOptions) { o.CA = [][]byte{p.ca.pem} }),
		ALPNProtocols: []string{"h2", "http/1.1"},
		OnOCSPRequest: func(cert, issuer *x509.Certificate) ([]byte, error) {
			return ocspResponse(t, p.ca, cert), nil
		}})
	if err := srv.AddContext("alt.test", altCtx); err != nil {
		t.Fatal(err)
	}

	out := sClient(t, addr, "-status", "-servername", "localhost")
	if !strings.Contains(out, "OCSP Response Status: successful") ||
		!strings.Contains(out, "Cert Status: good") {
		t.Errorf("-status shows no stapled response:\n%s", out)
	}
	out = sClient(t, addr, "-servername", "alt.test")
	if !regexp.MustCompile(`subject=.*CN ?= ?alt\.test`).MatchString(out) {
		t.Errorf("-servername alt.test did not pick its certificate:\n%s", out)
	}
	out = sClient(t, addr, "-servername", "localhost")
	if !regexp.MustCompile(`subject=.*CN ?= ?localhost`).MatchString(out) {
		t.Errorf("-servername localhost:\n%s", out)
	}
	for _, tt := range []struct{ offer, want string }{
		{"h2,http/1.1", "ALPN protocol: h2"},
		{"http/1.1", "ALPN protocol: http/1.1"},
	} {
		if out := sClient(t, addr, "-alpn", tt.offer); !strings.Contains(out, tt.want) {
			t.Errorf("-alpn %s:\n%s", tt.offer, out)
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPeer runs a server command and waits until port accepts.
func startPeer(t *testing.T, port int, name string, args ...string) *bytes.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe() // s_server exits on stdin EOF
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s:\n%s", name, addr, out.String())
	return nil
}

func TestInteropClientAgainstOpenSSLServer(t *testing.T) {
	openssl := needTool(t, "openssl")
	p := newTestPKI(t)
	resp := ocspResponse(t, p.ca, p.ecLeaf)
	f := writeFiles(t, map[string][]byte{"cert.pem": p.ecCert, "key.pem": p.ecKey,
		"ca.pem": p.ca.pem, "ocsp.der": resp})

	for _, version := range []string{VersionTLS12, VersionTLS13} {
		t.Run(version, func(t *testing.T) {
			port := freePort(t)
			startPeer(t, port, openssl, "s_server", "-accept", strconv.Itoa(port),
				"-cert", f["cert.pem"], "-key", f["key.pem"], "-alpn", "h2,http/1.1",
				"-status_file", f["ocsp.der"], "-rev")

			var stapled []byte
			var sessions [][]byte
			connect := func(session []byte) *Conn {
				c, err := Connect(ClientOptions{Port: port, Host: "localhost",
					ALPNProtocols: []string{"h2"}, RequestOCSP: true, Session: session,
					OnOCSPResponse: func(r []byte, _ *Conn) { stapled = r },
					OnSession:      func(s []byte, _ *Conn) { sessions = append(sessions, s) },
					ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem},
						MinVersion: version, MaxVersion: version}})
				if err != nil {
					t.Fatal(err)
				}
				// -rev answers each line reversed.
				if _, err := c.Write([]byte("olleh\n")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 6)
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello\n" {
					t.Fatalf("reply %q, %v", buf, err)
				}
				return c
			}
			c := connect(nil)
			if c.Protocol() != version || c.ALPNProtocol() != "h2" || !c.Authorized() {
				t.Errorf("protocol %s alpn %q authorized %v (%s)", c.Protocol(),
					c.ALPNProtocol(), c.Authorized(), c.AuthorizationError())
			}
			if !bytes.Equal(stapled, resp) {
				t.Errorf("stapled OCSP response not received (%d bytes)", len(stapled))
			}
			session := c.Session()
			c.Close()
			if len(session) == 0 || len(sessions) == 0 {
				t.Fatal("no session from s_server")
			}
			c = connect(session)
			if !c.IsSessionReused() {
				t.Error("session from s_server not resumed")
			}
			c.Close()
		})
	}
}

// A client that sends no session ticket extension can only resume by
// session id, which crypto/tls does not implement: it must get full
// handshakes, never a pretended resumption.
func TestInteropOpenSSLClientWithoutTicketsIsNotResumed(t *testing.T) {
	p := newTestPKI(t)
	_, addr := greetServer(t, ServerOptions{Context: p.context(t, nil)})
	out := sClient(t, addr, "-tls1_2", "-no_ticket", "-reconnect")
	if strings.Contains(out, "Reused,") || strings.Count(out, "New, TLSv1.2") < 6 {
		t.Errorf("session-id-only client:\n%s", out)
	}
}

func TestInteropOpenSSLClientCertificatesKeylogGroupsCiphers(t *testing.T) {
	p := newTestPKI(t)
	clientCert, clientKey, _ := p.ca.issue(t, leafOpts{cn: "openssl-client", client: true})
	accepted := make(chan *Conn, 4)
	var keylog bytes.Buffer
	var mu sync.Mutex
	_, addr := greetServer(t, ServerOptions{
		Context: p.context(t, func(o *ContextOptions) {
			o.CA = [][]byte{p.ca.pem}
			o.ECDHCurve = "P-384:X25519"
			o.Ciphers = "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384"
		}),
		RequestCert: true, AllowUnauthorized: true,
		OnSecureConnection: func(c *Conn) { accepted <- c },
		OnKeylog: func(line []byte, _ *Conn) {
			mu.Lock()
			keylog.Write(line)
			mu.Unlock()
		}})
	f := writeFiles(t, map[string][]byte{"cert.pem": clientCert, "key.pem": clientKey,
		"ca.pem": p.ca.pem})
	clientLog := filepath.Join(filepath.Dir(f["ca.pem"]), "keylog.txt")

	// The client prefers P-256 (which its ECDSA P-256 peer certificate
	// needs in TLS 1.2); the server's ecdhCurve order picks P-384.
	out := sClient(t, addr, "-tls1_2", "-cert", f["cert.pem"], "-key", f["key.pem"],
		"-CAfile", f["ca.pem"], "-keylogfile", clientLog, "-groups", "P-256:P-384",
		"-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384")
	if !strings.Contains(out, "Cipher is ECDHE-ECDSA-AES256-GCM-SHA384") ||
		!regexp.MustCompile(`Server Temp Key: ECDH, (P-384|secp384r1)`).MatchString(out) {
		t.Errorf("cipher or group not as configured:\n%s", out)
	}
	sc := recvConn(t, accepted, out)
	if !sc.Authorized() || sc.PeerCertificate(false).Subject.Get("CN") != "openssl-client" {
		t.Errorf("client certificate: authorized %v (%s)", sc.Authorized(),
			sc.AuthorizationError())
	}
	theirs, err := os.ReadFile(clientLog)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	ours := keylog.String()
	mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(theirs)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(ours, line) {
			t.Errorf("openssl key-log line missing from ours: %q\nours:\n%s", line, ours)
		}
	}

	// Without a certificate the connection is kept, unauthorized.
	out = sClient(t, addr, "-tls1_3", "-CAfile", f["ca.pem"])
	sc = recvConn(t, accepted, out)
	if sc.Authorized() || sc.AuthorizationError() != CodeUnableToGetIssuerCert {
		t.Errorf("no client certificate: authorized %v code %q", sc.Authorized(),
			sc.AuthorizationError())
	}
	// A suite outside the cipher list is refused.
	out = sClient(t, addr, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
	if strings.Contains(out, "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256") {
		t.Errorf("suite outside the list negotiated:\n%s", out)
	}
}

func recvConn(t *testing.T, ch chan *Conn, peerOutput string) *Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("no connection completed; peer said:\n%s", peerOutput)
		return nil
	}
}

// A session openssl saved from one server resumes on another that shares
// the ticket keys or the store.
func TestInteropOpenSSLSessionMovesBetweenServers(t *testing.T) {
	p := newTestPKI(t)
	keys := bytes.Repeat([]byte{3}, TicketKeysLen)
	store := newMapStore()
	for _, tt := range []struct {
		name string
		opts func() ServerOptions
	}{
		{"ticket keys", func() ServerOptions {
			return ServerOptions{Context: p.context(t, nil), TicketKeys: keys}
		}},
		{"store", func() ServerOptions {
			return ServerOptions{Context: p.context(t, nil),
				OnNewSession: store.put, OnResumeSession: store.get}
		}},
	} {
		for _, proto := range []string{"-tls1_2", "-tls1_3"} {
			t.Run(tt.name+proto, func(t *testing.T) {
				_, a := greetServer(t, tt.opts())
				_, b := greetServer(t, tt.opts())
				sess := filepath.Join(t.TempDir(), "sess.pem")
				if out := sClient(t, a, proto, "-sess_out", sess); !strings.Contains(out,
					"New, TLSv1.") {
					t.Fatalf("first connection:\n%s", out)
				}
				if out := sClient(t, b, proto, "-sess_in", sess); !strings.Contains(out,
					"Reused, TLSv1.") {
					t.Errorf("not resumed on the second server:\n%s", out)
				}
			})
		}
	}
}

// TestInteropOpenSSLClientSSLv23MethodIsTLS12Only matches Node 20, whose
// SSLv23_method servers refuse `openssl s_client -tls1_3`.
func TestInteropOpenSSLClientSSLv23MethodIsTLS12Only(t *testing.T) {
	p := newTestPKI(t)
	_, addr := greetServer(t, ServerOptions{Context: p.context(t, func(o *ContextOptions) {
		o.SecureProtocol = "SSLv23_method"
	})})
	if out := sClient(t, addr, "-tls1_3"); strings.Contains(out, "New, TLSv1.3") {
		t.Errorf("TLS 1.3 negotiated with SSLv23_method:\n%s", out)
	}
	if out := sClient(t, addr, "-tls1_2"); !strings.Contains(out, "New, TLSv1.2") {
		t.Errorf("TLS 1.2 refused with SSLv23_method:\n%s", out)
	}
}
