package tlslayer

import (
	"crypto/tls"
	"errors"
	"testing"
)

func TestEncryptedClientHello(t *testing.T) {
	p := newTestPKI(t) // its leaf covers example.test, used as the public name
	list, key, err := NewECHKey("example.test")
	if err != nil {
		t.Fatal(err)
	}
	secret, secretKey, _ := p.ca.issue(t, leafOpts{dns: []string{"hidden.test"}})
	hidden, err := NewSecureContext(ContextOptions{Cert: [][]byte{secret},
		Key: [][]byte{secretKey}})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})

	withKeys := startServer(t, ServerOptions{Context: p.context(t, nil),
		EncryptedClientHelloKeys: []tls.EncryptedClientHelloKey{key}})
	if err := withKeys.srv.AddContext("hidden.test", hidden); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(ClientOptions{Port: portOf(t, withKeys.addr), ServerName: "hidden.test",
		ECHConfigList: list, ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.ECHAccepted() || c.PeerCertificate(false).Subject.Get("CN") != "hidden.test" {
		t.Errorf("ECH accepted %v, certificate %v", c.ECHAccepted(),
			c.PeerCertificate(false).Subject)
	}
	if sc := nextAccepted(t, withKeys); sc.ServerName() != "hidden.test" || !sc.ECHAccepted() {
		t.Errorf("server saw SNI %q, ECH %v", sc.ServerName(), sc.ECHAccepted())
	}

	_, err = Connect(ClientOptions{Port: portOf(t, ts.addr), ServerName: "hidden.test",
		ECHConfigList: list, ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if !errors.Is(err, ErrECHRejected) {
		t.Errorf("server without ECH: %v", err)
	}
	if _, _, err := NewECHKey(""); err == nil {
		t.Error("empty public name accepted")
	}
}

func TestPostQuantumKeyExchangeByDefault(t *testing.T) {
	p := newTestPKI(t)
	ts := startServer(t, ServerOptions{Context: p.context(t, nil)})
	c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
		ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if k := c.EphemeralKeyInfo(); k.Name != "X25519MLKEM768" || k.Type != "KEM" {
		t.Errorf("default key exchange %+v, want X25519MLKEM768", k)
	}
}
