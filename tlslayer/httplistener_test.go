package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

func TestHTTPListenerServesHTTP2AndHTTP1ByALPN(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil),
		ALPNProtocols: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			fmt.Fprint(w, "no r.TLS")
			return
		}
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.TLS.NegotiatedProtocol, r.TLS.ServerName)
	})}
	go func() { _ = hs.Serve(HTTPListener(srv.Listen(inner))) }()
	url := fmt.Sprintf("https://localhost:%d/", portOf(t, inner.Addr().String()))

	roots := x509.NewCertPool()
	roots.AddCert(p.ca.cert)
	for _, tt := range []struct {
		alpn []string
		want string
	}{
		{[]string{"h2", "http/1.1"}, "HTTP/2.0 h2 localhost"},
		{[]string{"http/1.1"}, "HTTP/1.1 http/1.1 localhost"},
	} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
			NextProtos: tt.alpn}, ForceAttemptHTTP2: len(tt.alpn) == 2}
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatalf("ALPN %v: %v", tt.alpn, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != tt.want {
			t.Errorf("ALPN %v: got %q (%v), want %q", tt.alpn, body, err, tt.want)
		}
		tr.CloseIdleConnections()
	}

	// net/http closes the *tls.Conn; the count must follow.
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, srv, 0)
}
