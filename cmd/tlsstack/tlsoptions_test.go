package main

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestServeTLSOptions checks the serve flags that shape the TLS layer,
// against openssl s_client and tlsstack connect. The server runs on a
// loopback kernel socket: these options do not depend on the transport,
// which the end-to-end tests cover.
func TestServeTLSOptions(t *testing.T) {
	requireCommands(t, "openssl")
	bin := tlsstackBinary(t)
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	other, otherKey := writePair(t, dir, "other")
	keylog := filepath.Join(dir, "keys.log")
	ocspFile := filepath.Join(dir, "ocsp.der")
	writeOCSPResponse(t, pki, ocspFile)

	srv := startServer(t, "", "--kernel", "127.0.0.1:0", "--cert", pki.cert, "--key", pki.key,
		"--sni", "other.test="+other+","+otherKey, "--keylog", keylog,
		"--ocsp-response", ocspFile, "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384")
	addr := srv.addr(t)

	sclient := func(args string) string {
		t.Helper()
		out, _ := exec.Command("sh", "-c", "openssl s_client -connect "+addr+" "+args+
			" </dev/null 2>&1").CombinedOutput()
		return string(out)
	}

	t.Run("sni", func(t *testing.T) {
		if out := sclient("-servername other.test"); !strings.Contains(out, "CN=other.test") &&
			!strings.Contains(out, "CN = other.test") {
			t.Errorf("-servername other.test did not get other.test's certificate:\n%s", out)
		}
		if out := sclient("-servername server.test"); !strings.Contains(out, "server.test") {
			t.Errorf("-servername server.test did not get the default certificate:\n%s", out)
		}
	})
	t.Run("ciphers", func(t *testing.T) {
		out := sclient("-tls1_2")
		if !strings.Contains(out, "ECDHE-ECDSA-AES256-GCM-SHA384") {
			t.Errorf("--ciphers not applied over TLS 1.2:\n%s", out)
		}
	})
	t.Run("ocsp", func(t *testing.T) {
		if out := sclient("-status -servername server.test"); !strings.Contains(out,
			"OCSP Response Status: successful") {
			t.Errorf("-status: no stapled response:\n%s", out)
		}
		// The response is server.test's: other.test's certificate gets none.
		if out := sclient("-status -servername other.test"); !strings.Contains(out,
			"no response sent") {
			t.Errorf("-status for other.test: server.test's response stapled:\n%s", out)
		}
		out, err := exec.Command(bin, "connect", "--ca", pki.ca, "--servername", "server.test",
			"--status", addr).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "cert status good, serial 2") {
			t.Errorf("connect --status: %v\n%s", err, out)
		}
	})
	t.Run("keylog", func(t *testing.T) {
		sclient("-tls1_3")
		b, _ := os.ReadFile(keylog)
		if !strings.Contains(string(b), "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") ||
			!strings.Contains(string(b), "SERVER_TRAFFIC_SECRET_0 ") {
			t.Errorf("keylog file lacks TLS 1.3 secrets:\n%s", b)
		}
	})
}

// TestServeClientCertificates requires client certificates signed by --ca.
func TestServeClientCertificates(t *testing.T) {
	bin := tlsstackBinary(t)
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	srv := startServer(t, "", "--kernel", "127.0.0.1:0", "--cert", pki.cert, "--key", pki.key,
		"--ca", pki.ca, "--request-cert", "--responder", "echo")
	addr := srv.addr(t)

	// The server's own certificate, signed by the CA, serves as a client
	// certificate here.
	out, err := exec.Command(bin, "connect", "--ca", pki.ca, "--servername", "server.test",
		"--cert", pki.cert, "--key", pki.key, "--send", "ping", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") ||
		!strings.Contains(string(out), "ping") {
		t.Errorf("with a client certificate: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "connect", "--ca", pki.ca, "--servername", "server.test",
		"--send", "ping", addr).CombinedOutput()
	if err == nil || strings.Contains(string(out), "---\nping") ||
		!strings.Contains(string(out), "bad certificate") {
		t.Errorf("without a client certificate: %v\n%s", err, out)
	}
	srv.waitLog(t, `msg="tls client error"`, "certificate")
}

// TestServeSharedTicketKeys gives two servers the same ticket keys: a
// session from one resumes on the other.
func TestServeSharedTicketKeys(t *testing.T) {
	bin := tlsstackBinary(t)
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	keys := filepath.Join(dir, "ticket.keys")
	k := make([]byte, 48)
	rand.Read(k)
	os.WriteFile(keys, k, 0o600)

	var addrs []string
	for i := 0; i < 2; i++ {
		s := startServer(t, "", "--kernel", "127.0.0.1:0", "--cert", pki.cert, "--key",
			pki.key, "--ticket-keys-file", keys)
		addrs = append(addrs, s.addr(t))
	}
	for _, v := range []string{"TLSv1.2", "TLSv1.3"} {
		sess := filepath.Join(dir, "sess-"+v)
		common := []string{"connect", "--ca", pki.ca, "--servername", "server.test",
			"--max-version", v}
		out, err := exec.Command(bin, append(common, "--sess-out", sess, addrs[0])...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s first connection: %v\n%s", v, err, out)
		}
		out, err = exec.Command(bin, append(common, "--sess-in", sess, addrs[1])...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Session reused: yes") {
			t.Errorf("%s: session from server 1 not resumed on server 2: %v\n%s", v, err, out)
		}
	}

	short := filepath.Join(dir, "short.keys")
	os.WriteFile(short, k[:40], 0o600)
	out, err := exec.Command(bin, "serve", "--kernel", "127.0.0.1:0",
		"--ticket-keys-file", short).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 ||
		!strings.Contains(string(out), "48") || !strings.Contains(string(out), "--ticket-keys-file") {
		t.Errorf("40-byte ticket keys: %v\n%s", err, out)
	}
}

// writeOCSPResponse writes a "good" OCSP response for the PKI's server
// certificate, signed by its CA.
func writeOCSPResponse(t *testing.T, pki testPKI, path string) {
	t.Helper()
	now := time.Now()
	der, err := ocsp.CreateResponse(pki.caCert, pki.caCert, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: pki.leaf.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.Add(24 * time.Hour),
	}, pki.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, der, 0o644); err != nil {
		t.Fatal(err)
	}
}
