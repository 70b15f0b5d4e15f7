// Package netstack builds a gVisor TCP/IP stack and offers its TCP through
// the standard library's interfaces: Listen returns a net.Listener and
// DialContext a net.Conn.
//
// The stack speaks IPv4, IPv6, ICMP (so that ping and Packet Too Big work)
// and TCP with SACK and receive-buffer auto-tuning. It attaches to one link
// endpoint, usually a TUN device's (see package tun), and owns the
// addresses it is given. Routes send everything else back out of that link,
// where the host kernel forwards it.
//
// The package never logs; Stats exposes the stack's counters.
package netstack
