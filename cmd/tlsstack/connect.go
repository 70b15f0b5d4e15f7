package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsstack/tlsstack/tlslayer"
	"github.com/tlsstack/tlsstack/tun"
)

// connectConfig is what "tlsstack connect" was asked to do.
type connectConfig struct {
	host, port         string
	unix               string
	serverName         string
	alpn               string
	tls                contextFlags
	process            processFlags
	rejectUnauthorized bool
	reconnect          int
	sessIn, sessOut    string
	status             bool
	send               string
	timeout            time.Duration
	keylog             string
	stack              bool
	tunName            string
	addrs              listFlag
	mtu                int
}

const connectUsage = `usage: tlsstack connect [flags] HOST:PORT
       tlsstack connect [flags] --unix PATH

Connects, completes the TLS handshake and prints the session: protocol,
cipher, ALPN, the peer's chain, the verification result and whether the
session was resumed. Exit status 1 when the connection or handshake fails.
`

func parseConnectFlags(args []string, stderr io.Writer) (*connectConfig, error) {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, connectUsage)
		fs.PrintDefaults()
	}
	c := &connectConfig{}
	fs.StringVar(&c.unix, "unix", "", "connect to this Unix socket `PATH` instead")
	fs.StringVar(&c.serverName, "servername", "", "SNI name and name to verify "+
		"(default HOST; an IP address is never sent as SNI)")
	fs.StringVar(&c.alpn, "alpn", "", "ALPN protocols to offer, comma-separated")
	c.tls.register(fs, "server")
	c.process.register(fs)
	fs.BoolVar(&c.rejectUnauthorized, "reject-unauthorized", true, "fail when the "+
		"server's certificate does not verify; false reports the error and goes on")
	fs.IntVar(&c.reconnect, "reconnect", 0, "after the first connection, reconnect "+
		"`N` times resuming its session (try 5)")
	fs.StringVar(&c.sessIn, "sess-in", "", "resume the session saved in `FILE`")
	fs.StringVar(&c.sessOut, "sess-out", "", "save the session to `FILE`")
	fs.BoolVar(&c.status, "status", false, "ask for a stapled OCSP response and print it")
	fs.StringVar(&c.send, "send", "", "send this after the handshake (\\r and \\n "+
		"escapes allowed) and print the answer")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound for connecting and the "+
		"handshake, and idle bound for reading the answer")
	fs.StringVar(&c.keylog, "keylog", "", "append NSS key-log lines to `FILE`")
	fs.BoolVar(&c.stack, "stack", false, "connect through the userspace stack on a TUN "+
		"device instead of the kernel's TCP")
	fs.StringVar(&c.tunName, "tun", "tlsc0", "with --stack: TUN device to create")
	fs.Var(&c.addrs, "addr", "with --stack: the stack's address as CIDR; repeatable")
	fs.IntVar(&c.mtu, "mtu", tun.DefaultMTU, "with --stack: MTU of the TUN device")

	// Flags may come before and after the address.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError{err}
	}
	var target string
	if fs.NArg() > 0 {
		target = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return nil, err
		}
	}

	switch {
	case c.unix != "" && target != "":
		return nil, usagef("connect: give HOST:PORT or --unix, not both")
	case c.unix == "" && target == "":
		return nil, usagef("connect: missing HOST:PORT")
	case target != "":
		var err error
		c.host, c.port, err = net.SplitHostPort(target)
		if err != nil {
			return nil, usagef("connect %q: want HOST:PORT: %v", target, err)
		}
		if p, err := strconv.ParseUint(c.port, 10, 16); err != nil || p == 0 {
			return nil, usagef("connect %q: bad port %q", target, c.port)
		}
	}
	if c.alpn != "" {
		for _, p := range strings.Split(c.alpn, ",") {
			if p == "" || len(p) > 255 {
				return nil, usagef("--alpn %q: protocol names must be 1 to 255 bytes", c.alpn)
			}
		}
	}
	if c.reconnect < 0 || c.reconnect > 100 {
		return nil, usagef("--reconnect %d: must be 0 to 100", c.reconnect)
	}
	if c.timeout <= 0 {
		return nil, usagef("--timeout %s: must be positive", c.timeout)
	}
	if c.stack {
		if len(c.addrs) == 0 {
			return nil, usagef("--stack needs --addr, the stack's own address")
		}
		if c.unix != "" {
			return nil, usagef("--stack and --unix exclude each other")
		}
	} else if len(c.addrs) > 0 {
		return nil, usagef("--addr is only for --stack")
	}
	return c, nil
}

// connect runs "tlsstack connect".
func connect(args []string, stdout, stderr io.Writer) error {
	c, err := parseConnectFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := c.process.apply(); err != nil {
		return err
	}
	ctxOpts, err := c.tls.options()
	if err != nil {
		return err
	}
	ctx, err := tlslayer.NewSecureContext(ctxOpts)
	if err != nil {
		return c.tls.contextError(err)
	}

	opts := tlslayer.ClientOptions{
		Context:           ctx,
		Host:              c.host,
		Path:              c.unix,
		ServerName:        c.serverName,
		AllowUnauthorized: !c.rejectUnauthorized,
		Timeout:           c.timeout,
		RequestOCSP:       c.status,
	}
	if c.port != "" {
		opts.Port, _ = strconv.Atoi(c.port)
	}
	if c.alpn != "" {
		opts.ALPNProtocols = strings.Split(c.alpn, ",")
	}
	var ocsp []byte
	var ocspSeen bool
	opts.OnOCSPResponse = func(resp []byte, _ *tlslayer.Conn) { ocsp, ocspSeen = resp, true }
	if c.keylog != "" {
		if opts.OnKeylog, err = openKeylog(c.keylog); err != nil {
			return err
		}
	}

	if c.sessIn != "" {
		if opts.Session, err = readFileFlag("--sess-in", c.sessIn); err != nil {
			return err
		}
	}
	if c.sessOut != "" {
		// Find out now, not after the handshake, that it cannot be written.
		f, err := os.OpenFile(c.sessOut, os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return usagef("--sess-out: %v", err)
		}
		f.Close()
	}
	if c.stack {
		dial, closeStack, err := stackDialer(c)
		if err != nil {
			return err
		}
		defer closeStack()
		opts.Dial = dial
	}

	// The session to resume comes with the handshake in TLS 1.2 and after
	// it in TLS 1.3: keep the latest one offered.
	var mu sync.Mutex
	var session []byte
	opts.OnSession = func(s []byte, _ *tlslayer.Conn) {
		mu.Lock()
		session = s
		mu.Unlock()
	}

	for i := 0; i <= c.reconnect; i++ {
		if i > 0 {
			mu.Lock()
			opts.Session = session
			mu.Unlock()
		}
		ocsp, ocspSeen = nil, false
		conn, err := tlslayer.Connect(opts)
		if err != nil {
			if c.sessIn != "" && i == 0 && errors.Is(err, tlslayer.ErrBadSession) {
				return usagef("--sess-in %s: %v", c.sessIn, err)
			}
			return err // tlslayer's errors name the peer
		}
		answer, rerr := c.exchange(conn)
		if i == 0 {
			describe(stdout, conn, c, ocsp, ocspSeen)
			if c.send != "" && len(answer) > 0 {
				fmt.Fprintf(stdout, "---\n%s", answer)
				if !strings.HasSuffix(string(answer), "\n") {
					fmt.Fprintln(stdout)
				}
			}
			if rerr != nil {
				conn.Close()
				return fmt.Errorf("connect %s: after the handshake: %w", c.target(), rerr)
			}
		} else {
			fmt.Fprintf(stdout, "reconnect %d: %s %s reused=%s\n", i, conn.Protocol(),
				conn.Cipher().Name, yesNo(conn.IsSessionReused()))
		}
		conn.Close()
	}

	if c.sessOut != "" {
		mu.Lock()
		s := session
		mu.Unlock()
		if s == nil {
			return fmt.Errorf("--sess-out %s: the server issued no session", c.sessOut)
		}
		if err := os.WriteFile(c.sessOut, s, 0o600); err != nil {
			return fmt.Errorf("--sess-out: %w", err)
		}
	}
	return nil
}

func (c *connectConfig) target() string {
	if c.unix != "" {
		return c.unix
	}
	return net.JoinHostPort(c.host, c.port)
}

// exchange sends --send, if any, and reads the answer until EOF or until
// the connection is idle for the timeout. Without --send it reads briefly,
// for TLS 1.3 session tickets, which follow the handshake.
func (c *connectConfig) exchange(conn *tlslayer.Conn) ([]byte, error) {
	idle := 300 * time.Millisecond
	if c.send != "" {
		idle = c.timeout
		msg := strings.NewReplacer(`\r`, "\r", `\n`, "\n").Replace(c.send)
		conn.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := io.WriteString(conn, msg); err != nil {
			return nil, err
		}
	}
	var answer []byte
	buf := make([]byte, 32<<10)
	for len(answer) < 1<<20 {
		conn.SetReadDeadline(time.Now().Add(idle))
		n, err := conn.Read(buf)
		answer = append(answer, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.Is(err, io.EOF) || (errors.As(err, &ne) && ne.Timeout()) {
				return answer, nil
			}
			return answer, err
		}
	}
	return answer, nil
}

// describe prints the session in the manner of openssl s_client.
func describe(w io.Writer, conn *tlslayer.Conn, c *connectConfig, ocsp []byte, ocspSeen bool) {
	cipher := conn.Cipher()
	fmt.Fprintf(w, "CONNECTED %s (local %s)\n", conn.RemoteAddr(), conn.LocalAddr())
	fmt.Fprintf(w, "Protocol: %s\n", conn.Protocol())
	fmt.Fprintf(w, "Cipher: %s (%s)\n", cipher.Name, cipher.StandardName)
	if k := conn.EphemeralKeyInfo(); k.Name != "" {
		fmt.Fprintf(w, "Key exchange: %s %s %d bits\n", k.Type, k.Name, k.Size)
	}
	alpn := conn.ALPNProtocol()
	if alpn == "" {
		alpn = "none"
	}
	fmt.Fprintf(w, "ALPN: %s\n", alpn)

	fmt.Fprintln(w, "Peer certificate chain:")
	for i, pc := 0, conn.PeerCertificate(true); pc != nil && i < 10; i, pc = i+1,
		pc.IssuerCertificate {
		fmt.Fprintf(w, " %d s:%s\n   i:%s\n", i, pc.Certificate.Subject, pc.Certificate.Issuer)
		fmt.Fprintf(w, "   valid %s to %s, sha256 %s\n", pc.ValidFrom, pc.ValidTo,
			pc.Fingerprint256)
		if pc.SubjectAltName != "" && i == 0 {
			fmt.Fprintf(w, "   %s\n", pc.SubjectAltName)
		}
		if pc.IssuerCertificate == pc {
			break
		}
	}
	if conn.Authorized() {
		fmt.Fprintln(w, "Verification: OK")
	} else {
		fmt.Fprintf(w, "Verification error: %s\n", conn.AuthorizationError())
	}
	fmt.Fprintf(w, "Session reused: %s\n", yesNo(conn.IsSessionReused()))
	if c.status {
		switch {
		case !ocspSeen || len(ocsp) == 0:
			fmt.Fprintln(w, "OCSP response: no response sent")
		default:
			describeOCSP(w, ocsp)
		}
	}
}

// describeOCSP prints a stapled response's status and validity. The
// signature is not checked here: that needs the issuer, and the staple is
// shown for inspection, as openssl s_client -status does.
func describeOCSP(w io.Writer, der []byte) {
	r, err := ocsp.ParseResponse(der, nil)
	if err != nil {
		fmt.Fprintf(w, "OCSP response: %d bytes, not parseable: %v\n", len(der), err)
		return
	}
	status := map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked",
		ocsp.Unknown: "unknown"}[r.Status]
	fmt.Fprintf(w, "OCSP response: %d bytes stapled, cert status %s, serial %X\n", len(der),
		status, r.SerialNumber)
	fmt.Fprintf(w, "   this update %s, next update %s\n", r.ThisUpdate.UTC().Format(time.RFC3339),
		r.NextUpdate.UTC().Format(time.RFC3339))
	if r.Status == ocsp.Revoked {
		fmt.Fprintf(w, "   revoked at %s\n", r.RevokedAt.UTC().Format(time.RFC3339))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// stackDialer brings up a TUN device and a userspace stack for the client
// side and returns its dial function.
func stackDialer(c *connectConfig) (func(context.Context, string, string) (net.Conn, error),
	func(), error) {
	var prefixes []netip.Prefix
	for _, a := range c.addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, nil, usagef("--addr %q: want an address with a prefix length", a)
		}
		prefixes = append(prefixes, p)
	}
	st, cleanup, err := openStack(stackConfig{name: c.tunName, mtu: c.mtu, addrs: prefixes,
		offload: true}, nil)
	if err != nil {
		return nil, nil, err
	}
	return st.DialContext, cleanup, nil
}
