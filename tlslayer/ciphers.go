package tlslayer

import (
	"crypto/tls"
	"sort"
	"strings"
)

// CipherInfo describes a negotiated cipher suite the way Node's
// getCipher() does.
type CipherInfo struct {
	// Name is the OpenSSL name, for example "ECDHE-RSA-AES128-GCM-SHA256"
	// or "TLS_AES_128_GCM_SHA256".
	Name string
	// StandardName is the IANA name, for example
	// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".
	StandardName string
	// Version is the oldest protocol version that defines the suite, as
	// OpenSSL reports it: "SSLv3", "TLSv1.0", "TLSv1.2" or "TLSv1.3".
	Version string
}

// Attribute bits of a suite, after OpenSSL's cipher-string vocabulary.
const (
	kxRSA = 1 << iota
	kxECDHE
	kxAny // TLS 1.3: key exchange is not part of the suite
)

const (
	auRSA = 1 << iota
	auECDSA
	auAny
)

const (
	encAES128 = 1 << iota
	encAES256
	encAES128GCM
	encAES256GCM
	encCHACHA20
)

const (
	macSHA1 = 1 << iota
	macSHA256
	macSHA384
	macAEAD
)

// levelHigh is OpenSSL's HIGH strength class, the only one left among
// the suites crypto/tls and OpenSSL 3 share.
const levelHigh = 1

// suite is one cipher suite that crypto/tls implements, with the
// attributes the OpenSSL cipher-string language selects on.
type suite struct {
	id       uint16
	name     string // OpenSSL
	std      string // IANA
	minVer   string // as SSL_CIPHER_get_version reports it
	kx, au   int
	enc, mac int
	bits     int
	level    int
	tls12    bool // needs TLS 1.2 (SHA-2 MAC or AEAD)
}

// suites lists every TLS 1.2 suite crypto/tls implements and OpenSSL 3
// still offers, in OpenSSL's default preference order (the order
// `openssl ciphers ALL` prints them), followed by the TLS 1.3 suites. The
// cipher-string parser starts from this order. RC4 and 3DES suites are left
// out: OpenSSL 3, and so Node.js, no longer offers them.
var suites = []suite{
	{0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLSv1.2",
		kxECDHE, auECDSA, encAES256GCM, macAEAD, 256, levelHigh, true},
	{0xc030, "ECDHE-RSA-AES256-GCM-SHA384",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLSv1.2",
		kxECDHE, auRSA, encAES256GCM, macAEAD, 256, levelHigh, true},
	{0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLSv1.2",
		kxECDHE, auECDSA, encCHACHA20, macAEAD, 256, levelHigh, true},
	{0xcca8, "ECDHE-RSA-CHACHA20-POLY1305",
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLSv1.2",
		kxECDHE, auRSA, encCHACHA20, macAEAD, 256, levelHigh, true},
	{0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLSv1.2",
		kxECDHE, auECDSA, encAES128GCM, macAEAD, 128, levelHigh, true},
	{0xc02f, "ECDHE-RSA-AES128-GCM-SHA256",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLSv1.2",
		kxECDHE, auRSA, encAES128GCM, macAEAD, 128, levelHigh, true},
	{0xc023, "ECDHE-ECDSA-AES128-SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLSv1.2",
		kxECDHE, auECDSA, encAES128, macSHA256, 128, levelHigh, true},
	{0xc027, "ECDHE-RSA-AES128-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLSv1.2",
		kxECDHE, auRSA, encAES128, macSHA256, 128, levelHigh, true},
	{0xc00a, "ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLSv1.0",
		kxECDHE, auECDSA, encAES256, macSHA1, 256, levelHigh, false},
	{0xc014, "ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLSv1.0",
		kxECDHE, auRSA, encAES256, macSHA1, 256, levelHigh, false},
	{0xc009, "ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLSv1.0",
		kxECDHE, auECDSA, encAES128, macSHA1, 128, levelHigh, false},
	{0xc013, "ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLSv1.0",
		kxECDHE, auRSA, encAES128, macSHA1, 128, levelHigh, false},
	{0x009d, "AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLSv1.2",
		kxRSA, auRSA, encAES256GCM, macAEAD, 256, levelHigh, true},
	{0x009c, "AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLSv1.2",
		kxRSA, auRSA, encAES128GCM, macAEAD, 128, levelHigh, true},
	{0x003c, "AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLSv1.2",
		kxRSA, auRSA, encAES128, macSHA256, 128, levelHigh, true},
	{0x0035, "AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "SSLv3",
		kxRSA, auRSA, encAES256, macSHA1, 256, levelHigh, false},
	{0x002f, "AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", "SSLv3",
		kxRSA, auRSA, encAES128, macSHA1, 128, levelHigh, false},

	{0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "TLSv1.3",
		kxAny, auAny, encAES256GCM, macAEAD, 256, levelHigh, true},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLSv1.3",
		kxAny, auAny, encCHACHA20, macAEAD, 256, levelHigh, true},
	{0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "TLSv1.3",
		kxAny, auAny, encAES128GCM, macAEAD, 128, levelHigh, true},
}

// numTLS12Suites is the number of TLS 1.2 entries at the head of suites.
const numTLS12Suites = 17

var suiteByID = func() map[uint16]*suite {
	m := make(map[uint16]*suite, len(suites))
	for i := range suites {
		m[suites[i].id] = &suites[i]
	}
	return m
}()

var suiteByName = func() map[string]*suite {
	m := make(map[string]*suite, 2*len(suites))
	for i := range suites {
		m[suites[i].name] = &suites[i]
		m[suites[i].std] = &suites[i]
	}
	return m
}()

// cipherInfo describes id; unknown ids get crypto/tls's name.
func cipherInfo(id uint16) CipherInfo {
	if s, ok := suiteByID[id]; ok {
		return CipherInfo{Name: s.name, StandardName: s.std, Version: s.minVer}
	}
	n := tls.CipherSuiteName(id)
	return CipherInfo{Name: n, StandardName: n, Version: "unknown"}
}

// CipherSuiteInfo returns the OpenSSL name, IANA name and protocol version
// of a crypto/tls cipher suite id, as Conn.Cipher reports them.
func CipherSuiteInfo(id uint16) CipherInfo { return cipherInfo(id) }

// CipherSuiteName returns the OpenSSL name of a crypto/tls cipher suite id,
// or crypto/tls's own name for ids this package does not know.
func CipherSuiteName(id uint16) string { return cipherInfo(id).Name }

// CipherSuiteNames returns the OpenSSL names of ids, in order.
func CipherSuiteNames(ids []uint16) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = CipherSuiteName(id)
	}
	return out
}

// GetCiphers returns the names of the supported cipher suites, lowercase
// and sorted, as Node's tls.getCiphers() does: every suite that both
// crypto/tls and OpenSSL 3 implement, TLS 1.3 ones included.
func GetCiphers() []string {
	out := make([]string, 0, len(suites))
	for _, s := range suites {
		out = append(out, strings.ToLower(s.name))
	}
	sort.Strings(out)
	return out
}
