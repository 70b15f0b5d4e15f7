package tlslayer

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConnGettersBeforeAndAfterHandshake(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	done := make(chan *Conn)
	go func() {
		c, err := srv.Wrap(context.Background(), b)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	cl, err := Client(context.Background(), a, ClientOptions{Host: "localhost",
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, MaxVersion: VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	sc := <-done
	// net.Pipe has no buffer: two close_notify alerts would wait for
	// readers, so close the pipe itself.
	defer func() { a.Close(); b.Close() }()
	if srv.ConnectionCount() != 1 {
		t.Errorf("Wrap not counted: %d", srv.ConnectionCount())
	}

	if cl.Protocol() != "TLSv1.2" || sc.Protocol() != "TLSv1.2" {
		t.Errorf("protocols %s %s", cl.Protocol(), sc.Protocol())
	}
	if ci := cl.Cipher(); !strings.HasPrefix(ci.Name, "ECDHE-ECDSA-") ||
		!strings.HasPrefix(ci.StandardName, "TLS_ECDHE_ECDSA_") || ci.Version != "TLSv1.2" {
		t.Errorf("Cipher() = %+v", ci)
	}
	if !cl.Encrypted() || cl.IsServer() || !sc.IsServer() {
		t.Error("Encrypted/IsServer wrong")
	}
	if k := cl.EphemeralKeyInfo(); k.Type != "ECDH" || k.Name != "X25519" || k.Size != 253 {
		t.Errorf("client EphemeralKeyInfo() = %+v", k)
	}
	if k := sc.EphemeralKeyInfo(); k != (EphemeralKeyInfo{}) {
		t.Errorf("server EphemeralKeyInfo() = %+v, want empty as in Node", k)
	}

	// tls-unique: in a full TLS 1.2 handshake the client sent the first
	// Finished.
	if f := cl.Finished(); len(f) != 12 || !bytes.Equal(f, sc.PeerFinished()) {
		t.Errorf("client Finished %x, server PeerFinished %x", f, sc.PeerFinished())
	}
	if cl.PeerFinished() != nil || sc.Finished() != nil {
		t.Error("the second Finished is not exposed by crypto/tls and must be nil")
	}

	ekm1, err := cl.ExportKeyingMaterial(32, "EXPORTER-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ekm2, _ := sc.ExportKeyingMaterial(32, "EXPORTER-test", nil)
	if !bytes.Equal(ekm1, ekm2) {
		t.Error("exported keying material differs")
	}
	if err := cl.Renegotiate(); err != ErrRenegotiation {
		t.Errorf("Renegotiate() = %v", err)
	}
	if err := cl.DisableRenegotiation(); err != nil {
		t.Error(err)
	}
	if cl.Address().Address != "pipe" && cl.Address().Family != "" {
		t.Errorf("pipe address %+v", cl.Address())
	}
}

func TestConnProtocolUnknownBeforeHandshake(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Conn{tc: tls.Client(a, &tls.Config{InsecureSkipVerify: true})}
	if c.Protocol() != "unknown" || c.Cipher() != (CipherInfo{}) {
		t.Errorf("before handshake: %q %+v", c.Protocol(), c.Cipher())
	}
	if c.PeerCertificate(true) != nil {
		t.Error("peer certificate before handshake")
	}
}

func TestConnAddresses(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c, err := Connect(ClientOptions{Host: "127.0.0.1", Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.RemoteAddress()
	if r.Address != "127.0.0.1" || r.Family != "IPv4" || r.Port != portOf(t, ts.addr) {
		t.Errorf("RemoteAddress() = %+v", r)
	}
	if l := c.Address(); l.Family != "IPv4" || l.Port == 0 {
		t.Errorf("Address() = %+v", l)
	}
}

// recordSizes reads raw TLS records from r and returns their lengths.
type recordSpy struct {
	net.Conn
	sizes []int
	buf   []byte
}

func (s *recordSpy) Write(b []byte) (int, error) {
	s.buf = append(s.buf, b...)
	for len(s.buf) >= 5 {
		n := int(s.buf[3])<<8 | int(s.buf[4])
		if len(s.buf) < 5+n {
			break
		}
		if s.buf[0] == 23 { // application data
			s.sizes = append(s.sizes, n)
		}
		s.buf = s.buf[5+n:]
	}
	return s.Conn.Write(b)
}

func TestSetMaxSendFragment(t *testing.T) {
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	spy := &recordSpy{Conn: b}
	done := make(chan *Conn, 1)
	go func() {
		c, err := srv.Wrap(context.Background(), spy)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	cl, err := Client(context.Background(), a, ClientOptions{
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	sc := <-done

	for _, bad := range []int{0, 511, 16385} {
		if err := sc.SetMaxSendFragment(bad); err == nil {
			t.Errorf("SetMaxSendFragment(%d) accepted", bad)
		}
	}
	if err := sc.SetMaxSendFragment(1024); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("x"), 5000)
	go func() { _, _ = sc.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	// TLS 1.3 adds one content-type byte and a 16-byte tag to each record.
	for _, n := range spy.sizes[len(spy.sizes)-5:] {
		if n > 1024+17 {
			t.Errorf("record of %d bytes exceeds the 1024-byte fragment", n)
		}
	}
	a.Close()
	b.Close()
}

func TestServerShutdownWaitsForConnections(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c := dialTLS(t, ts.addr, &tls.Config{RootCAs: p.rootPool(), ServerName: "localhost"})
	waitCount(t, ts.srv, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned with a connection open")
	}
	select {
	case <-ts.srv.Done():
		t.Fatal("Done closed with a connection open")
	default:
	}
	c.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := ts.srv.Shutdown(ctx2); err != nil {
		t.Fatal(err)
	}
	<-ts.srv.Done()
}

var opensslDate = regexp.MustCompile(`^[A-Z][a-z]{2} [ 123][0-9] \d\d:\d\d:\d\d \d{4} GMT$`)
var colonFP = regexp.MustCompile(`^([0-9A-F]{2}:)+[0-9A-F]{2}$`)

func TestPeerCertificateShape(t *testing.T) {
	root := newTestCA(t, "shape root")
	inter := root.intermediate(t, "shape intermediate")
	cert, key, leaf := inter.issue(t, leafOpts{rsa: true, cn: "localhost",
		dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"},
		org: []string{"Org"}, ou: []string{"Unit A", "Unit B"},
		ocspURL: "http://ocsp.test/", issuerURL: "http://ca.test/ca.der"})
	ts := serveChain(t, [][]byte{cert, inter.pem}, key)
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{root.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	pc := c.PeerCertificate(false)
	if pc.Subject.Get("CN") != "localhost" || pc.Subject.Get("C") != "US" ||
		len(pc.Subject["OU"]) != 2 || pc.Issuer.Get("CN") != "shape intermediate" {
		t.Errorf("subject %v issuer %v", pc.Subject, pc.Issuer)
	}
	if pc.SubjectAltName != "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" {
		t.Errorf("subjectaltname %q", pc.SubjectAltName)
	}
	if pc.InfoAccess["OCSP - URI"][0] != "http://ocsp.test/" ||
		pc.InfoAccess["CA Issuers - URI"][0] != "http://ca.test/ca.der" {
		t.Errorf("infoAccess %v", pc.InfoAccess)
	}
	if pc.Bits != 2048 || pc.Exponent != "0x10001" || len(pc.Modulus) != 512 ||
		pc.Modulus != strings.ToUpper(pc.Modulus) {
		t.Errorf("bits %d exponent %s modulus %d chars", pc.Bits, pc.Exponent, len(pc.Modulus))
	}
	if !opensslDate.MatchString(pc.ValidFrom) || !opensslDate.MatchString(pc.ValidTo) {
		t.Errorf("dates %q %q", pc.ValidFrom, pc.ValidTo)
	}
	if !colonFP.MatchString(pc.Fingerprint) || len(pc.Fingerprint) != 59 ||
		len(pc.Fingerprint256) != 95 || len(pc.Fingerprint512) != 191 {
		t.Errorf("fingerprints %q %q", pc.Fingerprint, pc.Fingerprint256)
	}
	if pc.SerialNumber != strings.ToUpper(leaf.SerialNumber.Text(16)) &&
		pc.SerialNumber != "0"+strings.ToUpper(leaf.SerialNumber.Text(16)) {
		t.Errorf("serial %s vs %X", pc.SerialNumber, leaf.SerialNumber)
	}
	if len(pc.ExtKeyUsage) != 1 || pc.ExtKeyUsage[0] != "1.3.6.1.5.5.7.3.1" {
		t.Errorf("ext_key_usage %v", pc.ExtKeyUsage)
	}
	if !bytes.Equal(pc.Raw, leaf.Raw) || len(pc.PubKey) == 0 || pc.CA {
		t.Error("raw/pubkey/ca wrong")
	}
	if pc.IssuerCertificate != nil {
		t.Error("IssuerCertificate set without detailed")
	}

	d := c.PeerCertificate(true)
	if d.IssuerCertificate == nil || d.IssuerCertificate.Subject.Get("CN") !=
		"shape intermediate" || d.IssuerCertificate.IssuerCertificate == nil ||
		d.IssuerCertificate.IssuerCertificate.Subject.Get("CN") != "shape root" ||
		!d.IssuerCertificate.IssuerCertificate.CA {
		t.Error("detailed chain does not reach the root")
	}

	ec := NewPeerCertificate(root.cert)
	if ec.ASN1Curve != "prime256v1" || ec.NISTCurve != "P-256" || ec.Bits != 256 ||
		len(ec.PubKey) != 65 {
		t.Errorf("EC fields %q %q %d %d", ec.ASN1Curve, ec.NISTCurve, ec.Bits, len(ec.PubKey))
	}
}
