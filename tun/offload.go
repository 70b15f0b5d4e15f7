package tun

import (
	"encoding/binary"
	"errors"
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// This file holds the checksum and segmentation work that offload moves
// between the kernel and the endpoint. It works on plain byte slices so
// that it can be tested without a device.

const (
	tcpFlagFIN = 0x01
	tcpFlagPSH = 0x08
	tcpFlagCWR = 0x80
)

var errBadOffload = errors.New("bad offload header")

// completeChecksum finishes a partial checksum as the kernel's
// skb_checksum_help does: the field at start+offset holds the sum of the
// pseudo-header, and the sum of everything from start on, folded and
// inverted, is the real checksum.
func completeChecksum(pkt []byte, start, offset int) error {
	if start >= len(pkt) || start+offset+2 > len(pkt) {
		return fmt.Errorf("%w: checksum at %d+%d in a %d-byte packet", errBadOffload,
			start, offset, len(pkt))
	}
	sum := checksum.Checksum(pkt[start:], 0)
	binary.BigEndian.PutUint16(pkt[start+offset:], ^sum)
	return nil
}

// tcpSuper describes a TCP super-packet: one IP header and one TCP header
// in front of more payload than one segment may carry.
type tcpSuper struct {
	v6     bool
	l3Len  int // IP header length, extension headers included
	hdrLen int // IP and TCP headers
}

// parseTCPSuper checks that pkt is the TCP packet h says it is, with IP
// length fields that match its size.
func parseTCPSuper(pkt []byte, h *virtioNetHdr) (tcpSuper, error) {
	var s tcpSuper
	if len(pkt) < header.IPv4MinimumSize {
		return s, fmt.Errorf("%w: %d-byte packet", errBadOffload, len(pkt))
	}
	s.l3Len = int(h.csumStart)
	switch h.gsoType &^ virtioGSOECN {
	case virtioGSOTCPv4:
		ip := header.IPv4(pkt)
		if ip.HeaderLength() < header.IPv4MinimumSize || pkt[0]>>4 != 4 ||
			ip.Protocol() != uint8(header.TCPProtocolNumber) ||
			int(ip.HeaderLength()) != s.l3Len || int(ip.TotalLength()) != len(pkt) {
			return s, fmt.Errorf("%w: TCPv4 super-packet with a bad IPv4 header",
				errBadOffload)
		}
	case virtioGSOTCPv6:
		s.v6 = true
		if len(pkt) < header.IPv6MinimumSize || pkt[0]>>4 != 6 ||
			s.l3Len < header.IPv6MinimumSize ||
			int(header.IPv6(pkt).PayloadLength())+header.IPv6MinimumSize != len(pkt) ||
			(s.l3Len == header.IPv6MinimumSize &&
				header.IPv6(pkt).NextHeader() != uint8(header.TCPProtocolNumber)) {
			return s, fmt.Errorf("%w: TCPv6 super-packet with a bad IPv6 header",
				errBadOffload)
		}
	default:
		return s, fmt.Errorf("%w: unsupported GSO type %#x", errBadOffload, h.gsoType)
	}
	if s.l3Len+header.TCPMinimumSize > len(pkt) {
		return s, fmt.Errorf("%w: TCP header past the end", errBadOffload)
	}
	s.hdrLen = s.l3Len + int(header.TCP(pkt[s.l3Len:]).DataOffset())
	if s.hdrLen-s.l3Len < header.TCPMinimumSize || s.hdrLen > len(pkt) || h.gsoSize == 0 {
		return s, fmt.Errorf("%w: bad TCP header or segment size", errBadOffload)
	}
	return s, nil
}

// tcpChecksum sets the TCP checksum of a packet whose TCP header starts at
// l3Len.
func tcpChecksum(pkt []byte, l3Len int, v6 bool) {
	var src, dst tcpip.Address
	if v6 {
		ip := header.IPv6(pkt)
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
	} else {
		ip := header.IPv4(pkt)
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
	}
	tcp := header.TCP(pkt[l3Len:])
	tcp.SetChecksum(0)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, sum))
}

// segmentTCP splits a TCP super-packet into segments of at most
// h.gsoSize payload bytes, as the kernel's GSO would, and calls emit with
// each. The segment passed to emit lives in scratch, which must hold
// len(pkt) bytes at least; emit must copy what it keeps. Every segment
// gets correct IP lengths, IPv4 ID and checksums whatever the super-packet
// carried.
func segmentTCP(pkt []byte, h *virtioNetHdr, scratch []byte, emit func(seg []byte)) error {
	s, err := parseTCPSuper(pkt, h)
	if err != nil {
		return err
	}
	mss := int(h.gsoSize)
	payload := pkt[s.hdrLen:]
	seq := header.TCP(pkt[s.l3Len:]).SequenceNumber()
	flags := pkt[s.l3Len+13]
	var id uint16
	if !s.v6 {
		id = header.IPv4(pkt).ID()
	}

	for i, off := 0, 0; off < len(payload) || i == 0; i, off = i+1, off+mss {
		n := min(mss, len(payload)-off)
		seg := scratch[:s.hdrLen+n]
		copy(seg, pkt[:s.hdrLen])
		copy(seg[s.hdrLen:], payload[off:off+n])

		if s.v6 {
			header.IPv6(seg).SetPayloadLength(uint16(len(seg) - header.IPv6MinimumSize))
		} else {
			ip := header.IPv4(seg)
			ip.SetTotalLength(uint16(len(seg)))
			ip.SetID(id + uint16(i))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
		}

		tcp := header.TCP(seg[s.l3Len:])
		tcp.SetSequenceNumber(seq + uint32(off))
		f := flags
		if off+n < len(payload) {
			f &^= tcpFlagFIN | tcpFlagPSH
		}
		if i > 0 {
			f &^= tcpFlagCWR
		}
		seg[s.l3Len+13] = f
		tcpChecksum(seg, s.l3Len, s.v6)
		emit(seg)
	}
	return nil
}

// prepareReceived makes a packet read with virtio header h acceptable to a
// stack that verifies every checksum: it completes a partial checksum and
// turns a super-packet into one large, valid TCP segment.
func prepareReceived(pkt []byte, h *virtioNetHdr) error {
	if h.gsoType != virtioGSONone {
		s, err := parseTCPSuper(pkt, h)
		if err != nil {
			return err
		}
		if h.flags&virtioFlagNeedsCsum == 0 {
			// The checksum, if any, covered one segment, not all of them.
			tcpChecksum(pkt, s.l3Len, s.v6)
			return nil
		}
	}
	if h.flags&virtioFlagNeedsCsum != 0 {
		return completeChecksum(pkt, int(h.csumStart), int(h.csumOffset))
	}
	return nil
}

// txVirtioHdr returns the virtio header for an outgoing packet: gVisor's
// TCP leaves a partial checksum in packets it built for host GSO, and
// may hand over more than one segment's worth of payload.
func txVirtioHdr(pkt *stack.PacketBuffer) virtioNetHdr {
	var h virtioNetHdr
	gso := pkt.GSOOptions
	var gsoType uint8
	switch gso.Type {
	case stack.GSOTCPv4:
		gsoType = virtioGSOTCPv4
	case stack.GSOTCPv6:
		gsoType = virtioGSOTCPv6
	default:
		return h
	}
	if gso.NeedsCsum {
		h.flags = virtioFlagNeedsCsum
		h.csumStart = uint16(len(pkt.NetworkHeader().Slice()))
		h.csumOffset = gso.CsumOffset
	}
	if pkt.Data().Size() > int(gso.MSS) {
		h.gsoType = gsoType
		h.gsoSize = gso.MSS
		h.hdrLen = uint16(pkt.HeaderSize())
	}
	return h
}
