package tun

import (
	"encoding/binary"
	"errors"
)

// virtioNetHdrLen is the size of struct virtio_net_hdr, which a TUN queue
// opened with IFF_VNET_HDR puts before every packet, in both directions.
// The device keeps the legacy 10-byte layout unless TUNSETVNETHDRSZ says
// otherwise, which this package never does.
const virtioNetHdrLen = 10

// Flags of virtio_net_hdr.
const (
	// virtioFlagNeedsCsum: the transport checksum covers from csumStart to
	// the end and is incomplete; the field at csumStart+csumOffset holds
	// the pseudo-header sum.
	virtioFlagNeedsCsum = 1

	// virtioFlagDataValid: the kernel (or a NIC) has checked the checksum.
	virtioFlagDataValid = 2
)

// GSO types of virtio_net_hdr.
const (
	virtioGSONone  = 0
	virtioGSOTCPv4 = 1
	virtioGSOUDP   = 3
	virtioGSOTCPv6 = 4
	virtioGSOUDPL4 = 5
	virtioGSOECN   = 0x80
)

// virtioNetHdr is struct virtio_net_hdr from <linux/virtio_net.h>.
type virtioNetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // length of the headers to copy into each segment
	gsoSize    uint16 // payload bytes per segment
	csumStart  uint16 // where checksumming starts, from the IP header
	csumOffset uint16 // where the checksum goes, from csumStart
}

var errShortVirtioHdr = errors.New("packet shorter than its virtio-net header")

// encode writes h into b, which must hold virtioNetHdrLen bytes. TUN
// devices use the host's byte order for the legacy header, and every Linux
// host this package builds for is little-endian.
func (h *virtioNetHdr) encode(b []byte) {
	_ = b[virtioNetHdrLen-1]
	b[0] = h.flags
	b[1] = h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

// decode reads h from the start of b.
func (h *virtioNetHdr) decode(b []byte) error {
	if len(b) < virtioNetHdrLen {
		return errShortVirtioHdr
	}
	h.flags = b[0]
	h.gsoType = b[1]
	h.hdrLen = binary.LittleEndian.Uint16(b[2:])
	h.gsoSize = binary.LittleEndian.Uint16(b[4:])
	h.csumStart = binary.LittleEndian.Uint16(b[6:])
	h.csumOffset = binary.LittleEndian.Uint16(b[8:])
	return nil
}
