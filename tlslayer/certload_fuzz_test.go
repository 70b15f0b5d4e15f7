package tlslayer

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"
)

func loaderSeeds(f *testing.F) {
	p := newTestPKI(f)
	for _, s := range [][]byte{p.ecCert, p.rsaCert, p.ecKey, p.rsaKey, p.ca.pem,
		[]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		[]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n" +
			"DEK-Info: AES-256-CBC,00000000000000000000000000000000\n\nAAAA\n" +
			"-----END RSA PRIVATE KEY-----\n"),
		[]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"),
		[]byte("garbage"), nil} {
		f.Add(s)
	}

	// An encrypted PKCS#8 key under the passphrase the fuzz targets use,
	// so that mutations reach the PBES2 decoder.
	k, err := ParsePrivateKeyPEM(p.ecKey, nil, "seed")
	if err != nil {
		f.Fatal(err)
	}
	der, err := pkcs8.MarshalPrivateKey(k, []byte("pass"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}))
}

func FuzzParseCertificatesPEM(f *testing.F) {
	loaderSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ParseCertificatesPEM(b, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tlslayer: fuzz") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
	})
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	loaderSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKeyPEM(b, []byte("pass"), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tlslayer: fuzz") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if k == nil {
			t.Fatal("no error and no key")
		}
	})
}

func FuzzNewSecureContextPEM(f *testing.F) {
	p := newTestPKI(f)
	f.Add(p.ecCert, p.ecKey)
	f.Add(p.rsaCert, p.ecKey)
	f.Add([]byte("x"), []byte("y"))
	f.Fuzz(func(t *testing.T, cert, key []byte) {
		_, err := NewSecureContext(ContextOptions{Cert: [][]byte{cert}, Key: [][]byte{key}})
		if err != nil && !strings.HasPrefix(err.Error(), "tlslayer: ") {
			t.Fatalf("error without prefix: %v", err)
		}
	})
}
