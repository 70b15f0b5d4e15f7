package tlslayer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"

	"golang.org/x/crypto/scrypt"
)

// Encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") as OpenSSL writes it:
//
//	PBES2 (RFC 8018): PBKDF2 with HMAC-SHA1, -SHA224, -SHA256, -SHA384,
//	    -SHA512, -SHA512/224 or -SHA512/256, or scrypt (RFC 7914); then
//	    AES-128/192/256-CBC or DES-EDE3-CBC.
//	PKCS#12 PBE (RFC 7292 appendix B and C): pbeWithSHAAnd3-KeyTripleDES-CBC
//	    and pbeWithSHAAnd2-KeyTripleDES-CBC (openssl's -v1 PBE-SHA1-3DES and
//	    PBE-SHA1-2DES).
//
// Not supported, and named in the error: PBES1 of PKCS#5 (DES, RC2 with MD2,
// MD5 or SHA-1), the RC2 and RC4 PKCS#12 schemes and any other cipher or PRF.
// OpenSSL 3, and so Node.js, keeps those in its legacy provider, which Node
// does not load.

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}

	oidPKCS12SHA3DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPKCS12SHA2DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}

	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// pbkdf2PRFs maps the HMAC algorithm identifiers of RFC 8018 appendix B.1.
var pbkdf2PRFs = []struct {
	oid  asn1.ObjectIdentifier
	name string
	hash func() hash.Hash
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}, "hmacWithSHA1", sha1.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, "hmacWithSHA224", sha256.New224},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, "hmacWithSHA256", sha256.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, "hmacWithSHA384", sha512.New384},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, "hmacWithSHA512", sha512.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 12}, "hmacWithSHA512-224",
		sha512.New512_224},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 13}, "hmacWithSHA512-256",
		sha512.New512_256},
}

// unsupportedPBE names schemes that OpenSSL writes but Node cannot read
// without OpenSSL's legacy provider, so that the error says what the key is.
var unsupportedPBE = map[string]string{
	"1.2.840.113549.1.5.1":    "PBES1 pbeWithMD2AndDES-CBC",
	"1.2.840.113549.1.5.3":    "PBES1 pbeWithMD5AndDES-CBC",
	"1.2.840.113549.1.5.4":    "PBES1 pbeWithMD2AndRC2-CBC",
	"1.2.840.113549.1.5.6":    "PBES1 pbeWithMD5AndRC2-CBC",
	"1.2.840.113549.1.5.10":   "PBES1 pbeWithSHA1AndDES-CBC",
	"1.2.840.113549.1.5.11":   "PBES1 pbeWithSHA1AndRC2-CBC",
	"1.2.840.113549.1.12.1.1": "PKCS#12 pbeWithSHAAnd128BitRC4",
	"1.2.840.113549.1.12.1.2": "PKCS#12 pbeWithSHAAnd40BitRC4",
	"1.2.840.113549.1.12.1.5": "PKCS#12 pbeWithSHAAnd128BitRC2-CBC",
	"1.2.840.113549.1.12.1.6": "PKCS#12 pbeWithSHAAnd40BitRC2-CBC",
	"1.3.14.3.2.7":            "DES-CBC",
	"1.2.840.113549.3.2":      "RC2-CBC",
}

type encryptedPrivateKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type scryptParams struct {
	Salt        []byte
	N           int
	BlockSize   int
	Parallelism int
	KeyLength   int `asn1:"optional"`
}

type pkcs12PBEParams struct {
	Salt       []byte
	Iterations int
}

// maxPBEIterations bounds the work a hostile key file can ask for.
const maxPBEIterations = 10_000_000

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo and parses the PKCS#8
// key inside. A padding or parse failure after decryption is reported as
// ErrWrongPassphrase, which is what it almost always means.
func decryptPKCS8(der, passphrase []byte) (any, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("not an encrypted PKCS#8 key (%v)", shortASN1(err, rest))
	}

	var block cipher.Block
	var iv []byte
	var err error
	switch alg := info.Algo.Algorithm; {
	case alg.Equal(oidPBES2):
		block, iv, err = pbes2Cipher(info.Algo.Parameters.FullBytes, passphrase)
	case alg.Equal(oidPKCS12SHA3DES):
		block, iv, err = pkcs12Cipher(info.Algo.Parameters.FullBytes, passphrase, 24)
	case alg.Equal(oidPKCS12SHA2DES):
		block, iv, err = pkcs12Cipher(info.Algo.Parameters.FullBytes, passphrase, 16)
	default:
		return nil, fmt.Errorf("unsupported encryption %s", pbeName(alg))
	}
	if err != nil {
		return nil, err
	}

	data := info.Data
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("encrypted data is %d bytes, not whole %d-byte blocks",
			len(data), block.BlockSize())
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, ok := unpad(plain, block.BlockSize())
	if !ok {
		return nil, ErrWrongPassphrase
	}
	key, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrWrongPassphrase, err)
	}
	return key, nil
}

// pbes2Cipher derives the key of RFC 8018 PBES2 and returns its cipher.
func pbes2Cipher(params, passphrase []byte) (cipher.Block, []byte, error) {
	var p pbes2Params
	if rest, err := asn1.Unmarshal(params, &p); err != nil || len(rest) != 0 {
		return nil, nil, fmt.Errorf("bad PBES2 parameters (%v)", shortASN1(err, rest))
	}

	var newCipher func([]byte) (cipher.Block, error)
	keyLen := 0
	switch s := p.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		newCipher, keyLen = aes.NewCipher, 16
	case s.Equal(oidAES192CBC):
		newCipher, keyLen = aes.NewCipher, 24
	case s.Equal(oidAES256CBC):
		newCipher, keyLen = aes.NewCipher, 32
	case s.Equal(oidDESEDE3CBC):
		newCipher, keyLen = des.NewTripleDESCipher, 24
	default:
		return nil, nil, fmt.Errorf("unsupported PBES2 cipher %s", pbeName(s))
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(p.Scheme.Parameters.FullBytes, &iv); err != nil ||
		len(rest) != 0 {
		return nil, nil, fmt.Errorf("bad PBES2 cipher IV (%v)", shortASN1(err, rest))
	}

	key, err := pbes2Key(p.KDF, passphrase, keyLen)
	if err != nil {
		return nil, nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, nil, err
	}
	if len(iv) != block.BlockSize() {
		return nil, nil, fmt.Errorf("PBES2 IV is %d bytes, want %d", len(iv), block.BlockSize())
	}
	return block, iv, nil
}

func pbes2Key(kdf pkix.AlgorithmIdentifier, passphrase []byte, keyLen int) ([]byte, error) {
	switch {
	case kdf.Algorithm.Equal(oidPBKDF2):
		var p pbkdf2Params
		if rest, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil ||
			len(rest) != 0 {
			return nil, fmt.Errorf("bad PBKDF2 parameters (%v)", shortASN1(err, rest))
		}
		if p.KeyLength != 0 && p.KeyLength != keyLen {
			return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher (%d)",
				p.KeyLength, keyLen)
		}
		if p.Iterations < 1 || p.Iterations > maxPBEIterations {
			return nil, fmt.Errorf("PBKDF2 iteration count %d out of range", p.Iterations)
		}
		h := sha1.New // RFC 8018: the PRF defaults to hmacWithSHA1.
		if len(p.PRF.Algorithm) != 0 {
			h = nil
			for _, prf := range pbkdf2PRFs {
				if prf.oid.Equal(p.PRF.Algorithm) {
					h = prf.hash
				}
			}
			if h == nil {
				return nil, fmt.Errorf("unsupported PBES2 PRF %s", p.PRF.Algorithm)
			}
		}
		return pbkdf2.Key(h, string(passphrase), p.Salt, p.Iterations, keyLen)

	case kdf.Algorithm.Equal(oidScrypt):
		var p scryptParams
		if rest, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil ||
			len(rest) != 0 {
			return nil, fmt.Errorf("bad scrypt parameters (%v)", shortASN1(err, rest))
		}
		if p.KeyLength != 0 && p.KeyLength != keyLen {
			return nil, fmt.Errorf("scrypt key length %d does not fit the cipher (%d)",
				p.KeyLength, keyLen)
		}
		// scrypt needs 128*N*r bytes and time in N*r*p: bound both so that
		// a hostile file cannot take 1 GiB or minutes (openssl writes
		// N=16384, r=8, p=1).
		if p.N < 2 || p.BlockSize < 1 || p.Parallelism < 1 || p.Parallelism > 64 ||
			int64(p.N)*int64(p.BlockSize) > 1<<23 {
			return nil, fmt.Errorf("scrypt parameters N=%d r=%d p=%d out of range",
				p.N, p.BlockSize, p.Parallelism)
		}
		return scrypt.Key(passphrase, p.Salt, p.N, p.BlockSize, p.Parallelism, keyLen)
	}
	return nil, fmt.Errorf("unsupported PBES2 key derivation %s", pbeName(kdf.Algorithm))
}

// pkcs12Cipher derives the 3DES key and IV of a PKCS#12 PBE scheme
// (RFC 7292 appendix C); keyLen is 24 for three keys, 16 for two.
func pkcs12Cipher(params, passphrase []byte, keyLen int) (cipher.Block, []byte, error) {
	var p pkcs12PBEParams
	if rest, err := asn1.Unmarshal(params, &p); err != nil || len(rest) != 0 {
		return nil, nil, fmt.Errorf("bad PKCS#12 PBE parameters (%v)", shortASN1(err, rest))
	}
	if p.Iterations < 1 || p.Iterations > maxPBEIterations {
		return nil, nil, fmt.Errorf("PKCS#12 PBE iteration count %d out of range",
			p.Iterations)
	}

	pass := bmpPassword(passphrase)
	key := pkcs12KDF(pass, p.Salt, p.Iterations, 1, keyLen)
	iv := pkcs12KDF(pass, p.Salt, p.Iterations, 2, des.BlockSize)
	if keyLen == 16 { // two-key 3DES: K1 K2 K1
		key = append(key, key[:8]...)
	}
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, nil, err
	}
	return block, iv, nil
}

// bmpPassword encodes a UTF-8 passphrase as PKCS#12 wants it: UTF-16
// big-endian with a two-byte zero terminator (RFC 7292 appendix B.1).
func bmpPassword(passphrase []byte) []byte {
	units := utf16.Encode([]rune(string(passphrase)))
	out := make([]byte, 0, 2*len(units)+2)
	for _, u := range units {
		out = append(out, byte(u>>8), byte(u))
	}
	return append(out, 0, 0)
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2 with SHA-1
// (u = 20, v = 64). id is 1 for key material, 2 for an IV.
func pkcs12KDF(pass, salt []byte, iterations int, id byte, n int) []byte {
	const u, v = sha1.Size, 64

	// D: v copies of id. I: salt and password, each repeated to a whole
	// number of v-byte blocks.
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	I := append(fillBlocks(salt, v), fillBlocks(pass, v)...)

	var out []byte
	for len(out) < n {
		// A = H^iterations(D || I).
		h := sha1.New()
		h.Write(d)
		h.Write(I)
		a := h.Sum(nil)
		for j := 1; j < iterations; j++ {
			s := sha1.Sum(a)
			a = s[:]
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}

		// B: A repeated to v bytes. Each v-byte block of I becomes
		// (I_j + B + 1) mod 2^(8v).
		b := fillBlocks(a, v)
		for j := 0; j < len(I); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(I[j+k]) + int(b[k]) + carry
				I[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:n:n]
}

// fillBlocks repeats s to the smallest multiple of v bytes that holds it
// (nothing for an empty s).
func fillBlocks(s []byte, v int) []byte {
	if len(s) == 0 {
		return nil
	}
	out := make([]byte, v*((len(s)+v-1)/v))
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return out
}

// unpad strips PKCS#7 padding, in constant time over the last block.
func unpad(b []byte, blockSize int) ([]byte, bool) {
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize {
		return nil, false
	}
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(n)
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], want) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}

func pbeName(oid asn1.ObjectIdentifier) string {
	if name, ok := unsupportedPBE[oid.String()]; ok {
		return name + " (" + oid.String() + ")"
	}
	return oid.String()
}

func shortASN1(err error, rest []byte) error {
	if err != nil {
		return err
	}
	return errors.New("trailing data")
}
