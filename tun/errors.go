package tun

import "errors"

// Sentinel errors wrapped by Create; test for them with errors.Is.
var (
	// ErrPermission means the caller lacks CAP_NET_ADMIN.
	ErrPermission = errors.New("operation not permitted (needs CAP_NET_ADMIN)")

	// ErrNoTUN means /dev/net/tun is missing or the kernel has no TUN driver.
	ErrNoTUN = errors.New("/dev/net/tun not available (load the tun module " +
		"or create the node with mknod /dev/net/tun c 10 200)")

	// ErrNameInUse means a link of another kind already has the name.
	ErrNameInUse = errors.New("name in use by another kind of link")

	// ErrBusy means another process holds the device (for several queues,
	// every holder must ask for multi-queue).
	ErrBusy = errors.New("device busy: another process holds it")

	// ErrRouteInUse means the host already routes a prefix through
	// another link.
	ErrRouteInUse = errors.New("prefix already routed")

	// ErrBadMTU means the MTU is outside what the device and the
	// configured address families allow.
	ErrBadMTU = errors.New("bad MTU")

	// ErrBadConfig means a field of Config is invalid.
	ErrBadConfig = errors.New("bad configuration")
)

// ErrOffloadRefused means the kernel refused virtio-net headers or some
// offload feature; Device.Offload reports it, and the device works without.
var ErrOffloadRefused = errors.New("offload refused by the kernel")
