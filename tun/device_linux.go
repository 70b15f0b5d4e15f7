package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MTU limits. IPv6 needs at least 1280 on every link.
const (
	MinMTU     = 68
	MinMTUIPv6 = 1280
	MaxMTU     = 65535
	DefaultMTU = 1500
)

// Config describes the device Create brings up.
type Config struct {
	// Name is the interface name, at most 15 bytes. Required.
	Name string

	// MTU of the device. Zero means DefaultMTU.
	MTU int

	// Prefixes are routed to the device in the kernel's main table, so
	// that the host forwards traffic for them to the userspace stack.
	Prefixes []netip.Prefix

	// Queues is the number of queues (file descriptors) to open. More
	// than one makes a multi-queue device, whose queues the kernel feeds
	// by flow hash. Zero means one.
	Queues int

	// DisableOffload opens the queues without virtio-net headers, so that
	// every packet crosses the device at MTU size with a complete
	// checksum. By default (false) Create asks the kernel for checksum
	// and TCP segmentation offload in both directions, and falls back to
	// plain queues when it refuses; Device.Offload reports the outcome.
	DisableOffload bool
}

// Device is an open TUN device. Its methods are safe for concurrent use;
// Close must be called once.
type Device struct {
	name    string
	mtu     int
	fds     []int
	created bool // the device did not exist before Create
	routes  []netlink.Route
	offload Offload
}

// Create opens the TUN device cfg.Name, creating it if it does not exist,
// then sets its MTU, brings it up and routes cfg.Prefixes to it.
func Create(cfg Config) (*Device, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}

	existed, err := checkExisting(cfg.Name)
	if err != nil {
		return nil, err
	}
	d := &Device{name: cfg.Name, mtu: cfg.MTU, created: !existed}

	if err := d.openQueues(cfg); err != nil {
		d.Close()
		return nil, err
	}

	if err := d.configure(cfg); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (cfg *Config) validate() error {
	if cfg.Name == "" || len(cfg.Name) >= unix.IFNAMSIZ {
		return fmt.Errorf("tun: device name %q: %w: must be 1 to %d bytes",
			cfg.Name, ErrBadConfig, unix.IFNAMSIZ-1)
	}
	min := MinMTU
	for _, p := range cfg.Prefixes {
		if !p.IsValid() {
			return fmt.Errorf("tun: %s: %w: invalid prefix %v", cfg.Name, ErrBadConfig, p)
		}
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			min = MinMTUIPv6
		}
	}
	if cfg.MTU != 0 && (cfg.MTU < min || cfg.MTU > MaxMTU) {
		return fmt.Errorf("tun: %s: %w %d: must be %d to %d", cfg.Name, ErrBadMTU,
			cfg.MTU, min, MaxMTU)
	}
	if cfg.Queues < 0 || cfg.Queues > 256 {
		return fmt.Errorf("tun: %s: %w: queues %d: must be 1 to 256", cfg.Name,
			ErrBadConfig, cfg.Queues)
	}
	return nil
}

// checkExisting reports whether a TUN device named name exists already, and
// fails if a link of another kind holds the name.
func checkExisting(name string) (bool, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return false, nil
		}
		return false, opError("look up", name, err)
	}
	tt, ok := link.(*netlink.Tuntap)
	if !ok {
		return false, fmt.Errorf("tun: open %s: %w (it is a %s link)", name,
			ErrNameInUse, link.Type())
	}
	if tt.Mode != netlink.TUNTAP_MODE_TUN {
		return false, fmt.Errorf("tun: open %s: %w (it is a TAP device)", name, ErrNameInUse)
	}
	return true, nil
}

// openQueuePlain opens one queue of the device, without virtio-net
// headers, and returns a non-blocking file descriptor that the caller owns.
func openQueuePlain(name string, multi bool) (int, error) {
	ifce, err := water.New(water.Config{
		DeviceType: water.TUN,
		PlatformSpecificParams: water.PlatformSpecificParams{
			Name:       name,
			MultiQueue: multi,
		},
	})
	if err != nil {
		return -1, opError("open", name, err)
	}
	defer ifce.Close()

	// water hands out an *os.File; take our own descriptor so the link
	// endpoint can poll it directly, without the Go runtime's poller.
	f, ok := ifce.ReadWriteCloser.(*os.File)
	if !ok {
		return -1, fmt.Errorf("tun: open %s: unexpected device handle %T", name,
			ifce.ReadWriteCloser)
	}
	var fd int
	var dupErr error
	rc, err := f.SyscallConn()
	if err == nil {
		err = rc.Control(func(raw uintptr) {
			fd, dupErr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
		})
	}
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return -1, opError("dup", name, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, opError("set non-blocking", name, err)
	}
	return fd, nil
}

func (d *Device) configure(cfg Config) error {
	link, err := netlink.LinkByName(d.name)
	if err != nil {
		return opError("look up", d.name, err)
	}
	if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("tun: set mtu %s: %w %d: rejected by the kernel", d.name,
				ErrBadMTU, cfg.MTU)
		}
		return opError("set mtu", d.name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return opError("bring up", d.name, err)
	}
	for _, p := range cfg.Prefixes {
		if err := d.addRoute(link, p.Masked()); err != nil {
			return err
		}
	}
	return nil
}

// addRoute routes p to the device. A route for p through another link is
// never replaced: taking it over would cut off whatever used it, and
// removing it at Close would leave the host without it.
func (d *Device) addRoute(link netlink.Link, p netip.Prefix) error {
	r := netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       prefixToIPNet(p),
		Scope:     netlink.SCOPE_LINK,
	}
	family := netlink.FAMILY_V4
	if p.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	existing, err := netlink.RouteListFiltered(family, &netlink.Route{
		Dst: r.Dst, Table: unix.RT_TABLE_MAIN,
	}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return opError("list routes for "+p.String()+" on", d.name, err)
	}
	for _, e := range existing {
		if e.LinkIndex == r.LinkIndex {
			return nil // ours already, from an earlier run on this device
		}
		other := fmt.Sprintf("link index %d", e.LinkIndex)
		if l, err := netlink.LinkByIndex(e.LinkIndex); err == nil {
			other = l.Attrs().Name
		}
		return fmt.Errorf("tun: route %s to %s: %w: the host routes it through %s",
			p, d.name, ErrRouteInUse, other)
	}
	if err := netlink.RouteAdd(&r); err != nil {
		return opError("route "+p.String()+" to", d.name, err)
	}
	d.routes = append(d.routes, r)
	return nil
}

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// MTU returns the device's MTU.
func (d *Device) MTU() int { return d.mtu }

// FDs returns the device's queue file descriptors. They stay owned by the
// Device and are closed by Close.
func (d *Device) FDs() []int { return d.fds }

// Created reports whether Create made the device, rather than opening one
// that existed already. Close removes only a device it created.
func (d *Device) Created() bool { return d.created }

// Close removes the routes Create added, closes the queues and, when
// Create made the device, deletes it.
func (d *Device) Close() error {
	var errs []error
	for i := range d.routes {
		if err := netlink.RouteDel(&d.routes[i]); err != nil && !errors.Is(err, unix.ESRCH) &&
			!errors.Is(err, unix.ENODEV) {
			errs = append(errs, opError("remove route from", d.name, err))
		}
	}
	d.routes = nil
	for _, fd := range d.fds {
		unix.Close(fd)
	}
	d.fds = nil

	// A non-persistent device vanishes with its last queue; delete it
	// explicitly in case someone else made it persistent meanwhile.
	if d.created {
		if link, err := netlink.LinkByName(d.name); err == nil {
			if err := netlink.LinkDel(link); err != nil {
				errs = append(errs, opError("delete", d.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// opError wraps err with the operation and device name, translating the
// errnos that have a sentinel.
func opError(op, name string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("tun: %s %s: %w", op, name, ErrPermission)
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		if op == "open" {
			return fmt.Errorf("tun: %s %s: %w: %v", op, name, ErrNoTUN, err)
		}
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("tun: %s %s: %w", op, name, ErrBusy)
	}
	return fmt.Errorf("tun: %s %s: %w", op, name, err)
}
