package tlslayer

import (
	"crypto/tls"
	"fmt"
	"strings"
)

var curveByName = map[string]tls.CurveID{
	"p-256":              tls.CurveP256,
	"prime256v1":         tls.CurveP256,
	"secp256r1":          tls.CurveP256,
	"p-384":              tls.CurveP384,
	"secp384r1":          tls.CurveP384,
	"p-521":              tls.CurveP521,
	"secp521r1":          tls.CurveP521,
	"x25519":             tls.X25519,
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
}

// ParseECDHCurve parses Node's ecdhCurve option: "auto" (crypto/tls's
// defaults, post-quantum hybrids first) or a colon-separated list of group
// names in preference order, OpenSSL or NIST spelling, case-insensitive:
// P-256/prime256v1/secp256r1, P-384/secp384r1, P-521/secp521r1, X25519,
// X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024. "auto" gives nil.
// Groups crypto/tls lacks (X448, the ffdhe groups, brainpool) are errors.
func ParseECDHCurve(s string) ([]tls.CurveID, error) {
	if s == "" || strings.EqualFold(s, "auto") {
		return nil, nil
	}
	var out []tls.CurveID
	seen := map[tls.CurveID]bool{}
	for _, name := range strings.Split(s, ":") {
		n := strings.ToLower(strings.TrimSpace(name))
		if n == "auto" {
			return nil, fmt.Errorf("tlslayer: ecdhCurve %q: auto cannot be combined "+
				"with other curves", s)
		}
		id, ok := curveByName[n]
		if !ok {
			if strings.HasPrefix(n, "ffdhe") {
				return nil, fmt.Errorf("tlslayer: ecdhCurve %q: %s is a finite-field "+
					"group; crypto/tls has no DHE", s, name)
			}
			return nil, fmt.Errorf("tlslayer: ecdhCurve %q: unknown or unsupported "+
				"curve %q", s, name)
		}
		if !seen[id] {
			out = append(out, id)
			seen[id] = true
		}
	}
	return out, nil
}

// curveInfo returns Node's getEphemeralKeyInfo() view of a group.
func curveInfo(id tls.CurveID) EphemeralKeyInfo {
	switch id {
	case tls.X25519:
		return EphemeralKeyInfo{Type: "ECDH", Name: "X25519", Size: 253}
	case tls.CurveP256:
		return EphemeralKeyInfo{Type: "ECDH", Name: "prime256v1", Size: 256}
	case tls.CurveP384:
		return EphemeralKeyInfo{Type: "ECDH", Name: "secp384r1", Size: 384}
	case tls.CurveP521:
		return EphemeralKeyInfo{Type: "ECDH", Name: "secp521r1", Size: 521}
	case tls.X25519MLKEM768:
		return EphemeralKeyInfo{Type: "KEM", Name: "X25519MLKEM768", Size: 253}
	case tls.SecP256r1MLKEM768:
		return EphemeralKeyInfo{Type: "KEM", Name: "SecP256r1MLKEM768", Size: 256}
	case tls.SecP384r1MLKEM1024:
		return EphemeralKeyInfo{Type: "KEM", Name: "SecP384r1MLKEM1024", Size: 384}
	}
	return EphemeralKeyInfo{}
}

// EphemeralKeyInfo is Node's getEphemeralKeyInfo() result: the key
// exchange of the connection. Size is the group's strength in bits, as
// OpenSSL counts it (253 for X25519); for the post-quantum hybrids it is
// that of the classical half. Zero on the server side, as in Node.
type EphemeralKeyInfo struct {
	Type string // "ECDH", or "KEM" for hybrid post-quantum groups
	Name string // "X25519", "prime256v1", "X25519MLKEM768", ...
	Size int
}
