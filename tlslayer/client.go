package tlslayer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ClientOptions are the options of Node's tls.connect. The zero value of
// each field means the default stated on it.
type ClientOptions struct {
	// Context holds CAs, client certificates and protocol limits
	// (Node's secureContext). Default: one built from ContextOptions.
	Context *SecureContext
	// ContextOptions build the context when Context is nil, as Node's
	// tls.connect takes every createSecureContext option.
	ContextOptions ContextOptions

	// Host to connect to. Default: "localhost".
	Host string
	// Port to connect to. Required unless Path or Conn is given.
	Port int
	// Path connects to a Unix socket instead of Host and Port.
	Path string
	// Conn is an established connection to run TLS over (Node's socket);
	// Host, Port, Path, Dial and Lookup are then unused, but Host still
	// names the server for SNI and identity checks.
	Conn net.Conn
	// Dial opens the transport connection, for example through a
	// userspace TCP/IP stack. Default: a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Lookup resolves Host to addresses, tried in order: Node's lookup.
	// Default: Dial resolves (the system resolver for the net.Dialer).
	Lookup func(ctx context.Context, host string) ([]string, error)
	// Timeout bounds connecting and the handshake. Node's timeout is an
	// idle timeout after connecting; use deadlines on the Conn for that.
	// Default: none beyond the caller's context.
	Timeout time.Duration

	// ServerName is the name sent as SNI and checked against the
	// certificate. Default: Host. An IP address is never sent as SNI (it
	// is still checked against the certificate's IP SANs).
	ServerName string
	// ALPNProtocols lists the protocols to offer, most preferred first.
	ALPNProtocols []string
	// ALPNWire gives the same list in wire form (each name prefixed with
	// its length byte), as Node also accepts; see ParseALPNWire. It is
	// appended to ALPNProtocols.
	ALPNWire []byte

	// AllowUnauthorized keeps the connection when the server's certificate
	// fails verification or identity check (Node's rejectUnauthorized:
	// false); Conn.Authorized and AuthorizationError tell the result.
	// Default: false, such servers fail the handshake.
	AllowUnauthorized bool
	// CheckServerIdentity replaces the built-in host name check, called
	// after the chain verified (Node's checkServerIdentity). Default:
	// CheckServerIdentity.
	CheckServerIdentity func(host string, cert *x509.Certificate) error

	// Session resumes a session saved from Conn.Session (Node's session).
	Session []byte
	// OnSession receives each session the server issues, for saving:
	// Node's 'session' event. In TLS 1.3 it runs while reading, after
	// the handshake.
	OnSession func(session []byte, c *Conn)

	// RequestOCSP asks for the server's stapled OCSP response, reported to
	// OnOCSPResponse (nil when the server stapled none). crypto/tls
	// always asks, so without RequestOCSP the response is only dropped.
	RequestOCSP bool
	// OnOCSPResponse receives the stapled response: Node's 'OCSPResponse'.
	OnOCSPResponse func(resp []byte, c *Conn)
	// OnKeylog receives NSS key-log lines: Node's 'keylog'.
	OnKeylog func(line []byte, c *Conn)

	// ECHConfigList turns on Encrypted Client Hello with the server's
	// config list (from NewECHKey or its HTTPS DNS record); the handshake
	// fails, wrapping ErrECHRejected, if the server does not accept it.
	// TLS 1.3 only; a Go addition beyond Node.
	ECHConfigList []byte

	// MinDHSize is Node's minDHSize. crypto/tls never negotiates DHE, so
	// any value is met; negative values are errors. Default: 1024.
	MinDHSize int
}

// ParseALPNWire decodes the length-prefixed wire form of an ALPN list, as
// Node's ALPNProtocols accepts in a Buffer.
func ParseALPNWire(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n {
			return nil, fmt.Errorf("tlslayer: ALPN wire list: bad length %d at offset "+
				"%d", n, len(out))
		}
		out = append(out, string(b[1:1+n]))
		b = b[1+n:]
	}
	return out, nil
}

// Connect dials the server and completes the TLS handshake: Node's
// tls.connect.
func Connect(opts ClientOptions) (*Conn, error) {
	return ConnectContext(context.Background(), opts)
}

// ConnectContext is Connect with a context bounding the dial and the
// handshake.
func ConnectContext(ctx context.Context, opts ClientOptions) (*Conn, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	if opts.Host == "" {
		opts.Host = "localhost"
	}
	cfg, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	raw := opts.Conn
	if raw == nil {
		if raw, err = opts.dial(ctx); err != nil {
			return nil, err
		}
	}
	c, err := clientHandshake(ctx, raw, &opts, cfg)
	if err != nil && opts.Conn == nil {
		_ = raw.Close()
	}
	return c, err
}

// Client runs the client handshake over an existing connection: Node's
// tls.connect({socket}). On failure closing raw is left to the caller
// (crypto/tls has already closed it if ctx ended the handshake).
func Client(ctx context.Context, raw net.Conn, opts ClientOptions) (*Conn, error) {
	opts.Conn = raw
	return ConnectContext(ctx, opts)
}

// prepare checks the options and builds what does not depend on the
// connection.
func (o *ClientOptions) prepare() (*SecureContext, error) {
	if o.MinDHSize < 0 {
		return nil, fmt.Errorf("tlslayer: minDHSize %d must not be negative", o.MinDHSize)
	}
	if o.Conn == nil && o.Path == "" && (o.Port <= 0 || o.Port > 65535) {
		return nil, fmt.Errorf("tlslayer: connect: port %d out of range (give Port, "+
			"Path or Conn)", o.Port)
	}
	if len(o.ALPNWire) > 0 {
		ps, err := ParseALPNWire(o.ALPNWire)
		if err != nil {
			return nil, err
		}
		o.ALPNProtocols = append(append([]string(nil), o.ALPNProtocols...), ps...)
	}
	for _, p := range o.ALPNProtocols {
		if p == "" || len(p) > 255 {
			return nil, fmt.Errorf("tlslayer: ALPN protocol %q must be 1 to 255 bytes", p)
		}
	}
	if o.Context != nil {
		return o.Context, nil
	}
	return NewSecureContext(o.ContextOptions)
}

func (o *ClientOptions) dial(ctx context.Context) (net.Conn, error) {
	dial := o.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	if o.Path != "" {
		c, err := dial(ctx, "unix", o.Path)
		if err != nil {
			return nil, fmt.Errorf("tlslayer: connect %s: %w", o.Path, err)
		}
		return c, nil
	}

	port := strconv.Itoa(o.Port)
	hosts := []string{o.Host}
	if o.Lookup != nil && net.ParseIP(o.Host) == nil {
		addrs, err := o.Lookup(ctx, o.Host)
		if err != nil {
			return nil, fmt.Errorf("tlslayer: lookup %s: %w", o.Host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("tlslayer: lookup %s: no addresses", o.Host)
		}
		hosts = addrs
	}
	var errs []error
	for _, h := range hosts {
		c, err := dial(ctx, "tcp", net.JoinHostPort(h, port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("tlslayer: connect %s: %w",
		net.JoinHostPort(o.Host, port), errors.Join(errs...))
}

// clientHandshake runs the handshake on raw with a configuration bound to
// the new Conn.
func clientHandshake(ctx context.Context, raw net.Conn, o *ClientOptions,
	sc *SecureContext) (*Conn, error) {
	tr := &trackedConn{Conn: raw}
	c := &Conn{raw: tr, ctx: sc, onSession: o.OnSession}
	tr.owner = c

	serverName := o.ServerName
	if serverName == "" {
		serverName = o.Host
	}
	serverName = strings.TrimSuffix(strings.Trim(serverName, "[]"), ".")
	cfg := sc.baseConfig()
	cfg.Certificates = nil
	if net.ParseIP(serverName) == nil {
		cfg.ServerName = serverName
	}
	cfg.NextProtos = o.ALPNProtocols
	if len(o.ECHConfigList) > 0 {
		cfg.EncryptedClientHelloConfigList = o.ECHConfigList
		cfg.MinVersion = tls.VersionTLS13
		// On rejection crypto/tls checks the outer certificate itself,
		// against these roots and the config's public name.
		cfg.RootCAs = sc.roots
	}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo,
	) (*tls.Certificate, error) {
		for i := range sc.certs {
			if cri.SupportsCertificate(&sc.certs[i]) == nil {
				c.setLocalCert(&sc.certs[i])
				return &sc.certs[i], nil
			}
		}
		return &tls.Certificate{}, nil
	}

	cache := &sessionCache{c: c}
	if len(o.Session) > 0 {
		cs, err := decodeClientSession(o.Session)
		if err != nil {
			return nil, err
		}
		cache.offered = cs
	}
	cfg.ClientSessionCache = cache

	check := o.CheckServerIdentity
	if check == nil {
		check = CheckServerIdentity
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		chain, verr := sc.verifyChain(cs.PeerCertificates, x509.ExtKeyUsageServerAuth,
			time.Now())
		if verr == nil {
			if err := check(serverName, cs.PeerCertificates[0]); err != nil {
				if !errors.As(err, &verr) {
					// Node reports a custom check's error by its message.
					verr = &VerifyError{Code: err.Error(), Err: err}
				}
			}
		}
		c.setAuthorization(chain, verr)
		if verr != nil && !o.AllowUnauthorized {
			return verr
		}
		return nil
	}
	if o.OnKeylog != nil {
		cfg.KeyLogWriter = keylogWriter{c: c, fn: o.OnKeylog}
	}

	c.tc = tls.Client(tr, cfg)
	if err := c.tc.HandshakeContext(ctx); err != nil {
		var rej *tls.ECHRejectionError
		if errors.As(err, &rej) {
			err = fmt.Errorf("%w: %w", ErrECHRejected, err)
		}
		return nil, fmt.Errorf("tlslayer: handshake with %s (%s): %w",
			raw.RemoteAddr(), serverName, err)
	}
	if o.RequestOCSP && o.OnOCSPResponse != nil {
		o.OnOCSPResponse(c.tc.ConnectionState().OCSPResponse, c)
	}
	return c, nil
}
