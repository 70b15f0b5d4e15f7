package tlslayer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
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

// ErrPostHandshakeAuth is returned when TLS 1.3 post-handshake client
// authentication is asked for: crypto/tls does not implement it. Request
// client certificates at handshake time with RequestCert instead.
var ErrPostHandshakeAuth = errors.New("tlslayer: crypto/tls does not implement " +
	"TLS 1.3 post-handshake authentication")

// ErrSessionIDResumption is returned when a server is asked to resume
// sessions by session ID: tickets turned off (OpNoTicket) together with an
// external session store. crypto/tls resumes only through tickets.
var ErrSessionIDResumption = errors.New("tlslayer: crypto/tls cannot resume by " +
	"session ID; it resumes only through tickets (drop OpNoTicket to use the store)")

// ServerOptions are the options of Node's tls.createServer. The zero value
// of each field means the default stated on it.
type ServerOptions struct {
	// Context holds certificates, keys, CAs and protocol limits: the
	// context for clients whose SNI matches no AddContext entry.
	Context *SecureContext
	// ContextOptions build the default context when Context is nil, as
	// Node's createServer takes every createSecureContext option.
	ContextOptions ContextOptions

	// ALPNProtocols lists the application protocols the server accepts,
	// most preferred first. A client that offers ALPN but none of these
	// is refused with no_application_protocol. Default: no ALPN.
	ALPNProtocols []string
	// ALPNWire gives protocols in wire form (each name prefixed with its
	// length byte), as Node also accepts; they follow ALPNProtocols.
	ALPNWire []byte
	// ALPNCallback, when set, chooses the protocol from the client's list
	// instead (Node 20's ALPNCallback); returning "" selects none.
	// It cannot be combined with ALPNProtocols.
	ALPNCallback func(serverName string, clientProtocols []string) string

	// SNICallback chooses the context for a client's SNI name (lowercase;
	// "" when the client sent none). Returning a nil context selects the
	// default; an error fails the handshake. When set, AddContext entries
	// are not consulted, as in Node. Unlike Node, a name with a trailing
	// dot never arrives: crypto/tls refuses such a ClientHello with
	// "error decoding message" before any callback runs.
	SNICallback func(serverName string) (*SecureContext, error)

	// RequestCert asks clients for a certificate. Default: false.
	RequestCert bool
	// AllowUnauthorized keeps connections whose client certificate is
	// missing or fails verification (Node's rejectUnauthorized: false);
	// Conn.Authorized and AuthorizationError tell the result. Only
	// meaningful with RequestCert. Default: false, such clients are
	// refused during the handshake.
	AllowUnauthorized bool
	// RequestCertPostHandshake asks for TLS 1.3 post-handshake client
	// authentication. crypto/tls cannot: NewServer returns
	// ErrPostHandshakeAuth.
	RequestCertPostHandshake bool

	// HandshakeTimeout bounds each handshake. A client that runs over is
	// reported to OnClientError with ErrHandshakeTimeout and closed.
	// Default: DefaultHandshakeTimeout (120s).
	HandshakeTimeout time.Duration
	// SessionTimeout is how long a session can be resumed, for tickets and
	// the external store alike. Default: DefaultSessionTimeout (300s).
	SessionTimeout time.Duration
	// TicketKeys are 48 bytes of session ticket keys; servers with the
	// same keys resume each other's sessions. Default: random keys made by
	// NewServer. Disable tickets with OpNoTicket in SecureOptions.
	TicketKeys []byte

	// OnSecureConnection is called after each successful handshake,
	// before the Conn is handed to Accept: Node's 'secureConnection'.
	OnSecureConnection func(c *Conn)
	// OnClientError is called for every connection that fails before its
	// handshake completes, with the peer's address: Node's
	// 'tlsClientError'.
	OnClientError func(err error, remote net.Addr)
	// OnNewSession receives each new session for an external store,
	// keyed by its 32-byte id: Node's 'newSession'. The client gets the id
	// as its ticket; if the callback fails, it gets a self-contained
	// ticket instead. Clients that send no session ticket extension cannot
	// resume at all: crypto/tls has no session-id resumption.
	OnNewSession func(id, data []byte) error
	// OnResumeSession looks a session up in the external store: Node's
	// 'resumeSession'. Return nil data for a miss (a full handshake
	// follows); an error ends the connection, as in Node. A session stored
	// by one server resumes on any server sharing the store.
	OnResumeSession func(id []byte) (data []byte, err error)
	// OnOCSPRequest returns the OCSP response to staple for cert, issued
	// by issuer (nil if self-signed or not found in the chain or the
	// context's CAs): Node's 'OCSPRequest'. It is called only
	// when the client asks for stapling. A nil response staples nothing;
	// an error fails the handshake.
	OnOCSPRequest func(cert, issuer *x509.Certificate) ([]byte, error)
	// OnKeylog receives key material lines in NSS key-log format, with the
	// connection they belong to: Node's 'keylog'.
	OnKeylog func(line []byte, c *Conn)

	// EncryptedClientHelloKeys enables Encrypted Client Hello (TLS 1.3
	// only; a Go addition beyond Node). See NewECHKey.
	EncryptedClientHelloKeys []tls.EncryptedClientHelloKey
}

// Server is Node's tls.Server: a configuration that wraps listeners. One
// Server may serve several listeners; all share its connection count.
type Server struct {
	opts    ServerOptions
	tickets ticketKeyring

	conns atomic.Int64

	// mu guards the fields below it.
	mu        sync.Mutex
	closed    bool
	listeners map[*listener]struct{}
	idle      chan struct{} // closed when closed and conns reach zero
	defCtx    *SecureContext
	sni       []sniEntry
	configs   map[*SecureContext]*tls.Config

	// root is what tls.Server gets: everything else is decided per
	// connection in configForClient.
	root *tls.Config
}

type sniEntry struct {
	pattern *regexp.Regexp
	ctx     *SecureContext
}

// NewServer checks opts and returns a Server. It does not listen.
func NewServer(opts ServerOptions) (*Server, error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}

	s := &Server{
		opts:      opts,
		listeners: make(map[*listener]struct{}),
		idle:      make(chan struct{}),
		defCtx:    opts.Context,
		configs:   make(map[*SecureContext]*tls.Config),
	}
	// ECH is decrypted before GetConfigForClient runs, so its keys live
	// on the root configuration.
	s.root = &tls.Config{GetConfigForClient: s.configForClient,
		EncryptedClientHelloKeys: opts.EncryptedClientHelloKeys}
	keys := opts.TicketKeys
	if keys == nil {
		keys = make([]byte, TicketKeysLen)
		if _, err := rand.Read(keys); err != nil {
			return nil, fmt.Errorf("tlslayer: ticket keys: %w", err)
		}
	}
	if err := s.tickets.set(keys); err != nil {
		return nil, err
	}
	return s, nil
}

// complete checks the options and fills in defaults.
func (o *ServerOptions) complete() error {
	if o.Context == nil {
		sc, err := NewSecureContext(o.ContextOptions)
		if err != nil {
			return err
		}
		o.Context = sc
	}
	if len(o.Context.certs) == 0 && o.SNICallback == nil {
		return errors.New("tlslayer: server options: context has no certificate " +
			"(give Cert and Key, or PFX)")
	}
	if o.RequestCertPostHandshake {
		return ErrPostHandshakeAuth
	}
	if o.Context.opts.SecureOptions&OpNoTicket != 0 &&
		(o.OnNewSession != nil || o.OnResumeSession != nil) {
		return ErrSessionIDResumption
	}

	if len(o.ALPNWire) > 0 {
		ps, err := ParseALPNWire(o.ALPNWire)
		if err != nil {
			return err
		}
		o.ALPNProtocols = append(append([]string(nil), o.ALPNProtocols...), ps...)
	}
	if o.ALPNCallback != nil && len(o.ALPNProtocols) > 0 {
		return errors.New("tlslayer: server options: ALPNCallback and ALPNProtocols " +
			"are mutually exclusive (Node: ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS)")
	}
	for _, p := range o.ALPNProtocols {
		if p == "" || len(p) > 255 {
			return fmt.Errorf("tlslayer: server options: ALPN protocol %q "+
				"must be 1 to 255 bytes", p)
		}
	}

	if o.HandshakeTimeout < 0 || o.SessionTimeout < 0 {
		return errors.New("tlslayer: server options: negative timeout")
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	return nil
}

// Context returns the server's default SecureContext.
func (s *Server) Context() *SecureContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.defCtx
}

// AddContext serves ctx to clients whose SNI name matches hostname: Node's
// server.addContext(). hostname is an exact name or a pattern in which
// each '*' stands for any run of characters within one label
// ("*.example.com", "*"). As in Node, the most recently added match wins.
// Unlike Node, names are compared without case; a trailing dot in hostname
// is ignored (clients cannot send one: crypto/tls refuses it).
func (s *Server) AddContext(hostname string, ctx *SecureContext) error {
	if ctx == nil {
		return fmt.Errorf("tlslayer: addContext %q: nil context", hostname)
	}
	if len(ctx.certs) == 0 {
		return fmt.Errorf("tlslayer: addContext %q: context has no certificate", hostname)
	}
	h := normalizeHost(hostname)
	if h == "" {
		return errors.New("tlslayer: addContext: empty hostname")
	}
	parts := strings.Split(h, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	re, err := regexp.Compile("^(?:" + strings.Join(parts, "[^.]*") + ")$")
	if err != nil {
		return fmt.Errorf("tlslayer: addContext %q: %w", hostname, err)
	}
	s.mu.Lock()
	s.sni = append(s.sni, sniEntry{pattern: re, ctx: ctx})
	s.mu.Unlock()
	return nil
}

// SetSecureContext replaces the default context for connections that
// start afterwards, for example to reload certificates: Node's
// server.setSecureContext(). Open connections are not affected.
func (s *Server) SetSecureContext(ctx *SecureContext) error {
	if ctx == nil || len(ctx.certs) == 0 {
		return errors.New("tlslayer: setSecureContext: context has no certificate")
	}
	s.mu.Lock()
	s.defCtx = ctx
	s.mu.Unlock()
	return nil
}

func normalizeHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
}

// contextFor picks the SecureContext for an SNI name.
func (s *Server) contextFor(serverName string) (*SecureContext, error) {
	name := normalizeHost(serverName)
	s.mu.Lock()
	def := s.defCtx
	s.mu.Unlock()
	if s.opts.SNICallback != nil {
		ctx, err := s.opts.SNICallback(name)
		if err != nil {
			return nil, fmt.Errorf("tlslayer: SNI callback for %q: %w", name, err)
		}
		if ctx != nil {
			return ctx, nil
		}
		return def, nil
	}
	if name == "" {
		return def, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.sni) - 1; i >= 0; i-- {
		if s.sni[i].pattern.MatchString(name) {
			return s.sni[i].ctx, nil
		}
	}
	return def, nil
}

// maxCachedConfigs bounds the per-context configurations kept, so that an
// SNI callback making a fresh context per handshake, or many certificate
// reloads, cannot grow the cache without limit.
const maxCachedConfigs = 64

// configFor returns the server tls.Config prepared for ctx, shared by all
// connections that use ctx (each clones it).
func (s *Server) configFor(ctx *SecureContext) *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg, ok := s.configs[ctx]; ok {
		return cfg
	}
	cfg := ctx.baseConfig()
	cfg.NextProtos = append([]string(nil), s.opts.ALPNProtocols...)
	if s.opts.RequestCert {
		// Missing and untrusted certificates are both judged in
		// verifyClient, so both get a Node code.
		cfg.ClientAuth = tls.RequestClientCert
	}
	if len(s.configs) >= maxCachedConfigs {
		clear(s.configs)
	}
	s.configs[ctx] = cfg
	return cfg
}

// configForClient builds the configuration of one handshake: the SNI
// context, ALPN choice, certificate and staple, session hooks, client
// verification and keylog, all bound to the Conn.
func (s *Server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	tr, ok := hello.Conn.(*trackedConn)
	if !ok || tr.owner == nil {
		return nil, errors.New("tlslayer: internal: handshake on an unknown connection")
	}
	c := tr.owner

	sc, err := s.contextFor(hello.ServerName)
	if err != nil {
		return nil, err
	}
	if len(sc.certs) == 0 {
		return nil, fmt.Errorf("tlslayer: no certificate for server name %q",
			hello.ServerName)
	}
	c.ctx = sc
	cfg := s.configFor(sc).Clone()

	if s.opts.ALPNCallback != nil && len(hello.SupportedProtos) > 0 {
		if p := s.opts.ALPNCallback(normalizeHost(hello.ServerName),
			hello.SupportedProtos); p != "" {
			cfg.NextProtos = []string{p}
		}
	}

	cfg.Certificates = nil
	cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		var cert *tls.Certificate
		var err error
		if s.opts.OnOCSPRequest != nil {
			cert, err = s.stapleFor(sc, h)
		} else {
			cert, err = chooseCertificate(sc.certs, h)
		}
		if cert != nil {
			c.setLocalCert(cert)
		}
		return cert, err
	}

	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		return s.wrapSession(c, sc, cs, ss)
	}
	cfg.UnwrapSession = func(id []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
		return s.unwrapSession(c, sc, id)
	}

	if s.opts.RequestCert {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return s.verifyClient(c, sc, cs)
		}
	}
	if s.opts.OnKeylog != nil {
		cfg.KeyLogWriter = keylogWriter{c: c, fn: s.opts.OnKeylog}
	}
	return cfg, nil
}

// verifyClient records whether the client's certificate is trusted and,
// unless AllowUnauthorized, fails the handshake when it is not.
func (s *Server) verifyClient(c *Conn, sc *SecureContext, cs tls.ConnectionState) error {
	chain, verr := sc.verifyChain(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, time.Now())
	c.setAuthorization(chain, verr)
	if verr != nil && !s.opts.AllowUnauthorized {
		return verr
	}
	return nil
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

// Wrap runs the server handshake on an existing connection (Node's
// new TLSSocket(socket, {isServer: true}) with this server's options) and
// returns the Conn. It counts in ConnectionCount. Failures are returned,
// and also reported to OnClientError. ctx bounds the handshake in addition
// to HandshakeTimeout.
func (s *Server) Wrap(ctx context.Context, raw net.Conn) (*Conn, error) {
	return s.handshake(ctx, raw)
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

// Done is closed once the server is closed and its last connection has
// ended.
func (s *Server) Done() <-chan struct{} { return s.idle }

// ConnectionCount returns the number of open connections: handshake
// completed and not yet closed (Node's server.getConnections()).
func (s *Server) ConnectionCount() int { return int(s.conns.Load()) }

// Addrs returns the addresses of the server's listeners: Node's
// server.address(), for each listener.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

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

// handshake runs the server handshake on raw and returns the Conn, or the
// error after reporting it.
func (s *Server) handshake(ctx context.Context, raw net.Conn) (*Conn, error) {
	tr := &trackedConn{Conn: raw}
	c := &Conn{raw: tr, isServer: true, ctx: s.Context()}
	tr.owner = c
	c.tc = tls.Server(tr, s.root)
	remote := raw.RemoteAddr()

	timedOut, err := s.runHandshake(ctx, c, raw)
	if err != nil {
		if timedOut {
			err = fmt.Errorf("tlslayer: handshake with %s: %w after %s",
				remote, ErrHandshakeTimeout, s.opts.HandshakeTimeout)
		} else {
			answerPlainHTTP(raw, err)
			err = fmt.Errorf("tlslayer: handshake with %s: %w", remote, err)
		}
		_ = tr.Close()
		s.clientError(err, remote)
		return nil, err
	}

	if !tr.track(s.acquire, s.release) {
		return nil, fmt.Errorf("tlslayer: connection from %s closed after handshake",
			remote)
	}
	if s.opts.OnSecureConnection != nil {
		s.opts.OnSecureConnection(c)
	}
	return c, nil
}

// answerPlainHTTP tells a client that spoke plain HTTP to the TLS port what
// went wrong, in HTTP, as nginx and net/http do, instead of leaving it with
// an empty reply.
func answerPlainHTTP(raw net.Conn, err error) {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || rh.Conn == nil || !looksLikeHTTP(rh.RecordHeader[:]) {
		return
	}
	raw.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(raw, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n"+
		"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
}

func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "DELET", "OPTIO", "PATCH",
		"CONNE"} {
		if string(hdr) == m {
			return true
		}
	}
	return false
}

// runHandshake bounds the handshake by HandshakeTimeout. A deadline on the
// raw connection does it without the watcher goroutine a context costs;
// connections that refuse deadlines get the context instead.
func (s *Server) runHandshake(ctx context.Context, c *Conn, raw net.Conn,
) (timedOut bool, err error) {
	deadline := time.Now().Add(s.opts.HandshakeTimeout)
	if raw.SetDeadline(deadline) == nil {
		err = c.tc.HandshakeContext(ctx)
		if err == nil {
			if err = raw.SetDeadline(time.Time{}); err != nil {
				err = fmt.Errorf("clear handshake deadline: %w", err)
			}
			return false, err
		}
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline), err
	}

	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err = c.tc.HandshakeContext(hctx)
	return errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil, err
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
	c, err := l.s.handshake(context.Background(), raw)
	if err != nil {
		return
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}
