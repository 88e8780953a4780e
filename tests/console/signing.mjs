// The console's request signing and answer checking (crates/tradeq-server/console/js), run in
// Node against a real `tradeq serve --demo`: every request the explorer would build for the five
// methods must be accepted by the front doors, the string the console signed must be the very
// string the server verified, and answer signatures must verify (and fail once tampered with).
//
// Run by `cargo test --test console_signing`, which starts the server and sets the environment.
import assert from 'node:assert/strict';
import fs from 'node:fs';

const js = new URL('../../crates/tradeq-server/console/js/', import.meta.url);
const { METHODS, buildRequest, checkAnswer } = await import(new URL('signing.js', js));
const { md5, hmacMd5 } = await import(new URL('md5.js', js));

const hex = (b) => Buffer.from(b).toString('hex');
const utf8 = (s) => new TextEncoder().encode(s);

// MD5 and HMAC-MD5 known answers (RFC 1321, RFC 2202), across block boundaries.
assert.equal(hex(md5(utf8(''))), 'd41d8cd98f00b204e9800998ecf8427e');
assert.equal(hex(md5(utf8('abc'))), '900150983cd24fb0d6963f7d28e17f72');
assert.equal(hex(md5(utf8('1234567890'.repeat(8)))), '57edf4a22be3c955ac49da2e2107b67a');
assert.equal(hex(hmacMd5(utf8('Jefe'), utf8('what do ya want for nothing?'))), '750c783e6ab0b503eaa86e310a5db738');
assert.equal(hex(hmacMd5(new Uint8Array(80).fill(0xaa), utf8('Test Using Larger Than Block-Size Key - Hash Key First'))),
  '6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd');
for (const n of [55, 56, 63, 64, 65, 1000]) {
  const { createHash } = await import('node:crypto');
  assert.equal(hex(md5(utf8('x'.repeat(n)))), createHash('md5').update('x'.repeat(n)).digest('hex'), `md5 of ${n} bytes`);
}

const creds = JSON.parse(fs.readFileSync(process.env.TRADEQ_CREDENTIALS, 'utf8'));
const ADMIN = process.env.TRADEQ_ADMIN_URL;

async function admin(method, path, body) {
  const res = await fetch(`${ADMIN}${path}`, {
    method,
    headers: { authorization: `Bearer ${creds.admin_token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const doc = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(doc)}`);
  return doc;
}

const platformKey = (await admin('GET', '/v1/alipay-apps')).items
  .find(a => a.app_id === creds.alipay.app_id).platform_public_key_pem;
const examples = (m) => Object.fromEntries(m.fields.map(([name, example]) => [name, example]));
const method = (id) => METHODS.find(m => m.id === id);
const alipay = (extra = {}) => ({ appId: creds.alipay.app_id, privateKey: creds.alipay.app_private_key_pkcs8_pem, ...extra });
const top = (signMethod, session) => ({ appKey: creds.top.app_key, secret: creds.top.app_secret, session, signMethod });
const merchantB = creds.alipay.app_auth_tokens[0].token;

const cases = [
  ['alipay.trade.query/v2', examples(method('alipay.trade.query/v2')), alipay()],
  // A PKCS#1 key, as the Python SDK keeps it: wrapped as PKCS#8 in the browser.
  ['alipay.trade.query/v2', { out_trade_no: '', trade_no: '2013112011001004330000121536', query_options: 'fund_bill_list, trade_settle_info' },
    alipay({ privateKey: creds.alipay.app_private_key_pkcs1_pem })],
  // Acting for merchant B through its app auth token (signed on v2, a signed header line on v3).
  ['alipay.trade.query/v2', { trade_no: '2015042321001004720200028594' }, alipay({ appAuthToken: merchantB })],
  ['alipay.trade.query/v3', examples(method('alipay.trade.query/v3')), alipay()],
  ['alipay.trade.query/v3', { trade_no: '2015042321001004720200028594' }, alipay({ appAuthToken: merchantB })],
  ['koubei.trade.itemorder.query', examples(method('koubei.trade.itemorder.query')), alipay()],
  ['alibaba.xlife.onsite.trade.query', examples(method('alibaba.xlife.onsite.trade.query')), top('md5', creds.top.session)],
  ['alibaba.xlife.onsite.trade.query', { short_trade_no: '77778888' }, top('hmac', creds.top.session)],
  ['tmall.luxury.stage.edi.alipay.trade.query', examples(method('tmall.luxury.stage.edi.alipay.trade.query')), top('hmac-sha256')],
  ['tmall.luxury.stage.edi.alipay.trade.query', { trade_no: '2013112011001004330000121536', query_options: 'fund_bill_list' }, top('md5')],
  ['alibaba.omni.order.query', examples(method('alibaba.omni.order.query')), top('hmac-sha256', creds.top.session)],
  ['alibaba.omni.order.query', examples(method('alibaba.omni.order.query')), top('hmac', creds.top.session)],
];

for (const [id, values, c] of cases) {
  const m = method(id);
  const label = `${id} ${c.signMethod ?? (c.appAuthToken ? 'with app auth token' : 'RSA2')}`;
  const built = await buildRequest(m, values, c);
  const answer = await admin('POST', '/v1/explorer/send', built.request);
  assert.equal(answer.status, 200, `${label}: ${JSON.stringify(answer)}`);
  assert.ok(!/error_response|"sub_code"|isv\.|isp\./.test(answer.body), `${label}: ${answer.body}`);

  // The server verified exactly the string the console signed.
  const { entries: [entry] } = await admin('GET', '/v1/journal?limit=1');
  assert.equal(entry.method, m.name, label);
  assert.equal(entry.front_door, m.door, label);
  assert.equal(entry.verification, 'verified', `${label}: ${JSON.stringify(entry.diagnosis)}`);
  assert.equal(entry.outcome, 'ok', `${label}: ${entry.response}`);
  // The journal masks tokens and sessions (first four and last two characters kept).
  const mask = (s) => (s.length <= 8 ? '****' : `${s.slice(0, 4)}****${s.slice(-2)}`);
  let expected = built.signString;
  for (const secret of [c.appAuthToken, c.session]) if (secret) expected = expected.replaceAll(secret, mask(secret));
  assert.equal(entry.sign_string, expected, label);

  const check = await checkAnswer(m, answer, platformKey);
  if (m.door === 'top') {
    assert.equal(check.verdict, 'not signed', label);
  } else {
    assert.equal(check.verdict, 'verifies', `${label}: ${check.detail}`);
    // One character changed in the signed answer: it no longer verifies.
    const tampered = { ...answer, body: answer.body.replace('"trade_no":"2', '"trade_no":"3').replace('"order_no":"2', '"order_no":"3') };
    assert.notEqual(tampered.body, answer.body, label);
    assert.equal((await checkAnswer(m, tampered, platformKey)).verdict, 'does not verify', label);
  }
  console.log(`ok ${label}`);
}

// The wrong key: refused by the front door, and the journal shows what the server verified.
const { privateKey } = (await import('node:crypto')).generateKeyPairSync('rsa', {
  modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const wrong = await buildRequest(method('alipay.trade.query/v2'), examples(method('alipay.trade.query/v2')), alipay({ privateKey }));
const refused = await admin('POST', '/v1/explorer/send', wrong.request);
assert.match(refused.body, /isv\.invalid-signature/);
const { entries: [failed] } = await admin('GET', '/v1/journal?limit=1');
assert.equal(failed.verification, 'failed');
assert.equal(failed.sign_string, wrong.signString);
console.log('ok a wrong key is refused, with the same string verified');
