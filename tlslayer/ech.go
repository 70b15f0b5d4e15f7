package tlslayer

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
)

// ECH parameters of the keys NewECHKey makes: DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-128-GCM (and ChaCha20-Poly1305).
const (
	echVersion        = 0xfe0d
	echKEMX25519      = 0x0020
	echKDFHKDFSHA256  = 0x0001
	echAEADAES128GCM  = 0x0001
	echAEADChaCha20   = 0x0003
	echMaxNameLength  = 0
	echPublicNameMax  = 255
	echConfigIDRandom = 0
)

// NewECHKey makes an Encrypted Client Hello key for a server (a Go
// addition beyond Node). publicName is the name clients put in the outer,
// visible ClientHello; the server must also hold a certificate for it.
// The returned key goes in ServerOptions.EncryptedClientHelloKeys; the
// config list is what clients need (ClientOptions.ECHConfigList, or the
// HTTPS DNS record).
func NewECHKey(publicName string) (configList []byte, key tls.EncryptedClientHelloKey,
	err error) {
	if publicName == "" || len(publicName) > echPublicNameMax {
		return nil, key, fmt.Errorf("tlslayer: ECH public name %q must be 1 to 255 bytes",
			publicName)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, key, fmt.Errorf("tlslayer: ECH key: %w", err)
	}
	var id [1]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, key, fmt.Errorf("tlslayer: ECH key: %w", err)
	}

	// ECHConfigContents, then the ECHConfig around it.
	pub := priv.PublicKey().Bytes()
	var c []byte
	c = append(c, id[0])
	c = binary.BigEndian.AppendUint16(c, echKEMX25519)
	c = binary.BigEndian.AppendUint16(c, uint16(len(pub)))
	c = append(c, pub...)
	c = binary.BigEndian.AppendUint16(c, 8) // two cipher suites
	c = binary.BigEndian.AppendUint16(c, echKDFHKDFSHA256)
	c = binary.BigEndian.AppendUint16(c, echAEADAES128GCM)
	c = binary.BigEndian.AppendUint16(c, echKDFHKDFSHA256)
	c = binary.BigEndian.AppendUint16(c, echAEADChaCha20)
	c = append(c, echMaxNameLength, byte(len(publicName)))
	c = append(c, publicName...)
	c = binary.BigEndian.AppendUint16(c, 0) // no extensions

	config := binary.BigEndian.AppendUint16(nil, echVersion)
	config = binary.BigEndian.AppendUint16(config, uint16(len(c)))
	config = append(config, c...)

	configList = binary.BigEndian.AppendUint16(nil, uint16(len(config)))
	configList = append(configList, config...)
	key = tls.EncryptedClientHelloKey{Config: config, PrivateKey: priv.Bytes(),
		SendAsRetry: true}
	return configList, key, nil
}

// ErrECHRejected is wrapped when a client configured for Encrypted Client
// Hello is refused ECH by the server.
var ErrECHRejected = errors.New("tlslayer: server rejected Encrypted Client Hello")

// ECHAccepted reports whether the handshake used Encrypted Client Hello.
func (c *Conn) ECHAccepted() bool { return c.tc.ConnectionState().ECHAccepted }
