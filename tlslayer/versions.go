package tlslayer

import (
	"crypto/tls"
	"fmt"
)

// Protocol version names as Node.js and OpenSSL spell them.
const (
	VersionTLS10 = "TLSv1"
	VersionTLS11 = "TLSv1.1"
	VersionTLS12 = "TLSv1.2"
	VersionTLS13 = "TLSv1.3"
)

var versionByName = map[string]uint16{
	VersionTLS10: tls.VersionTLS10,
	"TLSv1.0":    tls.VersionTLS10,
	VersionTLS11: tls.VersionTLS11,
	VersionTLS12: tls.VersionTLS12,
	VersionTLS13: tls.VersionTLS13,
}

// ParseVersion maps a Node.js protocol name ("TLSv1", "TLSv1.1", "TLSv1.2",
// "TLSv1.3") to its crypto/tls constant.
func ParseVersion(name string) (uint16, error) {
	v, ok := versionByName[name]
	if !ok {
		if name == "SSLv3" || name == "SSLv2" {
			return 0, fmt.Errorf("tlslayer: protocol version %q: "+
				"not supported by crypto/tls", name)
		}
		return 0, fmt.Errorf("tlslayer: unknown protocol version %q "+
			"(want TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)", name)
	}
	return v, nil
}

// VersionName returns the Node.js name of a crypto/tls version constant,
// or "unknown".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return VersionTLS10
	case tls.VersionTLS11:
		return VersionTLS11
	case tls.VersionTLS12:
		return VersionTLS12
	case tls.VersionTLS13:
		return VersionTLS13
	}
	return "unknown"
}
