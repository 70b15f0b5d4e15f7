package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    virtioNetHdr
		want []byte
	}{
		{"zero", virtioNetHdr{}, make([]byte, 10)},
		{"tcp4 super-packet", virtioNetHdr{flags: virtioFlagNeedsCsum,
			gsoType: virtioGSOTCPv4, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16},
			[]byte{1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0}},
		{"tcp6 ecn", virtioNetHdr{flags: virtioFlagNeedsCsum,
			gsoType: virtioGSOTCPv6 | virtioGSOECN, hdrLen: 72, gsoSize: 1428,
			csumStart: 40, csumOffset: 16},
			[]byte{1, 0x84, 72, 0, 0x94, 0x05, 40, 0, 16, 0}},
		{"data valid", virtioNetHdr{flags: virtioFlagDataValid},
			[]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, virtioNetHdrLen)
			tt.h.encode(b)
			if !bytes.Equal(b, tt.want) {
				t.Fatalf("encode = %v, want %v", b, tt.want)
			}
			var got virtioNetHdr
			if err := got.decode(b); err != nil {
				t.Fatal(err)
			}
			if got != tt.h {
				t.Fatalf("decode = %+v, want %+v", got, tt.h)
			}
		})
	}
	var h virtioNetHdr
	if err := h.decode(make([]byte, 9)); !errors.Is(err, errShortVirtioHdr) {
		t.Fatalf("decode of 9 bytes: err = %v", err)
	}
}

// tcpPacket builds a TCP packet with correct checksums using gopacket.
func tcpPacket(t *testing.T, v6 bool, payload []byte, flags func(*layers.TCP)) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 443, DstPort: 51000, Seq: 0xfffff000, Ack: 77,
		Window: 500, ACK: true,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10,
				OptionData: []byte{0, 0, 1, 0, 0, 0, 2, 0}}}}
	if flags != nil {
		flags(tcp)
	}
	var ip gopacket.SerializableLayer
	if v6 {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.ParseIP("2001:2:0:2::1"), DstIP: net.ParseIP("2001:2:0:1::2")}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	} else {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0xfffe,
			Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IPv4(198, 19, 0, 1), DstIP: net.IPv4(198, 18, 0, 2)}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// decodeTCP decodes pkt with gopacket and checks that its checksums are
// right by recomputing them.
func decodeTCP(t *testing.T, pkt []byte) (*layers.TCP, []byte) {
	t.Helper()
	first := layers.LayerTypeIPv4
	if pkt[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(pkt, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("decode: %v", el.Error())
	}
	tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("no TCP layer in %x", pkt)
	}
	if !checksumsValid(pkt) {
		t.Fatalf("bad checksum in packet seq %d", tcp.Seq)
	}
	return tcp, tcp.Payload
}

// checksumsValid verifies the IPv4 header and TCP checksums of pkt.
func checksumsValid(pkt []byte) bool {
	var l3 int
	var pseudo uint16
	if pkt[0]>>4 == 4 {
		ip := header.IPv4(pkt)
		if !ip.IsChecksumValid() {
			return false
		}
		l3 = int(ip.HeaderLength())
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	} else {
		ip := header.IPv6(pkt)
		l3 = header.IPv6MinimumSize
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	}
	return checksum.Checksum(pkt[l3:], pseudo) == 0xffff
}

// makePartial turns a finished TCP packet into what the kernel hands over
// with NEEDS_CSUM: the checksum field holds the pseudo-header sum only.
func makePartial(pkt []byte, l3 int) {
	var pseudo uint16
	if pkt[0]>>4 == 4 {
		ip := header.IPv4(pkt)
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	} else {
		ip := header.IPv6(pkt)
		pseudo = header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(),
			ip.DestinationAddress(), uint16(len(pkt)-l3))
	}
	binary.BigEndian.PutUint16(pkt[l3+16:], pseudo)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestCompleteChecksum(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, size := range []int{0, 1, 1000, 1447, 60000} {
			pkt := tcpPacket(t, v6, pattern(size), nil)
			want := append([]byte(nil), pkt...)
			l3 := 20
			if v6 {
				l3 = 40
			}
			makePartial(pkt, l3)
			if size > 0 && bytes.Equal(pkt, want) {
				t.Fatal("makePartial changed nothing")
			}
			if err := completeChecksum(pkt, l3, 16); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkt, want) {
				t.Errorf("v6=%v size %d: completed checksum %x, want %x", v6, size,
					pkt[l3+16:l3+18], want[l3+16:l3+18])
			}
		}
	}
	if err := completeChecksum(make([]byte, 30), 20, 16); !errors.Is(err, errBadOffload) {
		t.Errorf("checksum field past the end: err = %v", err)
	}
}

func TestSegmentTCP(t *testing.T) {
	const mss = 1448
	tests := []struct {
		name     string
		v6       bool
		size     int
		partial  bool // NEEDS_CSUM, as the kernel sends super-packets
		fin, cwr bool
	}{
		{"v4 even", false, 4 * mss, true, false, false},
		{"v4 odd with FIN", false, 10*mss + 123, true, true, false},
		{"v4 CWR full checksum", false, 3*mss + 1, false, false, true},
		{"v6", true, 7*mss + 5, true, true, true},
		{"v4 max", false, 65535 - 20 - 32, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := pattern(tt.size)
			super := tcpPacket(t, tt.v6, payload, func(tcp *layers.TCP) {
				tcp.PSH, tcp.FIN, tcp.CWR = true, tt.fin, tt.cwr
			})
			h := virtioNetHdr{gsoType: virtioGSOTCPv4, gsoSize: mss, csumStart: 20,
				csumOffset: 16, hdrLen: 52}
			if tt.v6 {
				h.gsoType, h.csumStart, h.hdrLen = virtioGSOTCPv6, 40, 72
			}
			if tt.partial {
				h.flags = virtioFlagNeedsCsum
				makePartial(super, int(h.csumStart))
			}

			var got []byte
			var segs int
			scratch := make([]byte, maxPacket)
			err := segmentTCP(super, &h, scratch, func(seg []byte) {
				tcp, data := decodeTCP(t, seg)
				if len(seg) > int(h.hdrLen)+mss {
					t.Errorf("segment %d: %d bytes, more than headers and MSS", segs, len(seg))
				}
				if want := uint32(0xfffff000 + len(got)); tcp.Seq != want {
					t.Errorf("segment %d: seq %#x, want %#x", segs, tcp.Seq, want)
				}
				last := len(got)+len(data) == len(payload)
				if tcp.FIN != (tt.fin && last) || tcp.PSH != last {
					t.Errorf("segment %d: FIN %v PSH %v, last %v", segs, tcp.FIN, tcp.PSH, last)
				}
				if tcp.CWR != (tt.cwr && segs == 0) {
					t.Errorf("segment %d: CWR %v", segs, tcp.CWR)
				}
				if !tt.v6 {
					if id := header.IPv4(seg).ID(); id != uint16(0xfffe+segs) {
						t.Errorf("segment %d: IPv4 ID %#x", segs, id)
					}
				}
				got = append(got, data...)
				segs++
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("payload differs after splitting (%d bytes, want %d)", len(got),
					len(payload))
			}
			if want := (tt.size + mss - 1) / mss; segs != want {
				t.Errorf("%d segments, want %d", segs, want)
			}
		})
	}
}

func TestPrepareReceived(t *testing.T) {
	t.Run("super-packet with partial checksum", func(t *testing.T) {
		pkt := tcpPacket(t, false, pattern(20000), nil)
		makePartial(pkt, 20)
		h := virtioNetHdr{flags: virtioFlagNeedsCsum, gsoType: virtioGSOTCPv4,
			gsoSize: 1448, csumStart: 20, csumOffset: 16}
		if err := prepareReceived(pkt, &h); err != nil {
			t.Fatal(err)
		}
		decodeTCP(t, pkt)
	})
	t.Run("super-packet without NEEDS_CSUM", func(t *testing.T) {
		pkt := tcpPacket(t, true, pattern(20000), nil)
		pkt[40+16] ^= 0x55 // a checksum that fits no segment
		h := virtioNetHdr{gsoType: virtioGSOTCPv6, gsoSize: 1428, csumStart: 40}
		if err := prepareReceived(pkt, &h); err != nil {
			t.Fatal(err)
		}
		decodeTCP(t, pkt)
	})
	t.Run("plain packet is left alone", func(t *testing.T) {
		pkt := tcpPacket(t, false, pattern(100), nil)
		pkt[20+16] ^= 0x55 // corrupt: the stack must see it and drop it
		want := append([]byte(nil), pkt...)
		if err := prepareReceived(pkt, &virtioNetHdr{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pkt, want) || checksumsValid(pkt) {
			t.Fatal("a packet without offload flags was changed")
		}
	})

	bad := []struct {
		name  string
		edit  func(pkt []byte, h *virtioNetHdr)
		isErr bool
	}{
		{"IPv4 length mismatch", func(p []byte, h *virtioNetHdr) { p[3]-- }, true},
		{"UDP GSO type", func(p []byte, h *virtioNetHdr) { h.gsoType = virtioGSOUDPL4 }, true},
		{"csum start past IP header", func(p []byte, h *virtioNetHdr) { h.csumStart = 24 }, true},
		{"zero segment size", func(p []byte, h *virtioNetHdr) { h.gsoSize = 0 }, true},
		{"TCPv6 type on IPv4", func(p []byte, h *virtioNetHdr) { h.gsoType = virtioGSOTCPv6 }, true},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			pkt := tcpPacket(t, false, pattern(5000), nil)
			h := virtioNetHdr{flags: virtioFlagNeedsCsum, gsoType: virtioGSOTCPv4,
				gsoSize: 1448, csumStart: 20, csumOffset: 16}
			tt.edit(pkt, &h)
			err := prepareReceived(pkt, &h)
			if !errors.Is(err, errBadOffload) {
				t.Fatalf("err = %v, want errBadOffload", err)
			}
			err = segmentTCP(pkt, &h, make([]byte, maxPacket), func([]byte) {})
			if !errors.Is(err, errBadOffload) {
				t.Fatalf("segmentTCP err = %v, want errBadOffload", err)
			}
		})
	}
}

func TestTxVirtioHdr(t *testing.T) {
	tests := []struct {
		name    string
		gso     stack.GSO
		l3, l4  int
		payload int
		want    virtioNetHdr
	}{
		{"no GSO", stack.GSO{}, 20, 20, 3000, virtioNetHdr{}},
		{"gVisor GSO", stack.GSO{Type: stack.GSOGvisor, MSS: 1460}, 20, 20, 3000,
			virtioNetHdr{}},
		{"small segment keeps partial checksum", stack.GSO{Type: stack.GSOTCPv4,
			NeedsCsum: true, CsumOffset: 16, MSS: 1448, L3HdrLen: 20}, 20, 32, 1000,
			virtioNetHdr{flags: virtioFlagNeedsCsum, csumStart: 20, csumOffset: 16}},
		{"v4 super-packet", stack.GSO{Type: stack.GSOTCPv4, NeedsCsum: true,
			CsumOffset: 16, MSS: 1448, L3HdrLen: 20}, 20, 32, 60000,
			virtioNetHdr{flags: virtioFlagNeedsCsum, gsoType: virtioGSOTCPv4,
				gsoSize: 1448, hdrLen: 52, csumStart: 20, csumOffset: 16}},
		{"v6 super-packet", stack.GSO{Type: stack.GSOTCPv6, NeedsCsum: true,
			CsumOffset: 16, MSS: 1428, L3HdrLen: 40}, 40, 32, 2000,
			virtioNetHdr{flags: virtioFlagNeedsCsum, gsoType: virtioGSOTCPv6,
				gsoSize: 1428, hdrLen: 72, csumStart: 40, csumOffset: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
				ReserveHeaderBytes: tt.l3 + tt.l4,
				Payload:            buffer.MakeWithData(make([]byte, tt.payload)),
			})
			defer pkt.DecRef()
			pkt.TransportHeader().Push(tt.l4)
			pkt.NetworkHeader().Push(tt.l3)
			pkt.GSOOptions = tt.gso
			if got := txVirtioHdr(pkt); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
