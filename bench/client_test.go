package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// standinServer runs the stand-in's handler on loopback with TLS 1.2 and
// 1.3 and session tickets, as the client's real peer in these tests.
func standinServer(t *testing.T) string {
	t.Helper()
	return standinServerWith(t, nil)
}

// standinServerWith lets a test restrict the server's key exchange groups.
func standinServerWith(t *testing.T, groups []tls.CurveID) string {
	t.Helper()
	certPEM, keyPEM, err := makeCert()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(standinHandler())
	srv.TLS = &tls.Config{NextProtos: []string{"http/1.1"}, Certificates: []tls.Certificate{cert},
		CurvePreferences: groups}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func opts(addr string) *clientOpts {
	return &clientOpts{addr: addr, sni: "bench.test", version: "1.3", group: "x25519",
		conns: 2, workers: 4, bytes: 1 << 20, duration: 200 * time.Millisecond,
		max: 200, rate: 200, path: "/bytes/1024", timeout: 5 * time.Second}
}

func TestClientBulkMovesEveryByteBothWays(t *testing.T) {
	o := opts(standinServer(t))
	for _, upload := range []bool{false, true} {
		o.upload = upload
		res, err := runBulk(o)
		if err != nil {
			t.Fatalf("upload=%v: %v", upload, err)
		}
		if res.Bytes != 2<<20 || res.Seconds <= 0 || res.Version != "TLS 1.3" {
			t.Errorf("upload=%v: %+v", upload, res)
		}
	}
}

func TestClientHandshakesFullAndResumed(t *testing.T) {
	addr := standinServer(t)
	for _, c := range []struct {
		version string
		resume  bool
	}{{"1.3", false}, {"1.2", false}, {"1.3", true}, {"1.2", true}} {
		o := opts(addr)
		o.version, o.resume = c.version, c.resume
		res, err := runHandshakes(o)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if res.Count == 0 || res.Count > o.max || res.Errors != 0 {
			t.Errorf("%+v: %+v", c, res)
		}
		if c.resume && res.Resumed != res.Count {
			t.Errorf("%+v: %d of %d resumed", c, res.Resumed, res.Count)
		}
		if !c.resume && res.Resumed != 0 {
			t.Errorf("%+v: %d resumed without a ticket offered", c, res.Resumed)
		}
	}
}

func TestClientLatencyReportsOrderedPercentiles(t *testing.T) {
	res, err := runLatency(opts(standinServer(t)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Count < 20 || res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.P999 {
		t.Errorf("%+v", res)
	}
}

func TestClientIdleWaitsForTheHarnessThenChecksEveryConnection(t *testing.T) {
	o := opts(standinServer(t))
	o.conns = 20
	in, inW := io.Pipe()
	outR, out := io.Pipe()
	done := make(chan struct{})
	var (
		res clientResult
		err error
	)
	go func() {
		defer close(done)
		res, err = runIdle(o, in, out)
		out.Close()
	}()
	line, rerr := readLine(outR)
	if rerr != nil || line != "OPEN 20" {
		t.Fatalf("first line %q, %v", line, rerr)
	}
	io.WriteString(inW, "check\n")
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 20 || res.Answered != 20 {
		t.Errorf("%+v", res)
	}
}

func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}

func TestHTTPConnReadsChunkedAndLengthBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write(bytes.Repeat([]byte("x"), 1000))
			w.(http.Flusher).Flush()
			w.Write(bytes.Repeat([]byte("y"), 500))
			return
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", "3")
		io.WriteString(w, "abc")
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := newHTTPConn(c)
	for path, want := range map[string]int64{"/chunked": 1500, "/length": 3} {
		n, err := h.get(path)
		if err != nil || n != want {
			t.Errorf("%s: %d bytes, %v; want %d", path, n, err, want)
		}
	}
	if _, err := h.get("/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("/missing: %v", err)
	}
	// The connection stays usable after an error status.
	if n, err := h.get("/length"); err != nil || n != 3 {
		t.Errorf("after 404: %d, %v", n, err)
	}
}

func TestClientResultJSONKeys(t *testing.T) {
	b, _ := json.Marshal(clientResult{Mode: "latency", Seconds: 1, P50: 0.5, P99: 1, P999: 2})
	for _, k := range []string{`"mode"`, `"p50_ms"`, `"p99_ms"`, `"p999_ms"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}

func TestProbeGivesUpAtOnceWhenTheServerRefusesTheGroup(t *testing.T) {
	o := opts(standinServerWith(t, []tls.CurveID{tls.X25519}))
	o.group = "mlkem"
	start := time.Now()
	if _, err := runProbe(o); err == nil {
		t.Fatal("probe succeeded without a common group")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %v to give up; an alert should end it", d)
	}
	o.group = "x25519"
	if _, err := runProbe(o); err != nil {
		t.Errorf("x25519: %v", err)
	}
}
