package tlslayer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"
)

// DN is a distinguished name as Node shapes it: short attribute names (C,
// ST, L, O, OU, CN, emailAddress, DC, ...) to their values, a list when an
// attribute repeats, in the certificate's order.
type DN map[string][]string

// Get returns the first value of attribute name, or "".
func (d DN) Get(name string) string {
	if v := d[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// PeerCertificate is a certificate in the shape of Node's
// getPeerCertificate() result. The JSON-ish field names of Node are given
// on each field.
type PeerCertificate struct {
	Subject        DN                  // subject
	Issuer         DN                  // issuer
	SubjectAltName string              // subjectaltname: "DNS:a, IP Address:1.2.3.4"
	InfoAccess     map[string][]string // infoAccess: "OCSP - URI", "CA Issuers - URI"
	CA             bool                // ca
	Modulus        string              // modulus: RSA only, uppercase hex
	Exponent       string              // exponent: RSA only, "0x10001"
	Bits           int                 // bits: key size
	ASN1Curve      string              // asn1Curve: EC only, "prime256v1"
	NISTCurve      string              // nistCurve: EC only, "P-256"
	PubKey         []byte              // pubkey: RSA SubjectPublicKeyInfo, EC point
	ValidFrom      string              // valid_from: "Mar  4 10:00:00 2025 GMT"
	ValidTo        string              // valid_to
	Fingerprint    string              // fingerprint: SHA-1, "AB:CD:..."
	Fingerprint256 string              // fingerprint256
	Fingerprint512 string              // fingerprint512
	ExtKeyUsage    []string            // ext_key_usage: OIDs
	SerialNumber   string              // serialNumber: uppercase hex
	Raw            []byte              // raw: DER

	// IssuerCertificate is the issuer's certificate when the chain was
	// asked for (getPeerCertificate(true)); nil at the end of the chain.
	// Unlike Node, a self-signed root does not point at itself.
	IssuerCertificate *PeerCertificate

	// NotBefore, NotAfter and Certificate are Go additions: the dates as
	// time.Time and the parsed certificate.
	NotBefore, NotAfter time.Time
	Certificate         *x509.Certificate
}

// NewPeerCertificate shapes cert as Node does. chain, when not empty,
// holds cert's issuers in order and fills IssuerCertificate.
func NewPeerCertificate(cert *x509.Certificate, chain ...*x509.Certificate) *PeerCertificate {
	if cert == nil {
		return nil
	}
	p := &PeerCertificate{
		Subject:        dnOf(cert.Subject.Names),
		Issuer:         dnOf(cert.Issuer.Names),
		SubjectAltName: subjectAltName(cert),
		CA:             cert.BasicConstraintsValid && cert.IsCA,
		ValidFrom:      opensslTime(cert.NotBefore),
		ValidTo:        opensslTime(cert.NotAfter),
		Fingerprint:    colonHex(sha1Sum(cert.Raw)),
		SerialNumber:   upperHex(cert.SerialNumber.Bytes()),
		Raw:            cert.Raw,
		NotBefore:      cert.NotBefore,
		NotAfter:       cert.NotAfter,
		Certificate:    cert,
	}
	s256 := sha256.Sum256(cert.Raw)
	s512 := sha512.Sum512(cert.Raw)
	p.Fingerprint256 = colonHex(s256[:])
	p.Fingerprint512 = colonHex(s512[:])

	if len(cert.OCSPServer)+len(cert.IssuingCertificateURL) > 0 {
		p.InfoAccess = map[string][]string{}
		for _, u := range cert.OCSPServer {
			p.InfoAccess["OCSP - URI"] = append(p.InfoAccess["OCSP - URI"], u)
		}
		for _, u := range cert.IssuingCertificateURL {
			p.InfoAccess["CA Issuers - URI"] = append(p.InfoAccess["CA Issuers - URI"], u)
		}
	}
	p.ExtKeyUsage = extKeyUsageOIDs(cert)

	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		p.Modulus = upperHex(k.N.Bytes())
		p.Exponent = fmt.Sprintf("0x%x", k.E)
		p.Bits = k.N.BitLen()
		p.PubKey = cert.RawSubjectPublicKeyInfo
	case *ecdsa.PublicKey:
		p.Bits = k.Curve.Params().BitSize
		p.NISTCurve = k.Curve.Params().Name
		p.ASN1Curve = map[elliptic.Curve]string{
			elliptic.P256(): "prime256v1", elliptic.P384(): "secp384r1",
			elliptic.P521(): "secp521r1"}[k.Curve]
		if b, err := k.Bytes(); err == nil {
			p.PubKey = b
		}
	case ed25519.PublicKey:
		p.Bits = 256
		p.PubKey = cert.RawSubjectPublicKeyInfo
	}

	if len(chain) > 0 && !selfSigned(cert) {
		p.IssuerCertificate = NewPeerCertificate(chain[0], chain[1:]...)
	}
	return p
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// upperHex prints big-endian bytes as OpenSSL's BN_bn2hex does: two
// uppercase digits per byte, "00" for zero.
func upperHex(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// opensslTime formats t as OpenSSL's ASN1_TIME_print does.
func opensslTime(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

var dnShortNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.46":                   "dnQualifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

func dnOf(names []pkix.AttributeTypeAndValue) DN {
	d := DN{}
	for _, n := range names {
		key := dnShortNames[n.Type.String()]
		if key == "" {
			key = n.Type.String()
		}
		d[key] = append(d[key], fmt.Sprint(n.Value))
	}
	return d
}

// subjectAltName formats the SANs as Node's subjectaltname.
func subjectAltName(c *x509.Certificate) string {
	var parts []string
	for _, n := range c.DNSNames {
		parts = append(parts, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		parts = append(parts, "IP Address:"+opensslIP(ip))
	}
	for _, e := range c.EmailAddresses {
		parts = append(parts, "email:"+e)
	}
	for _, u := range c.URIs {
		parts = append(parts, "URI:"+u.String())
	}
	return strings.Join(parts, ", ")
}

// opensslIP prints an IP address as OpenSSL (and so Node) does: IPv6 as
// eight uncompressed groups in uppercase hex, "0:0:0:0:0:0:0:1".
func opensslIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil || len(ip) != net.IPv6len {
		return ip.String()
	}
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = fmt.Sprintf("%X", uint16(ip[2*i])<<8|uint16(ip[2*i+1]))
	}
	return strings.Join(groups, ":")
}

var extKeyUsageOID = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "2.5.29.37.0",
	x509.ExtKeyUsageServerAuth:      "1.3.6.1.5.5.7.3.1",
	x509.ExtKeyUsageClientAuth:      "1.3.6.1.5.5.7.3.2",
	x509.ExtKeyUsageCodeSigning:     "1.3.6.1.5.5.7.3.3",
	x509.ExtKeyUsageEmailProtection: "1.3.6.1.5.5.7.3.4",
	x509.ExtKeyUsageIPSECEndSystem:  "1.3.6.1.5.5.7.3.5",
	x509.ExtKeyUsageIPSECTunnel:     "1.3.6.1.5.5.7.3.6",
	x509.ExtKeyUsageIPSECUser:       "1.3.6.1.5.5.7.3.7",
	x509.ExtKeyUsageTimeStamping:    "1.3.6.1.5.5.7.3.8",
	x509.ExtKeyUsageOCSPSigning:     "1.3.6.1.5.5.7.3.9",
}

func extKeyUsageOIDs(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.ExtKeyUsage {
		if o, ok := extKeyUsageOID[u]; ok {
			out = append(out, o)
		}
	}
	for _, o := range c.UnknownExtKeyUsage {
		out = append(out, asn1.ObjectIdentifier(o).String())
	}
	return out
}
