package tlslayer

import (
	"errors"
	"strings"
	"testing"
)

func TestContextMatchesKeysToChainsInAnyOrder(t *testing.T) {
	p := newTestPKI(t)
	sc := p.context(t, nil) // certs EC,RSA; keys RSA,EC
	if n := len(sc.Certificates()); n != 2 {
		t.Fatalf("%d certificates, want 2", n)
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
			`cert[0]: PEM block 1 is "PRIVATE KEY"`, nil},
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
