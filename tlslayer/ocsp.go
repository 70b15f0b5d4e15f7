package tlslayer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
)

// extStatusRequest is the TLS extension a client sends to ask for a
// stapled OCSP response.
const extStatusRequest = 5

// chooseCertificate picks the chain crypto/tls would pick: the first one
// the client supports, else the first.
func chooseCertificate(certs []tls.Certificate, hello *tls.ClientHelloInfo,
) (*tls.Certificate, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("tlslayer: no certificate for %q", hello.ServerName)
	}
	for i := range certs {
		if hello.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// issuerOf finds the issuer of a chain's leaf: the next certificate of the
// chain, or a CA of the context.
func issuerOf(cert *tls.Certificate, cas []*x509.Certificate) *x509.Certificate {
	leaf := cert.Leaf
	if leaf == nil {
		return nil
	}
	if len(cert.Certificate) > 1 {
		if c, err := x509.ParseCertificate(cert.Certificate[1]); err == nil {
			return c
		}
	}
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, leaf.RawIssuer) && !bytes.Equal(ca.Raw, leaf.Raw) &&
			leaf.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// stapleFor returns the chain for hello, with the OCSP response from
// OnOCSPRequest stapled when the client asked for one. As in Node, an
// error from the callback fails the handshake and a nil response staples
// nothing.
func (s *Server) stapleFor(sc *SecureContext, hello *tls.ClientHelloInfo,
) (*tls.Certificate, error) {
	cert, err := chooseCertificate(sc.certs, hello)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(hello.Extensions, extStatusRequest) {
		return cert, nil
	}
	resp, err := s.opts.OnOCSPRequest(cert.Leaf, issuerOf(cert, sc.caCerts))
	if err != nil {
		return nil, fmt.Errorf("tlslayer: OCSP request callback: %w", err)
	}
	if len(resp) == 0 {
		return cert, nil
	}
	stapled := *cert
	stapled.OCSPStaple = resp
	return &stapled, nil
}
