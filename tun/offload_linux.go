package tun

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Offload features of TUNSETOFFLOAD, from <linux/if_tun.h>.
const (
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
)

// Offload is what Create negotiated with the kernel for a device's queues.
type Offload struct {
	// VirtioHeader reports that every packet on the queues carries a
	// virtio-net header, which is what lets partial checksums and TCP
	// super-packets cross the device. The endpoint then hands the
	// kernel up to 64 KiB TCP segments to split (host GSO).
	VirtioHeader bool

	// Checksum reports TUN_F_CSUM: the kernel may hand over packets
	// whose transport checksum the reader has to complete.
	Checksum bool

	// TSO4 and TSO6 report TUN_F_TSO4 and TUN_F_TSO6: the kernel may hand
	// over TCP super-packets of up to 64 KiB instead of splitting them
	// first.
	TSO4, TSO6 bool

	// Err says why offload is off or partial. It is nil when offload is
	// fully on, or off because Config.DisableOffload asked for that.
	Err error
}

// String describes o for logs: "off", "tso4,tso6,csum" and so on.
func (o Offload) String() string {
	if !o.VirtioHeader {
		return "off"
	}
	s := "vnet"
	for _, f := range []struct {
		on   bool
		name string
	}{{o.Checksum, "csum"}, {o.TSO4, "tso4"}, {o.TSO6, "tso6"}} {
		if f.on {
			s += "," + f.name
		}
	}
	return s
}

// canGSO reports whether the endpoint may hand the kernel TCP
// super-packets with partial checksums: the kernel takes them from any
// queue with virtio-net headers, but one that refused TSO has told us
// something is off, so the stack then splits segments itself.
func (o Offload) canGSO() bool { return o.VirtioHeader && o.Checksum && o.TSO4 && o.TSO6 }

// Offload reports what Create negotiated.
func (d *Device) Offload() Offload { return d.offload }

// openQueues opens cfg.Queues queues, with virtio-net headers and offload
// unless cfg.DisableOffload is set or the kernel refuses them.
func (d *Device) openQueues(cfg Config) error {
	multi := cfg.Queues > 1
	if !cfg.DisableOffload {
		err := d.openVirtioQueues(cfg.Name, cfg.Queues, multi)
		if err == nil {
			return nil
		}
		for _, fd := range d.fds {
			unix.Close(fd)
		}
		d.fds = nil
		if !errors.Is(err, ErrOffloadRefused) {
			return err
		}
		d.offload = Offload{Err: err}
	}

	for i := 0; i < cfg.Queues; i++ {
		fd, err := openQueuePlain(cfg.Name, multi)
		if err != nil {
			return err
		}
		d.fds = append(d.fds, fd)
	}
	return nil
}

func (d *Device) openVirtioQueues(name string, n int, multi bool) error {
	for i := 0; i < n; i++ {
		fd, err := openQueueVirtio(name, multi)
		if err != nil {
			return err
		}
		d.fds = append(d.fds, fd)
	}
	d.offload = negotiateOffload(name, d.fds[0])
	return nil
}

// openQueueVirtio opens one queue with IFF_VNET_HDR, which water cannot
// ask for, and returns a non-blocking descriptor that the caller owns.
func openQueueVirtio(name string, multi bool) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, opError("open", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("tun: open %s: %w: %v", name, ErrBadConfig, err)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if multi {
		flags |= unix.IFF_MULTI_QUEUE
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			return -1, fmt.Errorf("tun: open %s with virtio-net headers: %w: %v", name,
				ErrOffloadRefused, err)
		}
		return -1, opError("open", name, err)
	}
	return fd, nil
}

// negotiateOffload asks for checksum and TCP segmentation offload, then
// for less each time the kernel refuses. The features belong to the
// device, so one queue's descriptor is enough.
func negotiateOffload(name string, fd int) Offload {
	o := Offload{VirtioHeader: true}
	err := setOffload(fd, tunFCsum|tunFTSO4|tunFTSO6)
	if err == nil {
		o.Checksum, o.TSO4, o.TSO6 = true, true, true
		return o
	}
	o.Err = fmt.Errorf("tun: %s: TUNSETOFFLOAD csum,tso4,tso6: %w: %v", name,
		ErrOffloadRefused, err)
	if setOffload(fd, tunFCsum) == nil {
		o.Checksum = true
		return o
	}
	setOffload(fd, 0)
	return o
}

// setOffload is TUNSETOFFLOAD; a variable so that tests can refuse.
var setOffload = func(fd, features int) error {
	return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, features)
}
