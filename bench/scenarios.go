package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// row is one line of the report: one number per system.
type row struct {
	name   string
	unit   string
	higher bool // whether a higher number is better
}

// test is one scenario: it measures one or more rows on every system it
// applies to, with the systems' runs interleaved so that a drift in the
// machine touches all of them alike.
type test struct {
	name  string
	group string
	rows  []row
	// iperf: the test also runs on plain-tcp; tlsOnly is the opposite
	// default.
	iperf bool
	// prepare runs once per system before the measured runs: a warm-up,
	// sizing or support check. Its result is handed to measure.
	prepare func(ctx context.Context, h *harness, s *system) (any, error)
	measure func(ctx context.Context, h *harness, s *system, state any) (map[string]float64, error)
	// standalone tests measure no server (the crypto limits).
	standalone func(ctx context.Context, h *harness)
}

func (t *test) applies(s *system) bool {
	if t.standalone != nil {
		return false
	}
	return !s.iperf || t.iperf
}

// notApplicable is an error that marks a row as not available on a system,
// rather than failed.
type notApplicable struct{ why string }

func (n notApplicable) Error() string { return "n/a: " + n.why }

func (t *test) run(ctx context.Context, h *harness, live []*system) {
	if t.standalone != nil {
		t.standalone(ctx, h)
		return
	}
	var systems []*system
	states := map[*system]any{}
	for _, s := range live {
		if !t.applies(s) {
			continue
		}
		if s.main == nil || !s.main.alive() {
			h.logf("  %s is not running; restarting it", s.name)
			if err := h.restart(ctx, s); err != nil {
				h.fail(t, s, fmt.Errorf("server down and did not restart: %w", err))
				continue
			}
		}
		if t.prepare != nil {
			st, err := t.prepare(ctx, h, s)
			if err != nil {
				h.fail(t, s, err)
				continue
			}
			states[s] = st
		}
		systems = append(systems, s)
	}

	runs := h.plan.runs
	if t.group == "idle" {
		runs = min(runs, h.plan.idleRuns)
	}
	failed := map[*system]bool{}
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		for _, s := range systems {
			if failed[s] || ctx.Err() != nil {
				continue
			}
			vals, err := t.measure(ctx, h, s, states[s])
			if err == nil && !s.main.alive() {
				err = fmt.Errorf("server exited: %s", s.main.tail(3))
			}
			if err != nil {
				h.fail(t, s, err)
				failed[s] = true
				continue
			}
			var parts []string
			for _, rw := range t.rows {
				v, ok := vals[rw.name]
				if !ok {
					continue
				}
				h.res.add(rw, t.group, s.name, v)
				parts = append(parts, fmt.Sprintf("%s %s %s", strings.TrimPrefix(rw.name,
					t.name+"-"), fmtNum(v), rw.unit))
			}
			h.logf("  %-15s run %d/%d: %s", s.name, r, runs, strings.Join(parts, ", "))
		}
	}
}

// fail records err against every row of t on s.
func (h *harness) fail(t *test, s *system, err error) {
	msg := firstLine(err.Error())
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	h.logf("  %-15s %s: %s", s.name, t.name, msg)
	for _, rw := range t.rows {
		h.res.note(rw, t.group, s.name, msg)
	}
}

// withCPU runs f and returns the CPU time the system's server used
// meanwhile (helpers such as HAProxy's backend are not counted). It also
// records how busy the server CPUs were with anything else: on a shared
// machine that is the noise in the run.
func (h *harness) withCPU(s *system, f func() error) (time.Duration, error) {
	before, err := treeUsage(s.main.pid())
	if err != nil {
		return 0, err
	}
	busy0 := cpusBusy(h.serverCPUList)
	start := time.Now()
	if err := f(); err != nil {
		return 0, err
	}
	wall := time.Since(start)
	busy := cpusBusy(h.serverCPUList) - busy0
	after, err := treeUsage(s.main.pid())
	if err != nil {
		return 0, err
	}
	used := max(after.cpu-before.cpu, 0)
	if busy0 >= 0 && busy >= 0 && wall > 0 {
		h.res.otherLoad(s.name, max(busy-used, 0).Seconds()/wall.Seconds())
	}
	return used, nil
}

// allTests lists every scenario in report order.
func allTests() []*test {
	var ts []*test
	ts = append(ts, cryptoTest())
	for _, dir := range []string{"download", "upload"} {
		for _, conns := range []int{1, 8} {
			ts = append(ts, bulkTest(dir, conns))
		}
	}
	ts = append(ts,
		handshakeTest("full", "1.3", "x25519"),
		handshakeTest("full", "1.2", "x25519"),
		handshakeTest("full", "1.3", "mlkem"),
		handshakeTest("resumed", "1.3", "x25519"),
		handshakeTest("resumed", "1.2", "x25519"),
		rpsTest("h1"),
		rpsTest("h2"),
		latencyTest(),
		idleTest(),
	)
	return ts
}

// selectTests keeps the tests that a selector names: a test's name, its
// group, a prefix of its name, or "all".
func selectTests(ts []*test, selectors []string) []*test {
	var out []*test
	for _, t := range ts {
		for _, sel := range selectors {
			if sel == "all" || sel == t.group || strings.HasPrefix(t.name, sel) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// bulk: one or eight connections each move a power-of-two number of
// bytes, sized from a warm-up so that a run takes about plan.bulkTarget.

type bulkState struct{ perConn int64 }

func bulkTest(dir string, conns int) *test {
	name := fmt.Sprintf("bulk-%s-%dconn", dir, conns)
	upload := dir == "upload"
	t := &test{
		name:  name,
		group: "bulk",
		iperf: true,
		rows: []row{
			{name, "Gbit/s", true},
			{name + "-cpu", "server CPU s/GB", false},
		},
	}
	clientArgs := func(s *system, perConn int64) []string {
		a := []string{"--addr", s.bulkAddr, "--conns", strconv.Itoa(conns),
			"--bytes", strconv.FormatInt(perConn, 10), "--timeout", "120s"}
		if upload {
			a = append(a, "--upload")
		}
		return a
	}
	t.prepare = func(ctx context.Context, h *harness, s *system) (any, error) {
		if s.iperf {
			return nil, nil
		}
		warm := h.plan.bulkWarm
		res, err := h.client(ctx, 3*time.Minute, "bulk", clientArgs(s, warm)...)
		if err != nil {
			return nil, err
		}
		rate := float64(res.Bytes) / math.Max(res.Seconds, 1e-6)
		want := rate * h.plan.bulkTarget.Seconds() / float64(conns)
		return bulkState{perConn: pow2Size(want, 64<<10, h.plan.bulkMax)}, nil
	}
	t.measure = func(ctx context.Context, h *harness, s *system, st any) (map[string]float64, error) {
		var bytes int64
		var secs float64
		cpu, err := h.withCPU(s, func() error {
			var err error
			if s.iperf {
				bytes, secs, err = h.iperf(ctx, conns, upload)
				return err
			}
			perConn := st.(bulkState).perConn
			res, err := h.client(ctx, 5*time.Minute, "bulk", clientArgs(s, perConn)...)
			bytes, secs = res.Bytes, res.Seconds
			h.res.negotiated(s.name, res)
			h.res.client(t.rows[0], s.name, res.ClientCPU)
			return err
		})
		if err != nil {
			return nil, err
		}
		gb := float64(bytes) / 1e9
		return map[string]float64{
			name:          gb * 8 / math.Max(secs, 1e-6),
			name + "-cpu": cpu.Seconds() / math.Max(gb, 1e-9),
		}, nil
	}
	return t
}

// pow2Size rounds want to the nearest power of two within [lo, hi].
func pow2Size(want float64, lo, hi int64) int64 {
	if want <= float64(lo) {
		return lo
	}
	n := int64(1) << int64(math.Round(math.Log2(want)))
	return min(max(n, lo), hi)
}

// iperf runs iperf3 against plain-tcp; a download is -R, the server
// sending.
func (h *harness) iperf(ctx context.Context, conns int, upload bool) (int64, float64, error) {
	argv := []string{"iperf3", "--client", serverIP, "--port", iperfPort, "--json",
		"--time", strconv.Itoa(h.plan.iperfSeconds), "--parallel", strconv.Itoa(conns)}
	if !upload {
		argv = append(argv, "--reverse")
	}
	out, err := runCmd(ctx, time.Duration(h.plan.iperfSeconds+30)*time.Second, nil,
		h.inClient(argv...)...)
	if err != nil {
		return 0, 0, err
	}
	return parseIperf(out)
}

func parseIperf(out []byte) (int64, float64, error) {
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				Bytes   float64 `json:"bytes"`
				Seconds float64 `json:"seconds"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, 0, fmt.Errorf("iperf3: bad JSON: %w", err)
	}
	if r.Error != "" {
		return 0, 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.Seconds <= 0 || r.End.SumReceived.Bytes <= 0 {
		return 0, 0, fmt.Errorf("iperf3: no data received")
	}
	return int64(r.End.SumReceived.Bytes), r.End.SumReceived.Seconds, nil
}

// handshake: new connections as fast as 64 concurrent workers on the
// client CPUs can make them, each reset right after its handshake. The
// client does as much work per full handshake as the server (it verifies
// the ECDSA signature the server makes), so the row can be client-bound;
// the -cpu row, the server's CPU per handshake, is not.

func handshakeTest(kind, version, group string) *test {
	name := "handshake-" + kind + "-tls" + strings.ReplaceAll(version, ".", "")
	if group == "mlkem" {
		name += "-mlkem"
	}
	t := &test{
		name:  name,
		group: "handshake",
		rows: []row{
			{name, "handshakes/s", true},
			{name + "-cpu", "server CPU µs/handshake", false},
		},
	}
	args := func(s *system, d time.Duration) []string {
		a := []string{"--addr", s.httpAddr, "--tls", version, "--group", group,
			"--duration", d.String(), "--max", strconv.FormatInt(h0(d), 10),
			"--workers", "64", "--timeout", "10s"}
		if kind == "resumed" {
			a = append(a, "--resume")
		}
		return a
	}
	t.prepare = func(ctx context.Context, h *harness, s *system) (any, error) {
		_, err := h.client(ctx, 30*time.Second, "probe", "--addr", s.httpAddr,
			"--tls", version, "--group", group, "--timeout", "3s")
		if err != nil && group == "mlkem" {
			return nil, notApplicable{"the server does not offer X25519MLKEM768"}
		}
		if err != nil {
			return nil, err
		}
		_, err = h.client(ctx, time.Minute, "handshake", args(s, 100*time.Millisecond)...)
		return nil, err
	}
	t.measure = func(ctx context.Context, h *harness, s *system, _ any) (map[string]float64, error) {
		var res clientResult
		cpu, err := h.withCPU(s, func() error {
			var err error
			res, err = h.client(ctx, h.plan.hsDuration+time.Minute, "handshake",
				args(s, h.plan.hsDuration)...)
			return err
		})
		if err != nil {
			return nil, err
		}
		h.res.negotiated(s.name+" "+name, res)
		h.res.client(t.rows[0], s.name, res.ClientCPU)
		if kind == "resumed" && res.Resumed < res.Count*9/10 {
			return nil, fmt.Errorf("only %d of %d handshakes resumed", res.Resumed, res.Count)
		}
		if res.Errors > res.Count/100 {
			return nil, fmt.Errorf("%d failed handshakes (%d done): %s", res.Errors,
				res.Count, res.FirstError)
		}
		return map[string]float64{
			name:          float64(res.Count) / res.Seconds,
			name + "-cpu": float64(cpu.Microseconds()) / float64(res.Count),
		}, nil
	}
	return t
}

// h0 bounds the handshakes in a run of duration d: far above what two
// cores can do, but finite.
func h0(d time.Duration) int64 { return int64(d.Seconds()*50_000) + 1000 }

// rps: h2load with 64 keep-alive connections, one request at a time on
// each, asking for 1 KiB; over HTTP/1.1 (--h1) and over h2.

func rpsTest(proto string) *test {
	name := "rps-" + proto + "-1k-64conn"
	t := &test{
		name:  name,
		group: "rps",
		rows:  []row{{name, "requests/s", true}},
	}
	t.measure = func(ctx context.Context, h *harness, s *system, _ any) (map[string]float64, error) {
		argv := []string{"h2load", "--threads", strconv.Itoa(len(h.clientCPUList)),
			"--clients", "64", "--max-concurrent-streams", "1"}
		if h.plan.rpsRequests > 0 {
			argv = append(argv, "--requests", strconv.FormatInt(h.plan.rpsRequests, 10))
		} else {
			argv = append(argv, "--duration", strconv.Itoa(h.plan.rpsSeconds))
		}
		if h.plan.rpsWarmup > 0 {
			argv = append(argv, "--warm-up-time", strconv.Itoa(h.plan.rpsWarmup))
		}
		if proto == "h1" {
			argv = append(argv, "--h1")
		}
		argv = append(argv, "https://"+s.httpAddr+"/bytes/1024")
		out, err := runCmd(ctx, time.Duration(h.plan.rpsSeconds+h.plan.rpsWarmup+120)*
			time.Second, nil, h.inClient(argv...)...)
		if err != nil {
			return nil, err
		}
		r, err := parseH2load(out)
		if err != nil {
			return nil, err
		}
		want := "h2"
		if proto == "h1" {
			want = "http/1.1"
		}
		if r.protocol != want {
			return nil, notApplicable{fmt.Sprintf("negotiated %q, not %s", r.protocol, want)}
		}
		h.res.negotiated(s.name+" "+name, clientResult{Version: r.version, Cipher: r.cipher,
			Group: r.group})
		return map[string]float64{name: r.rps}, nil
	}
	return t
}

type h2loadResult struct {
	rps       float64
	succeeded int64
	failed    int64
	protocol  string
	// What the handshake negotiated, as h2load names it.
	version, cipher, group string
}

var (
	reFinished = regexp.MustCompile(`finished in [0-9.]+m?s, ([0-9.]+) req/s`)
	reRequests = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) ` +
		`succeeded, (\d+) failed`)
	reProtocol = regexp.MustCompile(`Application protocol: (\S+)`)
	reTLS      = regexp.MustCompile(`TLS Protocol: (\S+)`)
	reCipher   = regexp.MustCompile(`Cipher: (\S+)`)
	reTempKey  = regexp.MustCompile(`Server Temp Key: (\S+)`)
	reStatus   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// parseH2load reads h2load's summary. A run where requests failed or did
// not get a 2xx is an error: the rate would not be comparable.
func parseH2load(out []byte) (h2loadResult, error) {
	var r h2loadResult
	s := string(out)
	m := reFinished.FindStringSubmatch(s)
	if m == nil {
		return r, fmt.Errorf("h2load: no summary in output: %.200q", s)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reRequests.FindStringSubmatch(s); m != nil {
		r.succeeded, _ = strconv.ParseInt(m[1], 10, 64)
		r.failed, _ = strconv.ParseInt(m[2], 10, 64)
	}
	for re, dst := range map[*regexp.Regexp]*string{reProtocol: &r.protocol,
		reTLS: &r.version, reCipher: &r.cipher, reTempKey: &r.group} {
		if m := re.FindStringSubmatch(s); m != nil {
			*dst = m[1]
		}
	}
	if r.succeeded == 0 {
		return r, fmt.Errorf("h2load: no request succeeded")
	}
	if r.failed > 0 {
		return r, fmt.Errorf("h2load: %d requests failed, %d succeeded", r.failed, r.succeeded)
	}
	if m := reStatus.FindStringSubmatch(s); m != nil {
		for _, bad := range m[2:] {
			if bad != "0" {
				return r, fmt.Errorf("h2load: non-2xx answers: %s", m[0])
			}
		}
	}
	return r, nil
}

// latency: 1 KiB request-response at a fixed rate below every system's
// saturation, over plan.latConns keep-alive connections.

func latencyTest() *test {
	const name = "latency-1k"
	t := &test{
		name:  name,
		group: "latency",
		rows: []row{
			{name + "-p50", "ms", false},
			{name + "-p99", "ms", false},
			{name + "-p99.9", "ms", false},
		},
	}
	t.measure = func(ctx context.Context, h *harness, s *system, _ any) (map[string]float64, error) {
		res, err := h.client(ctx, h.plan.latDuration+time.Minute, "latency",
			"--addr", s.httpAddr, "--path", "/bytes/1024",
			"--rate", strconv.FormatFloat(h.plan.latRate, 'f', -1, 64),
			"--conns", strconv.Itoa(h.plan.latConns),
			"--duration", h.plan.latDuration.String(), "--timeout", "10s",
			"--max", strconv.Itoa(int(h.plan.latRate*h.plan.latDuration.Seconds())+10))
		if err != nil {
			return nil, err
		}
		if res.Errors > 0 {
			return nil, fmt.Errorf("%d requests failed: %s", res.Errors, res.FirstError)
		}
		return map[string]float64{
			name + "-p50":   res.P50,
			name + "-p99":   res.P99,
			name + "-p99.9": res.P999,
		}, nil
	}
	return t
}

// idle: plan.idleConns TLS connections held open on a freshly started
// server; the server's RSS growth per connection, and whether each still
// answers a request afterwards.

func idleTest() *test {
	const name = "idle-conns"
	t := &test{
		name:  name,
		group: "idle",
		rows: []row{
			{name + "-mem", "server KiB/conn", false},
			{name + "-answered", "% answered", true},
		},
	}
	t.measure = func(ctx context.Context, h *harness, s *system, _ any) (map[string]float64, error) {
		if err := h.restart(ctx, s); err != nil {
			return nil, err
		}
		time.Sleep(500 * time.Millisecond)
		before, err := treeUsage(s.main.pid())
		if err != nil {
			return nil, err
		}
		var after procUsage
		res, err := h.idleClient(ctx, s, func() error {
			time.Sleep(time.Second)
			var err error
			after, err = treeUsage(s.main.pid())
			return err
		})
		if err != nil {
			return nil, err
		}
		if res.Opened == 0 {
			return nil, fmt.Errorf("no connection opened: %s", res.FirstError)
		}
		want := float64(h.plan.idleConns)
		return map[string]float64{
			name + "-mem":      float64(after.rss-before.rss) / 1024 / float64(res.Opened),
			name + "-answered": 100 * float64(res.Answered) / want,
		}, nil
	}
	return t
}

// idleClient runs the idle client, calls measure once every connection is
// open, then lets the client check them.
func (h *harness) idleClient(ctx context.Context, s *system, measure func() error) (
	clientResult, error) {
	var res clientResult
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	argv := h.inClient(h.self, "client", "idle", "--addr", s.httpAddr,
		"--conns", strconv.Itoa(h.plan.idleConns), "--workers", "64",
		"--duration", "90s", "--timeout", "20s")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer cmd.Wait()

	sc := bufio.NewScanner(stdout)
	var last string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "OPEN ") {
			merr := measure()
			io.WriteString(stdin, "check\n")
			if merr != nil {
				cmd.Process.Kill()
				return res, merr
			}
			continue
		}
		last = line
	}
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("idle client: %w: %s", err, firstLine(stderr.String()))
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		return res, fmt.Errorf("idle client: bad result %q", last)
	}
	return res, nil
}

// crypto: the single-core limits, on the first server CPU, with nothing
// else running there.

func cryptoTest() *test {
	t := &test{name: "crypto", group: "crypto"}
	for _, c := range goCryptoCases() {
		t.rows = append(t.rows, row{c.name, c.unit, true})
	}
	t.standalone = func(ctx context.Context, h *harness) {
		cpu := strconv.Itoa(h.serverCPUList[0])
		rowOf := map[string]row{}
		for _, rw := range t.rows {
			rowOf[rw.name] = rw
		}
		for r := 1; r <= h.plan.cryptoRuns && ctx.Err() == nil; r++ {
			out, err := runCmd(ctx, 5*time.Minute, nil, "taskset", "-c", cpu, h.self,
				"crypto", "--benchtime", h.plan.cryptoTime.String())
			var lims []limit
			if err == nil {
				err = json.Unmarshal(out, &lims)
			}
			if err != nil {
				h.logf("  go crypto: %v", err)
				break
			}
			for _, l := range lims {
				h.res.add(rowOf[l.Name], t.group, "go", l.Value)
			}
			h.logf("  go       run %d/%d: %s", r, h.plan.cryptoRuns, summarize(lims))

			secs := max(1, int(h.plan.cryptoTime.Round(time.Second).Seconds()))
			var all []limit
			for _, sp := range opensslSpeedArgs(secs) {
				out, err := runCmd(ctx, time.Minute, nil,
					append([]string{"taskset", "-c", cpu, "openssl"}, sp.args...)...)
				if err != nil {
					h.logf("  openssl %s: %v", strings.Join(sp.args, " "), err)
					continue
				}
				lims, err := parseOpenSSLSpeed(out, sp.rows)
				if err != nil {
					h.logf("  %v", err)
					continue
				}
				all = append(all, lims...)
			}
			for _, l := range all {
				h.res.add(rowOf[l.Name], t.group, "openssl", l.Value)
			}
			h.logf("  openssl  run %d/%d: %s", r, h.plan.cryptoRuns, summarize(all))
		}
	}
	return t
}

func summarize(ls []limit) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s %s %s", strings.TrimPrefix(l.Name, "crypto-"),
			fmtNum(l.Value), l.Unit))
	}
	return strings.Join(parts, ", ")
}
