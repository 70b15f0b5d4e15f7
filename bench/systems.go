package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Addresses. Servers live in the server namespace: the TUN system on the
// stack's own prefix, the kernel ones on the server's veth address.
const (
	serverIP   = "198.18.0.1"
	stackIP    = "198.19.0.1"
	backendIP  = "127.0.0.1" // inside the server namespace
	tunAddr    = stackIP + ":443"
	kernelAddr = serverIP + ":8443"
	nginxAddr  = serverIP + ":8444"
	haHTTPAddr = serverIP + ":8445"
	haBulkAddr = serverIP + ":8446"
	standinTLS = serverIP + ":8447"
	iperfPort  = "5201"
	backendAdr = backendIP + ":9080"
)

// system is one server under test.
type system struct {
	name string
	// httpAddr answers the HTTP paths; bulkAddr does the bulk rows (it
	// differs only for HAProxy, whose bulk frontend is TCP mode).
	httpAddr, bulkAddr string
	// iperf marks plain-tcp, which only runs the bulk rows, with iperf3.
	iperf bool
	// pprofAddr is where a tlsstack server serves pprof, inside the
	// server namespace; empty for the others.
	pprofAddr string
	// about is one line for the report.
	about string

	argv    []string // the measured server
	helpers [][]string
	main    *daemon
	running []*daemon
}

// newSystem describes a system; start runs it.
func (h *harness) newSystem(name string) (*system, error) {
	s := &system{name: name}
	srv := func(argv ...string) []string { return h.inServer(argv...) }
	switch name {
	case "tlsstack-tun", "tlsstack-kernel":
		argv := []string{h.tlsstackBin, "serve", "--cert", h.certFile, "--key", h.keyFile,
			"--alpn", "h2,http/1.1", "--responder", "http", "--log-level", "warn",
			"--idle-timeout", "10m"}
		if name == "tlsstack-tun" {
			s.httpAddr = tunAddr
			s.pprofAddr = "127.0.0.1:6060"
			argv = append(argv, "--tun", "tls0", "--addr", stackIP+"/24",
				"--addr", "2001:2:0:2::1/64", "--listen", "443")
			s.about = "tlsstack serve on its userspace stack behind TUN tls0"
		} else {
			s.httpAddr = kernelAddr
			s.pprofAddr = "127.0.0.1:6061"
			argv = append(argv, "--kernel", kernelAddr)
			s.about = "tlsstack serve --kernel: the same TLS layer on kernel TCP"
		}
		argv = append(argv, "--pprof", s.pprofAddr)
		s.bulkAddr = s.httpAddr
		s.argv = srv(argv...)
	case "nginx":
		conf, err := h.writeNginxConf()
		if err != nil {
			return nil, err
		}
		s.httpAddr, s.bulkAddr = nginxAddr, nginxAddr
		s.argv = srv("nginx", "-e", "stderr", "-p", filepath.Join(h.dir, "nginx"),
			"-c", conf, "-g", "daemon off;")
		s.about = "nginx with OpenSSL, static files, sendfile off"
	case "haproxy":
		conf, err := h.writeHAProxyConf()
		if err != nil {
			return nil, err
		}
		s.httpAddr, s.bulkAddr = haHTTPAddr, haBulkAddr
		s.argv = srv("haproxy", "-db", "-f", conf)
		s.helpers = [][]string{srv(h.self, "standin", "--plain", "--listen", backendAdr)}
		s.about = "HAProxy: http-request return; bulk in TCP mode to a plaintext " +
			"backend (the harness's stand-in, on the server CPUs, not counted)"
	case "plain-tcp":
		s.iperf = true
		s.bulkAddr = serverIP + ":" + iperfPort
		s.argv = srv("iperf3", "--server", "--bind", serverIP, "--port", iperfPort)
		s.about = "iperf3 over kernel TCP, no TLS: the path's plaintext limit"
	case "go-standin":
		s.httpAddr, s.bulkAddr = standinTLS, standinTLS
		s.argv = srv(h.self, "standin", "--listen", standinTLS, "--cert", h.certFile,
			"--key", h.keyFile)
		s.about = "the harness's net/http server on crypto/tls, kernel TCP"
	default:
		return nil, fmt.Errorf("unknown system %q", name)
	}
	return s, nil
}

// start runs the system's helpers and server and waits until it answers.
func (h *harness) start(ctx context.Context, s *system) error {
	for i, argv := range s.helpers {
		d, err := startDaemon(fmt.Sprintf("%s-helper%d", s.name, i), argv,
			filepath.Join(h.dir, fmt.Sprintf("%s-helper%d.log", s.name, i)))
		if err != nil {
			return err
		}
		s.running = append(s.running, d)
	}
	d, err := startDaemon(s.name, s.argv, filepath.Join(h.dir, s.name+".log"))
	if err != nil {
		return err
	}
	s.main = d
	s.running = append(s.running, d)

	if s.iperf {
		time.Sleep(300 * time.Millisecond)
		if !d.alive() {
			return fmt.Errorf("%s exited at start: %s", s.name, d.tail(5))
		}
		return nil
	}
	addrs := []string{s.httpAddr}
	if s.bulkAddr != s.httpAddr {
		addrs = append(addrs, s.bulkAddr)
	}
	for _, a := range addrs {
		if _, err := h.client(ctx, 30*time.Second, "probe", "--addr", a,
			"--timeout", "20s"); err != nil {
			return fmt.Errorf("%s is not answering: %w\n%s log:\n%s", s.name, err, s.name,
				d.tail(8))
		}
	}
	return nil
}

// stop ends the server first, then its helpers.
func (h *harness) stop(s *system) {
	for i := len(s.running) - 1; i >= 0; i-- {
		s.running[i].stop(5 * time.Second)
	}
	s.running, s.main = nil, nil
}

// restart gives a scenario a fresh server, for memory measurements that
// must not inherit what earlier scenarios left in the heap.
func (h *harness) restart(ctx context.Context, s *system) error {
	h.stop(s)
	return h.start(ctx, s)
}

// serverThreads is how many workers each server gets: one per server CPU.
func (h *harness) serverThreads() int { return len(h.serverCPUList) }

// writeNginxConf writes a configuration tuned as one would for a TLS
// endpoint: one worker per server CPU pinned to it, the shared session
// cache and tickets, long keep-alive, sendfile off (it cannot help under
// TLS), no access log, files served from the page cache.
func (h *harness) writeNginxConf() (string, error) {
	dir := filepath.Join(h.dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	var masks []string
	for _, cpu := range h.serverCPUList {
		m := make([]byte, cpu+1)
		for i := range m {
			m[i] = '0'
		}
		m[0] = '1'
		masks = append(masks, string(m))
	}
	conf := fmt.Sprintf(`# Written by bench: nginx as a tuned TLS endpoint.
worker_processes %d;
worker_cpu_affinity %s;
worker_rlimit_nofile %[7]d;
pid %[3]s/nginx.pid;
error_log stderr warn;

events {
    worker_connections %[8]d;
    multi_accept on;
}

http {
    access_log off;
    sendfile off;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 10000000;
    client_header_timeout 120s;
    client_max_body_size 0;
    client_body_temp_path %[3]s/tmp/body;
    proxy_temp_path %[3]s/tmp/proxy;
    fastcgi_temp_path %[3]s/tmp/fastcgi;
    uwsgi_temp_path %[3]s/tmp/uwsgi;
    scgi_temp_path %[3]s/tmp/scgi;
    output_buffers 2 256k;
    open_file_cache max=64 inactive=600s;
    default_type application/octet-stream;

    ssl_certificate %[4]s;
    ssl_certificate_key %[5]s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384;
    # Every server prefers AES-128-GCM, which is what crypto/tls picks on
    # AES hardware, whatever order a client (h2load, OpenSSL's default
    # order has AES-256 first) offers.
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    ssl_session_cache shared:SSL:64m;
    ssl_session_timeout 1h;
    ssl_session_tickets on;
    ssl_buffer_size 16k;

    server {
        listen %[6]s ssl http2 backlog=4096;
        root %[9]s;
        location = / {
            default_type text/plain;
            return 200 "nginx: hello\n";
        }
        location /bytes/ {
        }
        location = /upload {
            return 200 "{}\n";
        }
    }
}
`, h.serverThreads(), strings.Join(masks, " "), dir, h.certFile, h.keyFile, nginxAddr,
		h.nofile, h.nofile-100, filepath.Join(h.dir, "www"))
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// writeHAProxyConf writes an HTTP-mode frontend that answers from memory
// with http-request return, and a TCP-mode frontend that terminates TLS in
// front of the plaintext backend for the bulk rows.
func (h *harness) writeHAProxyConf() (string, error) {
	dir := filepath.Join(h.dir, "haproxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cpus := make([]string, len(h.serverCPUList))
	for i, c := range h.serverCPUList {
		cpus[i] = strconv.Itoa(c)
	}
	conf := fmt.Sprintf(`# Written by bench: HAProxy terminating TLS.
global
    nbthread %d
    cpu-map auto:1/1-%[1]d %[2]s
    # HAProxy wants two descriptors per connection (a proxy's client and
    # server sides) and by default refuses to start when it cannot raise
    # the limit to that; the static frontend needs one, so the limit the
    # harness has is enough and a warning will do.
    no strict-limits
    maxconn %[3]d
    tune.ssl.cachesize 200000
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

defaults
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout http-request 120s
    timeout http-keep-alive 600s
    maxconn %[3]d

frontend static
    mode http
    bind %[4]s ssl crt %[5]s alpn h2,http/1.1 curves X25519:P-256
    http-request return status 200 content-type application/octet-stream file %[6]s if { path /bytes/1024 }
    http-request return status 200 content-type text/plain string "haproxy: hello" if { path / }
    http-request return status 200 content-type application/json string "{}" if { path /upload }
    http-request return status 404

frontend bulk
    mode tcp
    bind %[7]s ssl crt %[5]s alpn http/1.1 curves X25519:P-256
    default_backend plain

backend plain
    mode tcp
    server standin %[8]s
`, h.serverThreads(), strings.Join(cpus, ","), h.nofile-100, haHTTPAddr, h.pemFile,
		filepath.Join(h.dir, "www", "bytes", "1024"), haBulkAddr, backendAdr)
	path := filepath.Join(dir, "haproxy.cfg")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// writeDocroot makes the files nginx serves: /bytes/N for 1 KiB and every
// power of two a bulk run may ask for. They are sparse, so they cost no
// disk, and read from the page cache.
func (h *harness) writeDocroot() error {
	dir := filepath.Join(h.dir, "www", "bytes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sizes := []int64{1024}
	for n := int64(64 << 10); n <= 4<<30; n *= 2 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		p := filepath.Join(dir, strconv.FormatInt(n, 10))
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if n == 1024 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('a' + i%26)
			}
			_, err = f.Write(b)
		} else {
			err = f.Truncate(n)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
