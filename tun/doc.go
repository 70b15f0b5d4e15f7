// Package tun creates, opens and configures Linux TUN devices and moves
// packets between a device and a gVisor network stack.
//
// A Device is a named layer-3 TUN interface: Create opens (or creates) it,
// sets its MTU, brings it up and routes the stack's prefixes to it on the
// kernel side; Close undoes all of that. NewLinkEndpoint turns the device's
// queues into a stack.LinkEndpoint that a gVisor stack can attach to.
//
// The package never logs. Errors name the device and the cause, and wrap the
// sentinel errors below so that callers can branch on them.
package tun
