package tlslayer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TicketKeysLen is the size of Node's ticket keys: a 16-byte key name, a
// 16-byte HMAC secret and a 16-byte AES key.
const TicketKeysLen = 48

// DefaultSessionTimeout is Node's default sessionTimeout.
const DefaultSessionTimeout = 300 * time.Second

// ErrTicketKeysLength is wrapped when ticket keys are not 48 bytes long.
var ErrTicketKeysLength = errors.New("ticket keys must be 48 bytes")

// ticketSealer encrypts and opens session tickets with one set of
// Node-style 48-byte keys. Tickets are name(16) | nonce(12) | AES-256-GCM
// over the session envelope, the key being SHA-256 of all 48 bytes, so
// that servers sharing the keys share their tickets.
type ticketSealer struct {
	keys [TicketKeysLen]byte
	aead cipher.AEAD
}

func newTicketSealer(keys []byte) (*ticketSealer, error) {
	if len(keys) != TicketKeysLen {
		return nil, fmt.Errorf("tlslayer: ticketKeys: %w, got %d", ErrTicketKeysLength,
			len(keys))
	}
	t := &ticketSealer{}
	copy(t.keys[:], keys)
	k := sha256.Sum256(keys)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("tlslayer: ticketKeys: %w", err)
	}
	if t.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("tlslayer: ticketKeys: %w", err)
	}
	return t, nil
}

func (t *ticketSealer) seal(plain, ad []byte) ([]byte, error) {
	out := make([]byte, 16+12, 16+12+len(plain)+t.aead.Overhead())
	copy(out, t.keys[:16])
	if _, err := rand.Read(out[16:28]); err != nil {
		return nil, err
	}
	return t.aead.Seal(out, out[16:28], plain, ad), nil
}

// open returns nil when the ticket is not ours or does not decrypt.
func (t *ticketSealer) open(ticket, ad []byte) []byte {
	if len(ticket) < 16+12+t.aead.Overhead() || !bytes.Equal(ticket[:16], t.keys[:16]) {
		return nil
	}
	plain, err := t.aead.Open(nil, ticket[16:28], ticket[28:], ad)
	if err != nil {
		return nil
	}
	return plain
}

// Session envelopes are what external stores and tickets hold: a format
// byte, the creation time, the session-id context and crypto/tls's
// session state.
const envelopeV1 = 1

func sealEnvelope(ss *tls.SessionState, created time.Time, sidCtx string) ([]byte, error) {
	state, err := ss.Bytes()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+8+1+len(sidCtx)+len(state))
	b = append(b, envelopeV1)
	b = binary.BigEndian.AppendUint64(b, uint64(created.Unix()))
	b = append(b, byte(len(sidCtx)))
	b = append(b, sidCtx...)
	return append(b, state...), nil
}

// openEnvelope returns the session and its creation time, or nil when it
// is malformed, from another session-id context, or older than timeout.
func openEnvelope(b []byte, sidCtx string, timeout time.Duration,
	now time.Time) (*tls.SessionState, time.Time) {
	if len(b) < 10 || b[0] != envelopeV1 {
		return nil, time.Time{}
	}
	created := time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), 0)
	n := int(b[9])
	if len(b) < 10+n || string(b[10:10+n]) != sidCtx {
		return nil, time.Time{}
	}
	if now.Sub(created) > timeout || created.After(now.Add(time.Minute)) {
		return nil, time.Time{}
	}
	ss, err := tls.ParseSessionState(b[10+n:])
	if err != nil {
		return nil, time.Time{}
	}
	return ss, created
}

// ticketKeyring holds a server's current ticket keys; SetTicketKeys swaps
// them for connections that start afterwards.
type ticketKeyring struct {
	mu     sync.RWMutex
	sealer *ticketSealer
}

func (r *ticketKeyring) get() *ticketSealer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sealer
}

func (r *ticketKeyring) set(keys []byte) error {
	s, err := newTicketSealer(keys)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.sealer = s
	r.mu.Unlock()
	return nil
}

// GetTicketKeys returns the 48 bytes of the current ticket keys: Node's
// server.getTicketKeys().
func (s *Server) GetTicketKeys() []byte {
	k := s.tickets.get().keys
	return append([]byte(nil), k[:]...)
}

// SetTicketKeys replaces the ticket keys: Node's server.setTicketKeys().
// Only connections that start afterwards use them; tickets sealed with the
// old keys no longer resume. keys must be 48 bytes.
func (s *Server) SetTicketKeys(keys []byte) error { return s.tickets.set(keys) }

// wrapSession makes the ticket (or, with an external store, the session
// id) for a new session on c.
func (s *Server) wrapSession(c *Conn, sc *SecureContext, cs tls.ConnectionState,
	ss *tls.SessionState) ([]byte, error) {
	// A TLS 1.2 resumption continues the same session, so its new ticket
	// keeps the original creation time and SessionTimeout still counts
	// from the first handshake. TLS 1.3 derives a new session each time.
	created := time.Now()
	if cs.Version < tls.VersionTLS13 && !c.resumedAt.IsZero() {
		created = c.resumedAt
	}
	env, err := sealEnvelope(ss, created, sc.opts.SessionIDContext)
	if err != nil {
		return nil, err
	}
	c.setSession(env)

	if s.opts.OnNewSession != nil {
		id := make([]byte, 32)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
		if err := s.opts.OnNewSession(id, env); err == nil {
			return id, nil
		}
		// The store failed: fall back to a self-contained ticket.
	}
	return s.tickets.get().seal(env, []byte(sc.opts.SessionIDContext))
}

// unwrapSession resolves a ticket or a stored session id.
func (s *Server) unwrapSession(c *Conn, sc *SecureContext, identity []byte,
) (*tls.SessionState, error) {
	sidCtx := sc.opts.SessionIDContext
	var env []byte
	if s.opts.OnResumeSession != nil && len(identity) == 32 {
		data, err := s.opts.OnResumeSession(identity)
		if err != nil {
			// Node: callback(err) terminates the incoming connection.
			return nil, fmt.Errorf("tlslayer: resume session callback: %w", err)
		}
		env = data
	}
	if env == nil {
		env = s.tickets.get().open(identity, []byte(sidCtx))
	}
	if env == nil {
		return nil, nil
	}
	ss, created := openEnvelope(env, sidCtx, s.opts.SessionTimeout, time.Now())
	if ss != nil {
		c.setSession(env)
		c.resumedAt = created
	}
	return ss, nil
}

// clientSession is the serialized form of a client session (Node's
// getSession() bytes): a format byte, the ticket, and crypto/tls's
// session state.
const clientSessionV1 = 1

func encodeClientSession(cs *tls.ClientSessionState) ([]byte, []byte, error) {
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return nil, nil, fmt.Errorf("tlslayer: session: %v", err)
	}
	sb, err := state.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("tlslayer: session: %w", err)
	}
	b := make([]byte, 0, 5+len(ticket)+len(sb))
	b = append(b, clientSessionV1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ticket)))
	b = append(b, ticket...)
	return append(b, sb...), ticket, nil
}

// ErrBadSession is wrapped when ClientOptions.Session holds bytes that are
// not a session saved from Conn.Session.
var ErrBadSession = errors.New("not a session saved by Conn.Session")

// decodeClientSession parses bytes from Conn.Session on a client.
func decodeClientSession(b []byte) (*tls.ClientSessionState, error) {
	if len(b) < 5 || b[0] != clientSessionV1 {
		return nil, fmt.Errorf("tlslayer: session: %w", ErrBadSession)
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(len(b)) < 5+uint64(n) {
		return nil, fmt.Errorf("tlslayer: session: %w: truncated", ErrBadSession)
	}
	ticket := b[5 : 5+n]
	state, err := tls.ParseSessionState(b[5+n:])
	if err != nil {
		return nil, fmt.Errorf("tlslayer: session: %w: %v", ErrBadSession, err)
	}
	return tls.NewResumptionState(ticket, state)
}

// sessionCache is a one-connection tls.ClientSessionCache: it offers the
// session the caller passed in and captures the ones the server sends.
type sessionCache struct {
	c       *Conn
	offered *tls.ClientSessionState
}

func (sc *sessionCache) Get(string) (*tls.ClientSessionState, bool) {
	return sc.offered, sc.offered != nil
}

func (sc *sessionCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	b, ticket, err := encodeClientSession(cs)
	if err != nil {
		return
	}
	sc.c.setClientSession(b, ticket)
}
