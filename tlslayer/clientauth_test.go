package tlslayer

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestServerClientCertificates(t *testing.T) {
	p := newTestPKI(t)
	other := newTestCA(t, "other")
	goodCert, goodKey, _ := p.ca.issue(t, leafOpts{cn: "alice", client: true})
	badCert, badKey, _ := other.issue(t, leafOpts{cn: "mallory", client: true})
	serverCtx := p.context(t, func(o *ContextOptions) { o.CA = [][]byte{p.ca.pem} })

	client := func(t *testing.T, ts *testServer, cert, key []byte) (*Conn, error) {
		o := ContextOptions{CA: [][]byte{p.ca.pem}}
		if cert != nil {
			o.Cert, o.Key = [][]byte{cert}, [][]byte{key}
		}
		return Connect(ClientOptions{Port: portOf(t, ts.addr), ContextOptions: o})
	}

	t.Run("required", func(t *testing.T) {
		ts := startServer(t, ServerOptions{Context: serverCtx, RequestCert: true})
		c, err := client(t, ts, goodCert, goodKey)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c)
		c.Close()
		sc := nextAccepted(t, ts)
		if !sc.Authorized() || sc.PeerCertificate(false).Subject.Get("CN") != "alice" {
			t.Errorf("Authorized=%v peer=%v", sc.Authorized(), sc.PeerCertificate(false))
		}
		if c.Certificate() == nil || c.Certificate().Subject.Get("CN") != "alice" {
			t.Error("client Certificate() does not show the sent certificate")
		}

		for name, cert := range map[string][2][]byte{"untrusted": {badCert, badKey},
			"missing": {nil, nil}} {
			c, err := client(t, ts, cert[0], cert[1])
			if err == nil {
				// TLS 1.3: the client learns of the rejection on first read.
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			if err == nil {
				t.Errorf("%s client certificate accepted", name)
			}
			cerr := ts.waitClientError(t, 5e9)
			var verr *VerifyError
			if !errors.As(cerr, &verr) {
				t.Errorf("%s: server error %v has no verify code", name, cerr)
			}
		}
	})

	t.Run("requested", func(t *testing.T) {
		ts := startServer(t, ServerOptions{Context: serverCtx, RequestCert: true,
			AllowUnauthorized: true})
		for _, tt := range []struct {
			cert, key []byte
			code      string
		}{
			{goodCert, goodKey, ""},
			{badCert, badKey, CodeUnableToVerifyLeafSignature},
			{nil, nil, CodeUnableToGetIssuerCert},
		} {
			c, err := client(t, ts, tt.cert, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			echo(t, c)
			c.Close()
			sc := nextAccepted(t, ts)
			if sc.Authorized() != (tt.code == "") || sc.AuthorizationError() != tt.code {
				t.Errorf("Authorized=%v code=%q, want code %q", sc.Authorized(),
					sc.AuthorizationError(), tt.code)
			}
		}
	})

	t.Run("not requested", func(t *testing.T) {
		ts := startServer(t, ServerOptions{Context: serverCtx})
		c, err := client(t, ts, goodCert, goodKey)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c)
		c.Close()
		sc := nextAccepted(t, ts)
		if sc.Authorized() || sc.PeerCertificate(false) != nil {
			t.Error("server without RequestCert saw a client certificate")
		}
	})

	t.Run("post-handshake auth", func(t *testing.T) {
		_, err := NewServer(ServerOptions{Context: serverCtx, RequestCertPostHandshake: true})
		if !errors.Is(err, ErrPostHandshakeAuth) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestServerAppliesCRLToClientCertificates(t *testing.T) {
	p := newTestPKI(t)
	cert, key, leaf := p.ca.issue(t, leafOpts{cn: "revoked-client", client: true})
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(2), ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{
			SerialNumber: leaf.SerialNumber, RevocationTime: time.Now()}},
	}, p.ca.cert, p.ca.key)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, ServerOptions{RequestCert: true, AllowUnauthorized: true,
		Context: p.context(t, func(o *ContextOptions) {
			o.CA = [][]byte{p.ca.pem}
			o.CRL = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})}
		})})
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr), ContextOptions: ContextOptions{
		CA: [][]byte{p.ca.pem}, Cert: [][]byte{cert}, Key: [][]byte{key}}})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c)
	c.Close()
	if sc := nextAccepted(t, ts); sc.AuthorizationError() != CodeCertRevoked {
		t.Errorf("revoked client certificate: %q", sc.AuthorizationError())
	}
}
