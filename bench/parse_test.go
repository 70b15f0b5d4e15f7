package main

import (
	"math"
	"strings"
	"testing"
)

const h2loadOutput = `starting benchmark...
spawning thread #0: 64 total client(s). 6000 total requests
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
progress: 10% done

finished in 312.45ms, 19203.10 req/s, 20.31MB/s
requests: 6000 total, 6000 started, 6000 done, 6000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 6000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 6.35MB (6654321) total, 12.34KB (12640) headers (space savings 90.1%), 6.00MB (6144000) data
`

func TestParseH2loadReadsRateAndProtocol(t *testing.T) {
	r, err := parseH2load([]byte(h2loadOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 19203.10 || r.protocol != "h2" || r.succeeded != 6000 || r.failed != 0 ||
		r.version != "TLSv1.3" || r.cipher != "TLS_AES_128_GCM_SHA256" || r.group != "X25519" {
		t.Errorf("got %+v", r)
	}
}

func TestParseH2loadRejectsFailuresAndErrorStatuses(t *testing.T) {
	for name, out := range map[string]string{
		"failed": strings.Replace(h2loadOutput, "6000 succeeded, 0 failed",
			"5990 succeeded, 10 failed", 1),
		"404s": strings.Replace(h2loadOutput, "6000 2xx, 0 3xx, 0 4xx",
			"0 2xx, 0 3xx, 6000 4xx", 1),
		"no summary": "starting benchmark...\n",
		"none":       strings.Replace(h2loadOutput, "6000 succeeded", "0 succeeded", 1),
	} {
		if _, err := parseH2load([]byte(out)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseIperfReadsReceivedBytes(t *testing.T) {
	out := `{"start":{},"end":{"sum_sent":{"bytes":2000,"seconds":1.0},
		"sum_received":{"bytes":1250000000,"seconds":1.0,"bits_per_second":1e10}}}`
	n, secs, err := parseIperf([]byte(out))
	if err != nil || n != 1_250_000_000 || secs != 1.0 {
		t.Errorf("got %d bytes, %v s, %v", n, secs, err)
	}
	if _, _, err := parseIperf([]byte(`{"error":"unable to connect to server"}`)); err == nil {
		t.Error("iperf3 error not reported")
	}
}

func TestParseOpenSSLSpeedUnits(t *testing.T) {
	cases := []struct {
		out  string
		rows []string
		want []limit
	}{
		{"The 'numbers' are in 1000s of bytes per second processed.\n" +
			"type          16384 bytes\nAES-128-GCM    3479496.15k\n",
			[]string{"aes"}, []limit{{"aes", "Gbit/s", 3479496.15 * 8 / 1e6}}},
		{"type          16384 bytes\nChaCha20-Poly1305  3556549.35k\n",
			[]string{"chacha"}, []limit{{"chacha", "Gbit/s", 3556549.35 * 8 / 1e6}}},
		{"                              sign    verify    sign/s verify/s\n" +
			" 256 bits ecdsa (nistp256)   0.0000s   0.0001s  43992.9  14855.4\n",
			[]string{"sign", "verify"},
			[]limit{{"sign", "op/s", 43992.9}, {"verify", "op/s", 14855.4}}},
		{"                              op      op/s\n 253 bits ecdh (X25519)   0.0000s  24797.4\n",
			[]string{"x"}, []limit{{"x", "op/s", 24797.4}}},
	}
	for _, c := range cases {
		got, err := parseOpenSSLSpeed([]byte(c.out), c.rows)
		if err != nil {
			t.Errorf("%q: %v", c.rows, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: got %v", c.rows, got)
			continue
		}
		for i := range got {
			if got[i].Name != c.want[i].Name || got[i].Unit != c.want[i].Unit ||
				math.Abs(got[i].Value-c.want[i].Value) > 1e-6*c.want[i].Value {
				t.Errorf("%q: got %v, want %v", c.rows, got[i], c.want[i])
			}
		}
	}
	if _, err := parseOpenSSLSpeed([]byte("Error: unknown algorithm\n"), []string{"x"}); err == nil {
		t.Error("no error for output without a result")
	}
}

func TestStatsMedianMinMax(t *testing.T) {
	for _, c := range []struct {
		in          []float64
		med, lo, hi float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
		{nil, 0, 0, 0},
	} {
		med, lo, hi := stats(c.in)
		if med != c.med || lo != c.lo || hi != c.hi {
			t.Errorf("stats(%v) = %v %v %v", c.in, med, lo, hi)
		}
	}
}

func TestPow2SizeRoundsWithinBounds(t *testing.T) {
	for _, c := range []struct {
		want   float64
		lo, hi int64
		expect int64
	}{
		{3 << 20, 64 << 10, 1 << 30, 4 << 20},
		{5 << 20, 64 << 10, 1 << 30, 4 << 20},
		{1, 64 << 10, 1 << 30, 64 << 10},
		{1e15, 64 << 10, 1 << 30, 1 << 30},
	} {
		if got := pow2Size(c.want, c.lo, c.hi); got != c.expect {
			t.Errorf("pow2Size(%v) = %d, want %d", c.want, got, c.expect)
		}
	}
}

func TestCPUListsAndMasks(t *testing.T) {
	for in, want := range map[string]string{"0": "00000001", "1": "00000002",
		"0-3": "0000000f", "1,3": "0000000a", "32": "00000001,00000000"} {
		cpus, err := parseCPUList(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := cpuMask(cpus); got != want {
			t.Errorf("cpuMask(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "0-x"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSelectTestsByNameGroupAndPrefix(t *testing.T) {
	names := func(sel ...string) []string {
		var out []string
		for _, t := range selectTests(allTests(), sel) {
			out = append(out, t.name)
		}
		return out
	}
	if got := names("all"); len(got) != len(allTests()) {
		t.Errorf("all: %v", got)
	}
	if got := names("bulk"); len(got) != 4 {
		t.Errorf("bulk: %v", got)
	}
	if got := names("handshake-resumed"); strings.Join(got, ",") !=
		"handshake-resumed-tls13,handshake-resumed-tls12" {
		t.Errorf("handshake-resumed: %v", got)
	}
	if got := names("nothing"); len(got) != 0 {
		t.Errorf("nothing: %v", got)
	}
}

func TestConfigRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--systems", "apache"},
		{"--quick", "--tiny"},
		{"--server-cpus", "x"},
		{"--runs", "-1"},
		{"stray"},
	} {
		if _, err := parseConfig(args); err == nil {
			t.Errorf("%q: no error", args)
		} else if exitStatus(err) != 2 {
			t.Errorf("%q: exit status %d, want 2", args, exitStatus(err))
		}
	}
}
