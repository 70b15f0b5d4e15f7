package tlslayer

// CipherSuiteInfo returns the OpenSSL name, IANA name and protocol version
// of a crypto/tls cipher suite id, as Conn.Cipher reports them.
func CipherSuiteInfo(id uint16) CipherInfo { return cipherInfo(id) }
