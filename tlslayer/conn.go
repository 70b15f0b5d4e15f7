package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRenegotiation is returned by Conn.Renegotiate: crypto/tls never
// starts a renegotiation, and as a server never accepts one.
var ErrRenegotiation = errors.New("tlslayer: renegotiation is not supported by crypto/tls")

// Conn is a TLS connection: Node's TLSSocket. It implements net.Conn and
// carries the per-connection getters. Conns come from Server listeners
// (handshake already done), Server.Wrap, Connect and Client.
type Conn struct {
	tc       *tls.Conn
	raw      *trackedConn
	isServer bool
	ctx      *SecureContext // the context that served the handshake

	maxFrag atomic.Int32 // 0: no limit of our own

	mu         sync.Mutex
	authorized bool
	authErr    *VerifyError
	chain      []*x509.Certificate // verified chain, leaf first
	session    []byte
	ticket     []byte
	onSession  func(session []byte, c *Conn)
	localCert  *tls.Certificate

	// resumedAt is when the resumed session was first made; set and read
	// only by the handshake.
	resumedAt time.Time
}

// TLS returns the underlying *tls.Conn. Closing it closes this Conn too
// (net/http needs the concrete type to serve HTTP/2). Writes made on it
// bypass SetMaxSendFragment.
func (c *Conn) TLS() *tls.Conn { return c.tc }

// Read reads application data.
func (c *Conn) Read(b []byte) (int, error) { return c.tc.Read(b) }

// Write writes application data, in records no larger than the limit set
// with SetMaxSendFragment.
func (c *Conn) Write(b []byte) (int, error) {
	limit := int(c.maxFrag.Load())
	if limit == 0 || len(b) <= limit {
		return c.tc.Write(b)
	}
	var n int
	for len(b) > 0 {
		chunk := b[:min(limit, len(b))]
		m, err := c.tc.Write(chunk)
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// Close sends close_notify and closes the connection.
func (c *Conn) Close() error { return c.tc.Close() }

// CloseWrite sends close_notify; the peer sees the end of the stream while
// this side can still read (Node's end()).
func (c *Conn) CloseWrite() error { return c.tc.CloseWrite() }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.tc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.tc.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.tc.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.tc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }

// IsServer reports whether this is the server end of the connection.
func (c *Conn) IsServer() bool { return c.isServer }

// Encrypted is always true: Node's tlsSocket.encrypted.
func (c *Conn) Encrypted() bool { return true }

// ConnectionState returns crypto/tls's view of the connection.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Context returns the SecureContext that served the handshake (on a
// server, the one SNI selected).
func (c *Conn) Context() *SecureContext { return c.ctx }

// ServerName returns the SNI name the client sent ("" when none): Node's
// servername.
func (c *Conn) ServerName() string { return c.tc.ConnectionState().ServerName }

// ALPNProtocol returns the negotiated ALPN protocol, "" when none: Node's
// alpnProtocol (which is false in that case).
func (c *Conn) ALPNProtocol() string { return c.tc.ConnectionState().NegotiatedProtocol }

// Protocol returns the negotiated protocol version, "TLSv1.3", "TLSv1.2",
// "TLSv1.1" or "TLSv1", and "unknown" before the handshake has completed:
// Node's getProtocol().
func (c *Conn) Protocol() string {
	cs := c.tc.ConnectionState()
	if !cs.HandshakeComplete {
		return "unknown"
	}
	return VersionName(cs.Version)
}

// Cipher returns the negotiated cipher suite: Node's getCipher(). It is the
// zero CipherInfo before the handshake has completed.
func (c *Conn) Cipher() CipherInfo {
	cs := c.tc.ConnectionState()
	if !cs.HandshakeComplete {
		return CipherInfo{}
	}
	return cipherInfo(cs.CipherSuite)
}

// Authorized reports whether the peer's certificate was verified against
// the trusted CAs (and, on a client, the server identity): Node's
// authorized. On a server it is false unless RequestCert is set.
func (c *Conn) Authorized() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authorized
}

// AuthorizationError returns the code of the reason the peer is not
// authorized, such as "CERT_HAS_EXPIRED" or "ERR_TLS_CERT_ALTNAME_INVALID",
// or "" when it is or when no verification took place: Node's
// authorizationError.
func (c *Conn) AuthorizationError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authErr == nil {
		return ""
	}
	return c.authErr.Code
}

// VerifyError returns the full verification error behind
// AuthorizationError, or nil.
func (c *Conn) VerifyError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authErr == nil {
		return nil
	}
	return c.authErr
}

func (c *Conn) setAuthorization(chain []*x509.Certificate, verr *VerifyError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chain = chain
	c.authErr = verr
	c.authorized = verr == nil
}

// PeerCertificate returns the peer's certificate in Node's shape: Node's
// getPeerCertificate(detailed). With detailed, IssuerCertificate links
// the chain (the verified one when verification succeeded, else the one
// the peer sent). It returns nil when the peer sent no certificate.
func (c *Conn) PeerCertificate(detailed bool) *PeerCertificate {
	certs := c.tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	if !detailed {
		return NewPeerCertificate(certs[0])
	}
	c.mu.Lock()
	chain := c.chain
	c.mu.Unlock()
	if len(chain) == 0 {
		chain = certs
	}
	return NewPeerCertificate(chain[0], chain[1:]...)
}

// Certificate returns this side's own certificate in Node's shape, or nil:
// Node's getCertificate().
func (c *Conn) Certificate() *PeerCertificate {
	c.mu.Lock()
	lc := c.localCert
	c.mu.Unlock()
	if lc == nil || lc.Leaf == nil {
		return nil
	}
	return NewPeerCertificate(lc.Leaf)
}

func (c *Conn) setLocalCert(cert *tls.Certificate) {
	c.mu.Lock()
	c.localCert = cert
	c.mu.Unlock()
}

// EphemeralKeyInfo describes the key exchange: Node's
// getEphemeralKeyInfo(). As in Node, it is empty on the server side.
func (c *Conn) EphemeralKeyInfo() EphemeralKeyInfo {
	if c.isServer {
		return EphemeralKeyInfo{}
	}
	return curveInfo(c.tc.ConnectionState().CurveID)
}

// Session returns the session, for resumption: Node's getSession(). On a
// client, pass the bytes to ClientOptions.Session to resume; in TLS 1.3
// the server sends them after the handshake, so they appear once data has
// been read (OnSession reports them as they come). On a server it is the
// state an external session store receives. nil when there is none.
func (c *Conn) Session() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.session...)
}

// TLSTicket returns the session ticket the server sent, on a client:
// Node's getTLSTicket(). nil on a server or before a ticket arrived.
func (c *Conn) TLSTicket() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.ticket...)
}

func (c *Conn) setSession(b []byte) {
	c.mu.Lock()
	c.session = b
	c.mu.Unlock()
}

func (c *Conn) setClientSession(b, ticket []byte) {
	c.mu.Lock()
	c.session, c.ticket = b, append([]byte(nil), ticket...)
	fn := c.onSession
	c.mu.Unlock()
	if fn != nil {
		fn(append([]byte(nil), b...), c)
	}
}

// IsSessionReused reports whether the handshake resumed a session: Node's
// isSessionReused().
func (c *Conn) IsSessionReused() bool { return c.tc.ConnectionState().DidResume }

// Finished returns the last Finished message this side sent, where
// crypto/tls exposes it: Node's getFinished(). crypto/tls keeps only the
// first Finished of a TLS 1.2 handshake (tls-unique): the client's in a
// full handshake, the server's in a resumption. It is returned by the side
// that sent it; the other side's getter returns nil, as both do for TLS 1.3
// (which has no tls-unique).
func (c *Conn) Finished() []byte {
	cs := c.tc.ConnectionState()
	if len(cs.TLSUnique) == 0 || !c.sentFirstFinished(cs) {
		return nil
	}
	return append([]byte(nil), cs.TLSUnique...)
}

// PeerFinished returns the last Finished message the peer sent, under the
// same limits as Finished: Node's getPeerFinished().
func (c *Conn) PeerFinished() []byte {
	cs := c.tc.ConnectionState()
	if len(cs.TLSUnique) == 0 || c.sentFirstFinished(cs) {
		return nil
	}
	return append([]byte(nil), cs.TLSUnique...)
}

// sentFirstFinished reports whether this side sent the handshake's first
// Finished: the client in a full handshake, the server in a resumption.
func (c *Conn) sentFirstFinished(cs tls.ConnectionState) bool {
	return c.isServer == cs.DidResume
}

// ExportKeyingMaterial derives keying material (RFC 5705 / RFC 8446):
// Node's exportKeyingMaterial(length, label, context).
func (c *Conn) ExportKeyingMaterial(length int, label string, context []byte,
) ([]byte, error) {
	cs := c.tc.ConnectionState()
	b, err := cs.ExportKeyingMaterial(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: exportKeyingMaterial: %w", err)
	}
	return b, nil
}

// Minimum and maximum for SetMaxSendFragment, as in Node.
const (
	MinSendFragment = 512
	MaxSendFragment = 16384
)

// SetMaxSendFragment limits the plaintext size of the records Write sends:
// Node's setMaxSendFragment(size). size must be within 512 and 16384.
// crypto/tls has no such setting, so the limit is applied by splitting
// writes made through this Conn; writes through TLS() are not limited.
func (c *Conn) SetMaxSendFragment(size int) error {
	if size < MinSendFragment || size > MaxSendFragment {
		return fmt.Errorf("tlslayer: max send fragment %d out of range [%d, %d]",
			size, MinSendFragment, MaxSendFragment)
	}
	if size == MaxSendFragment {
		size = 0
	}
	c.maxFrag.Store(int32(size))
	return nil
}

// Renegotiate always fails with ErrRenegotiation: crypto/tls cannot start
// a renegotiation (Node's renegotiate()).
func (c *Conn) Renegotiate() error { return ErrRenegotiation }

// DisableRenegotiation is Node's disableRenegotiation(). It succeeds and
// does nothing: crypto/tls servers never renegotiate, and this package's
// clients refuse a server's renegotiation requests.
func (c *Conn) DisableRenegotiation() error { return nil }

// AddressInfo is Node's address() result.
type AddressInfo struct {
	Address string // "127.0.0.1", "::1"
	Family  string // "IPv4" or "IPv6"; "" when not an IP address
	Port    int
}

func addressInfo(a net.Addr) AddressInfo {
	if a == nil {
		return AddressInfo{}
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return AddressInfo{Address: a.String()}
	}
	ai := AddressInfo{Address: host}
	ai.Port, _ = strconv.Atoi(port)
	if ip := net.ParseIP(host); ip != nil {
		ai.Family = "IPv6"
		if ip.To4() != nil {
			ai.Family = "IPv4"
		}
	}
	return ai
}

// Address returns the local address: Node's address().
func (c *Conn) Address() AddressInfo { return addressInfo(c.LocalAddr()) }

// RemoteAddress returns the peer's address: Node's remoteAddress,
// remoteFamily and remotePort.
func (c *Conn) RemoteAddress() AddressInfo { return addressInfo(c.RemoteAddr()) }

// trackedConn wraps the raw connection under a tls.Conn so that closing
// either the Conn or the *tls.Conn releases the server's count exactly
// once, and so that crypto/tls callbacks (which see this net.Conn) can
// find their Conn.
type trackedConn struct {
	net.Conn
	owner *Conn

	mu      sync.Mutex
	closed  bool
	release func() // set once counted; cleared by Close
}

// track runs acquire and arranges for release to run on Close. It reports
// false, doing nothing, when the connection is already closed.
func (t *trackedConn) track(acquire, release func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	acquire()
	t.release = release
	return true
}

func (t *trackedConn) Close() error {
	t.mu.Lock()
	r := t.release
	t.release = nil
	t.closed = true
	t.mu.Unlock()

	err := t.Conn.Close()
	if r != nil {
		r()
	}
	return err
}
