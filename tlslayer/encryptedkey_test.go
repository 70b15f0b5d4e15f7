package tlslayer

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// opensslPKCS8 encrypts keyPEM with `openssl pkcs8 -topk8` and the given
// scheme arguments.
func opensslPKCS8(t *testing.T, keyPEM []byte, pass string, scheme ...string) []byte {
	t.Helper()
	args := append([]string{"pkcs8", "-topk8", "-passout", "pass:" + pass}, scheme...)
	cmd := exec.Command(needTool(t, "openssl"), args...)
	cmd.Stdin = bytes.NewReader(keyPEM)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func TestEncryptedPKCS8SchemesOpenSSLWrites(t *testing.T) {
	p := newTestPKI(t)
	schemes := [][]string{
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA224"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA256"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA384"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512"},
		{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512-224"},
		{"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512-256"},
		{"-v2", "aes-256-cbc"},
		{"-v2", "des3"},
		{"-v2", "aes-256-cbc", "-scrypt"},
		{"-v1", "PBE-SHA1-3DES"},
		{"-v1", "PBE-SHA1-2DES"},
	}
	keys := []struct {
		name string
		pem  []byte
	}{{"EC", p.ecKey}, {"RSA", p.rsaKey}}
	for _, scheme := range schemes {
		for _, k := range keys {
			for _, pass := range []string{"secret", "pässwörd"} {
				name := strings.Join(scheme, " ") + "/" + k.name + "/" + pass
				t.Run(name, func(t *testing.T) {
					enc := opensslPKCS8(t, k.pem, pass, scheme...)
					want, err := ParsePrivateKeyPEM(k.pem, nil, "plain")
					if err != nil {
						t.Fatal(err)
					}
					got, err := ParsePrivateKeyPEM(enc, []byte(pass), "key[0]")
					if err != nil {
						t.Fatal(err)
					}
					if !keyMatches(got, want.Public()) {
						t.Fatal("decrypted key differs from the original")
					}
					_, err = ParsePrivateKeyPEM(enc, []byte(pass+"x"), "key[0]")
					if !errors.Is(err, ErrWrongPassphrase) {
						t.Errorf("wrong passphrase: err = %v, want ErrWrongPassphrase", err)
					}
				})
			}
		}
	}
}

// TestEncryptedPKCS8UnsupportedSchemesAreNamed rewrites an openssl key to
// schemes that are not supported and checks that the error names them.
func TestEncryptedPKCS8UnsupportedSchemesAreNamed(t *testing.T) {
	p := newTestPKI(t)
	enc := opensslPKCS8(t, p.ecKey, "secret", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA256")
	block, _ := pem.Decode(enc)

	// rewrite decodes the PBES2 structure, lets edit change it and encodes
	// it again.
	rewrite := func(edit func(*pbes2Params, *pbkdf2Params)) []byte {
		var info encryptedPrivateKeyInfo
		var p2 pbes2Params
		var kdf pbkdf2Params
		if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
			t.Fatal(err)
		}
		if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &p2); err != nil {
			t.Fatal(err)
		}
		if _, err := asn1.Unmarshal(p2.KDF.Parameters.FullBytes, &kdf); err != nil {
			t.Fatal(err)
		}
		edit(&p2, &kdf)
		var err error
		if p2.KDF.Parameters.FullBytes, err = asn1.Marshal(kdf); err != nil {
			t.Fatal(err)
		}
		if info.Algo.Parameters.FullBytes, err = asn1.Marshal(p2); err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
	}
	oidSM3PRF := asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401, 3, 1}

	pbes1, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algo: pkix.AlgorithmIdentifier{
			Algorithm:  asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3},
			Parameters: asn1.RawValue{FullBytes: []byte{0x30, 0}}},
		Data: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"unchanged", rewrite(func(*pbes2Params, *pbkdf2Params) {}), ""},
		{"PRF", rewrite(func(_ *pbes2Params, k *pbkdf2Params) {
			k.PRF.Algorithm = oidSM3PRF
		}), "unsupported PBES2 PRF 1.2.156.10197.1.401.3.1"},
		{"cipher", rewrite(func(p *pbes2Params, _ *pbkdf2Params) {
			p.Scheme.Algorithm = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}
		}), "unsupported PBES2 cipher DES-CBC"},
		{"PBES1", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY",
			Bytes: pbes1}), "unsupported encryption PBES1 pbeWithMD5AndDES-CBC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(tt.pem, []byte("secret"), "key[0]")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "key[0]") {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
