package tun

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// EndpointOptions tune the link endpoint made by NewLinkEndpoint.
type EndpointOptions struct {
	// ProcessorsPerQueue is the number of goroutines that process the
	// packets read from each queue; packets of one flow always go to the
	// same one. Zero means one.
	ProcessorsPerQueue int
}

// NewLinkEndpoint returns a stack.LinkEndpoint that reads and writes raw IP
// packets on the device's queues. The endpoint computes and verifies
// checksums itself: packets forwarded by the host kernel arrive with the
// sender's checksum, which nobody has checked yet.
func NewLinkEndpoint(d *Device, opts EndpointOptions) (stack.LinkEndpoint, error) {
	if opts.ProcessorsPerQueue == 0 {
		opts.ProcessorsPerQueue = 1
	}
	fds := d.FDs()
	isPacket := make([]bool, len(fds))
	ep, err := fdbased.New(&fdbased.Options{
		FDs:                  fds,
		MTU:                  uint32(d.MTU()),
		PacketDispatchMode:   fdbased.Readv,
		ProcessorsPerChannel: opts.ProcessorsPerQueue,
		IsPacketSocket:       isPacket,
	})
	if err != nil {
		return nil, fmt.Errorf("tun: link endpoint on %s: %w", d.Name(), err)
	}
	return ep, nil
}
