package tlslayer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Test certificates are made at run time, never committed.

// testCA is a certificate authority for tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// leafOpts describes a certificate for testCA.issue.
type leafOpts struct {
	rsa       bool // RSA 2048 instead of ECDSA P-256
	cn        string
	dns       []string
	ips       []string
	notBefore time.Time // default now-1h
	notAfter  time.Time // default now+24h
	client    bool      // client auth usage as well
	ocspURL   string
	issuerURL string
	org       []string
	ou        []string
}

var (
	rsaKeyOnce sync.Once
	rsaKeys    []*rsa.PrivateKey
	rsaKeyNext int
	rsaKeyMu   sync.Mutex
)

// testKey returns a fresh ECDSA key or an RSA key from a small pool (RSA
// generation is slow and the tests need many).
func testKey(t testing.TB, useRSA bool) crypto.Signer {
	t.Helper()
	if !useRSA {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsaKeyOnce.Do(func() {
		var wg sync.WaitGroup
		rsaKeys = make([]*rsa.PrivateKey, 6)
		for i := range rsaKeys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				rsaKeys[i] = k
			}()
		}
		wg.Wait()
	})
	rsaKeyMu.Lock()
	defer rsaKeyMu.Unlock()
	k := rsaKeys[rsaKeyNext%len(rsaKeys)]
	rsaKeyNext++
	return k
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newTestCA makes a self-signed ECDSA root named cn.
func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	k := testKey(t, false)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlslayer tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: k, pem: pemCert(der)}
}

// intermediate makes a CA signed by ca.
func (ca *testCA) intermediate(t testing.TB, cn string) *testCA {
	t.Helper()
	k := testKey(t, false)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: k, pem: pemCert(der)}
}

// issue makes a leaf certificate; certPEM holds the leaf only.
func (ca *testCA) issue(t testing.TB, o leafOpts,
) (certPEM, keyPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	k := testKey(t, o.rsa)
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	if o.cn == "" && len(o.dns) > 0 {
		o.cn = o.dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject: pkix.Name{CommonName: o.cn, Organization: o.org,
			OrganizationalUnit: o.ou, Country: []string{"US"}},
		NotBefore:   o.notBefore,
		NotAfter:    o.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    o.dns,
	}
	if o.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if o.ocspURL != "" {
		tmpl.OCSPServer = []string{o.ocspURL}
	}
	if o.issuerURL != "" {
		tmpl.IssuingCertificateURL = []string{o.issuerURL}
	}
	for _, ip := range o.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pemCert(der), pemKey(t, k), leaf
}

// testPKI is a root CA with an ECDSA and an RSA leaf for localhost.
type testPKI struct {
	ca               *testCA
	ecCert, ecKey    []byte
	rsaCert, rsaKey  []byte
	ecLeaf, rsaLeaf  *x509.Certificate
	hosts, ipStrings []string
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{ca: newTestCA(t, "tlslayer test root")}
	o := leafOpts{dns: []string{"localhost", "example.test"}, ips: []string{"127.0.0.1", "::1"}}
	p.ecCert, p.ecKey, p.ecLeaf = p.ca.issue(t, o)
	o.rsa = true
	p.rsaCert, p.rsaKey, p.rsaLeaf = p.ca.issue(t, o)
	return p
}

// context returns a SecureContext with both chains.
func (p *testPKI) context(t testing.TB, extra func(*ContextOptions)) *SecureContext {
	t.Helper()
	o := ContextOptions{
		Cert: [][]byte{p.ecCert, p.rsaCert},
		Key:  [][]byte{p.rsaKey, p.ecKey},
	}
	if extra != nil {
		extra(&o)
	}
	sc, err := NewSecureContext(o)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// rootPool returns a pool holding only the test root.
func (p *testPKI) rootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	return pool
}
