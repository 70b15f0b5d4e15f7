package tlslayer

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspResponse signs a "good" OCSP response for cert with ca's key.
func ocspResponse(t testing.TB, ca *testCA, cert *x509.Certificate) []byte {
	t.Helper()
	resp, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: cert.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
	}, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServerStaplesOCSP(t *testing.T) {
	p := newTestPKI(t)
	var calls int
	ts := startServer(t, ServerOptions{
		Context: p.context(t, func(o *ContextOptions) { o.CA = [][]byte{p.ca.pem} }),
		OnOCSPRequest: func(cert, issuer *x509.Certificate) ([]byte, error) {
			calls++
			if issuer == nil || issuer.Subject.CommonName != p.ca.cert.Subject.CommonName {
				return nil, errors.New("issuer not passed")
			}
			if cert.Subject.CommonName == "refuse" {
				return nil, errors.New("responder down")
			}
			return ocspResponse(t, p.ca, cert), nil
		}})

	var got []byte
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), RequestOCSP: true,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}},
		OnOCSPResponse: func(resp []byte, _ *Conn) { got = resp }})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	r, err := ocsp.ParseResponse(got, p.ca.cert)
	if err != nil {
		t.Fatalf("stapled response: %v", err)
	}
	if r.Status != ocsp.Good || r.SerialNumber.Cmp(c.PeerCertificate(false).
		Certificate.SerialNumber) != 0 {
		t.Errorf("stapled response for serial %v status %d", r.SerialNumber, r.Status)
	}
	if calls != 1 {
		t.Errorf("OCSP callback called %d times", calls)
	}
}

func TestServerOCSPCallbackErrorFailsHandshake(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil),
		OnOCSPRequest: func(cert, issuer *x509.Certificate) ([]byte, error) {
			return nil, errors.New("responder down")
		}})
	_, err := Connect(ClientOptions{Port: portOf(t, ts.addr), RequestOCSP: true,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err == nil {
		t.Fatal("handshake succeeded")
	}
	if err := ts.waitClientError(t, 5*time.Second); err == nil {
		t.Error("not reported")
	}

	none := startServer(t, ServerOptions{Context: p.context(t, nil),
		OnOCSPRequest: func(cert, issuer *x509.Certificate) ([]byte, error) {
			return nil, nil
		}})
	got := []byte("unset")
	c, err := Connect(ClientOptions{Port: portOf(t, none.addr), RequestOCSP: true,
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}},
		OnOCSPResponse: func(resp []byte, _ *Conn) { got = resp }})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got != nil {
		t.Errorf("no response stapled, client got %q", got)
	}
}
