package tlslayer

import (
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// ErrNoDHE is wrapped by errors for features that need finite-field
// Diffie-Hellman, which crypto/tls does not implement.
var ErrNoDHE = errors.New("crypto/tls does not implement finite-field DHE")

// ParseDHParam checks Node's dhparam option (PEM "DH PARAMETERS") and
// returns the prime's size in bits. As in Node, a prime under 1024 bits is
// an error. crypto/tls never negotiates DHE, so valid parameters are
// accepted and have no effect; Node's "auto" is accepted too.
func ParseDHParam(data []byte) (int, error) {
	if string(data) == "auto" {
		return 0, nil
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return 0, errors.New("tlslayer: dhparam: no PEM block found")
	}
	if block.Type != "DH PARAMETERS" {
		return 0, fmt.Errorf("tlslayer: dhparam: PEM block is %q, want DH PARAMETERS",
			block.Type)
	}
	var p struct {
		P, G *big.Int
		Rest asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(block.Bytes, &p); err != nil {
		return 0, fmt.Errorf("tlslayer: dhparam: %w", err)
	}
	if p.P == nil || p.P.Sign() <= 0 || p.G == nil || p.G.Sign() <= 0 {
		return 0, errors.New("tlslayer: dhparam: invalid prime or generator")
	}
	bits := p.P.BitLen()
	if bits < 1024 {
		return bits, fmt.Errorf("tlslayer: dhparam: %d-bit prime is too small "+
			"(Node requires at least 1024)", bits)
	}
	return bits, nil
}
