// The official Node `alipay-sdk` 4.14.0, unmodified, in public-key-certificate mode (issue #16):
// configured with appCertContent, alipayPublicCertContent and alipayRootCertContent of the
// demo's certificate-mode app (`alipay.cert_mode` in demo-credentials.json). v2 `exec` with
// validateSign: true and v3 `curl` (which always verifies and compares `alipay-sn` with the
// configured certificate), both Alipay methods, success and not-found; a wrong root bundle and
// an unknown app certificate refused; and a rotated platform certificate, refused until the SDK
// is given the new one, accepted after. The rotation test runs last: it changes the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlipaySdk } from 'alipay-sdk';
import {
  GATEWAY, creds, adminRecord, expectedTrade, expectedTradeV2, expectedKoubei, plain, startRecorder,
  makeSdk, ALL_OPTIONS, SEED_TRADE, T1, SHARED_OUT_TRADE_NO, KOUBEI_ORDERS, MERCHANT_B,
  OTHER_MERCHANT_TRADE,
} from './alipay_common.mjs';

const cm = creds.alipay.cert_mode;
const V = { validateSign: true };
const V3_PATH = '/v3/alipay/trade/query';
const MISSING_TRADE = '2099010122001446880599999999';
const MISSING_ORDER = '20990101000000001000000001';
const here = path.dirname(fileURLToPath(import.meta.url));
// Alipay's own root bundle: a root bundle of another platform.
const REAL_ALIPAY_ROOTS = fs.readFileSync(path.join(here, '..', 'alipay_root_cert.pem'), 'utf8');

function certSdk(overrides = {}) {
  return new AlipaySdk({
    appId: cm.app_id,
    privateKey: cm.app_private_key_pkcs1_pem,
    appCertContent: cm.app_cert_pem,
    alipayPublicCertContent: cm.alipay_public_cert_pem,
    alipayRootCertContent: cm.alipay_root_cert_pem,
    gateway: `${GATEWAY}/gateway.do`,
    endpoint: GATEWAY,
    // The demo's two Alipay apps share one AES key.
    encryptKey: creds.alipay.aes_key,
    camelcase: false,
    ...overrides,
  });
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the SDK to throw');
}

const sdk = certSdk();

test('the SDK computes the SNs the credentials file states', () => {
  assert.equal(sdk.config.appCertSn, cm.app_cert_sn);
  assert.equal(sdk.config.alipayCertSn, cm.alipay_cert_sn);
  assert.equal(sdk.config.alipayRootCertSn, cm.alipay_root_cert_sn);
  // The bundle holds a non-RSA root the root SN skips: one RSA root, one SN.
  assert.ok((cm.alipay_root_cert_pem.match(/BEGIN CERTIFICATE/g) ?? []).length >= 2);
  assert.match(cm.alipay_root_cert_sn, /^[0-9a-f]{32}$/);
});

test('v2 exec: alipay.trade.query, verified with the certificate\'s key', async () => {
  const rec = await adminRecord('alipay-trade', SEED_TRADE);
  const got = await sdk.exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE, query_options: ALL_OPTIONS } }, V);
  assert.deepEqual(plain(got), expectedTradeV2(rec, ALL_OPTIONS));
  const byOut = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: SHARED_OUT_TRADE_NO } }, V);
  assert.deepEqual(plain(byOut), expectedTradeV2(rec));
});

test('v2 exec: alipay.trade.query not found', async () => {
  const got = await sdk.exec('alipay.trade.query', { bizContent: { trade_no: MISSING_TRADE } }, V);
  assert.equal(got.code, '40004');
  assert.equal(got.sub_code, 'ACQ.TRADE_NOT_EXIST');
  assert.equal(got.sub_msg, '交易不存在');
});

test('v2 exec: koubei.trade.itemorder.query, success and not found', async () => {
  for (const orderNo of Object.keys(KOUBEI_ORDERS)) {
    const got = await sdk.exec('koubei.trade.itemorder.query', { bizContent: { order_no: orderNo } }, V);
    assert.deepEqual(plain(got), expectedKoubei(await adminRecord('koubei-order', orderNo)));
  }
  const missing = await sdk.exec('koubei.trade.itemorder.query', { bizContent: { order_no: MISSING_ORDER } }, V);
  assert.equal(missing.code, '40004');
  assert.equal(missing.sub_code, 'INVALID_PARAMETER');
});

test('v2 exec: AES-encrypted request and answer', async () => {
  const rec = await startRecorder();
  try {
    const client = certSdk({ gateway: `${rec.url}/gateway.do` });
    const expected = expectedTradeV2(await adminRecord('alipay-trade', T1));
    // The SDK cannot verify an encrypted answer even when it is right (its getSignStr keeps only
    // what lies between braces; see the public-key-mode suite), so it is verified here, with the
    // key of the configured Alipay certificate.
    const got = plain(await client.exec('alipay.trade.query', { bizContent: { trade_no: T1 }, needEncrypt: true }));
    assert.deepEqual(got, expected);
    const { body } = rec.seen.at(-1);
    const m = new RegExp(`^\\{"alipay_trade_query_response":("[A-Za-z0-9+/=]+"),"alipay_cert_sn":"${cm.alipay_cert_sn}","sign":"([A-Za-z0-9+/=]+)"\\}$`).exec(body);
    assert.ok(m, body);
    const key = crypto.createPublicKey(cm.alipay_public_cert_pem);
    assert.ok(crypto.verify('RSA-SHA256', Buffer.from(m[1], 'utf8'), key, Buffer.from(m[2], 'base64')));
  } finally {
    await rec.close();
  }
});

test('app_auth_token: the certificate-mode app acts for merchant B (v2 and v3)', async () => {
  // A token of this app, granted through the admin API.
  const res = await fetch(`${process.env.TRADEQ_ADMIN_URL}/v1/app-auth-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${creds.admin_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: cm.app_id, merchant_pid: MERCHANT_B }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { token } = await res.json();
  const rec = await adminRecord('alipay-trade', OTHER_MERCHANT_TRADE);
  const v2 = await sdk.exec('alipay.trade.query', { bizContent: { trade_no: OTHER_MERCHANT_TRADE }, appAuthToken: token }, V);
  assert.deepEqual(plain(v2), expectedTradeV2(rec));
  const v3 = await sdk.curl('POST', V3_PATH, { body: { trade_no: OTHER_MERCHANT_TRADE }, appAuthToken: token });
  assert.deepEqual(v3.data, expectedTrade(rec));
  // Merchant A's trade is not merchant B's.
  const notB = await sdk.exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE }, appAuthToken: token }, V);
  assert.equal(notB.sub_code, 'ACQ.TRADE_NOT_EXIST');
});

test('v2 bytes: the SNs travel in the URL, alipay_cert_sn sits between the answer and sign', async () => {
  const rec = await startRecorder();
  try {
    const viaRecorder = certSdk({ gateway: `${rec.url}/gateway.do` });
    await viaRecorder.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V);
    await viaRecorder.exec('alipay.trade.query', { bizContent: { trade_no: MISSING_TRADE } }, V);
    for (const ex of rec.seen) {
      const url = new URL(ex.url, rec.url);
      assert.equal(url.searchParams.get('app_cert_sn'), cm.app_cert_sn);
      assert.equal(url.searchParams.get('alipay_root_cert_sn'), cm.alipay_root_cert_sn);
      assert.match(ex.body, new RegExp(
        `^\\{"alipay_trade_query_response":\\{.*\\},"alipay_cert_sn":"${cm.alipay_cert_sn}","sign":"[A-Za-z0-9+/=]+"\\}$`));
    }
    // The public-key-mode app's answers never carry it.
    const pk = makeSdk({ gateway: `${rec.url}/gateway.do` });
    await pk.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V);
    assert.ok(!rec.seen.at(-1).body.includes('alipay_cert_sn'));
    assert.match(rec.seen.at(-1).body, /^\{"alipay_trade_query_response":\{.*\},"sign":"[^"]+"\}$/);
  } finally {
    await rec.close();
  }
});

test('v3 curl: success, with the SDK\'s alipay-sn and signature checks', async () => {
  const rec = await adminRecord('alipay-trade', SEED_TRADE);
  const res = await sdk.curl('POST', V3_PATH, { body: { trade_no: SEED_TRADE, query_options: ALL_OPTIONS } });
  assert.equal(res.responseHttpStatus, 200);
  assert.deepEqual(res.data, expectedTrade(rec, ALL_OPTIONS));
});

test('v3 curl: not found is ACQ.TRADE_NOT_EXIST', async () => {
  const err = await rejection(sdk.curl('POST', V3_PATH, { body: { trade_no: MISSING_TRADE } }));
  assert.equal(err.name, 'AlipayRequestError');
  assert.equal(err.code, 'ACQ.TRADE_NOT_EXIST');
  assert.equal(err.responseHttpStatus, 400);
});

test('v3 bytes: app_cert_sn in Authorization, alipay-root-cert-sn header, alipay-sn answer header', async () => {
  const rec = await startRecorder();
  try {
    const viaRecorder = certSdk({ endpoint: rec.url });
    await viaRecorder.curl('POST', V3_PATH, { body: { trade_no: T1 } });
    const ex = rec.seen[0];
    assert.equal(ex.requestHeaders['alipay-root-cert-sn'], cm.alipay_root_cert_sn);
    assert.match(ex.requestHeaders.authorization,
      new RegExp(`^ALIPAY-SHA256withRSA app_id=${cm.app_id},app_cert_sn=${cm.app_cert_sn},nonce=[0-9a-f-]{36},timestamp=\\d{13},sign=`));
    assert.equal(ex.headers['alipay-sn'], cm.alipay_cert_sn);
    assert.ok(ex.headers['alipay-signature']);
  } finally {
    await rec.close();
  }
});

test('a wrong root bundle is refused: isv.invalid-alipay-root-cert-sn', async () => {
  const wrong = certSdk({ alipayRootCertContent: REAL_ALIPAY_ROOTS });
  assert.notEqual(wrong.config.alipayRootCertSn, cm.alipay_root_cert_sn);
  const got = await wrong.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V);
  assert.equal(got.code, '40002');
  assert.equal(got.sub_code, 'isv.invalid-alipay-root-cert-sn');
  assert.equal(got.sub_msg, '无效支付宝根证书序列号');
  assert.ok(!('trade_no' in got));
  const err = await rejection(wrong.curl('POST', V3_PATH, { body: { trade_no: T1 } }));
  assert.equal(err.code, 'invalid-alipay-root-cert-sn');
  assert.ok(err.responseHttpStatus >= 400);
});

test('an unknown app certificate is refused: isv.app-cert-not-exist', async () => {
  // Any certificate the server never issued for this app, e.g. the platform's own.
  const wrong = certSdk({ appCertContent: cm.alipay_public_cert_pem });
  assert.notEqual(wrong.config.appCertSn, cm.app_cert_sn);
  const got = await wrong.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V);
  assert.equal(got.code, '40002');
  assert.equal(got.sub_code, 'isv.app-cert-not-exist');
  assert.ok(!('trade_no' in got));
  const err = await rejection(wrong.curl('POST', V3_PATH, { body: { trade_no: T1 } }));
  assert.equal(err.code, 'app-cert-not-exist');
});

test('a rotated platform certificate: refused by the old configuration, accepted once reconfigured', async () => {
  const out = execFileSync(process.env.TRADEQ_BIN, [
    'keys', 'rotate-platform', '--app', cm.app_id, '--data-dir', process.env.TRADEQ_DATA_DIR,
  ], { encoding: 'utf8' });
  const newCert = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)?.[0];
  assert.ok(newCert, out);
  const newSn = out.match(/alipay_cert_sn: ([0-9a-f]{32})/)?.[1];
  assert.ok(newSn && newSn !== cm.alipay_cert_sn, out);

  // The running server sees a change made by another process within its credential cache's
  // lifetime (2 s).
  const old = certSdk();
  const deadline = Date.now() + 15000;
  for (;;) {
    const probe = await old.curl('POST', V3_PATH, { body: { trade_no: T1 } }).then(() => null, e => e);
    if (probe?.code === 'response-alipay-sn-verify-error') break;
    assert.equal(probe, null, 'an unexpected failure before the rotation showed');
    assert.ok(Date.now() < deadline, 'the rotation never showed');
    await new Promise(resolve => setTimeout(resolve, 200));
  }

  // The old configuration: v2 fails the signature check, v3 names the SN mismatch.
  await assert.rejects(
    old.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V),
    err => /验签失败/.test(err.message));
  const err = await rejection(old.curl('POST', V3_PATH, { body: { trade_no: T1 } }));
  assert.equal(err.code, 'response-alipay-sn-verify-error');

  // Reconfigured with the new certificate (same app certificate and root bundle).
  const fresh = certSdk({ alipayPublicCertContent: newCert });
  assert.equal(fresh.config.alipayCertSn, newSn);
  const rec = await adminRecord('alipay-trade', T1);
  assert.deepEqual(plain(await fresh.exec('alipay.trade.query', { bizContent: { trade_no: T1 } }, V)), expectedTradeV2(rec));
  const v3 = await fresh.curl('POST', V3_PATH, { body: { trade_no: T1 } });
  assert.deepEqual(v3.data, expectedTrade(rec));

  // The old certificate stays downloadable by its SN, as the Java SDK fetches it. The Java SDK
  // does not verify this answer (it checks the certificate against the root bundle instead), so
  // neither does this call.
  const dl = await fresh.exec('alipay.open.app.alipaycert.download', { bizContent: { alipay_cert_sn: cm.alipay_cert_sn } });
  assert.equal(dl.code, '10000');
  assert.equal(Buffer.from(dl.alipay_cert_content, 'base64').toString('utf8').trim(), cm.alipay_public_cert_pem.trim());
  const dlNew = await fresh.exec('alipay.open.app.alipaycert.download', { bizContent: { alipay_cert_sn: newSn } });
  assert.equal(Buffer.from(dlNew.alipay_cert_content, 'base64').toString('utf8').trim(), newCert.trim());
});
