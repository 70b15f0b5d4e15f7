// Package tun creates, opens and configures Linux TUN devices and moves
// packets between a device and a gVisor network stack.
//
// A Device is a named layer-3 TUN interface: Create opens (or creates) it,
// sets its MTU, brings it up and routes the stack's prefixes to it on the
// kernel side; Close undoes all of that. NewLinkEndpoint turns the device's
// queues into an Endpoint, a stack.LinkEndpoint that a gVisor stack can
// attach to.
//
// # Offload
//
// Unless Config.DisableOffload is set, Create opens the queues with
// virtio-net headers (IFF_VNET_HDR) and asks for checksum and TCP
// segmentation offload (TUNSETOFFLOAD csum, tso4, tso6), as a virtual
// machine's NIC would. Then, in the spirit of wireguard-go's TUN offload:
//
//   - the stack builds TCP segments of up to 64 KiB with a partial
//     checksum, and the kernel splits them and finishes the checksums
//     (or leaves them partial to a local or veth peer, as for its own
//     sockets);
//   - the kernel hands over TCP super-packets of up to 64 KiB (the
//     sender's TSO segments or GRO packets) with partial checksums; the
//     endpoint completes each checksum and gives the stack one large
//     segment, or MTU-sized ones with EndpointOptions.SplitReceived.
//
// Packets without offload flags are left as they are and the stack checks
// their checksums: the endpoint claims no receive checksum capability,
// because gVisor applies one to every packet, fragments included, and a
// forwarded packet's checksum has been checked by nobody. When the kernel
// refuses virtio-net headers or offload, Create falls back (to plain
// queues, or to a stack that splits its segments itself) and
// Device.Offload says what was refused; nothing is corrupted either way.
//
// # Queues
//
// Each queue has a reader goroutine that delivers packets to the stack,
// and a writer goroutine that writes them, so that the stack's TCP does
// not hold its locks while the kernel forwards a packet (a TUN write does
// that work in the writing thread). A flow's packets are written on the
// queue its connection hash picks, and the kernel's flow steering sends
// the flow's incoming packets to that queue too. The QueueThread option
// lets a caller pin each reader to a core; see package affinity. gVisor's TCP processors are goroutines of its own and are not
// pinned.
//
// The package never logs. Errors name the device and the cause, and wrap the
// sentinel errors below so that callers can branch on them; Endpoint.Stats
// counts what the endpoint did and dropped.
package tun
