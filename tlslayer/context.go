package tlslayer

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sort"
)

// ContextOptions are the options of Node's tls.createSecureContext. The
// zero value is valid and means Node's defaults.
type ContextOptions struct {
	// Cert holds certificate chains in PEM, one chain per element, leaf
	// first. Chains may be in any order relative to Key; each is matched
	// to the key for its leaf's public key. RSA, ECDSA and Ed25519 chains
	// can be mixed; a server picks the one each client supports.
	Cert [][]byte
	// Key holds private keys in PEM, one per element: PKCS#1, SEC 1,
	// PKCS#8, encrypted PKCS#8, or legacy OpenSSL-encrypted PEM.
	Key [][]byte
	// Passphrase decrypts encrypted keys that have no entry of their own
	// in KeyPassphrase.
	Passphrase string
	// KeyPassphrase optionally gives Key[i] its own passphrase; an empty
	// or missing entry falls back to Passphrase.
	KeyPassphrase []string

	// MinVersion is the lowest protocol version allowed: "TLSv1",
	// "TLSv1.1", "TLSv1.2" or "TLSv1.3". Default: DefaultMinVersion
	// (TLSv1.2 unless changed with SetDefaults).
	MinVersion string
	// MaxVersion is the highest protocol version allowed. Default:
	// DefaultMaxVersion (TLSv1.3 unless changed with SetDefaults).
	MaxVersion string
}

// SecureContext is a parsed, validated ContextOptions: Node's
// SecureContext. It is immutable and safe to share between servers and
// clients.
type SecureContext struct {
	opts       ContextOptions
	certs      []tls.Certificate
	minVersion uint16
	maxVersion uint16
}

// NewSecureContext parses and checks opts. Errors name the option, the
// element index and, for PEM input, the block that is wrong.
func NewSecureContext(opts ContextOptions) (*SecureContext, error) {
	sc := &SecureContext{opts: opts}

	if err := sc.loadCertificates(); err != nil {
		return nil, err
	}

	if err := sc.setVersions(); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *SecureContext) loadCertificates() error {
	o := &sc.opts
	if len(o.Cert) == 0 && len(o.Key) == 0 {
		return nil
	}
	if len(o.Key) == 0 {
		return fmt.Errorf("tlslayer: cert given without key")
	}
	if len(o.Cert) == 0 {
		return fmt.Errorf("tlslayer: key given without cert")
	}

	chains := make([][]*x509.Certificate, 0, len(o.Cert))
	for i, pemBytes := range o.Cert {
		ch, err := ParseCertificatesPEM(pemBytes, fmt.Sprintf("cert[%d]", i))
		if err != nil {
			return err
		}
		chains = append(chains, ch)
	}

	keys := make([]crypto.Signer, 0, len(o.Key))
	for i, pemBytes := range o.Key {
		pass := o.Passphrase
		if i < len(o.KeyPassphrase) && o.KeyPassphrase[i] != "" {
			pass = o.KeyPassphrase[i]
		}
		k, err := ParsePrivateKeyPEM(pemBytes, []byte(pass), fmt.Sprintf("key[%d]", i))
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}

	certs, err := buildCertificates(chains, keys)
	if err != nil {
		return err
	}
	// crypto/tls offers the first chain a client supports; ECDSA first
	// gives modern clients the smaller, faster chain.
	sort.SliceStable(certs, func(i, j int) bool {
		_, ri := certs[i].PrivateKey.(*rsa.PrivateKey)
		_, rj := certs[j].PrivateKey.(*rsa.PrivateKey)
		return !ri && rj
	})
	sc.certs = append(sc.certs, certs...)
	return nil
}

func (sc *SecureContext) setVersions() error {
	minName, maxName := sc.opts.MinVersion, sc.opts.MaxVersion
	d := Defaults()
	if minName == "" {
		minName = d.MinVersion
	}
	if maxName == "" {
		maxName = d.MaxVersion
	}
	lo, err := ParseVersion(minName)
	if err != nil {
		return fmt.Errorf("%w (minVersion)", err)
	}
	hi, err := ParseVersion(maxName)
	if err != nil {
		return fmt.Errorf("%w (maxVersion)", err)
	}
	if lo > hi {
		return fmt.Errorf("tlslayer: minVersion %s is above maxVersion %s", minName, maxName)
	}
	sc.minVersion, sc.maxVersion = lo, hi
	return nil
}

// Certificates returns the certificate chains with their keys: ECDSA and
// Ed25519 chains first, then RSA, otherwise in the order the keys were
// given. A server offers each client the first chain it supports.
func (sc *SecureContext) Certificates() []tls.Certificate {
	return append([]tls.Certificate(nil), sc.certs...)
}

// MinVersion returns the lowest allowed protocol version (crypto/tls value).
func (sc *SecureContext) MinVersion() uint16 { return sc.minVersion }

// MaxVersion returns the highest allowed protocol version (crypto/tls value).
func (sc *SecureContext) MaxVersion() uint16 { return sc.maxVersion }

// baseConfig returns a fresh tls.Config carrying everything the context
// decides, for a server or a client to complete.
func (sc *SecureContext) baseConfig() *tls.Config {
	return &tls.Config{
		Certificates: sc.Certificates(),
		MinVersion:   sc.minVersion,
		MaxVersion:   sc.maxVersion,
	}
}
