package tlslayer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// ErrWrongPassphrase is wrapped by errors from key and PKCS#12 loaders when
// the passphrase does not decrypt the data.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// ErrKeyMismatch is wrapped by NewSecureContext when a private key matches
// none of the certificate chains, or a chain matches none of the keys.
var ErrKeyMismatch = errors.New("key does not match certificate")

// LoadPEMFile reads a PEM file for one of the []byte fields of
// ContextOptions. It exists so that errors name the file; the bytes are
// returned as they are.
func LoadPEMFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: read %s: %w", path, err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("tlslayer: %s: no PEM block found", path)
	}
	return b, nil
}

// ParseCertificatesPEM decodes every CERTIFICATE block in data, in order.
// what names the input in errors (for example "cert[1]" or a file name).
// Private keys and EC parameters are skipped, so that one file holding a
// certificate and its key can be given as both cert and key, as Node allows.
// Blocks of any other type, undecodable certificates and input without a
// single certificate are errors.
func ParseCertificatesPEM(data []byte, what string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE", block.Type == "TRUSTED CERTIFICATE":
		case isKeyBlock(block.Type), block.Type == "EC PARAMETERS":
			continue
		default:
			return nil, fmt.Errorf("tlslayer: %s: PEM block %d is %q, "+
				"want CERTIFICATE", what, n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlslayer: %s: PEM block %d: %w", what, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tlslayer: %s: no PEM CERTIFICATE block found", what)
	}
	if len(bytes.TrimSpace(rest)) != 0 && bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("tlslayer: %s: malformed PEM after block %d",
			what, len(certs))
	}
	return certs, nil
}

// ParsePrivateKeyPEM decodes the private key in data: PKCS#1
// ("RSA PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY"), PKCS#8 ("PRIVATE KEY"),
// encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") and legacy OpenSSL PEM
// encryption (Proc-Type: 4,ENCRYPTED). Certificates and EC parameters are
// skipped, so a file holding a certificate and its key can be given as both
// cert and key; input with no key or several keys is an error. passphrase
// decrypts encrypted keys; what names the input in errors. A wrong
// passphrase wraps ErrWrongPassphrase.
func ParsePrivateKeyPEM(data []byte, passphrase []byte, what string) (crypto.Signer, error) {
	var key *pem.Block
	keyN, blocks := 0, 0
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		switch block.Type {
		case "EC PARAMETERS", "CERTIFICATE", "TRUSTED CERTIFICATE":
			continue
		}
		if !isKeyBlock(block.Type) {
			return nil, fmt.Errorf("tlslayer: %s: PEM block %d is %q, want a private key",
				what, n, block.Type)
		}
		if key != nil {
			return nil, fmt.Errorf("tlslayer: %s: PEM blocks %d (%s) and %d (%s) are "+
				"both keys; give one key per entry", what, keyN, key.Type, n, block.Type)
		}
		key, keyN = block, n
	}
	if blocks == 0 {
		return nil, fmt.Errorf("tlslayer: %s: no PEM block found", what)
	}
	if key == nil {
		return nil, fmt.Errorf("tlslayer: %s: no PEM private key block found", what)
	}

	k, err := decodeKeyBlock(key, passphrase)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: %s: PEM block %d (%s): %w",
			what, keyN, key.Type, err)
	}
	return k, nil
}

// isKeyBlock reports whether a PEM block type names a private key.
func isKeyBlock(typ string) bool {
	return strings.HasSuffix(typ, "PRIVATE KEY")
}

func decodeKeyBlock(block *pem.Block, passphrase []byte) (crypto.Signer, error) {
	der := block.Bytes

	//lint:ignore SA1019 legacy PEM encryption is what Node and OpenSSL accept.
	if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
		if len(passphrase) == 0 {
			return nil, errors.New("key is encrypted and no passphrase was given")
		}
		var err error
		der, err = x509.DecryptPEMBlock(block, passphrase) //nolint:staticcheck
		if err != nil {
			if errors.Is(err, x509.IncorrectPasswordError) {
				return nil, ErrWrongPassphrase
			}
			return nil, err
		}
	}

	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(der)
	case "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, errors.New("key is encrypted and no passphrase was given")
		}
		key, err = decryptPKCS8(der, passphrase)
	default:
		return nil, fmt.Errorf("unsupported PEM type %q, want a private key", block.Type)
	}
	if err != nil {
		if block.Headers["Proc-Type"] != "" {
			// A wrong passphrase often shows only as garbage after decryption.
			return nil, fmt.Errorf("%w (%v)", ErrWrongPassphrase, err)
		}
		return nil, err
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	switch s.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return s, nil
}

// keyMatches reports whether priv is the private half of pub.
func keyMatches(priv crypto.Signer, pub crypto.PublicKey) bool {
	eq, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}

// buildCertificates pairs each key with the chain whose leaf it signs for.
// Chains and keys may come in any order; every key and every chain must find
// its partner.
func buildCertificates(chains [][]*x509.Certificate, keys []crypto.Signer,
) ([]tls.Certificate, error) {
	used := make([]bool, len(chains))
	out := make([]tls.Certificate, 0, len(keys))
	for ki, k := range keys {
		found := -1
		for ci, ch := range chains {
			if !used[ci] && keyMatches(k, ch[0].PublicKey) {
				found = ci
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("tlslayer: key[%d] (%s): %w in cert (none of %d chains)",
				ki, keyType(k), ErrKeyMismatch, len(chains))
		}
		used[found] = true
		ch := chains[found]
		c := tls.Certificate{PrivateKey: k, Leaf: ch[0]}
		for _, x := range ch {
			c.Certificate = append(c.Certificate, x.Raw)
		}
		out = append(out, c)
	}
	for ci, u := range used {
		if !u {
			return nil, fmt.Errorf("tlslayer: cert[%d] (%s): no matching key: %w",
				ci, describeCert(chains[ci][0]), ErrKeyMismatch)
		}
	}
	return out, nil
}

func keyType(k crypto.Signer) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

func describeCert(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return "DNS:" + c.DNSNames[0]
	}
	return "serial " + c.SerialNumber.String()
}

// checkChainOrder requires each certificate of a chain to be issued by the
// one after it, which is the order TLS sends them in.
func checkChainOrder(chain []*x509.Certificate, what string) error {
	for i := 0; i+1 < len(chain); i++ {
		child, parent := chain[i], chain[i+1]
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) ||
			child.CheckSignatureFrom(parent) != nil {
			return fmt.Errorf("tlslayer: %s: chain out of order: certificate %d (%s) "+
				"is not issued by certificate %d (%s); put the leaf first, then "+
				"each issuer", what, i+1, describeCert(child), i+2, describeCert(parent))
		}
	}
	return nil
}

// ParsePKCS12 decodes a PKCS#12 (PFX) bundle into a certificate chain with
// its key. The CA certificates in the bundle are ordered from the leaf's
// issuer upwards. A wrong passphrase wraps ErrWrongPassphrase.
func ParsePKCS12(data []byte, passphrase, what string) (tls.Certificate, error) {
	if err := checkPFXShape(data); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlslayer: %s: not a PKCS#12 file (%v)", what, err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, passphrase)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return tls.Certificate{}, fmt.Errorf("tlslayer: %s: %w", what, ErrWrongPassphrase)
		}
		return tls.Certificate{}, fmt.Errorf("tlslayer: %s: %w", what, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !keyMatches(signer, leaf.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("tlslayer: %s: %w", what, ErrKeyMismatch)
	}

	chain := []*x509.Certificate{leaf}
	used := make([]bool, len(cas))
	for {
		cur := chain[len(chain)-1]
		next := -1
		for i, ca := range cas {
			if !used[i] && bytes.Equal(cur.RawIssuer, ca.RawSubject) &&
				!bytes.Equal(cur.Raw, ca.Raw) {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		chain = append(chain, cas[next])
	}

	c := tls.Certificate{PrivateKey: signer, Leaf: leaf}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// checkPFXShape checks the outer PFX structure of RFC 7292 (version 3,
// authSafe, optional macData) so that other input gets a short cause rather
// than the decoder's ASN.1 internals.
func checkPFXShape(data []byte) error {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return errors.New("empty")
	case bytes.Contains(data, []byte("-----BEGIN ")):
		return errors.New("PEM text; PKCS#12 is binary DER")
	}
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(data, &raw); err != nil {
		return errors.New("not DER-encoded ASN.1")
	}
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(data, &pfx)
	switch {
	case err != nil:
		return errors.New("DER, but not a PFX structure")
	case len(rest) != 0:
		return fmt.Errorf("%d bytes after the PFX structure", len(rest))
	case pfx.Version != 3:
		return fmt.Errorf("PFX version %d, want 3", pfx.Version)
	}
	return nil
}

// ParseCRLsPEM decodes every "X509 CRL" block in data.
func ParseCRLsPEM(data []byte, what string) ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("tlslayer: %s: PEM block %d is %q, want X509 CRL",
				what, n, block.Type)
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlslayer: %s: PEM block %d: %w", what, n, err)
		}
		out = append(out, crl)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tlslayer: %s: no PEM X509 CRL block found", what)
	}
	return out, nil
}
