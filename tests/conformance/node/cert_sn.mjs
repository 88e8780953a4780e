// Prints, as one JSON object, the SNs the official Node SDK computes for each certificate file
// given as an argument: { "<file>": { "sn": "...", "root_sn": "..." } }. Used by the Rust test
// that cross-checks tradeq-wire's SN functions.
//
// The SDK does not export `getSN`, so it is reached through its public constructor, which runs it
// on `appCertContent` (cert SN) and `alipayRootCertContent` (root SN) and keeps the results in
// `config.appCertSn` / `config.alipayRootCertSn`.

import fs from 'node:fs';
import crypto from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';

// The constructor wants a private key; any RSA key will do.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' });

const out = {};
for (const file of process.argv.slice(2)) {
  const pem = fs.readFileSync(file, 'utf8');
  const sdk = new AlipaySdk({
    appId: '2021000000000001',
    privateKey: pkcs8,
    keyType: 'PKCS8',
    appCertContent: pem,
    alipayPublicCertContent: pem,
    alipayRootCertContent: pem,
  });
  out[file] = { sn: sdk.config.appCertSn, root_sn: sdk.config.alipayRootCertSn };
}
console.log(JSON.stringify(out));
