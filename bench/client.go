package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The client is the one load generator for every system. The harness runs
// it in the client namespace, pinned to the client CPUs, and reads one JSON
// clientResult from its standard output.

// clientResult is what one client run measured. Fields a mode does not
// measure stay zero.
type clientResult struct {
	Mode    string  `json:"mode"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes,omitempty"`
	Count   int64   `json:"count,omitempty"`
	Resumed int64   `json:"resumed,omitempty"`
	Errors  int64   `json:"errors,omitempty"`
	// FirstError is the first failure seen, for the report.
	FirstError string `json:"first_error,omitempty"`

	// What the handshake negotiated, from one connection.
	Version string `json:"version,omitempty"`
	Cipher  string `json:"cipher,omitempty"`
	Group   string `json:"group,omitempty"`

	// Latency percentiles in milliseconds.
	P50  float64 `json:"p50_ms,omitempty"`
	P99  float64 `json:"p99_ms,omitempty"`
	P999 float64 `json:"p999_ms,omitempty"`

	// Idle connections opened and how many answered afterwards.
	Opened   int64 `json:"opened,omitempty"`
	Answered int64 `json:"answered,omitempty"`

	// ClientCPU is filled in by the harness: the cores the client process
	// kept busy over its life.
	ClientCPU float64 `json:"-"`
}

// clientOpts are the client's flags; each mode reads the ones it needs.
type clientOpts struct {
	addr     string
	sni      string
	version  string // "1.2" or "1.3"
	group    string // "x25519", "mlkem" or "" for Go's default
	conns    int
	workers  int
	bytes    int64 // per connection
	upload   bool
	duration time.Duration
	max      int64 // upper bound on operations in a run
	rate     float64
	path     string
	resume   bool
	timeout  time.Duration // per operation
	url      string
	out      string
}

func clientMain(args []string) error {
	if len(args) == 0 {
		return usagef("client: want a mode: probe, bulk, handshake, latency, idle, fetch")
	}
	mode := args[0]
	var o clientOpts
	fs := flag.NewFlagSet("client "+mode, flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "server `HOST:PORT`")
	fs.StringVar(&o.sni, "sni", "bench.test", "server name to send")
	fs.StringVar(&o.version, "tls", "1.3", "TLS version: 1.2 or 1.3")
	fs.StringVar(&o.group, "group", "x25519", "key exchange: x25519, mlkem, or default")
	fs.IntVar(&o.conns, "conns", 1, "connections")
	fs.IntVar(&o.workers, "workers", 16, "concurrent handshakes")
	fs.Int64Var(&o.bytes, "bytes", 1<<20, "bytes per connection (bulk)")
	fs.BoolVar(&o.upload, "upload", false, "bulk: send instead of receive")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long to run")
	fs.Int64Var(&o.max, "max", 1_000_000, "most operations in one run")
	fs.Float64Var(&o.rate, "rate", 1000, "latency: requests per second in all")
	fs.StringVar(&o.path, "path", "/bytes/1024", "request path")
	fs.BoolVar(&o.resume, "resume", false, "handshake: resume one session ticket")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each operation")
	fs.StringVar(&o.url, "url", "", "fetch: plain http URL")
	fs.StringVar(&o.out, "out", "", "fetch: file to write")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}

	var (
		res clientResult
		err error
	)
	switch mode {
	case "probe":
		res, err = runProbe(&o)
	case "bulk":
		res, err = runBulk(&o)
	case "handshake":
		res, err = runHandshakes(&o)
	case "latency":
		res, err = runLatency(&o)
	case "idle":
		res, err = runIdle(&o, os.Stdin, os.Stdout)
	case "fetch":
		return runFetch(&o)
	default:
		return usagef("client: unknown mode %q", mode)
	}
	res.Mode = mode
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func (o *clientOpts) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{
		InsecureSkipVerify: true, // the certificate is made per run
		ServerName:         o.sni,
		NextProtos:         []string{"http/1.1"},
	}
	switch o.version {
	case "1.3":
		c.MinVersion, c.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	case "1.2":
		c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		// TLS 1.2 servers may only use an ECDSA certificate on a curve the
		// client lists (RFC 8422); OpenSSL enforces it. X25519 stays first.
		if o.group == "x25519" {
			c.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
		}
	default:
		return nil, usagef("client: --tls %q: want 1.2 or 1.3", o.version)
	}
	switch o.group {
	case "x25519":
		if c.CurvePreferences == nil {
			c.CurvePreferences = []tls.CurveID{tls.X25519}
		}
	case "mlkem":
		c.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
	case "default":
	default:
		return nil, usagef("client: --group %q: want x25519, mlkem or default", o.group)
	}
	return c, nil
}

// dialTLS connects and completes a handshake within o.timeout.
func (o *clientOpts) dialTLS(cfg *tls.Config) (*tls.Conn, error) {
	d := net.Dialer{Timeout: o.timeout}
	raw, err := d.Dial("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	raw.SetDeadline(time.Now().Add(o.timeout))
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		abort(c)
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return c, nil
}

// abort closes c with a reset, so that neither side keeps the connection in
// TIME_WAIT: handshake runs open tens of thousands of connections from one
// address.
func abort(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	c.Close()
}

func describe(res *clientResult, c *tls.Conn) {
	st := c.ConnectionState()
	res.Version = tls.VersionName(st.Version)
	res.Cipher = tls.CipherSuiteName(st.CipherSuite)
	res.Group = st.CurveID.String()
}

// errCounter keeps a count of failures and the first one.
type errCounter struct {
	mu    sync.Mutex
	n     int64
	first error
}

// add counts err and returns the count so far.
func (e *errCounter) add(err error) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.first == nil {
		e.first = err
	}
	return e.n
}

func (e *errCounter) fill(res *clientResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	res.Errors = e.n
	if e.first != nil {
		res.FirstError = e.first.Error()
	}
}

// runProbe retries one handshake and GET / until it works or o.timeout
// passes; the harness uses it to wait for a server to be ready.
func runProbe(o *clientOpts) (clientResult, error) {
	var res clientResult
	cfg, err := o.tlsConfig()
	if err != nil {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(o.timeout)
	for {
		err = func() error {
			one := *o
			one.timeout = 2 * time.Second
			c, err := one.dialTLS(cfg)
			if err != nil {
				return err
			}
			defer abort(c)
			describe(&res, c)
			_, err = newHTTPConn(c).get("/")
			return err
		}()
		if err == nil {
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
		// An alert is an answer: the server is up and refuses what was
		// offered, and asking again will not change that.
		if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "remote error" {
			return res, fmt.Errorf("probe %s: %w", o.addr, err)
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("probe %s: not ready after %v: %w", o.addr, o.timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runBulk opens o.conns connections, then moves o.bytes on each at once,
// timing from the moment all are ready to the moment the last finishes. An
// upload ends with a small GET on the same connection, so that the time
// covers the server reading the whole body even when it answers early.
func runBulk(o *clientOpts) (clientResult, error) {
	var res clientResult
	cfg, err := o.tlsConfig()
	if err != nil {
		return res, err
	}
	conns := make([]*tls.Conn, 0, o.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range o.conns {
		c, err := o.dialTLS(cfg)
		if err != nil {
			return res, err
		}
		c.SetDeadline(time.Now().Add(o.timeout))
		conns = append(conns, c)
	}
	describe(&res, conns[0])

	body := make([]byte, 256<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	var (
		wg    sync.WaitGroup
		errs  errCounter
		moved atomic.Int64
	)
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			h := newHTTPConn(c)
			if o.upload {
				if _, err := h.post("/upload", o.bytes, body); err != nil {
					errs.add(err)
					return
				}
				if _, err := h.get("/"); err != nil {
					errs.add(err)
					return
				}
				moved.Add(o.bytes)
				return
			}
			n, err := h.get("/bytes/" + strconv.FormatInt(o.bytes, 10))
			moved.Add(n)
			if err != nil {
				errs.add(err)
			} else if n != o.bytes {
				errs.add(fmt.Errorf("got %d bytes, want %d", n, o.bytes))
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Bytes = moved.Load()
	res.Count = int64(len(conns))
	errs.fill(&res)
	if res.Errors > 0 {
		return res, fmt.Errorf("bulk: %d of %d connections failed: %s", res.Errors,
			len(conns), res.FirstError)
	}
	return res, nil
}

// fixedSession is a session cache that holds one session: during warm-up it
// keeps the latest ticket the server sent, then it is frozen and hands the
// same ticket to every connection.
type fixedSession struct {
	mu     sync.Mutex
	cs     *tls.ClientSessionState
	frozen bool
}

func (f *fixedSession) Get(string) (*tls.ClientSessionState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cs, f.cs != nil
}

func (f *fixedSession) Put(_ string, cs *tls.ClientSessionState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.frozen && cs != nil {
		f.cs = cs
	}
}

// runHandshakes completes as many handshakes as o.workers concurrent
// workers can in o.duration (at most o.max), each on a new connection that
// is reset right after. With o.resume every handshake offers one ticket.
func runHandshakes(o *clientOpts) (clientResult, error) {
	var res clientResult
	cfg, err := o.tlsConfig()
	if err != nil {
		return res, err
	}
	if o.resume {
		cache := &fixedSession{}
		cfg.ClientSessionCache = cache
		c, err := o.dialTLS(cfg)
		if err != nil {
			return res, err
		}
		// TLS 1.3 tickets arrive after the handshake; a request makes the
		// client read them.
		_, err = newHTTPConn(c).get("/")
		abort(c)
		if err != nil {
			return res, fmt.Errorf("resume warm-up: %w", err)
		}
		cache.mu.Lock()
		cache.frozen = true
		got := cache.cs != nil
		cache.mu.Unlock()
		if !got {
			return res, errors.New("resume warm-up: the server sent no session ticket")
		}
	}

	var (
		wg      sync.WaitGroup
		errs    errCounter
		done    atomic.Int64
		resumed atomic.Int64
		once    sync.Once
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	for range o.workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if done.Add(1) > o.max {
					done.Add(-1)
					return
				}
				c, err := o.dialTLS(cfg)
				if err != nil {
					done.Add(-1)
					if errs.add(err) > 1000 {
						return
					}
					continue
				}
				if c.ConnectionState().DidResume {
					resumed.Add(1)
				}
				once.Do(func() { describe(&res, c) })
				abort(c)
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Count = done.Load()
	res.Resumed = resumed.Load()
	errs.fill(&res)
	if res.Count == 0 {
		return res, fmt.Errorf("handshake: none completed: %s", res.FirstError)
	}
	return res, nil
}

// runLatency sends requests for o.path at a fixed total rate over o.conns
// keep-alive connections for o.duration. Each request has a scheduled send
// time; its latency runs from that time, not from when it was actually
// sent, so a stall is counted in full rather than hidden.
func runLatency(o *clientOpts) (clientResult, error) {
	var res clientResult
	cfg, err := o.tlsConfig()
	if err != nil {
		return res, err
	}
	if o.rate <= 0 || o.conns < 1 {
		return res, usagef("client latency: --rate and --conns must be positive")
	}
	hs := make([]*httpConn, 0, o.conns)
	defer func() {
		for _, h := range hs {
			h.c.Close()
		}
	}()
	for range o.conns {
		c, err := o.dialTLS(cfg)
		if err != nil {
			return res, err
		}
		c.SetDeadline(time.Time{})
		h := newHTTPConn(c)
		if _, err := h.get(o.path); err != nil {
			return res, fmt.Errorf("latency warm-up: %w", err)
		}
		hs = append(hs, h)
	}
	describe(&res, hs[0].c.(*tls.Conn))

	var (
		wg   sync.WaitGroup
		errs errCounter
		mu   sync.Mutex
		lats []time.Duration
	)
	step := time.Duration(float64(time.Second) / o.rate)
	start := time.Now().Add(10 * time.Millisecond)
	end := start.Add(o.duration)
	for i, h := range hs {
		wg.Go(func() {
			local := make([]time.Duration, 0, int(o.rate*o.duration.Seconds())/len(hs)+1)
			for k := int64(0); k < o.max; k++ {
				at := start.Add(step * time.Duration(k*int64(len(hs))+int64(i)))
				if !at.Before(end) {
					break
				}
				// Bounded in time too: a server that falls a second
				// behind the schedule fails the run, since the rate was
				// meant to be below its saturation.
				if time.Since(at) > time.Second {
					errs.add(fmt.Errorf("fell more than 1s behind the schedule "+
						"of %.0f requests/s", o.rate))
					break
				}
				time.Sleep(time.Until(at))
				h.c.SetDeadline(time.Now().Add(o.timeout))
				if _, err := h.get(o.path); err != nil {
					errs.add(err)
					break
				}
				local = append(local, time.Since(at))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	errs.fill(&res)
	if len(lats) == 0 {
		return res, fmt.Errorf("latency: no request completed: %s", res.FirstError)
	}
	slices.Sort(lats)
	res.Count = int64(len(lats))
	ms := func(q float64) float64 {
		i := int(q * float64(len(lats)-1))
		return float64(lats[i]) / float64(time.Millisecond)
	}
	res.P50, res.P99, res.P999 = ms(0.50), ms(0.99), ms(0.999)
	return res, nil
}

// runIdle opens o.conns TLS connections and leaves them idle. It writes
// "OPEN n" to out and waits for a line on in (the harness measures the
// server meanwhile), then asks every connection for "/" and counts the
// answers.
func runIdle(o *clientOpts, in io.Reader, out io.Writer) (clientResult, error) {
	var res clientResult
	cfg, err := o.tlsConfig()
	if err != nil {
		return res, err
	}
	conns := make([]*tls.Conn, o.conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				abort(c)
			}
		}
	}()

	var (
		errs errCounter
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	for range o.workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(conns)) || time.Now().After(deadline) {
					return
				}
				c, err := o.dialTLS(cfg)
				if err != nil {
					errs.add(err)
					continue
				}
				c.SetDeadline(time.Time{})
				conns[i] = c
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	for _, c := range conns {
		if c != nil {
			res.Opened++
		}
	}
	for _, c := range conns {
		if c != nil {
			describe(&res, c)
			break
		}
	}

	fmt.Fprintf(out, "OPEN %d\n", res.Opened)
	line := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(in).ReadString('\n')
		line <- err
	}()
	select {
	case err := <-line:
		if err != nil {
			return res, fmt.Errorf("idle: waiting for the harness: %w", err)
		}
	case <-time.After(2 * time.Minute):
		return res, errors.New("idle: the harness did not answer in 2m")
	}

	var answered atomic.Int64
	next.Store(0)
	for range o.workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(conns)) {
					return
				}
				c := conns[i]
				if c == nil {
					continue
				}
				c.SetDeadline(time.Now().Add(o.timeout))
				if _, err := newHTTPConn(c).get("/"); err != nil {
					errs.add(fmt.Errorf("idle connection %d: %w", i, err))
					continue
				}
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	res.Answered = answered.Load()
	res.Count = int64(len(conns))
	errs.fill(&res)
	return res, nil
}

// runFetch saves a plain HTTP GET to a file: the harness uses it to take
// pprof profiles from a server that listens inside the server namespace.
func runFetch(o *clientOpts) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", o.url, nil)
	if err != nil {
		return usagef("client fetch: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("fetch %s: %s", o.url, resp.Status)
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
