package netstack

import (
	"errors"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// BufferRange bounds a TCP buffer: Min and Max limit what SO_SNDBUF and
// SO_RCVBUF style settings (and auto-tuning) may choose, Default is where a
// new connection starts.
type BufferRange struct {
	Min, Default, Max int
}

// Options configure the stack made by New.
type Options struct {
	// Addrs are the stack's own addresses, IPv4 or IPv6, with the prefix
	// length of the subnet they belong to. At least one is required.
	Addrs []netip.Prefix

	// DisableSACK turns off TCP selective acknowledgements (on by default).
	DisableSACK bool

	// SendBuffer is the TCP send buffer range. Zero means
	// {4 KiB, 1 MiB, 8 MiB}.
	SendBuffer BufferRange

	// ReceiveBuffer is the TCP receive buffer range; auto-tuning grows a
	// connection's buffer from Default up to Max as its bandwidth-delay
	// product requires. Zero means {4 KiB, 1 MiB, 8 MiB}.
	ReceiveBuffer BufferRange

	// DisableAutoTuning turns off receive-buffer auto-tuning.
	DisableAutoTuning bool

	// CongestionControl names the algorithm: "cubic" (the default) or
	// "reno".
	CongestionControl string

	// ListenBacklog is the accept queue length of listeners. Zero means
	// 4096.
	ListenBacklog int
}

var defaultBuffer = BufferRange{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}

// nicID is the one NIC of every stack made here.
const nicID tcpip.NICID = 1

// Stack is a gVisor network stack attached to one link endpoint.
type Stack struct {
	s       *stack.Stack
	addrs   []netip.Prefix
	backlog int
}

// New builds a stack, attaches it to link and gives it opts.Addrs.
func New(link stack.LinkEndpoint, opts Options) (*Stack, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("netstack: no addresses given")
	}
	if opts.ListenBacklog == 0 {
		opts.ListenBacklog = 4096
	}
	s := stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocol, ipv6.NewProtocol,
		},
		TransportProtocols: []stack.TransportProtocolFactory{
			tcp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6,
		},
		HandleLocal: true,
	})
	ns := &Stack{s: s, addrs: opts.Addrs, backlog: opts.ListenBacklog}

	if err := ns.setTCPOptions(opts); err != nil {
		s.Destroy()
		return nil, err
	}
	if err := s.CreateNIC(nicID, link); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("netstack: create NIC: %s", err)
	}
	if err := ns.addAddresses(opts.Addrs); err != nil {
		s.Destroy()
		return nil, err
	}

	// Everything not on the stack's own subnets leaves through the link;
	// the host kernel routes it onward.
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	return ns, nil
}

func (ns *Stack) setTCPOptions(opts Options) error {
	sack := tcpip.TCPSACKEnabled(!opts.DisableSACK)
	moderate := tcpip.TCPModerateReceiveBufferOption(!opts.DisableAutoTuning)
	snd, rcv := opts.SendBuffer, opts.ReceiveBuffer
	if snd == (BufferRange{}) {
		snd = defaultBuffer
	}
	if rcv == (BufferRange{}) {
		rcv = defaultBuffer
	}
	for name, r := range map[string]BufferRange{"send": snd, "receive": rcv} {
		if r.Min <= 0 || r.Min > r.Default || r.Default > r.Max {
			return fmt.Errorf("netstack: %s buffer range %+v: need 0 < Min <= Default <= Max",
				name, r)
		}
	}
	sndOpt := tcpip.TCPSendBufferSizeRangeOption{Min: snd.Min, Default: snd.Default, Max: snd.Max}
	rcvOpt := tcpip.TCPReceiveBufferSizeRangeOption{Min: rcv.Min, Default: rcv.Default,
		Max: rcv.Max}
	cc := tcpip.CongestionControlOption("cubic")
	if opts.CongestionControl != "" {
		cc = tcpip.CongestionControlOption(opts.CongestionControl)
	}
	// Nagle off, as Go's net package sets TCP_NODELAY on kernel sockets:
	// TLS writes whole records and wants them on the wire at once.
	noDelay := tcpip.TCPDelayEnabled(false)

	settings := []struct {
		name string
		opt  tcpip.SettableTransportProtocolOption
	}{
		{"SACK", &sack},
		{"receive buffer auto-tuning", &moderate},
		{"send buffer range", &sndOpt},
		{"receive buffer range", &rcvOpt},
		{"congestion control " + string(cc), &cc},
		{"Nagle", &noDelay},
	}
	for _, st := range settings {
		if err := ns.s.SetTransportProtocolOption(tcp.ProtocolNumber, st.opt); err != nil {
			return fmt.Errorf("netstack: set TCP %s: %s", st.name, err)
		}
	}
	return nil
}

func (ns *Stack) addAddresses(addrs []netip.Prefix) error {
	for _, p := range addrs {
		if !p.IsValid() {
			return fmt.Errorf("netstack: invalid address %v", p)
		}
		a := p.Addr().Unmap()
		proto := ipv4.ProtocolNumber
		if a.Is6() {
			proto = ipv6.ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{
			Protocol: proto,
			AddressWithPrefix: tcpip.AddressWithPrefix{
				Address:   tcpip.AddrFromSlice(a.AsSlice()),
				PrefixLen: p.Bits(),
			},
		}
		if err := ns.s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("netstack: add address %v: %s", p, err)
		}
	}
	return nil
}

// Addrs returns the stack's addresses.
func (ns *Stack) Addrs() []netip.Prefix { return ns.addrs }

// Gvisor returns the underlying gVisor stack, for callers that need what
// this package does not wrap.
func (ns *Stack) Gvisor() *stack.Stack { return ns.s }

// Close shuts down every endpoint and releases the stack. The link
// endpoint is closed too.
func (ns *Stack) Close() {
	ns.s.Close()
	ns.s.Wait()
}
