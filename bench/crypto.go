package main

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Single-core crypto limits: what one core can seal, open and sign, in Go
// (crypto/tls's own primitives) and in OpenSSL (nginx's and HAProxy's). They
// bound the bulk and handshake rows from above.

// cryptoRecord is the TLS record size the AEAD rows use.
const cryptoRecord = 16 << 10

// limit is one measured reference limit.
type limit struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// cryptoCase is one Go primitive to time: its row name, its unit, and a
// function that turns a benchmark result into that unit.
type cryptoCase struct {
	name  string
	unit  string
	bench func(b *testing.B)
	value func(r testing.BenchmarkResult) float64
}

func gbits(r testing.BenchmarkResult) float64 {
	return float64(r.Bytes) * float64(r.N) * 8 / r.T.Seconds() / 1e9
}

func perSecond(r testing.BenchmarkResult) float64 { return float64(r.N) / r.T.Seconds() }

func goCryptoCases() []cryptoCase {
	return []cryptoCase{
		{"crypto-aes128gcm-seal-16k", "Gbit/s", benchAEADSeal(newAESGCM), gbits},
		{"crypto-aes128gcm-open-16k", "Gbit/s", benchAEADOpen(newAESGCM), gbits},
		{"crypto-chacha20poly1305-seal-16k", "Gbit/s", benchAEADSeal(chacha20poly1305.New), gbits},
		{"crypto-chacha20poly1305-open-16k", "Gbit/s", benchAEADOpen(chacha20poly1305.New), gbits},
		{"crypto-ecdsa-p256-sign", "op/s", benchECDSASign, perSecond},
		{"crypto-ecdsa-p256-verify", "op/s", benchECDSAVerify, perSecond},
		{"crypto-x25519-keygen+shared", "op/s", benchX25519, perSecond},
	}
}

func newAESGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func benchAEADSeal(mk func([]byte) (cipher.AEAD, error)) func(*testing.B) {
	return func(b *testing.B) {
		aead, err := mk(make([]byte, 32))
		if err != nil {
			b.Fatal(err)
		}
		nonce := make([]byte, aead.NonceSize())
		plain := make([]byte, cryptoRecord)
		out := make([]byte, 0, cryptoRecord+aead.Overhead())
		ad := make([]byte, 13)
		b.SetBytes(cryptoRecord)
		for b.Loop() {
			out = aead.Seal(out[:0], nonce, plain, ad)
		}
	}
}

func benchAEADOpen(mk func([]byte) (cipher.AEAD, error)) func(*testing.B) {
	return func(b *testing.B) {
		aead, err := mk(make([]byte, 32))
		if err != nil {
			b.Fatal(err)
		}
		nonce := make([]byte, aead.NonceSize())
		ad := make([]byte, 13)
		sealed := aead.Seal(nil, nonce, make([]byte, cryptoRecord), ad)
		out := make([]byte, 0, cryptoRecord)
		b.SetBytes(cryptoRecord)
		for b.Loop() {
			var err error
			out, err = aead.Open(out[:0], nonce, sealed, ad)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchECDSASign(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("tlsstack bench"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchECDSAVerify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("tlsstack bench"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// benchX25519 times one side of a key exchange: a new key pair and the
// shared secret with a peer's public key.
func benchX25519(b *testing.B) {
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

// cryptoMain runs the Go cases and prints them as JSON. The harness runs it
// pinned to one server CPU.
func cryptoMain(args []string) error {
	fs := flag.NewFlagSet("crypto", flag.ContinueOnError)
	benchtime := fs.Duration("benchtime", time.Second, "time per case")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	testing.Init()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		return err
	}
	var out []limit
	for _, c := range goCryptoCases() {
		r := testing.Benchmark(c.bench)
		if r.N == 0 {
			return fmt.Errorf("crypto: %s did not run", c.name)
		}
		out = append(out, limit{Name: c.name, Unit: c.unit, Value: c.value(r)})
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// opensslSpeedArgs are the `openssl speed` runs for the same rows, with the
// row names their output maps to.
func opensslSpeedArgs(seconds int) []struct {
	rows []string
	args []string
} {
	s := strconv.Itoa(seconds)
	aead := func(alg string, decrypt bool) []string {
		a := []string{"speed", "-seconds", s, "-bytes", strconv.Itoa(cryptoRecord)}
		if decrypt {
			a = append(a, "-decrypt")
		}
		return append(a, "-evp", alg)
	}
	return []struct {
		rows []string
		args []string
	}{
		{[]string{"crypto-aes128gcm-seal-16k"}, aead("aes-128-gcm", false)},
		{[]string{"crypto-aes128gcm-open-16k"}, aead("aes-128-gcm", true)},
		{[]string{"crypto-chacha20poly1305-seal-16k"}, aead("chacha20-poly1305", false)},
		{[]string{"crypto-chacha20poly1305-open-16k"}, aead("chacha20-poly1305", true)},
		{[]string{"crypto-ecdsa-p256-sign", "crypto-ecdsa-p256-verify"},
			[]string{"speed", "-seconds", s, "ecdsap256"}},
		{[]string{"crypto-x25519-keygen+shared"}, []string{"speed", "-seconds", s, "ecdhx25519"}},
	}
}

// parseOpenSSLSpeed reads the result line of one `openssl speed` run. AEAD
// runs give one rate in thousands of bytes per second, turned into Gbit/s;
// ECDSA runs give sign/s and verify/s; ECDH runs give op/s.
func parseOpenSSLSpeed(out []byte, rows []string) ([]limit, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && strings.HasSuffix(f[1], "k") &&
			(strings.HasPrefix(f[0], "AES") || strings.HasPrefix(f[0], "ChaCha")):
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "k"), 64)
			if err != nil {
				return nil, fmt.Errorf("openssl speed: bad rate in %q", line)
			}
			return []limit{{Name: rows[0], Unit: "Gbit/s", Value: v * 1000 * 8 / 1e9}}, nil
		case strings.Contains(line, "ecdsa (nistp256)") && len(f) >= 4 && len(rows) == 2:
			sign, err1 := strconv.ParseFloat(f[len(f)-2], 64)
			verify, err2 := strconv.ParseFloat(f[len(f)-1], 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("openssl speed: bad ECDSA line %q", line)
			}
			return []limit{
				{Name: rows[0], Unit: "op/s", Value: sign},
				{Name: rows[1], Unit: "op/s", Value: verify},
			}, nil
		case strings.Contains(line, "ecdh (X25519)") && len(f) >= 2:
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return nil, fmt.Errorf("openssl speed: bad ECDH line %q", line)
			}
			// openssl counts one key derivation; Go's row also makes the
			// key pair, so these are close but not the same work.
			return []limit{{Name: rows[0], Unit: "op/s", Value: v}}, nil
		}
	}
	return nil, fmt.Errorf("openssl speed: no result line in %d bytes of output", len(out))
}
