package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsstack/tlsstack/tlslayer"
)

// TestServeRefusesBadConfiguration checks that bad flags and files stop
// serve before it starts, with exit status 2 and a message naming the
// culprit. None of these cases gets as far as a TUN device.
func TestServeRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writePair(t, dir, "a")
	certB, keyB := writePair(t, dir, "b")
	_ = certB
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing cert", []string{"--cert", filepath.Join(dir, "nope.pem"), "--key", keyA}, "nope.pem"},
		{"missing key", []string{"--cert", certA, "--key", filepath.Join(dir, "nokey.pem")}, "nokey.pem"},
		{"unreadable cert", []string{"--cert", dir, "--key", keyA}, dir},
		{"key does not match", []string{"--cert", certA, "--key", keyB}, "does not match"},
		{"malformed cert", []string{"--cert", garbage, "--key", keyA}, "garbage.pem"},
		{"cert without key", []string{"--cert", certA}, "--key"},
		{"bad mtu", []string{"--mtu", "20"}, "--mtu"},
		{"bad addr", []string{"--addr", "198.19.0.1"}, "--addr"},
		{"bad port", []string{"--listen", "70000"}, "--listen"},
		{"bad responder", []string{"--responder", "gopher"}, "--responder"},
		{"proxy without backend", []string{"--responder", "proxy"}, "--backend"},
		{"bad kernel addr", []string{"--kernel", "nowhere"}, "--kernel"},
		{"unknown flag", []string{"--frobnicate"}, "frobnicate"},
		{"port twice", []string{"--listen", "443,443"}, "--listen 443: given twice"},
		{"address twice", []string{"--addr", "198.19.0.1/24", "--addr", "198.19.0.1/24"},
			"--addr 198.19.0.1: given twice"},
		{"mapped address", []string{"--addr", "::ffff:198.19.0.1/120"}, "IPv4-mapped"},
		{"kernel port not a number", []string{"--kernel", "127.0.0.1:x"}, `port "x"`},
		{"tun name too long", []string{"--tun", "abcdefghijklmnopq"}, "--tun"},
		{"endless cert file", []string{"--cert", "/dev/zero", "--key", keyA}, "larger than"},
		{"negative max-conns", []string{"--max-conns", "-1"}, "--max-conns"},
		{"listen with kernel", []string{"--kernel", "127.0.0.1:0", "--listen", "444"},
			"--listen is for the TUN stack"},
		{"sni for an IP address", []string{"--sni", "198.19.0.1=" + certA + "," + keyA},
			"never arrives as SNI"},
		{"ocsp response not OCSP", []string{"--kernel", "127.0.0.1:0", "--ocsp-response",
			keyA}, "not an OCSP response"},
		{"empty ca file", []string{"--kernel", "127.0.0.1:0", "--ca", garbage},
			"ca[0] is --ca " + garbage},
		{"stray argument", []string{"extra"}, "extra"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"serve"}, c.args...), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q does not name %q", stderr.String(), c.want)
			}
		})
	}
}

func writePair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	cert, key, err := tlslayer.SelfSigned([]string{name + ".test"})
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestCommandLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 ||
		!strings.HasPrefix(stdout.String(), "tlsstack ") {
		t.Errorf("version: exit %d, output %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
	stderr.Reset()
	if code := run([]string{"frob"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), `"frob"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeWithoutPrivilege runs serve as an unprivileged user: opening the
// TUN device fails with a message about CAP_NET_ADMIN and exit status 1.
func TestServeWithoutPrivilege(t *testing.T) {
	requireNetns(t)
	bin := tlsstackBinary(t)
	cmd := exec.Command(bin, "serve", "--tun", "tlsnp0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	expectExit(t, cmd, 1, "CAP_NET_ADMIN", "tlsnp0")
}

// expectExit runs cmd and checks its exit status and that its output holds
// each of wants.
func expectExit(t *testing.T, cmd *exec.Cmd, status int, wants ...string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != status {
		t.Fatalf("%s: %v, want exit status %d; output: %s", cmd, err, status, out)
	}
	for _, w := range wants {
		if !strings.Contains(string(out), w) {
			t.Errorf("%s: output %q does not name %q", cmd, out, w)
		}
	}
}

// TestServeRuntimeFailures covers failures that only show when serving
// starts: a port already taken, and a TUN name held by another kind of
// link.
func TestServeRuntimeFailures(t *testing.T) {
	requireNetns(t)
	bin := tlsstackBinary(t)
	topology(t, "e2f")

	l, err := listenIn("e2f-srv", "tcp", "198.18.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, code := runServe(t, bin, "e2f-srv", "--kernel", "198.18.0.1:8443")
	if code != 1 || !strings.Contains(out, "198.18.0.1:8443") ||
		!strings.Contains(out, "address already in use") {
		t.Errorf("port in use: exit %d, output %q", code, out)
	}

	// 198.18.0.0/24 is the veth's: taking it over would cut the namespace
	// off, so serve refuses, and the route survives.
	out, code = runServe(t, bin, "e2f-srv", "--tun", "tls0", "--addr", "198.18.0.7/24")
	if code != 2 || !strings.Contains(out, "198.18.0.0/24") || !strings.Contains(out, "e2f-s") {
		t.Errorf("prefix routed through the veth: exit %d, output %q", code, out)
	}
	if routes := runIn(t, "e2f-srv", "ip", "route", "show", "198.18.0.0/24"); !strings.Contains(
		routes, "dev e2f-s") {
		t.Errorf("the veth's route is gone: %q", routes)
	}

	// e2f-s is the veth end in the server namespace.
	out, code = runServe(t, bin, "e2f-srv", "--tun", "e2f-s")
	if code != 2 || !strings.Contains(out, "e2f-s") || !strings.Contains(out, "veth") {
		t.Errorf("name held by a veth: exit %d, output %q", code, out)
	}
	if _, err := runInErr("e2f-srv", "ip", "link", "show", "tls0"); err == nil {
		t.Errorf("tls0 left behind after a failed start")
	}

	// A second server on the same prefix but another device is refused
	// while the first runs, and the first keeps its route.
	startServer(t, "e2f-srv", "--tun", "tls0", "--addr", "198.19.0.1/24")
	out, code = runServe(t, bin, "e2f-srv", "--tun", "tls1", "--addr", "198.19.0.1/24")
	if code != 2 || !strings.Contains(out, "198.19.0.0/24") || !strings.Contains(out, "tls0") {
		t.Errorf("second server on the same prefix: exit %d, output %q", code, out)
	}
	if routes := runIn(t, "e2f-srv", "ip", "route", "show", "198.19.0.0/24"); !strings.Contains(
		routes, "dev tls0") {
		t.Errorf("the first server lost its route: %q", routes)
	}
}

func runServe(t *testing.T, bin, ns string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin, "serve"}, args...)...)
	done := make(chan struct{})
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill(); close(done) })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestSilentClientIsDropped opens TCP and sends nothing: the server must
// close the connection once the handshake timeout passes and report it.
func TestSilentClientIsDropped(t *testing.T) {
	requireNetns(t)
	topology(t, "e2s")
	srv := startServer(t, "e2s-srv", "--addr", "198.19.0.1/24", "--handshake-timeout", "1s")

	c, err := dialIn("e2s-cli", "tcp", "198.19.0.1:443")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent client still connected after 10s; handshake timeout is 1s")
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("closed after %s, before the 1s handshake timeout", d)
	}
	srv.waitLog(t, `msg="tls client error"`, "timed out")
}

// TestServeWithoutTUNDriver hides /dev/net/tun in a private mount
// namespace: serve must say that the device node is missing.
func TestServeWithoutTUNDriver(t *testing.T) {
	requireNetns(t)
	requireCommands(t, "unshare")
	bin := tlsstackBinary(t)
	cmd := exec.Command("unshare", "--mount", "--net", "sh", "-c",
		`mount -t tmpfs none /dev/net && exec "$0" serve --tun tlsnd0`, bin)
	expectExit(t, cmd, 1, "/dev/net/tun", "tlsnd0")
}
