package tlslayer

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"time"
)

// OpenSSL secureOptions bits that mean something to this package. Others
// are accepted and ignored: they toggle OpenSSL bug workarounds or
// features crypto/tls does not have, and leaving them off is crypto/tls's
// fixed behaviour.
const (
	OpNoTicket                 = 0x00004000 // SSL_OP_NO_TICKET
	OpCipherServerPreference   = 0x00400000 // SSL_OP_CIPHER_SERVER_PREFERENCE
	OpNoTLSv1                  = 0x04000000 // SSL_OP_NO_TLSv1
	OpNoTLSv1_2                = 0x08000000 // SSL_OP_NO_TLSv1_2
	OpNoTLSv1_1                = 0x10000000 // SSL_OP_NO_TLSv1_1
	OpNoTLSv1_3                = 0x20000000 // SSL_OP_NO_TLSv1_3
	OpNoRenegotiation          = 0x40000000 // SSL_OP_NO_RENEGOTIATION
	OpNoSSLv2                  = 0x00000000 // SSL_OP_NO_SSLv2, a no-op since OpenSSL 1.1
	OpNoSSLv3                  = 0x02000000 // SSL_OP_NO_SSLv3
	OpAllowUnsafeRenegotiation = 0x00040000 // SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION
)

// PFX is one PKCS#12 bundle for ContextOptions.PFX.
type PFX struct {
	// Data is the DER-encoded PKCS#12 file.
	Data []byte
	// Passphrase decrypts it; empty falls back to ContextOptions.Passphrase.
	Passphrase string
}

// ContextOptions are the options of Node's tls.createSecureContext. The
// zero value is valid and means Node's defaults.
type ContextOptions struct {
	// Cert holds certificate chains in PEM, one chain per element, leaf
	// first and each certificate followed by its issuer (a chain out of
	// order is an error). Chains may be in any order relative to Key; each
	// is matched to the key for its leaf's public key. RSA, ECDSA and
	// Ed25519 chains can be mixed; a server offers each client the first
	// one it supports, ECDSA before RSA.
	Cert [][]byte
	// Key holds private keys in PEM, one per element: PKCS#1, SEC 1,
	// PKCS#8, encrypted PKCS#8, or legacy OpenSSL-encrypted PEM.
	Key [][]byte
	// Passphrase decrypts encrypted keys and PFX bundles that have no
	// passphrase of their own.
	Passphrase string
	// KeyPassphrase optionally gives Key[i] its own passphrase (Node's
	// key: [{pem, passphrase}]); an empty or missing entry falls back to
	// Passphrase.
	KeyPassphrase []string
	// PFX holds PKCS#12 bundles, each a key with its chain. They are added
	// to the chains from Cert and Key.
	PFX []PFX

	// CA holds the trusted certificates in PEM, several per element
	// allowed. When given they replace the system roots for verifying
	// peers. A self-signed peer is trusted when its certificate is here.
	CA [][]byte
	// CRL holds certificate revocation lists in PEM ("X509 CRL"). When
	// given, every peer leaf must be covered by a current CRL from its
	// issuer and not be revoked in it (Node's behaviour with crl).
	CRL [][]byte

	// Ciphers is an OpenSSL cipher-list string; see ParseCipherList.
	// Default: the process default (SetDefaults), else crypto/tls's own
	// choice of TLS 1.2 suites. TLS 1.3 suites cannot be restricted.
	Ciphers string
	// HonorCipherOrder is accepted for compatibility. crypto/tls always
	// picks among the enabled suites by its own order (AES-GCM first when
	// the CPU has AES instructions, else ChaCha20), whatever this says.
	HonorCipherOrder bool
	// ECDHCurve lists key-exchange groups, colon-separated, or "auto";
	// see ParseECDHCurve. Default: the process default, "auto".
	ECDHCurve string
	// DHParam is PEM "DH PARAMETERS". It is checked (a prime under 1024
	// bits is an error, as in Node) and otherwise unused: crypto/tls has
	// no finite-field DHE.
	DHParam []byte

	// MinVersion is the lowest protocol version allowed: "TLSv1",
	// "TLSv1.1", "TLSv1.2" or "TLSv1.3". Default: the process default,
	// TLSv1.2 unless changed with SetDefaults.
	MinVersion string
	// MaxVersion is the highest protocol version allowed. Default: the
	// process default, TLSv1.3.
	MaxVersion string
	// SecureProtocol is an OpenSSL method name. As in Node 20:
	// "TLS_method" (and _client/_server) allows TLSv1 to TLSv1.3, whatever
	// the process defaults; "SSLv23_method" (and _client/_server) allows
	// the process default minimum (TLSv1.2) to TLSv1.2, never TLSv1.3;
	// "TLSv1_method", "TLSv1_1_method", "TLSv1_2_method" pin one version.
	// SSLv2/SSLv3 methods are errors. It cannot be combined with
	// MinVersion or MaxVersion.
	SecureProtocol string
	// SecureOptions is a bit mask of OpenSSL SSL_OP_* options; see the
	// Op constants for the bits that take effect.
	SecureOptions uint64

	// SessionIDContext scopes resumption: a server only resumes sessions
	// made under the same value. Default: empty, shared by all.
	SessionIDContext string
	// ClientCertEngine names an OpenSSL engine; any value is an error,
	// since crypto/tls has no engines.
	ClientCertEngine string
}

// ErrNoEngines is wrapped by NewSecureContext when ClientCertEngine is set.
var ErrNoEngines = errors.New("crypto/tls has no OpenSSL engines")

// SecureContext is a parsed, validated ContextOptions: Node's
// SecureContext. It is immutable and safe to share between servers and
// clients.
type SecureContext struct {
	opts     ContextOptions
	certs    []tls.Certificate
	caCerts  []*x509.Certificate
	roots    *x509.CertPool // nil: system roots
	crls     []*x509.RevocationList
	suites   []uint16 // TLS 1.2 suites; nil: crypto/tls defaults
	curves   []tls.CurveID
	dhBits   int
	warnings []string

	minVersion uint16
	maxVersion uint16
}

// NewSecureContext parses and checks opts. Errors name the option, the
// element index and, for PEM input, the block that is wrong.
func NewSecureContext(opts ContextOptions) (*SecureContext, error) {
	sc := &SecureContext{opts: opts}
	if opts.ClientCertEngine != "" {
		return nil, fmt.Errorf("tlslayer: clientCertEngine %q: %w",
			opts.ClientCertEngine, ErrNoEngines)
	}

	steps := []func() error{
		sc.loadCertificates,
		sc.loadPFX,
		sc.loadCA,
		sc.loadCRL,
		sc.setVersions,
		sc.setCiphers,
		sc.setCurves,
		sc.checkDHParam,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}

	// crypto/tls offers the first chain a client supports; ECDSA first
	// gives modern clients the smaller, faster chain.
	sort.SliceStable(sc.certs, func(i, j int) bool {
		_, ri := sc.certs[i].PrivateKey.(*rsa.PrivateKey)
		_, rj := sc.certs[j].PrivateKey.(*rsa.PrivateKey)
		return !ri && rj
	})
	sc.warnings = append(sc.warnings, certificateWarnings(sc.certs, time.Now())...)
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
		what := fmt.Sprintf("cert[%d]", i)
		ch, err := ParseCertificatesPEM(pemBytes, what)
		if err != nil {
			return err
		}
		if err := checkChainOrder(ch, what); err != nil {
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
	sc.certs = append(sc.certs, certs...)
	return nil
}

func (sc *SecureContext) loadPFX() error {
	for i, p := range sc.opts.PFX {
		pass := p.Passphrase
		if pass == "" {
			pass = sc.opts.Passphrase
		}
		c, err := ParsePKCS12(p.Data, pass, fmt.Sprintf("pfx[%d]", i))
		if err != nil {
			return err
		}
		sc.certs = append(sc.certs, c)
	}
	return nil
}

func (sc *SecureContext) loadCA() error {
	if len(sc.opts.CA) == 0 {
		return nil
	}
	sc.roots = x509.NewCertPool()
	for i, pemBytes := range sc.opts.CA {
		certs, err := ParseCertificatesPEM(pemBytes, fmt.Sprintf("ca[%d]", i))
		if err != nil {
			return err
		}
		for _, c := range certs {
			sc.roots.AddCert(c)
			sc.caCerts = append(sc.caCerts, c)
		}
	}
	return nil
}

func (sc *SecureContext) loadCRL() error {
	for i, pemBytes := range sc.opts.CRL {
		crls, err := ParseCRLsPEM(pemBytes, fmt.Sprintf("crl[%d]", i))
		if err != nil {
			return err
		}
		sc.crls = append(sc.crls, crls...)
	}
	return nil
}

var methodVersions = map[string][2]uint16{
	"TLS_method":            {tls.VersionTLS10, tls.VersionTLS13},
	"TLS_client_method":     {tls.VersionTLS10, tls.VersionTLS13},
	"TLS_server_method":     {tls.VersionTLS10, tls.VersionTLS13},
	"SSLv23_method":         {0, tls.VersionTLS12},
	"SSLv23_client_method":  {0, tls.VersionTLS12},
	"SSLv23_server_method":  {0, tls.VersionTLS12},
	"TLSv1_method":          {tls.VersionTLS10, tls.VersionTLS10},
	"TLSv1_client_method":   {tls.VersionTLS10, tls.VersionTLS10},
	"TLSv1_server_method":   {tls.VersionTLS10, tls.VersionTLS10},
	"TLSv1_1_method":        {tls.VersionTLS11, tls.VersionTLS11},
	"TLSv1_1_client_method": {tls.VersionTLS11, tls.VersionTLS11},
	"TLSv1_1_server_method": {tls.VersionTLS11, tls.VersionTLS11},
	"TLSv1_2_method":        {tls.VersionTLS12, tls.VersionTLS12},
	"TLSv1_2_client_method": {tls.VersionTLS12, tls.VersionTLS12},
	"TLSv1_2_server_method": {tls.VersionTLS12, tls.VersionTLS12},
}

// ParseSecureProtocol maps an OpenSSL method name (Node's secureProtocol)
// to the range of versions it allows. The SSLv23 methods start at the
// process default minimum and stop at TLSv1.2, as Node 20 has them; when
// that minimum is TLSv1.3 they allow nothing and are an error here, where
// Node builds the context and then refuses every handshake.
func ParseSecureProtocol(method string) (lo, hi uint16, err error) {
	if v, ok := methodVersions[method]; ok {
		lo, hi = v[0], v[1]
		if lo == 0 { // Node keeps DEFAULT_MIN_VERSION for these.
			minName := Defaults().MinVersion
			if lo, err = ParseVersion(minName); err != nil {
				return 0, 0, err
			}
			if lo > hi {
				return 0, 0, fmt.Errorf("tlslayer: secureProtocol %q allows at most "+
					"TLSv1.2, below the default minVersion %s", method, minName)
			}
		}
		return lo, hi, nil
	}
	switch method {
	case "SSLv2_method", "SSLv2_client_method", "SSLv2_server_method",
		"SSLv3_method", "SSLv3_client_method", "SSLv3_server_method":
		return 0, 0, fmt.Errorf("tlslayer: secureProtocol %q: SSL is not supported "+
			"(Node: SSLv2/SSLv3 methods disabled)", method)
	}
	return 0, 0, fmt.Errorf("tlslayer: secureProtocol %q: unknown method", method)
}

func (sc *SecureContext) setVersions() error {
	o := &sc.opts
	var lo, hi uint16
	if o.SecureProtocol != "" {
		if o.MinVersion != "" || o.MaxVersion != "" {
			return errors.New("tlslayer: secureProtocol cannot be combined with " +
				"minVersion or maxVersion (Node: ERR_TLS_PROTOCOL_VERSION_CONFLICT)")
		}
		var err error
		if lo, hi, err = ParseSecureProtocol(o.SecureProtocol); err != nil {
			return err
		}
	} else {
		minName, maxName := o.MinVersion, o.MaxVersion
		d := Defaults()
		if minName == "" {
			minName = d.MinVersion
		}
		if maxName == "" {
			maxName = d.MaxVersion
		}
		var err error
		if lo, err = ParseVersion(minName); err != nil {
			return fmt.Errorf("%w (minVersion)", err)
		}
		if hi, err = ParseVersion(maxName); err != nil {
			return fmt.Errorf("%w (maxVersion)", err)
		}
		if lo > hi {
			return fmt.Errorf("tlslayer: minVersion %s is above maxVersion %s",
				minName, maxName)
		}
	}

	// SSL_OP_NO_TLSv1_x trims the range from either end, as in OpenSSL.
	off := map[uint16]bool{
		tls.VersionTLS10: o.SecureOptions&OpNoTLSv1 != 0,
		tls.VersionTLS11: o.SecureOptions&OpNoTLSv1_1 != 0,
		tls.VersionTLS12: o.SecureOptions&OpNoTLSv1_2 != 0,
		tls.VersionTLS13: o.SecureOptions&OpNoTLSv1_3 != 0,
	}
	for lo <= hi && off[lo] {
		lo++
	}
	for hi >= lo && off[hi] {
		hi--
	}
	if lo > hi {
		return errors.New("tlslayer: secureOptions disable every allowed protocol version")
	}
	sc.minVersion, sc.maxVersion = lo, hi
	return nil
}

func (sc *SecureContext) setCiphers() error {
	s := sc.opts.Ciphers
	if s == "" {
		s = Defaults().CipherList
	}
	if s == "" {
		return nil
	}
	tls12, tls13, err := parseCipherString(s)
	if err != nil {
		return err
	}
	if len(tls13) != 0 && len(tls13) != 3 {
		return fmt.Errorf("tlslayer: ciphers %q: %w", s, ErrTLS13CiphersFixed)
	}
	if len(tls12) == 0 {
		if sc.maxVersion < tls.VersionTLS13 {
			return fmt.Errorf("tlslayer: ciphers %q: no TLS 1.2 suite and "+
				"maxVersion is %s", s, VersionName(sc.maxVersion))
		}
		// Only TLS 1.3 remains possible; an empty list would mean Go's
		// defaults, so forbid the older versions instead.
		sc.minVersion = tls.VersionTLS13
	}
	sc.suites = tls12
	return nil
}

func (sc *SecureContext) setCurves() error {
	s := sc.opts.ECDHCurve
	if s == "" {
		s = Defaults().ECDHCurve
	}
	curves, err := ParseECDHCurve(s)
	if err != nil {
		return err
	}
	sc.curves = curves
	return nil
}

func (sc *SecureContext) checkDHParam() error {
	if len(sc.opts.DHParam) == 0 {
		return nil
	}
	bits, err := ParseDHParam(sc.opts.DHParam)
	if err != nil {
		return err
	}
	sc.dhBits = bits
	if bits < 2048 && bits > 0 {
		sc.warnings = append(sc.warnings, fmt.Sprintf(
			"dhparam: %d-bit prime is weak (Node warns below 2048)", bits))
	}
	return nil
}

// Options returns the options the context was made from.
func (sc *SecureContext) Options() ContextOptions { return sc.opts }

// Warnings lists problems that Node would accept but an operator should
// hear about: certificates expired or not yet valid, certificates without
// subject alternative names, weak DH parameters. Never nil-dangerous;
// empty when all is well.
func (sc *SecureContext) Warnings() []string {
	return append([]string(nil), sc.warnings...)
}

// Certificates returns the certificate chains with their keys: ECDSA and
// Ed25519 chains first, then RSA, otherwise in the order the keys were
// given. A server offers each client the first chain it supports.
func (sc *SecureContext) Certificates() []tls.Certificate {
	return append([]tls.Certificate(nil), sc.certs...)
}

// CipherSuites returns the TLS 1.2 suites in preference order, or nil for
// crypto/tls's defaults.
func (sc *SecureContext) CipherSuites() []uint16 {
	return append([]uint16(nil), sc.suites...)
}

// Curves returns the key-exchange groups, or nil for crypto/tls's defaults.
func (sc *SecureContext) Curves() []tls.CurveID {
	return append([]tls.CurveID(nil), sc.curves...)
}

// MinVersion returns the lowest allowed protocol version (crypto/tls value).
func (sc *SecureContext) MinVersion() uint16 { return sc.minVersion }

// MaxVersion returns the highest allowed protocol version (crypto/tls value).
func (sc *SecureContext) MaxVersion() uint16 { return sc.maxVersion }

// RootCAs returns the trusted CAs, or nil when the system roots are used.
func (sc *SecureContext) RootCAs() *x509.CertPool { return sc.roots }

// baseConfig returns a fresh tls.Config carrying everything the context
// decides, for a server or a client to complete. Verification is left to
// this package (see verify.go), so crypto/tls's own is off.
func (sc *SecureContext) baseConfig() *tls.Config {
	return &tls.Config{
		Certificates:           sc.Certificates(),
		MinVersion:             sc.minVersion,
		MaxVersion:             sc.maxVersion,
		CipherSuites:           sc.CipherSuites(),
		CurvePreferences:       sc.Curves(),
		SessionTicketsDisabled: sc.opts.SecureOptions&OpNoTicket != 0,
		InsecureSkipVerify:     true,
	}
}

// certificateWarnings describes problems with a context's own chains.
func certificateWarnings(certs []tls.Certificate, now time.Time) []string {
	var w []string
	for _, c := range certs {
		leaf := c.Leaf
		if leaf == nil {
			continue
		}
		name := describeCert(leaf)
		switch {
		case now.After(leaf.NotAfter):
			w = append(w, fmt.Sprintf("certificate %s expired at %s", name,
				leaf.NotAfter.UTC().Format(time.RFC3339)))
		case now.Before(leaf.NotBefore):
			w = append(w, fmt.Sprintf("certificate %s is not valid before %s", name,
				leaf.NotBefore.UTC().Format(time.RFC3339)))
		}
		if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
			w = append(w, fmt.Sprintf("certificate %s has no subject alternative "+
				"names; clients other than Node match only a SAN", name))
		}
	}
	return w
}
