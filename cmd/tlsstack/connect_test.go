package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestConnectRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--alpn", ",,", "127.0.0.1:1"}, "--alpn"},
		{[]string{"--sess-out", filepath.Join(dir, "no", "such"), "127.0.0.1:1"}, "--sess-out"},
		{[]string{"--sess-in", filepath.Join(dir, "missing"), "127.0.0.1:1"}, "--sess-in"},
		{[]string{"--ca", dir, "127.0.0.1:1"}, "--ca"},
		{[]string{"--reconnect", "-1", "127.0.0.1:1"}, "--reconnect"},
		{[]string{"--stack", "127.0.0.1:1"}, "--addr"},
		{[]string{"nohostport"}, "HOST:PORT"},
		{nil, "missing HOST:PORT"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"connect"}, c.args...), &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), c.want) {
			t.Errorf("connect %q: exit %d, stderr %q; want 2 naming %q", c.args, code,
				stderr.String(), c.want)
		}
	}
}

func TestCiphersCommand(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		want     []string // lines that must appear, in this order
		notWant  string
		errWants string
	}{
		{[]string{"ECDHE+AESGCM:!ECDSA"}, 0, []string{
			"ECDHE-RSA-AES256-GCM-SHA384 ", "ECDHE-RSA-AES128-GCM-SHA256 "}, "ECDSA", ""},
		{[]string{"ECDHE-ECDSA-AES128-GCM-SHA256"}, 0, []string{
			"ECDHE-ECDSA-AES128-GCM-SHA256   TLSv1.2  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			"RSA", ""},
		{nil, 0, []string{"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}, "", ""},
		{[]string{"NOPE"}, 2, nil, "", "NOPE"},
		{[]string{"aNULL"}, 2, nil, "", "selects no cipher"},
		{[]string{"a", "b"}, 2, nil, "", "one cipher string"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"ciphers"}, c.args...), &stdout, &stderr)
		if code != c.code {
			t.Errorf("ciphers %q: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr.String())
			continue
		}
		out := stdout.String()
		pos := 0
		for _, w := range c.want {
			i := strings.Index(out[pos:], w)
			if i < 0 {
				t.Errorf("ciphers %q: %q missing or out of order in:\n%s", c.args, w, out)
				break
			}
			pos += i + len(w)
		}
		if c.notWant != "" && strings.Contains(out, c.notWant) {
			t.Errorf("ciphers %q: unexpected %q in:\n%s", c.args, c.notWant, out)
		}
		if !strings.Contains(stderr.String(), c.errWants) {
			t.Errorf("ciphers %q: stderr %q lacks %q", c.args, stderr.String(), c.errWants)
		}
	}
}

// TestConnectResumes runs tlsstack connect --reconnect and openssl
// s_client -reconnect against tlsstack serve on the userspace stack: every
// connection after the first must resume, over TLS 1.2 and TLS 1.3.
func TestConnectResumes(t *testing.T) {
	requireNetns(t)
	requireCommands(t, "openssl")
	bin := tlsstackBinary(t)
	topology(t, "e2r")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	certs := writeTestPKI(t, dir)
	startServer(t, "e2r-srv", "--addr", "198.19.0.1/24", "--cert", certs.cert,
		"--key", certs.key)

	for _, v := range []string{"TLSv1.2", "TLSv1.3"} {
		out := runIn(t, "e2r-cli", bin, "connect", "--ca", certs.ca, "--servername",
			"server.test", "--max-version", v, "--reconnect", "3", "198.19.0.1:443")
		if !strings.Contains(out, "Protocol: "+v) || !strings.Contains(out, "Verification: OK") ||
			strings.Count(out, "reused=yes") != 3 {
			t.Errorf("connect --reconnect over %s:\n%s", v, out)
		}
	}

	out := runIn(t, "e2r-cli", "sh", "-c", "openssl s_client -connect 198.19.0.1:443 "+
		"-tls1_2 -reconnect -servername server.test </dev/null 2>&1")
	if n := strings.Count(out, "Reused, TLSv1.2"); n < 5 {
		t.Errorf("s_client -reconnect: %d reused connections, want 5:\n%s", n, out)
	}

	// A TLS 1.3 session saved by s_client resumes in a later s_client.
	sess := filepath.Join(dir, "sess.pem")
	runIn(t, "e2r-cli", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | openssl s_client "+
		"-connect 198.19.0.1:443 -tls1_3 -ign_eof -sess_out "+sess+" >/dev/null 2>&1")
	out = runIn(t, "e2r-cli", "sh", "-c", "openssl s_client -connect 198.19.0.1:443 "+
		"-tls1_3 -sess_in "+sess+" </dev/null 2>&1")
	if !regexp.MustCompile(`Reused, TLSv1\.3`).MatchString(out) {
		t.Errorf("s_client -sess_in did not resume over TLS 1.3:\n%s", out)
	}
}

// TestConnectThroughStack runs the client side on a userspace stack of its
// own: from a TUN device in the server namespace, through the host kernel,
// to the server's TUN device.
func TestConnectThroughStack(t *testing.T) {
	requireNetns(t)
	bin := tlsstackBinary(t)
	topology(t, "e2c")
	startServer(t, "e2c-srv", "--addr", "198.19.0.1/24")
	out := runIn(t, "e2c-srv", bin, "connect", "--stack", "--tun", "tlsc0", "--addr",
		"198.19.1.2/24", "--reject-unauthorized=false", "--alpn", "http/1.1",
		"--send", `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, "198.19.0.1:443")
	for _, want := range []string{"CONNECTED 198.19.0.1:443 (local 198.19.1.2:",
		"ALPN: http/1.1", "Verification error: DEPTH_ZERO_SELF_SIGNED_CERT",
		"client 198.19.1.2:"} {
		if !strings.Contains(out, want) {
			t.Errorf("connect --stack: %q missing from:\n%s", want, out)
		}
	}
	if _, err := runInErr("e2c-srv", "ip", "link", "show", "tlsc0"); err == nil {
		t.Error("connect --stack left tlsc0 behind")
	}
}

// TestConnectRefusesForeignSession names --sess-in when its file holds
// something other than a saved session.
func TestConnectRefusesForeignSession(t *testing.T) {
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	srv := startServer(t, "", "--kernel", "127.0.0.1:0", "--cert", pki.cert, "--key", pki.key)
	var stdout, stderr bytes.Buffer
	code := run([]string{"connect", "--ca", pki.ca, "--servername", "server.test",
		"--sess-in", pki.ca, srv.addr(t)}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--sess-in "+pki.ca) ||
		!strings.Contains(stderr.String(), "not a session") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
