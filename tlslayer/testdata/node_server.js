// node_server.js runs Node's tls.createServer for the interoperability
// tests of tlslayer's client. It takes one JSON argument:
//   {cert, key, alpn, ca, requestCert, report}
// and prints the port it listens on (127.0.0.1) as the first line. Each
// connection is echoed; with report, the server first writes one JSON
// line saying how it sees the client (authorized, authorizationError, CN).
'use strict';
const tls = require('tls');

const cfg = JSON.parse(process.argv[2]);
const server = tls.createServer({
  cert: cfg.cert, key: cfg.key, ALPNProtocols: cfg.alpn,
  ca: cfg.ca ? [cfg.ca] : undefined,
  requestCert: !!cfg.requestCert, rejectUnauthorized: false,
}, (sock) => {
  if (cfg.report) {
    const peer = sock.getPeerCertificate();
    sock.write(JSON.stringify({
      authorized: sock.authorized, authorizationError: sock.authorizationError || null,
      cn: peer && peer.subject ? peer.subject.CN : null,
    }) + '\n');
  }
  sock.pipe(sock);
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
