package tlslayer

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Verification error codes, in Node's vocabulary (OpenSSL's X509_V_ERR_*
// names without the prefix, and Node's own ERR_TLS_* codes).
const (
	CodeUnableToVerifyLeafSignature  = "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
	CodeUnableToGetIssuerCertLocally = "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
	CodeUnableToGetIssuerCert        = "UNABLE_TO_GET_ISSUER_CERT"
	CodeSelfSignedCertInChain        = "SELF_SIGNED_CERT_IN_CHAIN"
	CodeDepthZeroSelfSignedCert      = "DEPTH_ZERO_SELF_SIGNED_CERT"
	CodeCertHasExpired               = "CERT_HAS_EXPIRED"
	CodeCertNotYetValid              = "CERT_NOT_YET_VALID"
	CodeCertRevoked                  = "CERT_REVOKED"
	CodeUnableToGetCRL               = "UNABLE_TO_GET_CRL"
	CodeCRLHasExpired                = "CRL_HAS_EXPIRED"
	CodeCRLNotYetValid               = "CRL_NOT_YET_VALID"
	CodeInvalidCA                    = "INVALID_CA"
	CodeInvalidPurpose               = "INVALID_PURPOSE"
	CodeCertChainTooLong             = "CERT_CHAIN_TOO_LONG"
	CodeCertSignatureFailure         = "CERT_SIGNATURE_FAILURE"
	CodePermittedViolation           = "PERMITTED_VIOLATION"
	CodeCertUntrusted                = "CERT_UNTRUSTED"
	CodeAltNameInvalid               = "ERR_TLS_CERT_ALTNAME_INVALID"
)

var codeMessages = map[string]string{
	CodeUnableToVerifyLeafSignature:  "unable to verify the first certificate",
	CodeUnableToGetIssuerCertLocally: "unable to get local issuer certificate",
	CodeUnableToGetIssuerCert:        "unable to get issuer certificate",
	CodeSelfSignedCertInChain:        "self-signed certificate in certificate chain",
	CodeDepthZeroSelfSignedCert:      "self-signed certificate",
	CodeCertHasExpired:               "certificate has expired",
	CodeCertNotYetValid:              "certificate is not yet valid",
	CodeCertRevoked:                  "certificate revoked",
	CodeUnableToGetCRL:               "unable to get certificate CRL",
	CodeCRLHasExpired:                "CRL has expired",
	CodeCRLNotYetValid:               "CRL is not yet valid",
	CodeInvalidCA:                    "invalid CA certificate",
	CodeInvalidPurpose:               "unsupported certificate purpose",
	CodeCertChainTooLong:             "certificate chain too long",
	CodeCertSignatureFailure:         "certificate signature failure",
	CodePermittedViolation:           "permitted subtree violation",
	CodeCertUntrusted:                "certificate not trusted",
}

// VerifyError is why a peer is not authorized: Code is the stable Node
// code (authorizationError), Err the underlying detail.
type VerifyError struct {
	Code string
	Err  error
}

// Error formats the code, OpenSSL's text for it and the detail.
func (e *VerifyError) Error() string {
	msg := codeMessages[e.Code]
	if msg == "" {
		msg = "verification failed"
	}
	if e.Err != nil {
		return fmt.Sprintf("tlslayer: %s: %s: %v", e.Code, msg, e.Err)
	}
	return fmt.Sprintf("tlslayer: %s: %s", e.Code, msg)
}

// Unwrap returns the underlying crypto/x509 or identity error.
func (e *VerifyError) Unwrap() error { return e.Err }

// verifyChain checks a peer's certificates against the context's CAs (or
// the system roots) and CRLs, for the given usage, and returns the
// verified chain or a VerifyError.
func (sc *SecureContext) verifyChain(certs []*x509.Certificate, usage x509.ExtKeyUsage,
	now time.Time) ([]*x509.Certificate, *VerifyError) {
	if len(certs) == 0 {
		return nil, &VerifyError{Code: CodeUnableToGetIssuerCert,
			Err: errors.New("peer sent no certificate")}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots: sc.roots, // nil: the system roots

		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return nil, classify(certs, err, now)
	}
	chain := chains[0]
	if len(sc.crls) > 0 {
		if verr := sc.checkRevocation(chain, now); verr != nil {
			return chain, verr
		}
	}
	return chain, nil
}

// classify turns a crypto/x509 verification error into Node's code.
func classify(certs []*x509.Certificate, err error, now time.Time) *VerifyError {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if now.Before(inv.Cert.NotBefore) {
				return &VerifyError{Code: CodeCertNotYetValid, Err: err}
			}
			return &VerifyError{Code: CodeCertHasExpired, Err: err}
		case x509.NotAuthorizedToSign:
			return &VerifyError{Code: CodeInvalidCA, Err: err}
		case x509.IncompatibleUsage:
			return &VerifyError{Code: CodeInvalidPurpose, Err: err}
		case x509.TooManyIntermediates:
			return &VerifyError{Code: CodeCertChainTooLong, Err: err}
		case x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage:
			return &VerifyError{Code: CodePermittedViolation, Err: err}
		}
		return &VerifyError{Code: CodeCertUntrusted, Err: err}
	case errors.As(err, &unk):
		// A verification that fails on time is reported as such by
		// OpenSSL even when the issuer is unknown; check dates first.
		for _, c := range certs {
			if now.After(c.NotAfter) {
				return &VerifyError{Code: CodeCertHasExpired, Err: err}
			}
			if now.Before(c.NotBefore) {
				return &VerifyError{Code: CodeCertNotYetValid, Err: err}
			}
		}
		last := certs[len(certs)-1]
		switch {
		case len(certs) == 1 && selfSigned(last):
			return &VerifyError{Code: CodeDepthZeroSelfSignedCert, Err: err}
		case selfSigned(last):
			return &VerifyError{Code: CodeSelfSignedCertInChain, Err: err}
		case len(certs) == 1:
			return &VerifyError{Code: CodeUnableToVerifyLeafSignature, Err: err}
		}
		return &VerifyError{Code: CodeUnableToGetIssuerCertLocally, Err: err}
	}
	var sigErr x509.InsecureAlgorithmError
	if errors.As(err, &sigErr) || errors.Is(err, x509.ErrUnsupportedAlgorithm) {
		return &VerifyError{Code: CodeCertSignatureFailure, Err: err}
	}
	return &VerifyError{Code: CodeCertUntrusted, Err: err}
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// checkRevocation applies the CRLs to the leaf of a verified chain, as
// OpenSSL's X509_V_FLAG_CRL_CHECK (what Node sets for crl) does.
func (sc *SecureContext) checkRevocation(chain []*x509.Certificate, now time.Time) *VerifyError {
	leaf := chain[0]
	issuer := leaf
	if len(chain) > 1 {
		issuer = chain[1]
	}
	var found *x509.RevocationList
	for _, crl := range sc.crls {
		if bytes.Equal(crl.RawIssuer, issuer.RawSubject) &&
			crl.CheckSignatureFrom(issuer) == nil {
			found = crl
			break
		}
	}
	if found == nil {
		return &VerifyError{Code: CodeUnableToGetCRL,
			Err: fmt.Errorf("no CRL from %s", describeCert(issuer))}
	}
	if now.Before(found.ThisUpdate) {
		return &VerifyError{Code: CodeCRLNotYetValid}
	}
	if !found.NextUpdate.IsZero() && now.After(found.NextUpdate) {
		return &VerifyError{Code: CodeCRLHasExpired}
	}
	for _, r := range found.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return &VerifyError{Code: CodeCertRevoked,
				Err: fmt.Errorf("serial %X revoked at %s", leaf.SerialNumber,
					r.RevocationTime.UTC().Format(time.RFC3339))}
		}
	}
	return nil
}

// CheckServerIdentity is Node's built-in tls.checkServerIdentity: it
// reports whether cert is valid for host, returning a *VerifyError with
// Code ERR_TLS_CERT_ALTNAME_INVALID and Node's reason when it is not.
//
// An IP address matches only an IP address SAN. A name matches DNS SANs
// case-insensitively, ignoring a trailing dot; a wildcard stands for one
// whole leftmost label (or part of it, "b*z.example.com") and never for a
// top-level or IDNA label. Only when the certificate has no DNS SAN is the
// subject's common name compared, without wildcards.
func CheckServerIdentity(host string, cert *x509.Certificate) error {
	if cert == nil {
		return &VerifyError{Code: CodeAltNameInvalid,
			Err: errors.New("peer sent no certificate")}
	}
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")

	var reason string
	if ip := net.ParseIP(h); ip != nil {
		for _, c := range cert.IPAddresses {
			if c.Equal(ip) {
				return nil
			}
		}
		var ips []string
		for _, c := range cert.IPAddresses {
			ips = append(ips, c.String())
		}
		reason = fmt.Sprintf("IP: %s is not in the cert's list: %s", h,
			strings.Join(ips, ", "))
	} else {
		name := strings.ToLower(h)
		switch {
		case len(cert.DNSNames) > 0:
			for _, pat := range cert.DNSNames {
				if matchHostname(name, pat, true) {
					return nil
				}
			}
			reason = fmt.Sprintf("Host: %s. is not in the cert's altnames: %s", h,
				subjectAltName(cert))
		case cert.Subject.CommonName != "":
			if matchHostname(name, cert.Subject.CommonName, false) {
				return nil
			}
			reason = fmt.Sprintf("Host: %s. is not cert's CN: %s", h,
				cert.Subject.CommonName)
		default:
			reason = "Cert does not contain a DNS name"
		}
	}
	return &VerifyError{Code: CodeAltNameInvalid,
		Err: errors.New("Hostname/IP does not match certificate's altnames: " + reason)}
}

// matchHostname compares a lowercase host name with a certificate name.
func matchHostname(host, pattern string, wildcards bool) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	hp := strings.Split(host, ".")
	pp := strings.Split(pattern, ".")
	if len(hp) != len(pp) || host == "" {
		return false
	}
	for _, l := range hp {
		if l == "" {
			return false
		}
	}
	for i := len(pp) - 1; i > 0; i-- {
		if hp[i] != pp[i] {
			return false
		}
	}
	first := pp[0]
	if !wildcards || !strings.Contains(first, "*") {
		return hp[0] == first
	}
	if len(pp) <= 2 || strings.HasPrefix(first, "xn--") || strings.Count(first, "*") > 1 {
		return false
	}
	prefix, suffix, _ := strings.Cut(first, "*")
	return len(hp[0]) >= len(prefix)+len(suffix) &&
		strings.HasPrefix(hp[0], prefix) && strings.HasSuffix(hp[0], suffix)
}
