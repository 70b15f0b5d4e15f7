// Package tlslayer gives Go programs the feature set of the Node.js tls
// module as an idiomatic API over crypto/tls.
//
// A SecureContext holds what Node's createSecureContext holds: certificate
// chains and keys, trusted CAs, revocation lists, cipher suites, curves and
// protocol limits. It is built once and shared by servers and clients.
//
// A Server wraps any net.Listener (a kernel socket, net.Pipe, a userspace
// TCP stack) and hands out *Conn values whose handshake has completed. Node's
// server events become callback fields of ServerOptions.
//
// Connect is the client side: it dials through the kernel, a Unix socket or a
// caller-supplied dial function, or wraps an existing net.Conn.
//
// The package owns TLS only. It never imports the TUN or netstack packages,
// never logs and never reads flags or environment variables; the command line
// maps switches such as --tls-cipher-list onto SetDefaults.
//
// Where crypto/tls cannot provide a Node feature (finite-field DHE,
// server-side renegotiation, TLS 1.3 post-handshake client authentication,
// resumption by session ID for clients that send no ticket extension) the
// option is accepted where Node accepts it and asking for the impossible part
// returns an error that says so. README.md maps every Node name to its Go
// name, its state and the test that proves it.
//
// Files, by concern:
//
//	context.go      ContextOptions, SecureContext
//	certload.go     PEM certificates and keys, PKCS#12, CRLs
//	encryptedkey.go encrypted PKCS#8 keys (PBES2, PKCS#12 PBE)
//	selfsigned.go   SelfSigned
//	ciphers.go      the suite table, names, GetCiphers
//	cipherstring.go ParseCipherList (OpenSSL cipher strings)
//	curves.go       ParseECDHCurve, ephemeral key info
//	dhparam.go      ParseDHParam
//	versions.go     protocol version names
//	defaults.go     process-wide defaults
//	server.go       Server, listeners, SNI, per-connection configuration
//	conn.go         Conn and its getters
//	httplistener.go HTTPListener, for net/http and HTTP/2
//	client.go       Connect, ClientOptions
//	verify.go       chain verification with Node's codes, CheckServerIdentity
//	peercert.go     PeerCertificate, Node's certificate shape
//	sessions.go     tickets, ticket keys, session store, client sessions
//	ocsp.go         OCSP stapling
//	keylog.go       NSS key-log lines
//	ech.go          Encrypted Client Hello keys
package tlslayer
