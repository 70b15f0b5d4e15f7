package tlslayer

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Conn is a TLS connection: Node's TLSSocket. It implements net.Conn and
// carries the per-connection getters. Conns come from Server listeners
// (handshake already done), from Connect, and from the Wrap functions.
type Conn struct {
	tc       *tls.Conn
	raw      *trackedConn
	isServer bool
}

// TLS returns the underlying *tls.Conn. Closing it closes this Conn too
// (net/http needs the concrete type to serve HTTP/2).
func (c *Conn) TLS() *tls.Conn { return c.tc }

// Read reads application data.
func (c *Conn) Read(b []byte) (int, error) { return c.tc.Read(b) }

// Write writes application data.
func (c *Conn) Write(b []byte) (int, error) { return c.tc.Write(b) }

// Close sends close_notify and closes the connection.
func (c *Conn) Close() error { return c.tc.Close() }

// CloseWrite sends close_notify and shuts down the sending side when the
// underlying connection supports half-close.
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

// IsServer reports whether this is the server end of the connection:
// Node's tlsSocket._tlsOptions.isServer.
func (c *Conn) IsServer() bool { return c.isServer }

// Encrypted is always true: Node's tlsSocket.encrypted.
func (c *Conn) Encrypted() bool { return true }

// ConnectionState returns crypto/tls's view of the connection.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// ServerName returns the SNI name the client sent ("" when none).
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

// trackedConn wraps the raw connection under a tls.Conn so that closing
// either the Conn or the *tls.Conn releases the server's count exactly once.
type trackedConn struct {
	net.Conn

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
