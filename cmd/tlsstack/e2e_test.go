package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A servingMode is one way of running the server: on the userspace stack
// behind a TUN device, or on a kernel socket. Both must behave the same.
type servingMode struct {
	name   string
	prefix string   // topology prefix, unique per mode
	args   []string // serve flags that pick the mode
	v4, v6 string   // host:port the client reaches
}

func servingModes() []servingMode {
	return []servingMode{
		{
			name:   "tun",
			prefix: "e2t",
			args:   []string{"--tun", "tls0", "--addr", "198.19.0.1/24", "--addr", "2001:2:0:2::1/64", "--listen", "443"},
			v4:     "198.19.0.1:443",
			v6:     "[2001:2:0:2::1]:443",
		},
		{
			name:   "kernel",
			prefix: "e2k",
			args:   []string{"--kernel", "[::]:8443"},
			v4:     "198.18.0.1:8443",
			v6:     "[2001:2:0:1::1]:8443",
		},
	}
}

// TestServeEndToEnd drives tlsstack serve with curl and openssl s_client
// from the client namespace, in both serving modes.
func TestServeEndToEnd(t *testing.T) {
	requireNetns(t)
	requireCommands(t, "curl", "openssl")
	for _, m := range servingModes() {
		t.Run(m.name, func(t *testing.T) {
			topology(t, m.prefix)
			cli, srvNS := m.prefix+"-cli", m.prefix+"-srv"
			srv := startServer(t, srvNS, m.args...)

			t.Run("curl", func(t *testing.T) { testCurl(t, cli, m) })
			t.Run("openssl", func(t *testing.T) { testOpenSSL(t, cli, m) })
			t.Run("bulk", func(t *testing.T) { testBulk(t, cli, srv, m) })
			t.Run("bad-peers", func(t *testing.T) { testBadPeers(t, cli, srv, m) })
		})
	}
}

func testCurl(t *testing.T, cli string, m servingMode) {
	cases := []struct {
		addr, flag, wantProto, wantALPN string
	}{
		{m.v4, "--http1.1", "HTTP/1.1", `ALPN "http/1.1"`},
		{m.v4, "--http2", "HTTP/2.0", `ALPN "h2"`},
		{m.v6, "--http1.1", "HTTP/1.1", `ALPN "http/1.1"`},
		{m.v6, "--http2", "HTTP/2.0", `ALPN "h2"`},
	}
	for _, c := range cases {
		url := "https://" + c.addr + "/"
		out := runIn(t, cli, "curl", "-sS", "-k", "--max-time", "10", c.flag,
			"-w", "\nversion=%{http_version} code=%{http_code}", url)
		if !strings.Contains(out, "tlsstack: hello") || !strings.Contains(out, c.wantProto) ||
			!strings.Contains(out, c.wantALPN) || !strings.Contains(out, "code=200") {
			t.Errorf("curl %s %s: got %q, want a 200 hello over %s with %s", c.flag, url, out,
				c.wantProto, c.wantALPN)
		}
	}
}

func testOpenSSL(t *testing.T, cli string, m servingMode) {
	for _, addr := range []string{m.v4, m.v6} {
		for _, tc := range []struct{ version, alpn, wantALPN string }{
			{"-tls1_3", "h2,http/1.1", "h2"},
			{"-tls1_2", "http/1.1", "http/1.1"},
		} {
			// Over h2 an HTTP/1.1 request would only earn a GOAWAY and a
			// reset that races s_client's read, so send it only over
			// http/1.1.
			input := "</dev/null"
			if tc.wantALPN == "http/1.1" {
				input = "-ign_eof <<EOF\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nEOF"
			}
			out := runIn(t, cli, "sh", "-c", fmt.Sprintf(
				"openssl s_client -connect '%s' %s -alpn %s -servername localhost 2>&1 %s",
				addr, tc.version, tc.alpn, input))
			wantProto := map[string]string{"-tls1_3": "TLSv1.3", "-tls1_2": "TLSv1.2"}[tc.version]
			if !regexp.MustCompile(`Protocol *: *` + regexp.QuoteMeta(wantProto)).MatchString(out) {
				t.Errorf("s_client %s %s: no %s session in:\n%s", addr, tc.version, wantProto, out)
			}
			if !strings.Contains(out, "ALPN protocol: "+tc.wantALPN) {
				t.Errorf("s_client %s -alpn %s: want ALPN %s in:\n%s", addr, tc.alpn,
					tc.wantALPN, out)
			}
			if tc.wantALPN == "http/1.1" && !strings.Contains(out, "tlsstack: hello") {
				t.Errorf("s_client %s: no HTTP answer in:\n%s", addr, out)
			}
		}
	}
}

// testBulk moves 64 MiB each way and checks SHA-256 at both ends.
func testBulk(t *testing.T, cli string, srv *server, m servingMode) {
	const size = 64 << 20
	dir := t.TempDir()

	// Download: the bytes curl wrote must hash to what the server says it
	// sent, and to the pattern computed here.
	down := filepath.Join(dir, "down.bin")
	runIn(t, cli, "curl", "-sS", "-k", "--http1.1", "--max-time", "120", "-o", down,
		fmt.Sprintf("https://%s/bytes/%d?sha256=1", m.v4, size))
	got := fileSHA256(t, down)
	want := sha256.New()
	writePattern(want, size)
	if wantHex := hex.EncodeToString(want.Sum(nil)); got != wantHex {
		t.Errorf("download: sha256 %s, want %s", got, wantHex)
	}
	srv.waitLog(t, `msg="bytes sent"`, fmt.Sprintf("bytes=%d ", size), "sha256="+got)

	// Upload over h2 this time, from random data.
	up := filepath.Join(dir, "up.bin")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(up, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	out := runIn(t, cli, "curl", "-sS", "-k", "--http2", "--max-time", "120",
		"--data-binary", "@"+up, "-H", "Content-Type: application/octet-stream",
		fmt.Sprintf("https://%s/upload?sha256=1", m.v6))
	var res uploadResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("upload answer %q: %v", out, err)
	}
	if res.Bytes != size || res.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("upload: server got %d bytes sha256 %s, sent %d bytes sha256 %x",
			res.Bytes, res.SHA256, size, sum)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// testBadPeers sends plain HTTP and random bytes to the TLS port: those
// connections are closed and reported, while a good connection opened
// before them keeps working.
func testBadPeers(t *testing.T, cli string, srv *server, m servingMode) {
	good, err := dialIn(cli, "tcp", m.v4)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(good, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	defer tc.Close()
	br := bufio.NewReader(tc)
	get := func() {
		t.Helper()
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("good connection: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "tlsstack: hello") {
			t.Fatalf("good connection: %d %q", resp.StatusCode, body)
		}
	}
	get()

	junk := make([]byte, 4096)
	rand.Read(junk)
	for _, bad := range []struct {
		name string
		data []byte
	}{
		{"plain-http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"random-bytes", junk},
	} {
		c, err := dialIn(cli, "tcp", m.v4)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(bad.data)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			var ne net.Error
			if ok := asNetError(err, &ne); ok && ne.Timeout() {
				t.Errorf("%s: server did not close the connection in 10s", bad.name)
			}
		}
		c.Close()
		get()
	}
	srv.waitLog(t, `msg="tls client error"`, "peer=198.18.0.2")
}

func asNetError(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}
