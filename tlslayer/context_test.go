package tlslayer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

func TestContextMatchesKeysToChainsInAnyOrder(t *testing.T) {
	p := newTestPKI(t)
	sc := p.context(t, nil) // certs EC,RSA; keys RSA,EC
	if n := len(sc.Certificates()); n != 2 {
		t.Fatalf("%d certificates, want 2", n)
	}
}

func TestContextCombinedCertAndKeyPEM(t *testing.T) {
	p := newTestPKI(t)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	keyFirst := join(p.ecKey, p.ecCert)
	keyLast := join(p.rsaCert, p.rsaKey)

	t.Run("accepted as cert and key", func(t *testing.T) {
		sc, err := NewSecureContext(ContextOptions{
			Cert: [][]byte{keyFirst, keyLast}, Key: [][]byte{keyLast, keyFirst}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(sc.Certificates()); n != 2 {
			t.Fatalf("%d certificates, want 2", n)
		}
		for _, c := range sc.Certificates() {
			if len(c.Certificate) != 1 {
				t.Errorf("chain of %d certificates, want 1", len(c.Certificate))
			}
		}
	})

	tests := []struct {
		name string
		opts ContextOptions
		want string
	}{
		{"two keys in one key entry", ContextOptions{Cert: [][]byte{p.ecCert},
			Key: [][]byte{join(p.ecCert, p.ecKey, p.rsaKey)}},
			`key[0]: PEM blocks 2 (PRIVATE KEY) and 3 (PRIVATE KEY) are both keys`},
		{"no key in combined key entry", ContextOptions{Cert: [][]byte{keyFirst},
			Key: [][]byte{join(p.ecCert, p.rsaCert)}}, "key[0]: no PEM private key"},
		{"no cert in cert entry", ContextOptions{Cert: [][]byte{join(p.ecKey, p.rsaKey)},
			Key: [][]byte{p.ecKey}}, "cert[0]: no PEM CERTIFICATE block found"},
		{"CRL in key entry", ContextOptions{Cert: [][]byte{p.ecCert},
			Key: [][]byte{join(p.ecKey, []byte("-----BEGIN X509 CRL-----\nAAAA\n"+
				"-----END X509 CRL-----\n"))}},
			`key[0]: PEM block 2 is "X509 CRL", want a private key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSecureContext(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestContextRejectsBadCertificatesAndKeys(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	tests := []struct {
		name string
		opts ContextOptions
		want string
		is   error
	}{
		{"mismatched key", ContextOptions{Cert: [][]byte{p.ecCert}, Key: [][]byte{other.ecKey}},
			"key[0]", ErrKeyMismatch},
		{"chain without key", ContextOptions{Cert: [][]byte{p.ecCert, p.rsaCert},
			Key: [][]byte{p.ecKey}}, "cert[1]", ErrKeyMismatch},
		{"key without cert", ContextOptions{Key: [][]byte{p.ecKey}}, "without cert", nil},
		{"cert without key", ContextOptions{Cert: [][]byte{p.ecCert}}, "without key", nil},
		{"not PEM", ContextOptions{Cert: [][]byte{[]byte("hello")}, Key: [][]byte{p.ecKey}},
			"cert[0]: no PEM", nil},
		{"key in cert", ContextOptions{Cert: [][]byte{p.ecKey}, Key: [][]byte{p.ecKey}},
			"cert[0]: no PEM CERTIFICATE block found", nil},
		{"cert in key", ContextOptions{Cert: [][]byte{p.ecCert}, Key: [][]byte{p.ecCert}},
			"key[0]: no PEM private key", nil},
		{"corrupt cert", ContextOptions{
			Cert: [][]byte{[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
			Key:  [][]byte{p.ecKey}}, "cert[0]: PEM block 1", nil},
		{"bad min version", ContextOptions{MinVersion: "TLSv1.4"}, "minVersion", nil},
		{"SSLv3", ContextOptions{MinVersion: "SSLv3"}, "not supported", nil},
		{"min above max", ContextOptions{MinVersion: "TLSv1.3", MaxVersion: "TLSv1.2"},
			"above", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSecureContext(tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "tlslayer: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
		})
	}
}

func TestSelfSignedServesItsHosts(t *testing.T) {
	certPEM, keyPEM, err := SelfSigned([]string{"localhost", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificatesPEM(certPEM, "self-signed")
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	if len(c.DNSNames) != 1 || len(c.IPAddresses) != 2 {
		t.Errorf("SANs DNS=%v IP=%v", c.DNSNames, c.IPAddresses)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d < 365*24*3600e9 {
		t.Errorf("validity %s, want a year", d)
	}
	if _, err := NewSecureContext(ContextOptions{Cert: [][]byte{certPEM},
		Key: [][]byte{keyPEM}}); err != nil {
		t.Fatal(err)
	}
}

func encryptLegacy(t *testing.T, keyPEM []byte, pass string) []byte {
	t.Helper()
	k, err := ParsePrivateKeyPEM(keyPEM, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	var der []byte
	var typ string
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		der, err = x509.MarshalECPrivateKey(k)
		typ = "EC PRIVATE KEY"
	case *rsa.PrivateKey:
		der, typ = x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY"
	}
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // legacy PEM encryption is what is being tested
	b, err := x509.EncryptPEMBlock(rand.Reader, typ, der, []byte(pass), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(b)
}

func encryptPKCS8(t *testing.T, keyPEM []byte, pass string) []byte {
	t.Helper()
	k, err := ParsePrivateKeyPEM(keyPEM, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	der, err := pkcs8.MarshalPrivateKey(k, []byte(pass), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

func TestContextEncryptedKeys(t *testing.T) {
	p := newTestPKI(t)
	legacyEC := encryptLegacy(t, p.ecKey, "ec-pass")
	legacyRSA := encryptLegacy(t, p.rsaKey, "rsa-pass")
	pk8EC := encryptPKCS8(t, p.ecKey, "shared")
	pk8RSA := encryptPKCS8(t, p.rsaKey, "shared")

	tests := []struct {
		name string
		opts ContextOptions
		err  error
	}{
		{"legacy per-key passphrases", ContextOptions{Key: [][]byte{legacyEC, legacyRSA},
			KeyPassphrase: []string{"ec-pass", "rsa-pass"}}, nil},
		{"PKCS#8 shared passphrase", ContextOptions{Key: [][]byte{pk8EC, pk8RSA},
			Passphrase: "shared"}, nil},
		{"mixed", ContextOptions{Key: [][]byte{legacyEC, pk8RSA},
			KeyPassphrase: []string{"ec-pass"}, Passphrase: "shared"}, nil},
		{"legacy wrong passphrase", ContextOptions{Key: [][]byte{legacyEC, pk8RSA},
			Passphrase: "shared"}, ErrWrongPassphrase},
		{"PKCS#8 wrong passphrase", ContextOptions{Key: [][]byte{pk8EC, pk8RSA},
			Passphrase: "nope"}, ErrWrongPassphrase},
		{"no passphrase", ContextOptions{Key: [][]byte{pk8EC, pk8RSA}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Cert = [][]byte{p.ecCert, p.rsaCert}
			_, err := NewSecureContext(tt.opts)
			switch {
			case tt.name == "no passphrase":
				if err == nil || !strings.Contains(err.Error(), "no passphrase") {
					t.Errorf("err = %v", err)
				}
			case tt.err == nil && err != nil:
				t.Fatal(err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestContextPKCS12(t *testing.T) {
	root := newTestCA(t, "p12 root")
	inter := root.intermediate(t, "p12 intermediate")
	certPEM, keyPEM, leaf := inter.issue(t, leafOpts{dns: []string{"localhost"}})
	_ = certPEM
	key, err := ParsePrivateKeyPEM(keyPEM, nil, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Intermediates deliberately out of order in the bundle.
	pfx, err := pkcs12.Modern.Encode(key, leaf, []*x509.Certificate{root.cert, inter.cert},
		"p12pass")
	if err != nil {
		t.Fatal(err)
	}

	sc, err := NewSecureContext(ContextOptions{PFX: []PFX{{Data: pfx, Passphrase: "p12pass"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := sc.Certificates()[0]
	if len(c.Certificate) != 3 {
		t.Fatalf("chain of %d, want leaf, intermediate, root", len(c.Certificate))
	}
	second, _ := x509.ParseCertificate(c.Certificate[1])
	if second.Subject.CommonName != "p12 intermediate" {
		t.Errorf("chain not ordered: second is %q", second.Subject.CommonName)
	}
	if _, err := NewSecureContext(ContextOptions{PFX: []PFX{{Data: pfx}},
		Passphrase: "p12pass"}); err != nil {
		t.Errorf("shared passphrase: %v", err)
	}

	_, err = NewSecureContext(ContextOptions{PFX: []PFX{{Data: pfx, Passphrase: "wrong"}}})
	if !errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "pfx[0]") {
		t.Errorf("wrong password: %v", err)
	}
	_, err = NewSecureContext(ContextOptions{PFX: []PFX{{Data: []byte("not a pfx")}}})
	if err == nil || !strings.Contains(err.Error(), "pfx[0]") {
		t.Errorf("garbage PFX: %v", err)
	}

	ts := startServer(t, ServerOptions{Context: sc})
	cl, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{root.pem}}})
	if err != nil {
		t.Fatalf("serving the PFX chain: %v", err)
	}
	cl.Close()
}

func TestContextPFXThatIsNotPKCS12(t *testing.T) {
	p := newTestPKI(t)
	block, _ := pem.Decode(p.ecCert)
	tests := []struct {
		name  string
		data  []byte
		cause string
	}{
		{"text", []byte("not a pfx"), "not DER-encoded ASN.1"},
		{"empty", nil, "empty"},
		{"PEM certificate", p.ecCert, "PEM text"},
		{"DER certificate", block.Bytes, "DER, but not a PFX structure"},
		{"trailing bytes", append(append([]byte{}, block.Bytes...), 0),
			"DER, but not a PFX structure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSecureContext(ContextOptions{PFX: []PFX{{Data: tt.data}}})
			want := "tlslayer: pfx[0]: not a PKCS#12 file (" + tt.cause
			if err == nil || !strings.HasPrefix(err.Error(), want) ||
				strings.Contains(err.Error(), "asn1:") {
				t.Errorf("err = %v, want %q…", err, want)
			}
		})
	}
}

func TestContextChainOrderAndCRLInput(t *testing.T) {
	root := newTestCA(t, "order root")
	inter := root.intermediate(t, "order intermediate")
	cert, key, _ := inter.issue(t, leafOpts{dns: []string{"localhost"}})
	_, err := NewSecureContext(ContextOptions{
		Cert: [][]byte{append(append([]byte{}, inter.pem...), cert...)}, Key: [][]byte{key}})
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("reversed chain: %v", err)
	}
	if _, err := NewSecureContext(ContextOptions{
		Cert: [][]byte{append(append([]byte{}, cert...), inter.pem...)},
		Key:  [][]byte{key}}); err != nil {
		t.Errorf("ordered chain: %v", err)
	}
	_, err = NewSecureContext(ContextOptions{CRL: [][]byte{cert}})
	if err == nil || !strings.Contains(err.Error(), "crl[0]") {
		t.Errorf("certificate as CRL: %v", err)
	}
	_, err = NewSecureContext(ContextOptions{CA: [][]byte{[]byte("junk")}})
	if err == nil || !strings.Contains(err.Error(), "ca[0]") {
		t.Errorf("junk CA: %v", err)
	}
}

func TestContextProtocolOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   ContextOptions
		lo, hi uint16
		err    string
	}{
		{"defaults", ContextOptions{}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{"TLSv1 to TLSv1.2", ContextOptions{MinVersion: "TLSv1", MaxVersion: "TLSv1.2"},
			tls.VersionTLS10, tls.VersionTLS12, ""},
		{"TLS_method", ContextOptions{SecureProtocol: "TLS_method"},
			tls.VersionTLS10, tls.VersionTLS13, ""},
		{"SSLv23_method stops at TLSv1.2", ContextOptions{SecureProtocol: "SSLv23_method"},
			tls.VersionTLS12, tls.VersionTLS12, ""},
		{"SSLv23_server_method", ContextOptions{SecureProtocol: "SSLv23_server_method"},
			tls.VersionTLS12, tls.VersionTLS12, ""},
		{"SSLv23_client_method", ContextOptions{SecureProtocol: "SSLv23_client_method"},
			tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLSv1_2_method", ContextOptions{SecureProtocol: "TLSv1_2_method"},
			tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLSv1_1_client_method", ContextOptions{SecureProtocol: "TLSv1_1_client_method"},
			tls.VersionTLS11, tls.VersionTLS11, ""},
		{"SSLv3_method", ContextOptions{SecureProtocol: "SSLv3_method"}, 0, 0, "SSL"},
		{"bogus method", ContextOptions{SecureProtocol: "TLSv9_method"}, 0, 0, "unknown"},
		{"method with min", ContextOptions{SecureProtocol: "TLS_method",
			MinVersion: "TLSv1.2"}, 0, 0, "cannot be combined"},
		{"no TLSv1.3 option", ContextOptions{SecureOptions: OpNoTLSv1_3},
			tls.VersionTLS12, tls.VersionTLS12, ""},
		{"no TLSv1 and 1.1", ContextOptions{SecureProtocol: "TLS_method",
			SecureOptions: OpNoTLSv1 | OpNoTLSv1_1}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{"all disabled", ContextOptions{SecureOptions: OpNoTLSv1_2 | OpNoTLSv1_3}, 0, 0,
			"every"},
		{"engine", ContextOptions{ClientCertEngine: "pkcs11"}, 0, 0, "engines"},
		{"ciphers", ContextOptions{Ciphers: "ECDHE+AESGCM"}, tls.VersionTLS12,
			tls.VersionTLS13, ""},
		{"TLS 1.3 ciphers only", ContextOptions{Ciphers: "TLS_AES_128_GCM_SHA256:" +
			"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"},
			tls.VersionTLS13, tls.VersionTLS13, ""},
		{"some TLS 1.3 ciphers", ContextOptions{Ciphers: "TLS_AES_128_GCM_SHA256:HIGH"},
			0, 0, "cannot restrict"},
		{"TLS 1.3 only with max 1.2", ContextOptions{MaxVersion: "TLSv1.2",
			Ciphers: "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" +
				"TLS_CHACHA20_POLY1305_SHA256"}, 0, 0, "no TLS 1.2 suite"},
		{"unknown cipher", ContextOptions{Ciphers: "FOO"}, 0, 0, "unknown cipher"},
		{"curves", ContextOptions{ECDHCurve: "X25519:prime256v1:P-384"},
			tls.VersionTLS12, tls.VersionTLS13, ""},
		{"bad curve", ContextOptions{ECDHCurve: "X448"}, 0, 0, "unsupported curve"},
		{"ffdhe", ContextOptions{ECDHCurve: "ffdhe2048"}, 0, 0, "no DHE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := NewSecureContext(tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.MinVersion() != tt.lo || sc.MaxVersion() != tt.hi {
				t.Errorf("versions %x..%x, want %x..%x", sc.MinVersion(), sc.MaxVersion(),
					tt.lo, tt.hi)
			}
		})
	}
}

func TestECDHCurveNegotiated(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, func(o *ContextOptions) {
		o.ECDHCurve = "P-384"
	})})
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, ECDHCurve: "secp384r1:X25519"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if k := c.EphemeralKeyInfo(); k.Name != "secp384r1" || k.Size != 384 {
		t.Errorf("EphemeralKeyInfo() = %+v", k)
	}
	auto, _ := ParseECDHCurve("auto")
	if auto != nil {
		t.Errorf("auto = %v, want nil (crypto/tls defaults)", auto)
	}
}

func TestCiphersRestrictNegotiation(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, func(o *ContextOptions) {
		o.Ciphers = "ECDHE-RSA-AES256-GCM-SHA384"
		o.MaxVersion = "TLSv1.2"
	})})
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ci := c.Cipher(); ci.Name != "ECDHE-RSA-AES256-GCM-SHA384" {
		t.Errorf("negotiated %+v", ci)
	}
	_, err = Connect(ClientOptions{Port: portOf(t, ts.addr), ContextOptions: ContextOptions{
		CA: [][]byte{p.ca.pem}, Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"}})
	if err == nil {
		t.Error("handshake without a common suite succeeded")
	}
}

func TestDHParam(t *testing.T) {
	mk := func(bits int) []byte {
		prime, err := rand.Prime(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(struct{ P, G *big.Int }{prime, big.NewInt(2)})
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "DH PARAMETERS", Bytes: der})
	}
	sc, err := NewSecureContext(ContextOptions{DHParam: mk(1024)})
	if err != nil {
		t.Fatal(err)
	}
	if w := sc.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1024") {
		t.Errorf("warnings %v", w)
	}
	if _, err := NewSecureContext(ContextOptions{DHParam: mk(512)}); err == nil ||
		!strings.Contains(err.Error(), "too small") {
		t.Errorf("512-bit dhparam: %v", err)
	}
	if _, err := NewSecureContext(ContextOptions{DHParam: []byte("x")}); err == nil {
		t.Error("junk dhparam accepted")
	}
}

func TestSetDefaults(t *testing.T) {
	defer func() {
		if err := SetDefaults(ProcessDefaults{}); err != nil {
			t.Fatal(err)
		}
	}()
	if err := SetDefaults(ProcessDefaults{MinVersion: "TLSv1.3",
		CipherList: "ECDHE+AESGCM", ECDHCurve: "X25519"}); err != nil {
		t.Fatal(err)
	}
	sc, err := NewSecureContext(ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.MinVersion() != tls.VersionTLS13 || len(sc.CipherSuites()) != 4 ||
		len(sc.Curves()) != 1 {
		t.Errorf("context ignored the defaults: %x %x %v", sc.MinVersion(),
			sc.CipherSuites(), sc.Curves())
	}
	for _, bad := range []ProcessDefaults{{MinVersion: "TLSv2"},
		{MinVersion: "TLSv1.3", MaxVersion: "TLSv1.2"}, {CipherList: "NOPE"},
		{ECDHCurve: "X448"}} {
		if err := SetDefaults(bad); err == nil {
			t.Errorf("SetDefaults(%+v) accepted", bad)
		}
	}
}

// TestSecureProtocolMethodsFollowNode checks the version ranges Node 20
// gives the generic methods: SSLv23 follows DEFAULT_MIN_VERSION and stops at
// TLS 1.2, TLS_method always spans TLSv1 to TLSv1.3.
func TestSecureProtocolMethodsFollowNode(t *testing.T) {
	defer func() {
		if err := SetDefaults(ProcessDefaults{}); err != nil {
			t.Fatal(err)
		}
	}()
	tests := []struct {
		defaultMin, method string
		lo, hi             uint16
		err                string
	}{
		{"TLSv1", "SSLv23_method", tls.VersionTLS10, tls.VersionTLS12, ""},
		{"TLSv1.3", "SSLv23_method", 0, 0, "allows at most TLSv1.2"},
		{"TLSv1.3", "TLS_method", tls.VersionTLS10, tls.VersionTLS13, ""},
	}
	for _, tt := range tests {
		if err := SetDefaults(ProcessDefaults{MinVersion: tt.defaultMin}); err != nil {
			t.Fatal(err)
		}
		sc, err := NewSecureContext(ContextOptions{SecureProtocol: tt.method})
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s with default min %s: err = %v, want %q",
					tt.method, tt.defaultMin, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s with default min %s: %v", tt.method, tt.defaultMin, err)
		case sc.MinVersion() != tt.lo || sc.MaxVersion() != tt.hi:
			t.Errorf("%s with default min %s: %x..%x, want %x..%x", tt.method,
				tt.defaultMin, sc.MinVersion(), sc.MaxVersion(), tt.lo, tt.hi)
		}
	}
}

func TestContextWarnings(t *testing.T) {
	ca := newTestCA(t, "warn root")
	cert, key, _ := ca.issue(t, leafOpts{cn: "no-sans",
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	sc, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
	if err != nil {
		t.Fatalf("Node loads expired certificates; so must we: %v", err)
	}
	w := strings.Join(sc.Warnings(), "\n")
	if !strings.Contains(w, "expired") || !strings.Contains(w, "no subject alternative") {
		t.Errorf("warnings %q", w)
	}
}

func TestLoadPEMFileNamesTheFile(t *testing.T) {
	p := newTestPKI(t)
	f := writeFiles(t, map[string][]byte{"cert.pem": p.ecCert, "junk.txt": []byte("hi")})
	if b, err := LoadPEMFile(f["cert.pem"]); err != nil || len(b) == 0 {
		t.Errorf("LoadPEMFile: %v", err)
	}
	for _, path := range []string{f["junk.txt"], f["cert.pem"] + ".missing"} {
		_, err := LoadPEMFile(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadPEMFile(%s) = %v, want an error naming the file", path, err)
		}
	}
}

func TestHonorCipherOrderIsAccepted(t *testing.T) {
	// crypto/tls picks by its own order whatever the flag says; the
	// option is accepted so that Node configurations load.
	for _, v := range []bool{false, true} {
		if _, err := NewSecureContext(ContextOptions{HonorCipherOrder: v,
			Ciphers: "ECDHE+AESGCM"}); err != nil {
			t.Errorf("HonorCipherOrder=%v: %v", v, err)
		}
	}
}
