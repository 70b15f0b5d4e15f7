package tlslayer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
)

// benchmarkHandshakes runs full TLS 1.3 handshakes over net.Pipe with
// serve as the server side.
func benchmarkHandshakes(b *testing.B, p *testPKI, serve func(net.Conn) error) {
	cfg := &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"}
	b.ReportAllocs()
	for b.Loop() {
		a, s := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- serve(s) }()
		c := tls.Client(a, cfg)
		if err := c.Handshake(); err != nil {
			b.Fatal(err)
		}
		// net.Pipe has no buffer: drain the server's session ticket.
		go func() { _, _ = io.Copy(io.Discard, c) }()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		a.Close()
		s.Close()
	}
}

// BenchmarkHandshakeTLSLayer measures the server side of this package:
// per-connection configuration, session wrapping and counting included.
func BenchmarkHandshakeTLSLayer(b *testing.B) {
	p := newTestPKI(b)
	srv, err := NewServer(ServerOptions{Context: p.context(b, nil)})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkHandshakes(b, p, func(raw net.Conn) error {
		_, err := srv.Wrap(context.Background(), raw)
		return err
	})
}

// BenchmarkHandshakeCryptoTLS is the same with a bare crypto/tls server,
// for comparison.
func BenchmarkHandshakeCryptoTLS(b *testing.B) {
	p := newTestPKI(b)
	cfg := p.context(b, nil).baseConfig()
	benchmarkHandshakes(b, p, func(raw net.Conn) error {
		return tls.Server(raw, cfg).Handshake()
	})
}
