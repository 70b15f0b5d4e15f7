// node_client.js drives Node's tls.connect against a tlslayer server for
// the interoperability tests. It takes one JSON argument:
//   {port, host, servername, ca, alpn, rejectUnauthorized, maxVersion, ciphers}
// connects twice (the second time offering the first session), reading to
// EOF each time, and prints one JSON object describing both connections.
'use strict';
const tls = require('tls');

const cfg = JSON.parse(process.argv[2]);

function pick(cert) {
  if (!cert || !cert.subject) return null;
  return {
    subject: cert.subject, issuer: cert.issuer, subjectaltname: cert.subjectaltname,
    valid_from: cert.valid_from, valid_to: cert.valid_to,
    fingerprint: cert.fingerprint, fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber, bits: cert.bits, modulus: cert.modulus,
    exponent: cert.exponent, asn1Curve: cert.asn1Curve, nistCurve: cert.nistCurve,
    ext_key_usage: cert.ext_key_usage, ca: cert.ca,
    issuerCN: cert.issuerCertificate ? cert.issuerCertificate.subject.CN : null,
  };
}

function hex(b) { return b ? b.toString('hex') : null; }

function once(session) {
  return new Promise((resolve, reject) => {
    let saved = null;
    const sock = tls.connect({
      port: cfg.port, host: cfg.host || '127.0.0.1', servername: cfg.servername,
      ca: cfg.ca ? [cfg.ca] : undefined, ALPNProtocols: cfg.alpn,
      rejectUnauthorized: cfg.rejectUnauthorized !== false,
      maxVersion: cfg.maxVersion, session: session || undefined,
      ciphers: cfg.ciphers || undefined,
    });
    let data = '';
    sock.on('session', (s) => { saved = s; });
    sock.on('data', (d) => { data += d; });
    sock.on('error', (e) => reject(e));
    sock.on('secureConnect', () => {
      sock.info = {
        authorized: sock.authorized, authorizationError: sock.authorizationError || null,
        protocol: sock.getProtocol(), cipher: sock.getCipher(),
        alpnProtocol: sock.alpnProtocol, reused: sock.isSessionReused(),
        peer: pick(sock.getPeerCertificate(true)),
        ephemeral: sock.getEphemeralKeyInfo(),
        finished: hex(sock.getFinished()), peerFinished: hex(sock.getPeerFinished()),
      };
    });
    sock.on('close', () => {
      const info = sock.info || {};
      info.data = data;
      resolve({ info, session: saved || sock.getSession() });
    });
  });
}

(async () => {
  const first = await once(null);
  const second = await once(first.session);
  process.stdout.write(JSON.stringify({ first: first.info, second: second.info }));
})().catch((e) => {
  process.stdout.write(JSON.stringify({ error: e.message, code: e.code || null }));
});
