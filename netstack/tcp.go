package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Listen announces on the stack. network is "tcp", "tcp4" or "tcp6";
// address is "host:port", where an empty host listens on every address of
// the families network allows and port 0 is refused (the stack has no
// ephemeral listen ports). With "tcp" and an empty host, one listener takes
// connections of both families.
func (ns *Stack) Listen(network, address string) (net.Listener, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("netstack: listen %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("netstack: listen %s: bad port %q", address, portStr)
	}

	var families []tcpip.NetworkProtocolNumber
	var bind tcpip.Address
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("netstack: listen %s: bad address %q", address, host)
		}
		a = a.Unmap()
		bind = tcpip.AddrFromSlice(a.AsSlice())
		families = []tcpip.NetworkProtocolNumber{familyOf(a)}
	} else {
		families, err = familiesFor(network)
		if err != nil {
			return nil, fmt.Errorf("netstack: listen %s: %w", address, err)
		}
	}

	var ls []*gonet.TCPListener
	for _, f := range families {
		l, err := ns.listenOne(tcpip.FullAddress{NIC: nicID, Addr: bind, Port: uint16(port)}, f)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("netstack: listen %s %s: %w", network, address, err)
		}
		ls = append(ls, l)
	}
	if len(ls) == 1 {
		return ls[0], nil
	}
	return newMultiListener(ls), nil
}

func (ns *Stack) listenOne(addr tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (
	*gonet.TCPListener, error) {
	var wq waiter.Queue
	ep, terr := ns.s.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	if proto == ipv6.ProtocolNumber {
		// IPv4 connections belong to the IPv4 listener.
		ep.SocketOptions().SetV6Only(true)
	}
	ep.SocketOptions().SetReuseAddress(true)
	if terr := ep.Bind(addr); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("bind: %s", terr)
	}
	if terr := ep.Listen(ns.backlog); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("listen: %s", terr)
	}
	return gonet.NewTCPListener(ns.s, &wq, ep), nil
}

// DialContext connects to address ("host:port", host a literal IP address)
// through the stack. Its signature matches net.Dialer.DialContext.
func (ns *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("netstack: dial %s: need a literal IP address and port: %w",
			address, err)
	}
	a := ap.Addr().Unmap()
	families, err := familiesFor(network)
	if err != nil {
		return nil, fmt.Errorf("netstack: dial %s: %w", address, err)
	}
	proto := familyOf(a)
	if len(families) == 1 && families[0] != proto {
		return nil, fmt.Errorf("netstack: dial %s: address family does not match %s",
			address, network)
	}
	full := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(a.AsSlice()),
		Port: ap.Port()}
	c, err := gonet.DialContextTCP(ctx, ns.s, full, proto)
	if err != nil {
		return nil, fmt.Errorf("netstack: dial %s: %w", address, err)
	}
	return c, nil
}

func familyOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

func familiesFor(network string) ([]tcpip.NetworkProtocolNumber, error) {
	switch network {
	case "tcp":
		return []tcpip.NetworkProtocolNumber{ipv4.ProtocolNumber, ipv6.ProtocolNumber}, nil
	case "tcp4":
		return []tcpip.NetworkProtocolNumber{ipv4.ProtocolNumber}, nil
	case "tcp6":
		return []tcpip.NetworkProtocolNumber{ipv6.ProtocolNumber}, nil
	}
	return nil, fmt.Errorf("unsupported network %q (want tcp, tcp4 or tcp6)", network)
}

// multiListener merges listeners of several address families into one.
type multiListener struct {
	ls    []*gonet.TCPListener
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func newMultiListener(ls []*gonet.TCPListener) *multiListener {
	m := &multiListener{
		ls:    ls,
		conns: make(chan net.Conn),
		errs:  make(chan error, len(ls)),
		done:  make(chan struct{}),
	}
	for _, l := range ls {
		go m.pump(l)
	}
	return m
}

func (m *multiListener) pump(l *gonet.TCPListener) {
	for {
		c, err := l.Accept()
		if err != nil {
			m.errs <- err
			return
		}
		select {
		case m.conns <- c:
		case <-m.done:
			c.Close()
			return
		}
	}
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		m.Close()
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *multiListener) Close() error {
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.ls {
			l.Close()
		}
	})
	return nil
}

// Addr returns the first family's address; the others share its port.
func (m *multiListener) Addr() net.Addr { return m.ls[0].Addr() }
