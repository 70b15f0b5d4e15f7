package netstack

// Stats is a snapshot of the stack's main counters.
type Stats struct {
	PacketsReceived   uint64 // IP packets handed up by the link
	PacketsSent       uint64 // IP packets handed down to the link
	MalformedPackets  uint64 // IP packets dropped as malformed
	TCPSegmentsIn     uint64 // TCP segments received
	TCPSegmentsOut    uint64 // TCP segments sent
	TCPRetransmits    uint64 // TCP segments sent again
	TCPChecksumErrors uint64 // TCP segments dropped for a bad checksum
	TCPActiveOpens    uint64 // connections dialed
	TCPPassiveOpens   uint64 // connections accepted
	TCPResets         uint64 // resets sent
	TCPCurrentConns   uint64 // connections in ESTABLISHED or CLOSE-WAIT
}

// Stats returns the stack's counters.
func (ns *Stack) Stats() Stats {
	s := ns.s.Stats()
	return Stats{
		PacketsReceived:   s.IP.PacketsReceived.Value(),
		PacketsSent:       s.IP.PacketsSent.Value(),
		MalformedPackets:  s.IP.MalformedPacketsReceived.Value(),
		TCPSegmentsIn:     s.TCP.ValidSegmentsReceived.Value(),
		TCPSegmentsOut:    s.TCP.SegmentsSent.Value(),
		TCPRetransmits:    s.TCP.Retransmits.Value(),
		TCPChecksumErrors: s.TCP.ChecksumErrors.Value(),
		TCPActiveOpens:    s.TCP.ActiveConnectionOpenings.Value(),
		TCPPassiveOpens:   s.TCP.PassiveConnectionOpenings.Value(),
		TCPResets:         s.TCP.ResetsSent.Value(),
		TCPCurrentConns:   s.TCP.CurrentConnected.Value(),
	}
}
