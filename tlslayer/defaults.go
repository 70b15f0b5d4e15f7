package tlslayer

import (
	"fmt"
	"sync"
)

// Module-level defaults as Node.js names them.
const (
	// DefaultECDHCurve is Node's tls.DEFAULT_ECDH_CURVE.
	DefaultECDHCurve = "auto"
	// DefaultMinVersion is Node's tls.DEFAULT_MIN_VERSION before any
	// SetDefaults call.
	DefaultMinVersion = VersionTLS12
	// DefaultMaxVersion is Node's tls.DEFAULT_MAX_VERSION before any
	// SetDefaults call.
	DefaultMaxVersion = VersionTLS13
)

// ProcessDefaults are the process-wide defaults that contexts use for
// options left empty: Node's tls.DEFAULT_* values and the --tls-cipher-list,
// --tls-min-v1.x and --tls-max-v1.x switches.
type ProcessDefaults struct {
	// MinVersion, default "TLSv1.2".
	MinVersion string
	// MaxVersion, default "TLSv1.3".
	MaxVersion string
	// CipherList is an OpenSSL cipher string; empty means crypto/tls's
	// own default TLS 1.2 suites.
	CipherList string
	// ECDHCurve, default "auto".
	ECDHCurve string
}

var (
	defaultsMu sync.RWMutex
	defaults   = ProcessDefaults{
		MinVersion: DefaultMinVersion,
		MaxVersion: DefaultMaxVersion,
		ECDHCurve:  DefaultECDHCurve,
	}
)

// Defaults returns the current process-wide defaults.
func Defaults() ProcessDefaults {
	defaultsMu.RLock()
	defer defaultsMu.RUnlock()
	return defaults
}

// SetDefaults replaces the process-wide defaults after checking them.
// Empty fields restore the built-in value. Contexts made earlier keep the
// values they were made with.
func SetDefaults(d ProcessDefaults) error {
	if d.MinVersion == "" {
		d.MinVersion = DefaultMinVersion
	}
	if d.MaxVersion == "" {
		d.MaxVersion = DefaultMaxVersion
	}
	if d.ECDHCurve == "" {
		d.ECDHCurve = DefaultECDHCurve
	}
	lo, err := ParseVersion(d.MinVersion)
	if err != nil {
		return fmt.Errorf("%w (default minVersion)", err)
	}
	hi, err := ParseVersion(d.MaxVersion)
	if err != nil {
		return fmt.Errorf("%w (default maxVersion)", err)
	}
	if lo > hi {
		return fmt.Errorf("tlslayer: default minVersion %s is above maxVersion %s",
			d.MinVersion, d.MaxVersion)
	}

	if d.CipherList != "" {
		if _, err := ParseCipherList(d.CipherList); err != nil {
			return fmt.Errorf("%w (default cipher list)", err)
		}
	}
	if _, err := ParseECDHCurve(d.ECDHCurve); err != nil {
		return fmt.Errorf("%w (default ecdhCurve)", err)
	}

	defaultsMu.Lock()
	defaults = d
	defaultsMu.Unlock()
	return nil
}
