package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The tests in this package that cross a network run tlsstack in network
// namespaces made by scripts/netns/up.sh, and drive it with real clients.
// They need root; without it they skip, except under CI=true, where they
// fail.

func requireNetns(t *testing.T) {
	t.Helper()
	var why string
	switch {
	case os.Geteuid() != 0:
		why = "needs root for network namespaces and TUN devices"
	case !haveCommand("ip"):
		why = "needs ip (apt-get install iproute2)"
	}
	if why == "" {
		if _, err := os.Stat("/dev/net/tun"); err != nil {
			why = "needs /dev/net/tun"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: namespace tests must run)", why)
	}
	t.Skip(why)
}

func requireCommands(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if haveCommand(n) {
			continue
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI=true: .ci/run must install it)", n)
		}
		t.Skipf("%s not installed", n)
	}
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tlsstackBinary builds the command once per test run, into a directory
// that users other than root may read (for the permission test).
func tlsstackBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tlsstack-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "tlsstack")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// topology brings up the up.sh topology under prefix and removes it when
// the test ends.
func topology(t *testing.T, prefix string) {
	t.Helper()
	down := func() {
		out, err := exec.Command("../../scripts/netns/down.sh", "--prefix", prefix).CombinedOutput()
		if err != nil {
			t.Errorf("down.sh: %v\n%s", err, out)
		}
	}
	exec.Command("../../scripts/netns/down.sh", "--prefix", prefix).Run()
	out, err := exec.Command("../../scripts/netns/up.sh", "--prefix", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("up.sh: %v\n%s", err, out)
	}
	t.Cleanup(down)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running "tlsstack serve".
type server struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

// startServer runs tlsstack serve with args in namespace ns (or in this
// process's namespace when ns is empty) and waits until it serves. At the
// end of the test it is stopped with SIGINT and must exit with status 0.
func startServer(t *testing.T, ns string, args ...string) *server {
	t.Helper()
	bin := tlsstackBinary(t)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin, "serve"},
			args...)...)
	}
	s := &server{cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.log.String(), "msg=serving") {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("server exited early: %v\n%s", err, s.log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not serving after 15s:\n%s", s.log)
		}
	}
	return s
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server exit after SIGINT: %v\n%s", err, s.log)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("server did not stop within 20s of SIGINT\n%s", s.log)
	}
}

// addr returns the address of the first listener, from the log.
func (s *server) addr(t *testing.T) string {
	t.Helper()
	line := s.waitLog(t, "msg=serving")
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no addr in %q", line)
	}
	return m[1]
}

// waitLog waits up to 5s for a log line containing all of parts and
// returns it.
func (s *server) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		for sc.Scan() {
			line := sc.Text()
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server log line with %q:\n%s", parts, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inNS runs fn on an OS thread switched into namespace ns. Sockets made in
// fn belong to ns and may be used from any goroutine afterwards.
func inNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked and so discarded when this goroutine
		// ends, should restoring the namespace fail.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// dialIn dials address from namespace ns.
func dialIn(ns, network, address string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() error {
		var err error
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.DialContext(context.Background(), network, address)
		return err
	})
	return c, err
}

// listenIn listens on address in namespace ns.
func listenIn(ns, network, address string) (net.Listener, error) {
	var l net.Listener
	err := inNS(ns, func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// runIn runs a command in namespace ns and returns its stdout; a failure
// includes stderr.
func runIn(t *testing.T, ns string, name string, args ...string) string {
	t.Helper()
	out, err := runInErr(ns, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func runInErr(ns string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name},
		args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w\nstderr: %s", err, stderr.String())
		}
	}
	return stdout.String(), err
}
