package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// harness is one benchmark run.
type harness struct {
	cfg  *config
	plan plan

	repo          string // repository root
	dir           string // scratch: configs, certificates, logs
	self          string // this program, run again as client and stand-in
	tlsstackBin   string
	tlsstackFrom  string // where the binary came from, for the report
	serverCPUList []int
	clientCPUList []int
	certFile      string
	keyFile       string
	pemFile       string // certificate and key in one file, for HAProxy
	nofile        int    // the hard limit on open files, which servers inherit

	systems []*system
	tests   []*test
	res     *results
	out     io.Writer // progress
	started time.Time
	// interrupted is set when a signal cut the run short.
	interrupted bool
}

func harnessMain(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	h := &harness{cfg: cfg, plan: planFor(cfg.mode), out: os.Stderr, started: time.Now()}
	if cfg.runs > 0 {
		h.plan.runs = cfg.runs
	}
	if cfg.latencyRate > 0 {
		h.plan.latRate = cfg.latencyRate
	}
	if cfg.idleConns > 0 {
		h.plan.idleConns = cfg.idleConns
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	h.nofile = int(min(lim.Max, 1<<20))
	if h.plan.idleConns > h.nofile-200 {
		return usagef("--idle-conns %d: the open-file limit is %d; the client needs one "+
			"per connection", h.plan.idleConns, h.nofile)
	}
	h.serverCPUList, _ = parseCPUList(cfg.serverCPUs)
	h.clientCPUList, _ = parseCPUList(cfg.clientCPUs)
	if h.repo, err = repoRoot(); err != nil {
		return err
	}
	if h.cfg.outDir == "" {
		h.cfg.outDir = filepath.Join(h.repo, "bench", "results")
	}
	h.tests = selectTests(allTests(), cfg.selectors)
	if len(h.tests) == 0 {
		return usagef("--scenarios %s: matches no scenario (try bulk, handshake, rps, "+
			"latency, idle, crypto)", strings.Join(cfg.selectors, ","))
	}
	if err := h.preflight(); err != nil {
		return err
	}
	if h.self, err = os.Executable(); err != nil {
		return err
	}
	if h.dir, err = os.MkdirTemp("", "tlsstack-bench-"); err != nil {
		return err
	}
	// nginx's workers run as nobody and read the document root from here.
	os.Chmod(h.dir, 0o755)
	defer os.RemoveAll(h.dir)

	h.logf("bench: %s mode, %d run(s) per scenario; servers on CPU %s, clients on CPU %s; "+
		"scratch %s", cfg.mode, h.plan.runs, cfg.serverCPUs, cfg.clientCPUs, h.dir)
	if err := h.prepare(ctx); err != nil {
		return err
	}
	if !cfg.keep {
		defer h.down()
	}
	if err := h.up(ctx); err != nil {
		return err
	}

	h.res = newResults()
	for _, name := range cfg.systems {
		s, err := h.newSystem(name)
		if err != nil {
			return err
		}
		h.systems = append(h.systems, s)
	}
	defer func() {
		for _, s := range h.systems {
			h.stop(s)
		}
	}()
	var live []*system
	for _, s := range h.systems {
		if !h.needsServer(s) {
			continue
		}
		h.logf("starting %s", s.name)
		if err := h.start(ctx, s); err != nil {
			h.logf("  %s left out: %v", s.name, err)
			h.res.systemNote(s.name, "did not start: "+firstLine(err.Error()))
			h.stop(s)
			continue
		}
		live = append(live, s)
	}

	for i, t := range h.tests {
		if ctx.Err() != nil {
			break
		}
		h.logf("[%d/%d] %s", i+1, len(h.tests), t.name)
		t.run(ctx, h, live)
	}
	if h.cfg.profileDir != "" && ctx.Err() == nil {
		h.profile(ctx, live)
	}
	for _, s := range live {
		h.stop(s)
	}
	if ctx.Err() != nil {
		h.interrupted = true
		h.logf("interrupted: writing what was measured (not to RESULTS.md)")
	}
	return h.report()
}

// needsServer reports whether any chosen test runs against s.
func (h *harness) needsServer(s *system) bool {
	for _, t := range h.tests {
		if t.applies(s) {
			return true
		}
	}
	return false
}

func (h *harness) logf(format string, args ...any) {
	el := time.Since(h.started).Round(time.Second)
	fmt.Fprintf(h.out, "%5s  %s\n", el, fmt.Sprintf(format, args...))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// repoRoot finds the module root from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/tlsstack/tlsstack") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", usagef("run from inside the tlsstack repository (no go.mod above %s)",
				dir)
		}
	}
}

// prepare makes the certificate, the document root and, unless given, the
// tlsstack binary.
func (h *harness) prepare(ctx context.Context) error {
	if err := h.writeCert(); err != nil {
		return err
	}
	if err := h.writeDocroot(); err != nil {
		return err
	}
	h.tlsstackBin = h.cfg.tlsstackBin
	h.tlsstackFrom = "prebuilt " + h.tlsstackBin
	if h.tlsstackBin == "" && slices.ContainsFunc(h.cfg.systems, isTLSStack) {
		h.tlsstackFrom = h.describeTree(ctx)
		h.tlsstackBin = filepath.Join(h.dir, "tlsstack")
		h.logf("building ./cmd/tlsstack")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", h.tlsstackBin, "./cmd/tlsstack")
		cmd.Dir = h.repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/tlsstack: %w\n%s", err, out)
		}
	}
	return nil
}

// describeTree names the commit the tlsstack binary is built from, and
// whether the work tree differs from it outside bench/.
func (h *harness) describeTree(ctx context.Context) string {
	out, err := runCmd(ctx, 10*time.Second, nil, "git", "-C", h.repo, "rev-parse",
		"--short=12", "HEAD")
	if err != nil {
		return "built from an unknown commit"
	}
	desc := "built from commit " + strings.TrimSpace(string(out))
	if _, err := runCmd(ctx, 10*time.Second, nil, "git", "-C", h.repo, "diff", "--quiet",
		"HEAD", "--", ".", ":(exclude)bench"); err != nil {
		desc += " plus uncommitted changes"
	}
	return desc
}

func isTLSStack(name string) bool { return strings.HasPrefix(name, "tlsstack-") }

// writeCert writes the ECDSA P-256 certificate every server uses.
func (h *harness) writeCert() error {
	certPEM, keyPEM, err := makeCert()
	if err != nil {
		return err
	}
	h.certFile = filepath.Join(h.dir, "cert.pem")
	h.keyFile = filepath.Join(h.dir, "key.pem")
	h.pemFile = filepath.Join(h.dir, "haproxy.pem")
	if err := os.WriteFile(h.certFile, certPEM, 0o644); err != nil {
		return err
	}
	// The servers run as root or read the key before dropping privileges.
	if err := os.WriteFile(h.keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(h.pemFile, append(certPEM, keyPEM...), 0o600)
}

// makeCert makes a self-signed ECDSA P-256 certificate for bench.test,
// valid for a day, and returns it and its key as PEM.
func makeCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "bench.test"},
		DNSNames:     []string{"bench.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

func (h *harness) cliNS() string { return h.cfg.prefix + "-cli" }
func (h *harness) srvNS() string { return h.cfg.prefix + "-srv" }

// inServer wraps argv to run in the server namespace on the server CPUs.
func (h *harness) inServer(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", h.srvNS(), "taskset", "-c",
		h.cfg.serverCPUs}, argv...)
}

// inClient wraps argv to run in the client namespace on the client CPUs.
func (h *harness) inClient(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", h.cliNS(), "taskset", "-c",
		h.cfg.clientCPUs}, argv...)
}

// up builds the topology and tunes it for the benchmark: each side's veth
// receive processing is steered (RPS) to that side's CPUs, so the kernel
// TCP work of a server is not done for free on the client's CPU, and the
// client may reuse ports quickly.
func (h *harness) up(ctx context.Context) error {
	h.down()
	script := filepath.Join(h.repo, "scripts", "netns", "up.sh")
	if _, err := runCmd(ctx, time.Minute, nil, script, "--prefix", h.cfg.prefix); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "netns", "exec", h.cliNS(), "sysctl", "-qw",
			"net.ipv4.ip_local_port_range=1024 65000"},
		{"ip", "netns", "exec", h.cliNS(), "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"},
		{"ip", "netns", "exec", h.srvNS(), "sysctl", "-qw", "net.core.somaxconn=8192"},
		{"ip", "netns", "exec", h.srvNS(), "sysctl", "-qw",
			"net.ipv4.tcp_max_syn_backlog=8192"},
	}
	if h.cfg.rps {
		steps = append(steps,
			[]string{"ip", "netns", "exec", h.srvNS(), "sh", "-c", fmt.Sprintf(
				"echo %s > /sys/class/net/%s-s/queues/rx-0/rps_cpus",
				cpuMask(h.serverCPUList), h.cfg.prefix)},
			[]string{"ip", "netns", "exec", h.cliNS(), "sh", "-c", fmt.Sprintf(
				"echo %s > /sys/class/net/%s-c/queues/rx-0/rps_cpus",
				cpuMask(h.clientCPUList), h.cfg.prefix)})
	}
	for _, argv := range steps {
		if _, err := runCmd(ctx, 10*time.Second, nil, argv...); err != nil {
			return fmt.Errorf("tuning the topology: %w", err)
		}
	}
	return nil
}

func (h *harness) down() {
	script := filepath.Join(h.repo, "scripts", "netns", "down.sh")
	runCmd(context.Background(), time.Minute, nil, script, "--prefix", h.cfg.prefix)
}

// client runs this program's client mode in the client namespace and
// returns its result.
func (h *harness) client(ctx context.Context, timeout time.Duration, mode string,
	args ...string) (clientResult, error) {
	argv := h.inClient(append([]string{h.self, "client", mode}, args...)...)
	out, busy, err := runCmdCPU(ctx, timeout, nil, argv...)
	var res clientResult
	if err != nil {
		return res, err
	}
	if err := decodeLast(out, &res); err != nil {
		return res, fmt.Errorf("client %s: %w", mode, err)
	}
	res.ClientCPU = busy
	return res, nil
}

// decodeLast decodes the last non-empty line of out as JSON.
func decodeLast(out []byte, v any) error {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return errors.New("no output")
	}
	return json.Unmarshal([]byte(lines[len(lines)-1]), v)
}
