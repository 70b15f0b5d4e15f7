package tlslayer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestCheckServerIdentity(t *testing.T) {
	cert := func(cn string, dns []string, ips ...string) *x509.Certificate {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
		for _, ip := range ips {
			c.IPAddresses = append(c.IPAddresses, net.ParseIP(ip))
		}
		return c
	}
	tests := []struct {
		host string
		cert *x509.Certificate
		ok   bool
		why  string
	}{
		{"example.com", cert("", []string{"example.com"}), true, ""},
		{"EXAMPLE.com.", cert("", []string{"example.com"}), true, ""},
		{"www.example.com", cert("", []string{"*.example.com"}), true, ""},
		{"a.b.example.com", cert("", []string{"*.example.com"}), false, "altnames"},
		{"example.com", cert("", []string{"*.example.com"}), false, "altnames"},
		{"foo.com", cert("", []string{"*.com"}), false, "altnames"},
		{"baz.example.com", cert("", []string{"b*z.example.com"}), true, ""},
		{"xn--x.example.com", cert("", []string{"xn--*.example.com"}), false, "altnames"},
		{"localhost", cert("localhost", nil), true, ""},
		{"other", cert("localhost", nil), false, "CN"},
		{"www.example.com", cert("*.example.com", nil), false, "CN"},
		{"example.com", cert("example.com", []string{"other.com"}), false, "altnames"},
		{"example.com", cert("", nil), false, "does not contain a DNS name"},
		{"127.0.0.1", cert("", []string{"localhost"}, "127.0.0.1"), true, ""},
		{"::1", cert("", nil, "::1"), true, ""},
		{"[::1]", cert("", nil, "::1"), true, ""},
		{"127.0.0.2", cert("127.0.0.2", nil, "127.0.0.1"), false, "IP: 127.0.0.2"},
	}
	for _, tt := range tests {
		err := CheckServerIdentity(tt.host, tt.cert)
		if tt.ok {
			if err != nil {
				t.Errorf("%s vs %v/%v: %v", tt.host, tt.cert.DNSNames,
					tt.cert.Subject.CommonName, err)
			}
			continue
		}
		var verr *VerifyError
		if !errors.As(err, &verr) || verr.Code != CodeAltNameInvalid ||
			!strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s vs %v/%v: %v, want %s mentioning %q", tt.host, tt.cert.DNSNames,
				tt.cert.Subject.CommonName, err, CodeAltNameInvalid, tt.why)
		}
	}
	if err := CheckServerIdentity("x", nil); err == nil {
		t.Error("nil certificate accepted")
	}
}
