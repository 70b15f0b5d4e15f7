package tlslayer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapStore is the external session store of Node's documentation: a map
// keyed by the hex session id.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMapStore() *mapStore { return &mapStore{m: map[string][]byte{}} }

func (s *mapStore) put(id, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[hex.EncodeToString(id)] = append([]byte(nil), data...)
	return nil
}

func (s *mapStore) get(id []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[hex.EncodeToString(id)], nil
}

func (s *mapStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// sessionFrom connects, reads once (TLS 1.3 tickets come after the
// handshake) and returns the session and whether it was resumed.
func sessionFrom(t *testing.T, ts *testServer, p *testPKI, version string,
	session []byte) ([]byte, bool) {
	t.Helper()
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), Session: session,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, MaxVersion: version}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
	if c.Protocol() != version {
		t.Fatalf("protocol %s, want %s", c.Protocol(), version)
	}
	s := c.Session()
	if len(s) == 0 {
		t.Fatal("no session after a round trip")
	}
	if c.IsSessionReused() && len(c.TLSTicket()) == 0 {
		t.Error("resumed but TLSTicket is empty")
	}
	return s, c.IsSessionReused()
}

func TestSessionResumesAcrossServers(t *testing.T) {
	p := newTestPKI(t)
	keys := bytes.Repeat([]byte{7}, TicketKeysLen)
	store := newMapStore()

	setups := []struct {
		name string
		opts func() ServerOptions
	}{
		{"shared ticket keys", func() ServerOptions {
			return ServerOptions{Context: p.context(t, nil), TicketKeys: keys}
		}},
		{"shared store", func() ServerOptions {
			return ServerOptions{Context: p.context(t, nil),
				OnNewSession: store.put, OnResumeSession: store.get}
		}},
	}
	for _, setup := range setups {
		for _, version := range []string{VersionTLS12, VersionTLS13} {
			t.Run(setup.name+"/"+version, func(t *testing.T) {
				a := startServer(t, setup.opts())
				b := startServer(t, setup.opts())

				s, reused := sessionFrom(t, a, p, version, nil)
				if reused {
					t.Fatal("first connection reused a session")
				}
				if _, reused = sessionFrom(t, a, p, version, s); !reused {
					t.Error("same server did not resume")
				}
				if _, reused = sessionFrom(t, b, p, version, s); !reused {
					t.Error("second server did not resume")
				}
				if srv := nextAcceptedLast(t, b); !srv.IsSessionReused() ||
					len(srv.Session()) == 0 {
					t.Error("server side does not report the resumed session")
				}
			})
		}
	}
	if store.len() == 0 {
		t.Error("the store received no session")
	}
}

// nextAcceptedLast drains the accepted queue and returns the last one.
func nextAcceptedLast(t *testing.T, ts *testServer) *Conn {
	t.Helper()
	c := nextAccepted(t, ts)
	for {
		select {
		case c = <-ts.accepted:
		default:
			return c
		}
	}
}

func TestSessionNotResumed(t *testing.T) {
	p := newTestPKI(t)
	keys := bytes.Repeat([]byte{9}, TicketKeysLen)
	base := startServer(t, ServerOptions{Context: p.context(t, nil), TicketKeys: keys})
	s, _ := sessionFrom(t, base, p, VersionTLS13, nil)

	otherKeys := startServer(t, ServerOptions{Context: p.context(t, nil)})
	otherCtx := startServer(t, ServerOptions{TicketKeys: keys,
		Context: p.context(t, func(o *ContextOptions) { o.SessionIDContext = "other" })})
	short := startServer(t, ServerOptions{Context: p.context(t, nil), TicketKeys: keys,
		SessionTimeout: time.Nanosecond})
	noTickets := startServer(t, ServerOptions{TicketKeys: keys,
		Context: p.context(t, func(o *ContextOptions) { o.SecureOptions = OpNoTicket })})

	for name, ts := range map[string]*testServer{"other ticket keys": otherKeys,
		"other session id context": otherCtx, "session timed out": short} {
		if _, reused := sessionFrom(t, ts, p, VersionTLS13, s); reused {
			t.Errorf("%s: session resumed", name)
		}
	}
	c, err := Connect(ClientOptions{Port: portOf(t, noTickets.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	if len(c.Session()) != 0 {
		t.Error("OpNoTicket: server still issued a ticket")
	}
	c.Close()
}

func TestTicketKeysGetSet(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	k := ts.srv.GetTicketKeys()
	if len(k) != TicketKeysLen || bytes.Equal(k, make([]byte, TicketKeysLen)) {
		t.Fatalf("default ticket keys %x", k)
	}
	s, _ := sessionFrom(t, ts, p, VersionTLS12, nil)

	newKeys := bytes.Repeat([]byte{1}, TicketKeysLen)
	if err := ts.srv.SetTicketKeys(newKeys); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ts.srv.GetTicketKeys(), newKeys) {
		t.Error("GetTicketKeys does not return the new keys")
	}
	if _, reused := sessionFrom(t, ts, p, VersionTLS12, s); reused {
		t.Error("ticket sealed with the old keys resumed")
	}
	for _, n := range []int{0, 32, 47, 49, 80} {
		err := ts.srv.SetTicketKeys(make([]byte, n))
		if !errors.Is(err, ErrTicketKeysLength) {
			t.Errorf("SetTicketKeys(%d bytes) = %v", n, err)
		}
	}
	if _, err := NewServer(ServerOptions{Context: p.context(t, nil),
		TicketKeys: make([]byte, 16)}); !errors.Is(err, ErrTicketKeysLength) {
		t.Errorf("NewServer with 16-byte keys: %v", err)
	}
}

func TestResumeSessionCallbackErrorEndsConnection(t *testing.T) {
	p := newTestPKI(t)
	store := newMapStore()
	var fail atomic.Bool
	ts := startServer(t, ServerOptions{Context: p.context(t, nil), OnNewSession: store.put,
		OnResumeSession: func(id []byte) ([]byte, error) {
			if fail.Load() {
				return nil, errors.New("store unreachable")
			}
			return store.get(id)
		}})
	s, _ := sessionFrom(t, ts, p, VersionTLS12, nil)
	fail.Store(true)
	_, err := Connect(ClientOptions{Port: portOf(t, ts.addr), Session: s,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, MaxVersion: VersionTLS12}})
	if err == nil {
		t.Fatal("handshake succeeded although the store failed")
	}
	if err := ts.waitClientError(t, 5*time.Second); err == nil ||
		!strings.Contains(err.Error(), "store unreachable") {
		t.Errorf("client error %v", err)
	}
}

func TestSessionTimeoutCountsFromFirstHandshakeInTLS12(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		SessionTimeout: 3 * time.Second})
	s, _ := sessionFrom(t, ts, p, VersionTLS12, nil)
	time.Sleep(1200 * time.Millisecond)
	s2, reused := sessionFrom(t, ts, p, VersionTLS12, s)
	if !reused {
		t.Fatal("not resumed within the timeout")
	}
	time.Sleep(2100 * time.Millisecond)
	if _, reused := sessionFrom(t, ts, p, VersionTLS12, s2); reused {
		t.Error("the ticket from the resumption extended the session past its timeout")
	}
}

func TestFinishedOnResumption(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	s, _ := sessionFrom(t, ts, p, VersionTLS12, nil)
	nextAccepted(t, ts)
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), Session: s,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, MaxVersion: VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
	sc := nextAccepted(t, ts)
	if !c.IsSessionReused() {
		t.Fatal("not resumed")
	}
	// In a resumption the server sends the first Finished.
	if f := sc.Finished(); len(f) != 12 || !bytes.Equal(f, c.PeerFinished()) ||
		c.Finished() != nil {
		t.Errorf("server Finished %x, client PeerFinished %x, client Finished %x",
			f, c.PeerFinished(), c.Finished())
	}
}

func TestSessionIDResumptionIsRefused(t *testing.T) {
	p := newTestPKI(t)
	store := newMapStore()
	_, err := NewServer(ServerOptions{OnNewSession: store.put, OnResumeSession: store.get,
		Context: p.context(t, func(o *ContextOptions) { o.SecureOptions = OpNoTicket })})
	if !errors.Is(err, ErrSessionIDResumption) {
		t.Errorf("err = %v, want ErrSessionIDResumption", err)
	}
}
