package netstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
)

// pair returns two stacks joined by an in-memory link: a has 198.18.0.1
// and 2001:2:0:1::1, b has 198.18.0.2 and 2001:2:0:1::2.
func pair(t *testing.T) (a, b *Stack) {
	t.Helper()
	la, lb := pipe.New("", "", 1500)
	var err error
	a, err = New(la, Options{Addrs: []netip.Prefix{
		netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("2001:2:0:1::1/64"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(lb, Options{Addrs: []netip.Prefix{
		netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("2001:2:0:1::2/64"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestListenDialBothFamilies listens on every address with "tcp" and
// checks that IPv4 and IPv6 clients both reach the one listener, with the
// bytes intact in both directions and the right addresses reported.
func TestListenDialBothFamilies(t *testing.T) {
	a, b := pair(t)
	l, err := a.Listen("tcp", ":443")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()

	for _, tc := range []struct{ dst, wantLocal string }{
		{"198.18.0.1:443", "198.18.0.2"},
		{"[2001:2:0:1::1]:443", "2001:2:0:1::2"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := b.DialContext(ctx, "tcp", tc.dst)
		cancel()
		if err != nil {
			t.Fatalf("dial %s: %v", tc.dst, err)
		}
		if got := c.RemoteAddr().String(); got != tc.dst {
			t.Errorf("remote address %s, want %s", got, tc.dst)
		}
		if host, _, _ := net.SplitHostPort(c.LocalAddr().String()); host != tc.wantLocal {
			t.Errorf("local address %s, want host %s", c.LocalAddr(), tc.wantLocal)
		}
		data := make([]byte, 4<<20)
		rand.Read(data)
		go func() {
			c.Write(data)
			c.(interface{ CloseWrite() error }).CloseWrite()
		}()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("%s: read: %v", tc.dst, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: echoed %d bytes, differing from the %d sent", tc.dst, len(got),
				len(data))
		}
		c.Close()
	}

	st := a.Stats()
	if st.TCPPassiveOpens != 2 || st.TCPChecksumErrors != 0 || st.TCPSegmentsIn == 0 {
		t.Errorf("stats after two connections: %+v", st)
	}
}

func TestListenErrors(t *testing.T) {
	a, _ := pair(t)
	l, err := a.Listen("tcp4", "198.18.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cases := []struct{ network, addr, want string }{
		{"tcp4", "198.18.0.1:8443", "8443"},
		{"tcp", ":0", "bad port"},
		{"tcp", "nohost:80", "bad address"},
		{"udp", ":80", "unsupported network"},
		{"tcp", "443", "missing port"},
	}
	for _, c := range cases {
		if _, err := a.Listen(c.network, c.addr); err == nil ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("Listen(%q, %q) = %v, want an error with %q", c.network, c.addr, err, c.want)
		}
	}
}

func TestDialErrors(t *testing.T) {
	_, b := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cases := []struct{ network, addr, want string }{
		{"tcp", "example.com:443", "literal IP"},
		{"tcp6", "198.18.0.1:443", "does not match"},
		{"tcp", "198.18.0.1:1", "refused"},
	}
	for _, c := range cases {
		if _, err := b.DialContext(ctx, c.network, c.addr); err == nil ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("DialContext(%q, %q) = %v, want an error with %q", c.network, c.addr,
				err, c.want)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	la, _ := pipe.New("", "", 1500)
	if _, err := New(la, Options{}); err == nil {
		t.Error("New with no addresses succeeded")
	}
	la, _ = pipe.New("", "", 1500)
	_, err := New(la, Options{
		Addrs:      []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")},
		SendBuffer: BufferRange{Min: 10, Default: 5, Max: 20},
	})
	if err == nil || !strings.Contains(err.Error(), "send buffer") {
		t.Errorf("bad send buffer range: %v", err)
	}
}
