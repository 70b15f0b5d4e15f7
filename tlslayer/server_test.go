package tlslayer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a Server listening on loopback with an echo handler.
type testServer struct {
	srv      *Server
	ln       net.Listener
	addr     string
	accepted chan *Conn

	mu        sync.Mutex
	clientErr []error
	errSignal chan struct{}
}

// startServer listens on 127.0.0.1 and echoes on every accepted Conn; each
// accepted Conn is also sent to accepted (dropped when nobody reads).
func startServer(t testing.TB, opts ServerOptions) *testServer {
	t.Helper()
	ts := &testServer{accepted: make(chan *Conn, 16), errSignal: make(chan struct{}, 16)}
	user := opts.OnClientError
	opts.OnClientError = func(err error, remote net.Addr) {
		ts.mu.Lock()
		ts.clientErr = append(ts.clientErr, err)
		ts.mu.Unlock()
		if user != nil {
			user(err, remote)
		}
		ts.errSignal <- struct{}{}
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	ts.ln = srv.Listen(inner)
	ts.addr = inner.Addr().String()
	t.Cleanup(func() { _ = srv.Close() })
	go func() {
		for {
			c, err := ts.ln.Accept()
			if err != nil {
				return
			}
			select {
			case ts.accepted <- c.(*Conn):
			default:
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ts
}

// waitClientError waits for the next OnClientError call and returns it.
func (ts *testServer) waitClientError(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-ts.errSignal:
	case <-time.After(d):
		t.Fatalf("no client error within %s", d)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.clientErr[len(ts.clientErr)-1]
}

// dialTLS connects with crypto/tls and does one echo round trip.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	echo(t, c)
	return c
}

func echo(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(buf) != "ping" {
		t.Fatalf("echo = %q", buf)
	}
	_ = c.SetDeadline(time.Time{})
}

func nextAccepted(t testing.TB, ts *testServer) *Conn {
	t.Helper()
	select {
	case c := <-ts.accepted:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func TestServerNegotiatesVersionAndCertificateType(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, func(o *ContextOptions) {
		o.MinVersion = "TLSv1.2"
	})})

	tests := []struct {
		name     string
		version  uint16
		suites   []uint16
		sigAlg   x509.PublicKeyAlgorithm
		protocol string
	}{
		{"tls13-ecdsa", tls.VersionTLS13, nil, x509.ECDSA, "TLSv1.3"},
		{"tls12-ecdsa", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, x509.ECDSA, "TLSv1.2"},
		{"tls12-rsa", tls.VersionTLS12,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, x509.RSA, "TLSv1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialTLS(t, ts.addr, &tls.Config{
				RootCAs: p.rootPool(), ServerName: "localhost",
				MinVersion: tt.version, MaxVersion: tt.version, CipherSuites: tt.suites,
			})
			got := c.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm
			if got != tt.sigAlg {
				t.Errorf("server certificate %v, want %v", got, tt.sigAlg)
			}
			sc := nextAccepted(t, ts)
			if sc.Protocol() != tt.protocol {
				t.Errorf("Protocol() = %q, want %q", sc.Protocol(), tt.protocol)
			}
			ci := sc.Cipher()
			want := cipherInfo(c.ConnectionState().CipherSuite)
			if ci != want || ci.Name == "" {
				t.Errorf("Cipher() = %+v, want %+v", ci, want)
			}
		})
	}
}

func TestServerRSAOnlyClientGetsRSAChain(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c := dialTLS(t, ts.addr, &tls.Config{
		RootCAs: p.rootPool(), ServerName: "localhost", MaxVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
		// Restricting the TLS 1.2 suites to RSA ones forces the RSA chain.
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	})
	_ = c
	c12 := dialTLS(t, ts.addr, &tls.Config{
		RootCAs: p.rootPool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	})
	if a := c12.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm; a != x509.RSA {
		t.Fatalf("RSA-only client got %v certificate", a)
	}
}

func TestServerALPN(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{
		Context:       p.context(t, nil),
		ALPNProtocols: []string{"h2", "http/1.1"},
	})
	for _, tt := range []struct {
		offer []string
		want  string
	}{
		{[]string{"h2", "http/1.1"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
		{nil, ""},
	} {
		c := dialTLS(t, ts.addr, &tls.Config{
			RootCAs: p.rootPool(), ServerName: "localhost", NextProtos: tt.offer,
		})
		if got := c.ConnectionState().NegotiatedProtocol; got != tt.want {
			t.Errorf("offer %v: client sees %q, want %q", tt.offer, got, tt.want)
		}
		if got := nextAccepted(t, ts).ALPNProtocol(); got != tt.want {
			t.Errorf("offer %v: ALPNProtocol() = %q, want %q", tt.offer, got, tt.want)
		}
	}

	_, err := tls.Dial("tcp", ts.addr, &tls.Config{
		RootCAs: p.rootPool(), ServerName: "localhost", NextProtos: []string{"spdy/3"},
	})
	if err == nil || !strings.Contains(err.Error(), "no application protocol") {
		t.Errorf("no common protocol: err = %v, want no_application_protocol", err)
	}
	if err := ts.waitClientError(t, 5*time.Second); err == nil {
		t.Error("ALPN mismatch not reported as client error")
	}
}

func TestServerReportsSNI(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	dialTLS(t, ts.addr, &tls.Config{RootCAs: p.rootPool(), ServerName: "example.test"})
	if got := nextAccepted(t, ts).ServerName(); got != "example.test" {
		t.Errorf("ServerName() = %q", got)
	}
	dialTLS(t, ts.addr, &tls.Config{InsecureSkipVerify: true})
	if got := nextAccepted(t, ts).ServerName(); got != "" {
		t.Errorf("ServerName() without SNI = %q", got)
	}
}

func TestServerHandshakeTimeoutIsClientError(t *testing.T) {
	p := newTestPKI(t)
	var remote net.Addr
	var mu sync.Mutex
	ts := startServer(t, ServerOptions{
		Context:          p.context(t, nil),
		HandshakeTimeout: 200 * time.Millisecond,
		OnClientError: func(err error, r net.Addr) {
			mu.Lock()
			remote = r
			mu.Unlock()
		},
	})
	silent, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	err = ts.waitClientError(t, 5*time.Second)
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("client error = %v, want ErrHandshakeTimeout", err)
	}
	mu.Lock()
	if remote == nil || remote.String() != silent.LocalAddr().String() {
		t.Errorf("reported peer %v, want %v", remote, silent.LocalAddr())
	}
	mu.Unlock()

	// The server closed the silent connection.
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent conn read after timeout: %v, want EOF", err)
	}
}

func TestServerGarbageDoesNotBlockOthers(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})

	// A peer that connects and says nothing must not hold up the others.
	idle, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	bad, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}

	dialTLS(t, ts.addr, &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"})

	err = ts.waitClientError(t, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), bad.LocalAddr().String()) {
		t.Errorf("garbage client error = %v, want one naming %s", err, bad.LocalAddr())
	}
}

func TestServerConnectionCount(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	cfg := &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"}

	dialTLS(t, ts.addr, cfg)
	dialTLS(t, ts.addr, cfg)
	a, b := nextAccepted(t, ts), nextAccepted(t, ts)
	waitCount(t, ts.srv, 2)

	_ = a.Close()
	waitCount(t, ts.srv, 1)
	_ = b.TLS().Close() // the way net/http closes it
	waitCount(t, ts.srv, 0)
	_ = a.Close()
	waitCount(t, ts.srv, 0)
}

func waitCount(t testing.TB, s *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.ConnectionCount() != want {
		if time.Now().After(deadline) {
			t.Fatalf("ConnectionCount() = %d, want %d", s.ConnectionCount(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerCloseStopsAccepting(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	cfg := &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"}
	c := dialTLS(t, ts.addr, cfg)
	waitCount(t, ts.srv, 1)

	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.ln.Accept(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("dial after Close succeeded")
	}
	echo(t, c) // established connections keep working
}

func TestServerOverNetPipe(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	pl := newPipeListener()
	ln := srv.Listen(pl)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
		}
	}()
	raw := pl.dial()
	c := tls.Client(raw, &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"})
	defer c.Close()
	echo(t, c)
}

// pipeListener is a net.Listener of net.Pipe connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	a, b := net.Pipe()
	l.conns <- b
	return a
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func TestServerALPNCallbackAndAddrs(t *testing.T) {
	p := newTestPKI(t)
	var offered []string
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		ALPNCallback: func(sn string, protos []string) string {
			offered = protos
			return protos[len(protos)-1]
		}})
	c := dialTLS(t, ts.addr, &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost",
		NextProtos: []string{"h2", "http/1.1"}})
	if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" ||
		len(offered) != 2 {
		t.Errorf("callback chose %q from %v", got, offered)
	}
	wire := startServer(t, ServerOptions{Context: p.context(t, nil),
		ALPNWire: []byte("\x08http/1.1")})
	c = dialTLS(t, wire.addr, &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost",
		NextProtos: []string{"h2", "http/1.1"}})
	if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
		t.Errorf("ALPNWire server chose %q", got)
	}
	if _, err := NewServer(ServerOptions{Context: p.context(t, nil),
		ALPNWire: []byte("\x09h2")}); err == nil {
		t.Error("bad ALPN wire list accepted")
	}
	if _, err := NewServer(ServerOptions{Context: p.context(t, nil),
		ALPNProtocols: []string{"h2"}, ALPNCallback: func(string, []string) string {
			return ""
		}}); err == nil {
		t.Error("ALPNCallback with ALPNProtocols accepted")
	}
	if a := ts.srv.Addrs(); len(a) != 1 || a[0].String() != ts.addr {
		t.Errorf("Addrs() = %v, want %s", a, ts.addr)
	}
}

func TestServerOldProtocolsWhenAllowed(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, func(o *ContextOptions) {
		o.MinVersion = "TLSv1"
	})})
	strict := startServer(t, ServerOptions{Context: p.context(t, nil)})
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cfg := &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost",
			MinVersion: v, MaxVersion: v}
		dialTLS(t, ts.addr, cfg)
		sc := nextAccepted(t, ts)
		if sc.Protocol() != VersionName(v) || sc.Cipher().Version == "" {
			t.Errorf("%s: protocol %s cipher %+v", VersionName(v), sc.Protocol(), sc.Cipher())
		}
		if _, err := tls.Dial("tcp", strict.addr, cfg); err == nil {
			t.Errorf("%s accepted by a TLSv1.2 minimum", VersionName(v))
		}
	}
}

// noDeadlineConn is a connection that refuses deadlines, as some
// userspace transports might.
type noDeadlineConn struct{ net.Conn }

func (noDeadlineConn) SetDeadline(time.Time) error { return errors.New("no deadlines") }

func TestServerHandshakeTimeoutWithoutDeadlines(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil),
		HandshakeTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	_, err = srv.Wrap(context.Background(), noDeadlineConn{b})
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Errorf("err = %v, want ErrHandshakeTimeout", err)
	}
}

// TestServerAnswersPlainHTTP gives a client that sends plain HTTP to the
// TLS port an HTTP 400 that says why, then closes.
func TestServerAnswersPlainHTTP(t *testing.T) {
	certPEM, keyPEM, err := SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := NewSecureContext(ContextOptions{Cert: [][]byte{certPEM}, Key: [][]byte{keyPEM}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerOptions{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := srv.Listen(inner)
	defer l.Close()

	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x00\x01garbage!"} {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req)
		got, _ := io.ReadAll(c)
		c.Close()
		isHTTP := strings.HasPrefix(req, "GET")
		if isHTTP && !strings.HasPrefix(string(got), "HTTP/1.0 400 Bad Request") {
			t.Errorf("plain HTTP got %q, want a 400", got)
		}
		if !isHTTP && strings.Contains(string(got), "HTTP/") {
			t.Errorf("garbage got an HTTP answer %q", got)
		}
	}
}
