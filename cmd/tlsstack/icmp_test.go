package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestICMP checks that the userspace stack answers ping on both families
// and honours Packet Too Big: with the server-side veth narrowed to 1400
// bytes, the stack's 1500-byte segments are refused by the host kernel
// with ICMP, and a download only completes if the stack lowers its path
// MTU in response.
func TestICMP(t *testing.T) {
	requireNetns(t)
	requireCommands(t, "ping", "curl")
	topology(t, "e2i")
	runIn(t, "e2i-srv", "ip", "link", "set", "e2i-s", "mtu", "1400")
	startServer(t, "e2i-srv", "--addr", "198.19.0.1/24", "--addr", "2001:2:0:2::1/64")

	for _, dst := range []string{"198.19.0.1", "2001:2:0:2::1"} {
		out := runIn(t, "e2i-cli", "ping", "-c", "2", "-W", "2", dst)
		if !strings.Contains(out, "2 received") {
			t.Errorf("ping %s:\n%s", dst, out)
		}
	}

	const size = 4 << 20
	want := sha256.New()
	writePattern(want, size)
	for _, host := range []string{"198.19.0.1", "[2001:2:0:2::1]"} {
		file := filepath.Join(t.TempDir(), "down.bin")
		runIn(t, "e2i-cli", "curl", "-sS", "-k", "--max-time", "20", "-o", file,
			fmt.Sprintf("https://%s/bytes/%d", host, size))
		if got := fileSHA256(t, file); got != hex.EncodeToString(want.Sum(nil)) {
			t.Errorf("%s: download through a 1400-byte hop: sha256 %s", host, got)
		}
	}

	// The host kernel must really have sent Packet Too Big both ways, or
	// this test proved nothing.
	snmp := runIn(t, "e2i-srv", "cat", "/proc/net/snmp")
	if n := snmpCounter(t, snmp, "Icmp:", "OutDestUnreachs"); n == "0" {
		t.Errorf("no ICMP destination unreachable sent by the host:\n%s", snmp)
	}
	snmp6 := runIn(t, "e2i-srv", "cat", "/proc/net/snmp6")
	for _, line := range strings.Split(snmp6, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Icmp6OutPktTooBigs" && f[1] == "0" {
			t.Errorf("no ICMPv6 Packet Too Big sent by the host")
		}
	}
}

// snmpCounter reads one counter from /proc/net/snmp's header and value
// line pairs.
func snmpCounter(t *testing.T, snmp, proto, name string) string {
	t.Helper()
	lines := strings.Split(snmp, "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) == 0 || keys[0] != proto || len(keys) != len(vals) {
			continue
		}
		for j, k := range keys {
			if k == name {
				return vals[j]
			}
		}
	}
	t.Fatalf("no %s %s in /proc/net/snmp", proto, name)
	return ""
}
