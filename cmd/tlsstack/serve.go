package main

import (
	"context"
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

	"github.com/tlsstack/tlsstack/netstack"
	"github.com/tlsstack/tlsstack/tlslayer"
	"github.com/tlsstack/tlsstack/tun"
)

// serveConfig is everything serve needs, checked.
type serveConfig struct {
	tunName   string
	addrs     []netip.Prefix
	mtu       int
	queues    int
	ports     []uint16
	kernel    string // host:port of a kernel socket; empty for TUN mode
	certFile  string
	keyFile   string
	alpn      []string
	responder string
	backend   string
	grace     time.Duration
	handshake time.Duration
	idle      time.Duration
	pprof     string
	logLevel  slog.Level
	logJSON   bool
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
	fs.Var(&listens, "listen", "TCP port(s) to serve TLS on; repeatable (default 443)")
	fs.StringVar(&c.kernel, "kernel", "", "serve on this kernel socket `ADDR:PORT` "+
		"instead of the TUN device")
	fs.StringVar(&c.certFile, "cert", "", "certificate chain `FILE` (PEM); "+
		"default: a self-signed certificate made at start")
	fs.StringVar(&c.keyFile, "key", "", "private key `FILE` (PEM) for --cert")
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
	fs.DurationVar(&c.idle, "idle-timeout", 2*time.Minute, "close connections idle "+
		"this long")
	fs.StringVar(&c.pprof, "pprof", "", "serve net/http/pprof on this kernel `ADDR:PORT`")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&format, "log-format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}

	if len(addrs) == 0 {
		addrs = defaultAddrs
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, usagef("--addr %q: want an address with a prefix length, "+
				"like 198.19.0.1/24", a)
		}
		c.addrs = append(c.addrs, p)
	}
	if len(listens) == 0 {
		listens = listFlag{"443"}
	}
	for _, l := range listens {
		p, err := strconv.ParseUint(l, 10, 16)
		if err != nil || p == 0 {
			return nil, usagef("--listen %q: want a port from 1 to 65535", l)
		}
		c.ports = append(c.ports, uint16(p))
	}
	if c.kernel != "" {
		if _, _, err := net.SplitHostPort(c.kernel); err != nil {
			return nil, usagef("--kernel %q: want ADDR:PORT: %v", c.kernel, err)
		}
	}
	if c.mtu < tun.MinMTU || c.mtu > tun.MaxMTU {
		return nil, usagef("--mtu %d: must be %d to %d", c.mtu, tun.MinMTU, tun.MaxMTU)
	}
	if c.queues < 1 || c.queues > 64 {
		return nil, usagef("--queues %d: must be 1 to 64", c.queues)
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, usagef("--cert and --key go together")
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
		tl := tlsSrv.Listen(l)
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
	if err := resp.shutdown(graceCtx); err != nil {
		log.Warn("grace period over: closing open connections", "open",
			tlsSrv.ConnectionCount())
	}
	log.Info("stopped")
	return nil
}

func newTLSServer(c *serveConfig, log *slog.Logger) (*tlslayer.Server, error) {
	var certPEM, keyPEM []byte
	if c.certFile != "" {
		var err error
		if certPEM, err = readFileFlag("--cert", c.certFile); err != nil {
			return nil, err
		}
		if keyPEM, err = readFileFlag("--key", c.keyFile); err != nil {
			return nil, err
		}
	} else {
		hosts := []string{"localhost"}
		for _, p := range c.addrs {
			hosts = append(hosts, p.Addr().String())
		}
		if c.kernel != "" {
			host, _, _ := net.SplitHostPort(c.kernel)
			if host != "" {
				hosts = append(hosts, host)
			}
		}
		var err error
		if certPEM, keyPEM, err = tlslayer.SelfSigned(hosts); err != nil {
			return nil, err
		}
		log.Info("using a self-signed certificate", "hosts", strings.Join(hosts, ","))
	}

	ctx, err := tlslayer.NewSecureContext(tlslayer.ContextOptions{
		Cert: [][]byte{certPEM},
		Key:  [][]byte{keyPEM},
	})
	if err != nil {
		if c.certFile != "" {
			return nil, usagef("--cert %s / --key %s: %v", c.certFile, c.keyFile, err)
		}
		return nil, err
	}
	srv, err := tlslayer.NewServer(tlslayer.ServerOptions{
		Context:          ctx,
		ALPNProtocols:    c.alpn,
		HandshakeTimeout: c.handshake,
		OnClientError: func(err error, remote net.Addr) {
			log.Info("tls client error", "peer", remote, "err", err)
		},
	})
	if err != nil {
		return nil, usageError{err}
	}
	return srv, nil
}

// readFileFlag reads the file a flag names; errors name both.
func readFileFlag(flagName, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%s: %v", flagName, err)
	}
	return b, nil
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

	dev, err := tun.Create(tun.Config{
		Name:     c.tunName,
		MTU:      c.mtu,
		Prefixes: c.addrs,
		Queues:   c.queues,
	})
	if err != nil {
		if errors.Is(err, tun.ErrBadMTU) || errors.Is(err, tun.ErrBadConfig) ||
			errors.Is(err, tun.ErrNameInUse) {
			return nil, nil, usagef("--tun %s: %v", c.tunName, err)
		}
		return nil, nil, err
	}
	link, err := tun.NewLinkEndpoint(dev, tun.EndpointOptions{})
	if err != nil {
		dev.Close()
		return nil, nil, err
	}
	st, err := netstack.New(link, netstack.Options{Addrs: c.addrs})
	if err != nil {
		dev.Close()
		return nil, nil, err
	}
	cleanup := func() {
		st.Close()
		if err := dev.Close(); err != nil {
			log.Warn("removing TUN device", "dev", dev.Name(), "err", err)
		} else {
			log.Info("TUN device closed", "dev", dev.Name(), "removed", dev.Created())
		}
	}
	log.Info("TUN device up", "dev", dev.Name(), "mtu", dev.MTU(), "queues", len(dev.FDs()),
		"created", dev.Created())

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
