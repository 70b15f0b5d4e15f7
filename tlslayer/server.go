package tlslayer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHandshakeTimeout is Node's default handshakeTimeout.
const DefaultHandshakeTimeout = 120 * time.Second

// ErrHandshakeTimeout is wrapped by the error given to
// ServerOptions.OnClientError when a client does not finish its handshake
// within HandshakeTimeout (Node's ERR_TLS_HANDSHAKE_TIMEOUT).
var ErrHandshakeTimeout = errors.New("handshake timed out")

// ErrServerClosed is returned by Accept after Server.Close or the
// listener's own Close.
var ErrServerClosed = errors.New("tlslayer: server closed")

// ServerOptions are the options of Node's tls.createServer. The zero value
// of each field means the default stated on it.
type ServerOptions struct {
	// Context holds certificates, keys and protocol limits. Required.
	Context *SecureContext

	// ALPNProtocols lists the application protocols the server accepts,
	// most preferred first. A client that offers ALPN but none of these
	// is refused with no_application_protocol. Default: no ALPN.
	ALPNProtocols []string

	// HandshakeTimeout bounds each handshake. A client that runs over is
	// reported to OnClientError with ErrHandshakeTimeout and closed.
	// Default: DefaultHandshakeTimeout (120s).
	HandshakeTimeout time.Duration

	// OnClientError is called, from the handshake's goroutine, for every
	// connection that fails before its handshake completes, with the
	// peer's address: Node's 'tlsClientError' event. Optional.
	OnClientError func(err error, remote net.Addr)
}

// Server is Node's tls.Server: a configuration that wraps listeners. One
// Server may serve several listeners; all share its connection count.
type Server struct {
	opts   ServerOptions
	config *tls.Config

	conns atomic.Int64

	mu        sync.Mutex
	closed    bool
	listeners map[*listener]struct{}
	idle      chan struct{} // closed when closed and conns reach zero
}

// NewServer checks opts and returns a Server. It does not listen.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Context == nil {
		return nil, errors.New("tlslayer: server options: Context is required")
	}
	if len(opts.Context.certs) == 0 {
		return nil, errors.New("tlslayer: server options: context has no certificate")
	}
	if opts.HandshakeTimeout < 0 {
		return nil, fmt.Errorf("tlslayer: server options: negative HandshakeTimeout %s",
			opts.HandshakeTimeout)
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}

	s := &Server{
		opts:      opts,
		listeners: make(map[*listener]struct{}),
		idle:      make(chan struct{}),
	}
	cfg := opts.Context.baseConfig()
	cfg.NextProtos = append([]string(nil), opts.ALPNProtocols...)
	s.config = cfg
	return s, nil
}

// Listen wraps inner and returns a net.Listener whose Accept yields *Conn
// values whose handshake has completed. Each pending handshake runs in its
// own goroutine, bounded by HandshakeTimeout, so a slow or hostile peer
// never blocks others; failed handshakes go to OnClientError and are
// closed, never returned from Accept. Closing the returned listener closes
// inner. Listen on a closed Server returns a listener whose Accept fails.
func (s *Server) Listen(inner net.Listener) net.Listener {
	l := &listener{
		s:     s,
		inner: inner,
		ready: make(chan *Conn),
		done:  make(chan struct{}),
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.listeners[l] = struct{}{}
	}
	s.mu.Unlock()
	if closed {
		l.fail(ErrServerClosed)
		return l
	}
	go l.acceptLoop()
	return l
}

// Close stops accepting on every listener of the server, as Node's
// server.close() does. Established connections stay open; Shutdown waits
// for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ls := make([]*listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()

	var first error
	for _, l := range ls {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.checkIdle()
	return first
}

// Shutdown closes the server and waits until every connection has been
// closed or ctx is done, like the callback of Node's server.close().
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.Close()
	select {
	case <-s.idle:
		return err
	case <-ctx.Done():
		return fmt.Errorf("tlslayer: shutdown with %d connections open: %w",
			s.ConnectionCount(), ctx.Err())
	}
}

// ConnectionCount returns the number of open connections: handshake
// completed and not yet closed (Node's server.getConnections()).
func (s *Server) ConnectionCount() int { return int(s.conns.Load()) }

func (s *Server) checkIdle() {
	if s.conns.Load() != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		return
	}
	select {
	case <-s.idle:
	default:
		close(s.idle)
	}
}

func (s *Server) acquire() { s.conns.Add(1) }

func (s *Server) release() {
	if s.conns.Add(-1) == 0 {
		s.checkIdle()
	}
}

// clientError reports a failed handshake to OnClientError.
func (s *Server) clientError(err error, remote net.Addr) {
	if s.opts.OnClientError != nil {
		s.opts.OnClientError(err, remote)
	}
}

// handshake runs the server handshake on raw and returns the Conn, or nil
// after reporting the failure.
func (s *Server) handshake(raw net.Conn) *Conn {
	tr := &trackedConn{Conn: raw}
	tc := tls.Server(tr, s.config)
	remote := raw.RemoteAddr()

	ctx, cancel := context.WithTimeout(context.Background(), s.opts.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("tlslayer: handshake with %s: %w after %s",
				remote, ErrHandshakeTimeout, s.opts.HandshakeTimeout)
		} else {
			err = fmt.Errorf("tlslayer: handshake with %s: %w", remote, err)
		}
		_ = tr.Close()
		s.clientError(err, remote)
		return nil
	}

	c := &Conn{tc: tc, raw: tr, isServer: true}
	if !tr.track(s.acquire, s.release) {
		return nil
	}
	return c
}

// listener is the net.Listener returned by Server.Listen.
type listener struct {
	s     *Server
	inner net.Listener
	ready chan *Conn
	done  chan struct{}

	once sync.Once
	err  error // why done was closed; read after <-done
}

func (l *listener) Addr() net.Addr { return l.inner.Addr() }

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

func (l *listener) Close() error {
	err := l.inner.Close()
	l.fail(ErrServerClosed)
	return err
}

// fail ends the listener with err as Accept's answer.
func (l *listener) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
		l.s.mu.Lock()
		delete(l.s.listeners, l)
		l.s.mu.Unlock()
	})
}

func (l *listener) acceptLoop() {
	var backoff time.Duration
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
					return
				}
			}
			if errors.Is(err, net.ErrClosed) {
				err = ErrServerClosed
			} else {
				err = fmt.Errorf("tlslayer: accept on %s: %w", l.inner.Addr(), err)
			}
			l.fail(err)
			return
		}
		backoff = 0
		go l.serve(raw)
	}
}

// serve handshakes raw and hands the result to Accept.
func (l *listener) serve(raw net.Conn) {
	c := l.s.handshake(raw)
	if c == nil {
		return
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}
