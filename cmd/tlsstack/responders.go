package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tlsstack/tlsstack/tlslayer"
	"github.com/tlsstack/tlsstack/zerocopy"
)

// A responder answers the decrypted streams of one serve run.
type responder interface {
	// serve accepts from l, whose connections are *tlslayer.Conn with
	// their handshake done, until l is closed.
	serve(l net.Listener) error
	// shutdown waits for open connections to finish until ctx ends, then
	// closes what is left and returns ctx's error.
	shutdown(ctx context.Context) error
}

func newResponder(c *serveConfig, log *slog.Logger) (responder, error) {
	switch c.responder {
	case "http":
		return newHTTPResponder(c, log), nil
	case "echo":
		return newStreamResponder(c, log, echo), nil
	case "discard":
		return newStreamResponder(c, log, discard), nil
	case "proxy":
		p := &proxy{backend: c.backend, dialer: net.Dialer{Timeout: 10 * time.Second}}
		return newStreamResponder(c, log, p.handle), nil
	}
	return nil, usagef("--responder %q: unknown", c.responder)
}

// httpResponder serves net/http over the TLS listener: HTTP/1.1, and h2
// when ALPN chooses it.
type httpResponder struct {
	srv *http.Server
	log *slog.Logger
}

func newHTTPResponder(c *serveConfig, log *slog.Logger) *httpResponder {
	h := &httpResponder{log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /bytes/{n}", h.bytes)
	mux.HandleFunc("POST /upload", h.upload)
	h.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       c.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return h
}

func (h *httpResponder) serve(l net.Listener) error {
	err := h.srv.Serve(tlslayer.HTTPListener(l))
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, tlslayer.ErrServerClosed) {
		return nil
	}
	return err
}

func (h *httpResponder) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if err != nil {
		h.srv.Close()
	}
	return err
}

func (h *httpResponder) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "tlsstack: hello from %s over %s", r.Host, r.Proto)
	if r.TLS != nil {
		fmt.Fprintf(w, ", %s %s, ALPN %q, SNI %q", tlslayer.VersionName(r.TLS.Version),
			tls.CipherSuiteName(r.TLS.CipherSuite), r.TLS.NegotiatedProtocol,
			r.TLS.ServerName)
	}
	fmt.Fprintf(w, ", client %s\n", r.RemoteAddr)
}

// maxBytes bounds /bytes/N so a typo cannot start an endless response.
const maxBytes = 1 << 40

// bytes answers N bytes of a fixed pseudo-random pattern. With ?sha256=1 it
// also logs the SHA-256 of what it wrote, so the receiver can check it;
// that is opt-in because hashing costs as much CPU as the encryption.
func (h *httpResponder) bytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, fmt.Sprintf("bad byte count %q: want 0 to %d", r.PathValue("n"),
			int64(maxBytes)), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))

	if r.URL.Query().Get("sha256") == "" {
		written, err := writePattern(w, n)
		h.log.Debug("bytes sent", "peer", r.RemoteAddr, "proto", r.Proto, "bytes", written,
			"err", err)
		return
	}
	sum := sha256.New()
	written, err := writePattern(io.MultiWriter(w, sum), n)
	h.log.Info("bytes sent", "peer", r.RemoteAddr, "proto", r.Proto, "bytes", written,
		"sha256", hex.EncodeToString(sum.Sum(nil)), "err", err)
}

// uploadResult is the JSON answer to POST /upload.
type uploadResult struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
}

// upload reads the whole body and answers its length, and with ?sha256=1
// its SHA-256 too (opt-in for the same reason as in bytes).
func (h *httpResponder) upload(w http.ResponseWriter, r *http.Request) {
	buf := zerocopy.GetBuffer()
	defer zerocopy.PutBuffer(buf)
	var res uploadResult
	var err error
	if r.URL.Query().Get("sha256") == "" {
		res.Bytes, err = io.CopyBuffer(discardWriter{}, r.Body, *buf)
		h.log.Debug("bytes received", "peer", r.RemoteAddr, "proto", r.Proto, "bytes",
			res.Bytes, "err", err)
	} else {
		sum := sha256.New()
		res.Bytes, err = io.CopyBuffer(sum, r.Body, *buf)
		res.SHA256 = hex.EncodeToString(sum.Sum(nil))
		h.log.Info("bytes received", "peer", r.RemoteAddr, "proto", r.Proto, "bytes",
			res.Bytes, "sha256", res.SHA256, "err", err)
	}
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// discardWriter is io.Discard without its ReadFrom, so that CopyBuffer
// reads through the large pooled buffer rather than io.Discard's 8 KiB one.
type discardWriter struct{}

func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// pattern is the block /bytes/N repeats: pseudo-random, from a fixed seed,
// so that a test can compute the expected bytes too.
var pattern = func() []byte {
	b := make([]byte, 64<<10)
	rng := rand.NewChaCha8([32]byte{'t', 'l', 's', 's', 't', 'a', 'c', 'k'})
	rng.Read(b)
	return b
}()

// writePattern writes n bytes of the repeated pattern to w.
func writePattern(w io.Writer, n int64) (int64, error) {
	var written int64
	for written < n {
		chunk := pattern
		if rest := n - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		m, err := w.Write(chunk)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// streamResponder runs a handler per connection and tracks the open ones
// for a graceful stop.
type streamResponder struct {
	log    *slog.Logger
	idle   time.Duration
	handle func(c *tlslayer.Conn) error

	mu    sync.Mutex
	conns map[*tlslayer.Conn]struct{}
	wg    sync.WaitGroup
}

func newStreamResponder(c *serveConfig, log *slog.Logger,
	handle func(c *tlslayer.Conn) error) *streamResponder {
	return &streamResponder{log: log, idle: c.idle, handle: handle,
		conns: make(map[*tlslayer.Conn]struct{})}
}

func (s *streamResponder) serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, tlslayer.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		tc, ok := c.(*tlslayer.Conn)
		if !ok {
			c.Close()
			return fmt.Errorf("listener returned %T, want *tlslayer.Conn", c)
		}
		s.mu.Lock()
		s.conns[tc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.run(tc)
	}
}

func (s *streamResponder) run(c *tlslayer.Conn) {
	defer s.wg.Done()
	start := time.Now()
	err := s.handle(c)
	c.Close()

	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.log.Debug("connection closed", "peer", c.RemoteAddr(), "sni", c.ServerName(),
		"alpn", c.ALPNProtocol(), "duration", time.Since(start), "err", err)
}

func (s *streamResponder) shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// echo writes back what it reads; after the peer's close_notify or EOF it
// closes its own sending side.
func echo(c *tlslayer.Conn) error {
	_, err := zerocopy.Copy(c, c)
	if err != nil {
		return err
	}
	return c.CloseWrite()
}

// discard reads until EOF and throws it away.
func discard(c *tlslayer.Conn) error {
	b := zerocopy.GetBuffer()
	defer zerocopy.PutBuffer(b)
	for {
		if _, err := c.Read(*b); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// proxy forwards the decrypted stream to a plaintext backend through the
// host kernel, both ways, passing on each side's half-close.
type proxy struct {
	backend string
	dialer  net.Dialer
}

func (p *proxy) handle(c *tlslayer.Conn) error {
	b, err := p.dialer.Dial("tcp", p.backend)
	if err != nil {
		return fmt.Errorf("backend %s: %w", p.backend, err)
	}
	defer b.Close()
	bc := b.(*net.TCPConn)

	errc := make(chan error, 2)
	go func() {
		_, err := zerocopy.Copy(bc, c)
		if cerr := bc.CloseWrite(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	go func() {
		_, err := zerocopy.Copy(c, bc)
		if cerr := c.CloseWrite(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	return errors.Join(<-errc, <-errc)
}
