package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"

	"github.com/tlsstack/tlsstack/affinity"
	"github.com/tlsstack/tlsstack/netstack"
	"github.com/tlsstack/tlsstack/tun"
)

// stackConfig is what serve and connect --stack ask of a userspace stack.
type stackConfig struct {
	name    string // TUN device
	mtu     int
	queues  int // 0 means one
	addrs   []netip.Prefix
	offload bool
}

// openStack creates the TUN device, attaches a userspace stack to it and
// gives the stack its addresses. cleanup closes the stack and removes the
// device. log may be nil.
func openStack(c stackConfig, log *slog.Logger) (st *netstack.Stack, cleanup func(),
	err error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dev, err := tun.Create(tun.Config{
		Name:           c.name,
		MTU:            c.mtu,
		Prefixes:       c.addrs,
		Queues:         c.queues,
		DisableOffload: !c.offload,
	})
	if err != nil {
		return nil, nil, tunError(c.name, err)
	}
	link, err := tun.NewLinkEndpoint(dev, tun.EndpointOptions{
		QueueThread: queuePinner(c.queues, log),
	})
	if err != nil {
		dev.Close()
		return nil, nil, err
	}
	st, err = netstack.New(link, netstack.Options{Addrs: c.addrs})
	if err != nil {
		dev.Close()
		return nil, nil, err
	}
	log.Info("TUN device up", "dev", dev.Name(), "mtu", dev.MTU(), "queues", len(dev.FDs()),
		"created", dev.Created(), "offload", dev.Offload())
	if err := dev.Offload().Err; err != nil {
		log.Warn("TUN offload refused; packets cross the device at MTU size", "dev",
			dev.Name(), "err", err)
	}
	cleanup = func() {
		st.Close()
		if err := dev.Close(); err != nil {
			log.Warn("removing TUN device", "dev", dev.Name(), "err", err)
		} else {
			log.Info("TUN device closed", "dev", dev.Name(), "removed", dev.Created())
		}
	}
	return st, cleanup, nil
}

// tunError classifies an error from tun.Create: conflicts with what the
// host has, and bad values, are the user's to fix (exit status 2).
func tunError(name string, err error) error {
	for _, e := range []error{tun.ErrBadMTU, tun.ErrBadConfig, tun.ErrNameInUse, tun.ErrBusy,
		tun.ErrRouteInUse} {
		if errors.Is(err, e) {
			return usagef("--tun %s: %v", name, err)
		}
	}
	return err
}

// queuePinner returns, for more than one queue, the hook that pins each
// queue's reader to a core of its own, one physical core per queue
// first; nil for one queue, which the Go scheduler places best.
func queuePinner(queues int, log *slog.Logger) func(int) {
	if queues <= 1 {
		return nil
	}
	topo, err := affinity.ReadTopology()
	if err != nil {
		log.Warn("not pinning TUN queues", "err", err)
		return nil
	}
	allowed, err := affinity.Allowed()
	if err != nil {
		log.Warn("not pinning TUN queues", "err", err)
		return nil
	}
	cpus := topo.Spread(queues, allowed)
	log.Info("pinning TUN queue readers", "cpus", fmt.Sprint(cpus))
	return func(q int) {
		if err := affinity.PinThread(cpus[q]); err != nil {
			log.Warn("pinning TUN queue reader", "queue", q, "err", err)
		}
	}
}
