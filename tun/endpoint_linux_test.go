package tun_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/tlsstack/tlsstack/affinity"
	"github.com/tlsstack/tlsstack/netstack"
	"github.com/tlsstack/tlsstack/tun"
)

const transferSize = 16 << 20

// server is a stack behind a TUN device in the topology's server
// namespace: port 1 sends transferSize bytes, port 2 answers the SHA-256
// of what it read.
type server struct {
	dev  *tun.Device
	ep   *tun.Endpoint
	st   *netstack.Stack
	errs chan error
}

func startServer(t *testing.T, tp *topo, cfg tun.Config, opts tun.EndpointOptions) *server {
	t.Helper()
	cfg.Name = tp.tunDev
	cfg.Prefixes = []netip.Prefix{netip.MustParsePrefix(stackIP4 + "/24"),
		netip.MustParsePrefix(stackIP6 + "/64")}
	s := &server{errs: make(chan error, 16)}
	var err error
	inNetns(t, tp.srv, func() { s.dev, err = tun.Create(cfg) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inNetns(t, tp.srv, func() { s.dev.Close() }) })
	if s.ep, err = tun.NewLinkEndpoint(s.dev, opts); err != nil {
		t.Fatal(err)
	}
	s.st, err = netstack.New(s.ep, netstack.Options{Addrs: cfg.Prefixes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.st.Close)

	send, err := s.st.Listen("tcp", ":1")
	if err != nil {
		t.Fatal(err)
	}
	recv, err := s.st.Listen("tcp", ":2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close(); recv.Close() })
	go s.serve(send, func(c net.Conn) error {
		_, err := c.Write(payload())
		return err
	})
	go s.serve(recv, func(c net.Conn) error {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return err
		}
		_, err := c.Write(h.Sum(nil))
		return err
	})
	return s
}

func (s *server) serve(l net.Listener, handle func(net.Conn) error) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := handle(c); err != nil {
				s.errs <- err
			}
		}()
	}
}

var payloadOnce = sync.OnceValue(func() []byte {
	b := make([]byte, transferSize)
	for i := range b {
		b[i] = byte(i*131 + i>>12)
	}
	return b
})

func payload() []byte { return payloadOnce() }

// dial connects from the client namespace.
func dial(t *testing.T, tp *topo, addr string) *net.TCPConn {
	t.Helper()
	var c net.Conn
	var err error
	inNetns(t, tp.cli, func() { c, err = net.DialTimeout("tcp", addr, 5*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

// transfer downloads and uploads transferSize bytes to the stack at ip
// and checks both arrive intact.
func transfer(t *testing.T, tp *topo, s *server, ip string) {
	t.Helper()
	c := dial(t, tp, net.JoinHostPort(ip, "1"))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		t.Fatalf("download: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, payload()) {
		t.Fatalf("download: %d bytes arrived, not the %d sent", len(got), transferSize)
	}

	c = dial(t, tp, net.JoinHostPort(ip, "2"))
	if _, err := c.Write(payload()); err != nil {
		t.Fatalf("upload: %v", err)
	}
	c.CloseWrite()
	sum, err := io.ReadAll(c)
	c.Close()
	want := sha256.Sum256(payload())
	if err != nil || !bytes.Equal(sum, want[:]) {
		t.Fatalf("upload: server read something else (sum %x, err %v)", sum, err)
	}
	select {
	case err := <-s.errs:
		t.Fatalf("server: %v", err)
	default:
	}
}

// capture counts the TCP packets from the stack that arrive in the client
// namespace, and those among them whose checksums are wrong, decoding
// them with gopacket.
type capture struct {
	fd       int
	done     chan struct{}
	tcp, bad atomic.Int64
}

func startCapture(t *testing.T, tp *topo) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{})}
	var err error
	inNetns(t, tp.cli, func() {
		proto := int(htons(unix.ETH_P_ALL))
		c.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return
		}
		var ifi *net.Interface
		if ifi, err = net.InterfaceByName(tp.cliDev); err != nil {
			return
		}
		err = unix.Bind(c.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL),
			Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("capture on %s: %v", tp.cliDev, err)
	}
	unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO,
		&unix.Timeval{Usec: 100000})
	unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 64<<20)
	go c.loop()
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) loop() {
	defer close(c.done)
	buf := make([]byte, 1<<16)
	stack4, stack6 := netip.MustParseAddr(stackIP4), netip.MustParseAddr(stackIP6)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.NoCopy)
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		var ipPkt []byte
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			if a, _ := netip.AddrFromSlice(ip.SrcIP.To4()); a != stack4 {
				continue
			}
			ipPkt = append(ip.Contents, ip.Payload...)
		case *layers.IPv6:
			if a, _ := netip.AddrFromSlice(ip.SrcIP); a != stack6 {
				continue
			}
			ipPkt = append(ip.Contents, ip.Payload...)
		default:
			continue
		}
		c.tcp.Add(1)
		if !tcpChecksumValid(ipPkt) {
			c.bad.Add(1)
		}
		_ = tcp
	}
}

func (c *capture) stop() {
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
	unix.Close(c.fd)
	<-c.done
}

func tcpChecksumValid(pkt []byte) bool {
	var l3 int
	var pseudo uint16
	if pkt[0]>>4 == 4 {
		ip := header.IPv4(pkt)
		if !ip.IsChecksumValid() {
			return false
		}
		l3 = int(ip.HeaderLength())
		pkt = pkt[:ip.TotalLength()]
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	} else {
		ip := header.IPv6(pkt)
		l3 = header.IPv6MinimumSize
		pkt = pkt[:l3+int(ip.PayloadLength())]
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	}
	return checksum.Checksum(pkt[l3:], pseudo) == 0xffff
}

// TestTransferChecksums moves data both ways through the TUN device in
// each offload mode and with the veth offloads that change what the
// kernel hands over, and proves every checksum right: the client kernel
// counts no checksum errors, the stack counts none, and a capture on the
// client's veth finds none. With the server veth's transmit checksum
// offload off, the kernel has to finish the stack's partial checksums in
// software there, so a wrong pseudo-header sum would show up.
func TestTransferChecksums(t *testing.T) {
	tests := []struct {
		name         string
		cfg          tun.Config
		opts         tun.EndpointOptions
		srvTxCsumOff bool // software checksums on the way to the client
		cliTxCsumOff bool // complete checksums on the way to the stack
		srvGRO       bool
		wantSuper    bool
	}{
		{name: "offload", wantSuper: true},
		{name: "offload, server veth checksums in software", srvTxCsumOff: true,
			wantSuper: true},
		{name: "offload, client veth checksums in software", cliTxCsumOff: true},
		{name: "offload, veth GRO", srvGRO: true, wantSuper: true},
		{name: "offload, split received", opts: tun.EndpointOptions{SplitReceived: true},
			srvTxCsumOff: true, wantSuper: true},
		{name: "no offload", cfg: tun.Config{DisableOffload: true}, srvTxCsumOff: true},
		{name: "offload, two queues pinned", cfg: tun.Config{Queues: 2},
			opts: tun.EndpointOptions{QueueThread: pinQueue}, srvTxCsumOff: true, wantSuper: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTopo(t)
			if tt.srvTxCsumOff {
				setEthtool(t, tp.srv, tp.srvDev, ethtoolSTXCSUM, false)
			}
			if tt.cliTxCsumOff {
				setEthtool(t, tp.cli, tp.cliDev, ethtoolSTXCSUM, false)
			}
			if tt.srvGRO {
				setEthtool(t, tp.srv, tp.srvDev, ethtoolSGRO, true)
			}
			s := startServer(t, tp, tt.cfg, tt.opts)
			if o := s.dev.Offload(); o.VirtioHeader == tt.cfg.DisableOffload || o.Err != nil {
				t.Fatalf("offload %v, err %v", o, o.Err)
			}
			cap := startCapture(t, tp)
			// Linux counts TCP checksum errors of both families here.
			csumErrs := snmpCounter(t, tp.cli, "Tcp", "InCsumErrors")
			transfer(t, tp, s, stackIP4)
			transfer(t, tp, s, stackIP6)
			cap.stop()

			if n := snmpCounter(t, tp.cli, "Tcp", "InCsumErrors") - csumErrs; n != 0 {
				t.Errorf("client kernel counted %d TCP checksum errors", n)
			}
			gst := s.st.Gvisor().Stats()
			if n := gst.TCP.ChecksumErrors.Value(); n != 0 {
				t.Errorf("stack counted %d TCP checksum errors", n)
			}
			if n := gst.IP.MalformedPacketsReceived.Value(); n != 0 {
				t.Errorf("stack counted %d malformed IP packets", n)
			}
			if cap.tcp.Load() == 0 {
				t.Error("the capture saw no TCP packet from the stack")
			}
			// With the veth's checksum offload on, packets stay partial
			// all the way to the client's socket, as between two kernel
			// sockets, and a capture shows the pseudo-header sum.
			if n := cap.bad.Load(); n != 0 && tt.srvTxCsumOff {
				t.Errorf("%d of %d captured TCP packets from the stack had bad checksums",
					n, cap.tcp.Load())
			}
			st := s.ep.Stats()
			if n := st.RxDropped.Load(); n != 0 {
				t.Errorf("endpoint dropped %d received packets", n)
			}
			super := st.TxSuper.Load() > 0 && st.RxSuper.Load() > 0
			if super != tt.wantSuper {
				t.Errorf("super-packets written %d, read %d; want some both ways: %v",
					st.TxSuper.Load(), st.RxSuper.Load(), tt.wantSuper)
			}
			t.Logf("offload %v; captured %d TCP packets; endpoint tx %d (%d super) "+
				"rx %d (%d super, %d checksums completed)", s.dev.Offload(), cap.tcp.Load(),
				st.TxPackets.Load(), st.TxSuper.Load(), st.RxPackets.Load(),
				st.RxSuper.Load(), st.RxChecksumCompleted.Load())
		})
	}
}

// pinQueue pins queue i's reader to a CPU of its own, as serve does.
func pinQueue(i int) {
	cpus, _ := affinity.Allowed()
	if len(cpus) > 0 {
		affinity.PinThread(cpus[i%len(cpus)])
	}
}
