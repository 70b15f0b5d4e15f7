package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

var errHelp = flag.ErrHelp

// config is the harness's command line, checked.
type config struct {
	mode        string // "quick", "full" or "tiny"
	systems     []string
	selectors   []string // --scenarios: names, groups or name prefixes
	runs        int      // 0: the mode's default
	prefix      string
	serverCPUs  string
	clientCPUs  string
	tlsstackBin string
	outDir      string
	results     bool // rewrite bench/RESULTS.md
	keep        bool
	skipMissing bool
	latencyRate float64
	idleConns   int
	profileDir  string
	rps         bool
}

// plan holds the sizes and durations of one mode.
type plan struct {
	runs         int
	bulkWarm     int64         // bytes per connection in the sizing run
	bulkTarget   time.Duration // aim of each measured bulk run
	bulkMax      int64         // most bytes per connection
	iperfSeconds int
	hsDuration   time.Duration
	hsMax        int64
	rpsSeconds   int   // a timed h2load run, when rpsRequests is 0
	rpsWarmup    int   // seconds h2load does not count
	rpsRequests  int64 // a counted h2load run, for the short modes
	latDuration  time.Duration
	latRate      float64
	latConns     int
	idleConns    int
	idleRuns     int
	cryptoTime   time.Duration
	cryptoRuns   int
}

func planFor(mode string) plan {
	switch mode {
	case "tiny":
		return plan{runs: 1, bulkWarm: 1 << 20, bulkTarget: 50 * time.Millisecond,
			bulkMax: 8 << 20, iperfSeconds: 1, hsDuration: 300 * time.Millisecond,
			hsMax: 2000, rpsRequests: 500, latDuration: 500 * time.Millisecond,
			latRate: 200, latConns: 4, idleConns: 50, idleRuns: 1,
			cryptoTime: 20 * time.Millisecond, cryptoRuns: 1}
	case "quick":
		return plan{runs: 3, bulkWarm: 4 << 20, bulkTarget: 200 * time.Millisecond,
			bulkMax: 256 << 20, iperfSeconds: 1, hsDuration: 300 * time.Millisecond,
			hsMax: 20_000, rpsRequests: 6000, latDuration: 600 * time.Millisecond,
			latRate: 1000, latConns: 16, idleConns: 500, idleRuns: 1,
			cryptoTime: 100 * time.Millisecond, cryptoRuns: 1}
	}
	return plan{runs: 5, bulkWarm: 32 << 20, bulkTarget: 1500 * time.Millisecond,
		bulkMax: 2 << 30, iperfSeconds: 2, hsDuration: 2 * time.Second,
		hsMax: 200_000, rpsSeconds: 4, rpsWarmup: 1, latDuration: 5 * time.Second,
		latRate: 2000, latConns: 16, idleConns: 10_000, idleRuns: 3,
		cryptoTime: time.Second, cryptoRuns: 3}
}

// allSystems is every system in report order. go-standin is not in the
// default set: it is this harness's own crypto/tls server, useful as a
// check of the harness itself.
var allSystems = []string{"tlsstack-tun", "tlsstack-kernel", "nginx", "haproxy",
	"plain-tcp", "go-standin"}

var defaultSystems = []string{"tlsstack-tun", "tlsstack-kernel", "nginx", "haproxy",
	"plain-tcp"}

const harnessUsage = `usage: go run ./bench [flags]

Runs every chosen scenario against every chosen system, side by side, in
network namespaces built by scripts/netns/up.sh, and writes a Markdown table,
bench/results/latest.json and a chart. Needs root.

Systems:   %s
           (plain-tcp is iperf3 on kernel TCP, bulk rows only; go-standin is
           the harness's own crypto/tls server and is not run by default)
Scenarios: names, groups or name prefixes: bulk, handshake, rps, latency,
           idle, crypto; e.g. --scenarios bulk-download,handshake-full-tls13

Flags:
`

func parseConfig(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), harnessUsage, strings.Join(allSystems, ", "))
		fs.PrintDefaults()
	}
	var (
		c         config
		quick     bool
		tiny      bool
		systems   string
		scenarios string
	)
	fs.BoolVar(&quick, "quick", false, "all scenarios, small sizes, one short pass (under 2 minutes)")
	fs.BoolVar(&tiny, "tiny", false, "smallest sizes, one run: for the smoke test")
	fs.StringVar(&systems, "systems", strings.Join(defaultSystems, ","), "comma-separated systems")
	fs.StringVar(&scenarios, "scenarios", "all", "comma-separated scenarios, groups or prefixes")
	fs.IntVar(&c.runs, "runs", 0, "measured runs per scenario and system (default: 3 quick, 5 full)")
	fs.StringVar(&c.prefix, "prefix", "bench", "namespace prefix for scripts/netns/up.sh")
	fs.StringVar(&c.serverCPUs, "server-cpus", "0", "CPUs for every server (taskset list)")
	fs.StringVar(&c.clientCPUs, "client-cpus", "1", "CPUs for every client (taskset list)")
	fs.StringVar(&c.tlsstackBin, "tlsstack", "", "tlsstack binary (default: go build ./cmd/tlsstack)")
	fs.StringVar(&c.outDir, "out", "", "directory for latest.json, latest.md, latest.png "+
		"(default bench/results)")
	fs.BoolVar(&c.results, "results", false, "also rewrite bench/RESULTS.md "+
		"(default: on for a full run of every system and scenario)")
	fs.BoolVar(&c.keep, "keep", false, "leave the namespaces up afterwards")
	fs.BoolVar(&c.skipMissing, "skip-missing", false, "leave out systems and scenarios "+
		"whose tools are not installed, instead of stopping")
	fs.Float64Var(&c.latencyRate, "latency-rate", 0, "requests per second in the latency "+
		"scenario (default 1000 quick, 2000 full)")
	fs.IntVar(&c.idleConns, "idle-conns", 0, "connections in the idle scenario "+
		"(default 500 quick, 10000 full)")
	fs.StringVar(&c.profileDir, "profile", "", "after measuring, take CPU profiles of the "+
		"tlsstack systems in bulk and handshake scenarios into this `DIR`")
	fs.BoolVar(&c.rps, "rps", true, "steer each namespace's veth receive work to its "+
		"side's CPUs (RPS); false leaves it where the kernel puts it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}

	switch {
	case quick && tiny:
		return nil, usagef("--quick and --tiny: choose one")
	case quick:
		c.mode = "quick"
	case tiny:
		c.mode = "tiny"
	default:
		c.mode = "full"
	}
	for _, s := range splitList(systems) {
		if !slices.Contains(allSystems, s) {
			return nil, usagef("--systems: unknown system %q (have %s)", s,
				strings.Join(allSystems, ", "))
		}
		c.systems = append(c.systems, s)
	}
	if len(c.systems) == 0 {
		return nil, usagef("--systems: none given")
	}
	c.selectors = splitList(scenarios)
	if len(c.selectors) == 0 {
		return nil, usagef("--scenarios: none given")
	}
	if c.runs < 0 || c.runs > 100 {
		return nil, usagef("--runs %d: want 1 to 100", c.runs)
	}
	if c.idleConns < 0 || c.idleConns > 15_000 {
		return nil, usagef("--idle-conns %d: want at most 15000 (file descriptor limits)",
			c.idleConns)
	}
	for _, cpus := range []string{c.serverCPUs, c.clientCPUs} {
		if _, err := parseCPUList(cpus); err != nil {
			return nil, usageError{err}
		}
	}
	if c.tlsstackBin != "" {
		if _, err := os.Stat(c.tlsstackBin); err != nil {
			return nil, usagef("--tlsstack: %v", err)
		}
	}
	return &c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseCPUList reads a taskset-style list such as "0", "0-3" or "0,2".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range splitList(s) {
		loS, hiS, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(loS)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.Atoi(hiS)
		}
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: want forms like 0, 0-3 or 0,2", s)
		}
		if lo < 0 || hi < lo || hi > 1023 {
			return nil, fmt.Errorf("cpu list %q: bad range %q", s, part)
		}
		for i := lo; i <= hi; i++ {
			if !slices.Contains(cpus, i) {
				cpus = append(cpus, i)
			}
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("cpu list %q: empty", s)
	}
	return cpus, nil
}

// cpuMask is the hex mask of cpus, as /sys/.../rps_cpus wants it.
func cpuMask(cpus []int) string {
	var words []uint32
	for _, c := range cpus {
		for len(words) <= c/32 {
			words = append(words, 0)
		}
		words[c/32] |= 1 << (c % 32)
	}
	parts := make([]string, len(words))
	for i, w := range words {
		parts[len(words)-1-i] = fmt.Sprintf("%08x", w)
	}
	return strings.Join(parts, ",")
}
