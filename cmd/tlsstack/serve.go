package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when --pprof is given
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsstack/tlsstack/tlslayer"
	"github.com/tlsstack/tlsstack/tun"
)

// serveConfig is everything serve needs, checked.
type serveConfig struct {
	tunName            string
	addrs              []netip.Prefix
	mtu                int
	queues             int
	offload            bool // TUN checksum and segmentation offload
	ports              []uint16
	kernel             string // host:port of a kernel socket; empty for TUN mode
	tls                contextFlags
	process            processFlags
	alpn               []string
	sni                repeatFlag // NAME=CERT,KEY
	requestCert        bool
	rejectUnauthorized bool
	sessionTimeout     time.Duration
	ticketKeysFile     string
	keylogFile         string
	ocspFile           string
	responder          string
	backend            string
	grace              time.Duration
	handshake          time.Duration
	idle               time.Duration
	maxConns           int
	pprof              string
	logLevel           slog.Level
	logJSON            bool
}

var defaultAddrs = []string{"198.19.0.1/24", "2001:2:0:2::1/64"}

func parseServeFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c       serveConfig
		addrs   listFlag
		listens listFlag
		alpn    string
		level   string
		format  string
	)
	fs.StringVar(&c.tunName, "tun", "tls0", "TUN device to create or open")
	fs.Var(&addrs, "addr", "stack address as CIDR, IPv4 or IPv6; repeatable "+
		"(default "+strings.Join(defaultAddrs, ", ")+")")
	fs.IntVar(&c.mtu, "mtu", tun.DefaultMTU, "MTU of the TUN device")
	fs.IntVar(&c.queues, "queues", 1, "TUN queues (multi-queue device when > 1)")
	fs.BoolVar(&c.offload, "offload", true, "TUN checksum and TCP segmentation offload "+
		"(virtio-net headers) where the kernel allows it")
	fs.Var(&listens, "listen", "TCP port(s) to serve TLS on; repeatable (default 443)")
	fs.StringVar(&c.kernel, "kernel", "", "serve on this kernel socket `ADDR:PORT` "+
		"instead of the TUN device")
	c.tls.register(fs, "client")
	c.process.register(fs)
	fs.Var(&c.sni, "sni", "serve another certificate to clients asking for a name: "+
		"`NAME=CERT,KEY` (NAME may be *.example.com); repeatable")
	fs.BoolVar(&c.requestCert, "request-cert", false, "ask clients for a certificate")
	fs.BoolVar(&c.rejectUnauthorized, "reject-unauthorized", true, "with --request-cert, "+
		"refuse clients without a certificate that verifies against --ca")
	fs.DurationVar(&c.sessionTimeout, "session-timeout", 300*time.Second, "lifetime of "+
		"session tickets")
	fs.StringVar(&c.ticketKeysFile, "ticket-keys-file", "", "`FILE` of 48 bytes: "+
		"session ticket keys shared with other servers (default random)")
	fs.StringVar(&c.keylogFile, "keylog", "", "append NSS key-log lines to `FILE` "+
		"(for Wireshark; secret!)")
	fs.StringVar(&c.ocspFile, "ocsp-response", "", "staple this DER OCSP response `FILE`")
	fs.StringVar(&alpn, "alpn", "", "ALPN protocols, comma-separated, most preferred "+
		"first (default h2,http/1.1 for the http responder, none otherwise)")
	fs.StringVar(&c.responder, "responder", "http", "what answers: http, echo, discard, "+
		"proxy")
	fs.StringVar(&c.backend, "backend", "", "proxy responder: backend `HOST:PORT`, "+
		"dialed through the host kernel")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, how long "+
		"open connections may finish")
	fs.DurationVar(&c.handshake, "handshake-timeout", 10*time.Second, "close clients "+
		"whose TLS handshake takes longer")
	fs.DurationVar(&c.idle, "idle-timeout", 2*time.Minute, "close connections on "+
		"which no byte moved either way for this long (a stalled reader or writer too)")
	fs.IntVar(&c.maxConns, "max-conns", 65536, "refuse connections beyond this many "+
		"open ones (0: no limit)")
	fs.StringVar(&c.pprof, "pprof", "", "serve net/http/pprof on this kernel `ADDR:PORT`")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&format, "log-format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}

	if len(addrs) == 0 {
		addrs = defaultAddrs
	}
	if c.tunName == "" || len(c.tunName) > 15 || strings.ContainsAny(c.tunName, "/ \t") {
		return nil, usagef("--tun %q: want an interface name of 1 to 15 characters, "+
			"without / or spaces", c.tunName)
	}
	seenAddr := map[netip.Addr]bool{}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, usagef("--addr %q: want an address with a prefix length, "+
				"like 198.19.0.1/24", a)
		}
		if p.Addr().Is4In6() {
			return nil, usagef("--addr %q: IPv4-mapped IPv6 addresses are not allowed; "+
				"give the IPv4 address", a)
		}
		if seenAddr[p.Addr()] {
			return nil, usagef("--addr %s: given twice", p.Addr())
		}
		seenAddr[p.Addr()] = true
		c.addrs = append(c.addrs, p)
	}
	if c.kernel != "" && len(listens) > 0 {
		return nil, usagef("--listen is for the TUN stack; with --kernel the port goes in " +
			"--kernel ADDR:PORT")
	}
	if len(listens) == 0 {
		listens = listFlag{"443"}
	}
	seenPort := map[uint64]bool{}
	for _, l := range listens {
		p, err := strconv.ParseUint(l, 10, 16)
		if err != nil || p == 0 {
			return nil, usagef("--listen %q: want a port from 1 to 65535", l)
		}
		if seenPort[p] {
			return nil, usagef("--listen %d: given twice", p)
		}
		seenPort[p] = true
		c.ports = append(c.ports, uint16(p))
	}
	if c.kernel != "" {
		_, port, err := net.SplitHostPort(c.kernel)
		if err != nil {
			return nil, usagef("--kernel %q: want ADDR:PORT: %v", c.kernel, err)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, usagef("--kernel %q: port %q is not a number from 0 to 65535",
				c.kernel, port)
		}
	}
	for _, spec := range c.sni {
		name, _, _ := strings.Cut(spec, "=")
		if _, err := netip.ParseAddr(name); err == nil {
			return nil, usagef("--sni %s: an IP address never arrives as SNI (RFC 6066); "+
				"put it in the default certificate's SANs", name)
		}
	}
	if c.maxConns < 0 {
		return nil, usagef("--max-conns %d: must be 0 (no limit) or more", c.maxConns)
	}
	if c.mtu < tun.MinMTU || c.mtu > tun.MaxMTU {
		return nil, usagef("--mtu %d: must be %d to %d", c.mtu, tun.MinMTU, tun.MaxMTU)
	}
	if c.queues < 1 || c.queues > 64 {
		return nil, usagef("--queues %d: must be 1 to 64", c.queues)
	}
	if len(c.tls.certs) != len(c.tls.keys) {
		return nil, usagef("--cert and --key go in pairs: %d --cert, %d --key",
			len(c.tls.certs), len(c.tls.keys))
	}
	if c.sessionTimeout <= 0 {
		return nil, usagef("--session-timeout %s: must be positive", c.sessionTimeout)
	}
	switch c.responder {
	case "http", "echo", "discard":
		if c.backend != "" {
			return nil, usagef("--backend is only for --responder proxy")
		}
	case "proxy":
		if c.backend == "" {
			return nil, usagef("--responder proxy needs --backend HOST:PORT")
		}
		if _, _, err := net.SplitHostPort(c.backend); err != nil {
			return nil, usagef("--backend %q: want HOST:PORT: %v", c.backend, err)
		}
	default:
		return nil, usagef("--responder %q: want http, echo, discard or proxy", c.responder)
	}
	switch {
	case alpn != "":
		for _, p := range strings.Split(alpn, ",") {
			if p = strings.TrimSpace(p); p == "" || len(p) > 255 {
				return nil, usagef("--alpn %q: protocol names must be 1 to 255 bytes", alpn)
			}
			c.alpn = append(c.alpn, p)
		}
	case c.responder == "http":
		c.alpn = []string{"h2", "http/1.1"}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--grace", c.grace}, {"--handshake-timeout", c.handshake}, {"--idle-timeout", c.idle}} {
		if d.v <= 0 {
			return nil, usagef("%s %s: must be positive", d.name, d.v)
		}
	}
	if err := c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	switch format {
	case "text":
	case "json":
		c.logJSON = true
	default:
		return nil, usagef("--log-format %q: want text or json", format)
	}
	return &c, nil
}

func newLogger(c *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs "tlsstack serve" until SIGINT or SIGTERM.
func serve(args []string, stderr io.Writer) error {
	c, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)

	tlsSrv, err := newTLSServer(c, log)
	if err != nil {
		return err
	}
	resp, err := newResponder(c, log)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	listeners, cleanup, err := openListeners(c, log)
	if err != nil {
		return err
	}
	defer cleanup()

	if c.pprof != "" {
		pl, err := net.Listen("tcp", c.pprof)
		if err != nil {
			return fmt.Errorf("--pprof %s: %w", c.pprof, err)
		}
		go http.Serve(pl, http.DefaultServeMux)
		log.Info("pprof listening", "addr", pl.Addr())
	}

	done := make(chan error, len(listeners))
	for _, l := range listeners {
		tl := tlsSrv.Listen(newGuardListener(l, c.maxConns, c.idle, log))
		log.Info("serving", "addr", l.Addr(), "responder", c.responder,
			"alpn", strings.Join(c.alpn, ","))
		go func() { done <- resp.serve(tl) }()
	}

	select {
	case <-ctx.Done():
		log.Info("stopping: no new connections; waiting for open ones", "grace", c.grace,
			"open", tlsSrv.ConnectionCount())
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	}
	stop() // a second signal kills at once

	tlsSrv.Close()
	graceCtx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	go func() {
		<-graceCtx.Done()
		if errors.Is(graceCtx.Err(), context.DeadlineExceeded) {
			log.Warn("grace period over: closing open connections", "open",
				tlsSrv.ConnectionCount())
		}
	}()
	resp.shutdown(graceCtx)
	log.Info("stopped")
	return nil
}

func newTLSServer(c *serveConfig, log *slog.Logger) (*tlslayer.Server, error) {
	if err := c.process.apply(); err != nil {
		return nil, err
	}
	opts, err := c.tls.options()
	if err != nil {
		return nil, err
	}
	if len(opts.Cert) == 0 && len(opts.PFX) == 0 {
		hosts := selfSignedHosts(c)
		certPEM, keyPEM, err := tlslayer.SelfSigned(hosts)
		if err != nil {
			return nil, err
		}
		opts.Cert, opts.Key = [][]byte{certPEM}, [][]byte{keyPEM}
		log.Info("using a self-signed certificate", "hosts", strings.Join(hosts, ","))
	}
	ctx, err := tlslayer.NewSecureContext(opts)
	if err != nil {
		return nil, c.tls.contextError(err)
	}
	for _, w := range ctx.Warnings() {
		log.Warn("TLS configuration", "warning", w)
	}

	so := tlslayer.ServerOptions{
		Context:           ctx,
		ALPNProtocols:     c.alpn,
		RequestCert:       c.requestCert,
		AllowUnauthorized: !c.rejectUnauthorized,
		HandshakeTimeout:  c.handshake,
		SessionTimeout:    c.sessionTimeout,
		OnClientError:     newClientErrorLog(log).report,
		OnSecureConnection: func(conn *tlslayer.Conn) {
			if log.Enabled(context.Background(), slog.LevelDebug) {
				log.Debug("tls connection", "peer", conn.RemoteAddr(), "sni",
					conn.ServerName(), "alpn", conn.ALPNProtocol(), "proto", conn.Protocol(),
					"cipher", conn.Cipher().Name, "resumed", conn.IsSessionReused())
			}
		},
	}
	if c.ticketKeysFile != "" {
		if so.TicketKeys, err = readFileFlag("--ticket-keys-file", c.ticketKeysFile); err != nil {
			return nil, err
		}
	}
	if c.ocspFile != "" {
		resp, err := readFileFlag("--ocsp-response", c.ocspFile)
		if err != nil {
			return nil, err
		}
		parsed, err := ocsp.ParseResponse(resp, nil)
		if err != nil {
			return nil, usagef("--ocsp-response %s: not an OCSP response: %v", c.ocspFile, err)
		}
		// Staple it only to the certificate it speaks for: SNI contexts
		// serve other certificates.
		so.OnOCSPRequest = func(cert, _ *x509.Certificate) ([]byte, error) {
			if cert.SerialNumber.Cmp(parsed.SerialNumber) != 0 {
				return nil, nil
			}
			return resp, nil
		}
	}
	if c.keylogFile != "" {
		if so.OnKeylog, err = openKeylog(c.keylogFile); err != nil {
			return nil, err
		}
	}

	srv, err := tlslayer.NewServer(so)
	if err != nil {
		if errors.Is(err, tlslayer.ErrTicketKeysLength) {
			return nil, usagef("--ticket-keys-file %s: %v", c.ticketKeysFile, err)
		}
		return nil, usageError{err}
	}
	for _, spec := range c.sni {
		if err := addSNIContext(srv, spec, opts); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// selfSignedHosts names what the made-up certificate is for: localhost and
// every address served.
func selfSignedHosts(c *serveConfig) []string {
	hosts := []string{"localhost"}
	if c.kernel != "" {
		if host, _, _ := net.SplitHostPort(c.kernel); host != "" {
			hosts = append(hosts, host)
		}
		return hosts
	}
	for _, p := range c.addrs {
		hosts = append(hosts, p.Addr().String())
	}
	return hosts
}

// addSNIContext parses NAME=CERT,KEY and adds that context to srv. The
// other context options (CA, ciphers, versions) are those of the default
// context.
func addSNIContext(srv *tlslayer.Server, spec string, base tlslayer.ContextOptions) error {
	name, files, ok := strings.Cut(spec, "=")
	certFile, keyFile, ok2 := strings.Cut(files, ",")
	if !ok || !ok2 || name == "" || certFile == "" || keyFile == "" {
		return usagef("--sni %q: want NAME=CERT,KEY", spec)
	}
	cert, err := readFileFlag("--sni "+name, certFile)
	if err != nil {
		return err
	}
	key, err := readFileFlag("--sni "+name, keyFile)
	if err != nil {
		return err
	}
	base.Cert, base.Key, base.PFX = [][]byte{cert}, [][]byte{key}, nil
	ctx, err := tlslayer.NewSecureContext(base)
	if err != nil {
		return usagef("--sni %s (%s, %s): %v", name, certFile, keyFile, err)
	}
	if err := srv.AddContext(name, ctx); err != nil {
		return usagef("--sni %s: %v", name, err)
	}
	return nil
}

// openListeners opens the TCP listeners: on a kernel socket with --kernel,
// otherwise on a userspace stack behind a TUN device. cleanup closes the
// stack and removes the device.
func openListeners(c *serveConfig, log *slog.Logger) ([]net.Listener, func(), error) {
	if c.kernel != "" {
		l, err := net.Listen("tcp", c.kernel)
		if err != nil {
			return nil, nil, fmt.Errorf("--kernel %s: %w", c.kernel, err)
		}
		return []net.Listener{l}, func() { l.Close() }, nil
	}

	st, cleanup, err := openStack(stackConfig{name: c.tunName, mtu: c.mtu, queues: c.queues,
		addrs: c.addrs, offload: c.offload}, log)
	if err != nil {
		return nil, nil, err
	}

	var ls []net.Listener
	for _, port := range c.ports {
		l, err := st.Listen("tcp", ":"+strconv.Itoa(int(port)))
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			cleanup()
			return nil, nil, fmt.Errorf("--listen %d: %w", port, err)
		}
		ls = append(ls, l)
	}
	return ls, cleanup, nil
}
