// The official Node `alipay-sdk` 4.14.0, unmodified: OpenAPI v3 `curl` against tradeq's /v3/...
// (issue #4). curl verifies the alipay-signature of every answer below 400 and throws
// `response-signature-verify-error` otherwise; answers of 400 and more become an
// AlipayRequestError carrying code, links and responseHttpStatus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  makeSdk, adminRecord, otherKeyPair, expectedTrade, creds, startRecorder, verifyWithAlipayKey, aesDecrypt,
  TRADES, ALL_OPTIONS, OTHER_MERCHANT_TRADE, SHARED_OUT_TRADE_NO, SEED_TRADE, T1, MERCHANT_B, APP_ID,
} from './alipay_common.mjs';

const sdk = makeSdk();
const PATH = '/v3/alipay/trade/query';

function query(client, body, options = {}) {
  return client.curl('POST', PATH, { body, ...options });
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the SDK to throw');
}

test('success, with the SDK\'s signature check', async () => {
  const rec = await adminRecord('alipay-trade', SEED_TRADE);
  const res = await query(sdk, { trade_no: SEED_TRADE, query_options: ALL_OPTIONS });
  assert.equal(res.responseHttpStatus, 200);
  assert.deepEqual(res.data, expectedTrade(rec, ALL_OPTIONS));
  assert.ok(res.traceId);
  const bare = await query(sdk, { trade_no: SEED_TRADE });
  assert.deepEqual(bare.data, expectedTrade(rec));
  assert.equal(bare.data.buyer_logon_id, '159****5620');
});

test('every status, by out_trade_no', async () => {
  for (const [ tradeNo, [ status, outTradeNo ] ] of Object.entries(TRADES)) {
    const res = await query(sdk, { out_trade_no: outTradeNo });
    assert.deepEqual(res.data, expectedTrade(await adminRecord('alipay-trade', tradeNo)));
    assert.equal(res.data.trade_status, status);
  }
});

test('GET with query parameters', async () => {
  const res = await sdk.curl('GET', PATH, { query: { trade_no: SEED_TRADE, query_options: 'fund_bill_list' } });
  assert.equal(res.responseHttpStatus, 200);
  assert.deepEqual(res.data, expectedTrade(await adminRecord('alipay-trade', SEED_TRADE), [ 'fund_bill_list' ]));
});

test('not found: ACQ.TRADE_NOT_EXIST, HTTP 400', async () => {
  const err = await rejection(query(sdk, { trade_no: '2099010122001446880599999999' }));
  assert.equal(err.name, 'AlipayRequestError');
  assert.equal(err.code, 'ACQ.TRADE_NOT_EXIST');
  assert.equal(err.responseHttpStatus, 400);
  assert.match(err.message, /^交易不存在/);
  assert.equal(err.links.length, 1);
  assert.match(err.links[0].link, /^https:\/\/open\.alipay\.com\/api\/errCheck\?traceId=/);
});

test('another merchant\'s trade looks like not found', async () => {
  const missing = await rejection(query(sdk, { trade_no: '2099010122001446880599999999' }));
  const other = await rejection(query(sdk, { trade_no: OTHER_MERCHANT_TRADE }));
  assert.equal(other.code, missing.code);
  assert.equal(other.responseHttpStatus, missing.responseHttpStatus);
  assert.deepEqual(other.links.length, missing.links.length);
  const untraced = err => err.message.replace(/ \(traceId: .*\)$/, '');
  assert.equal(untraced(other), untraced(missing));
});

test('wrong private key: 401 invalid-signature naming the verified string', async () => {
  const bad = makeSdk({ privateKey: otherKeyPair().privateKey });
  const err = await rejection(query(bad, { trade_no: T1 }));
  assert.equal(err.code, 'invalid-signature');
  assert.equal(err.responseHttpStatus, 401);
  assert.match(err.message, new RegExp(`app_id=${APP_ID},nonce=[0-9a-f-]{36},timestamp=\\d{13}\\nPOST\\n/v3/alipay/trade/query\\n\\{"trade_no":"${T1}"\\}\\n`));
});

test('unknown app id: 401 invalid-app-id', async () => {
  const err = await rejection(query(makeSdk({ appId: '2021000000009999' }), { trade_no: T1 }));
  assert.equal(err.code, 'invalid-app-id');
  assert.equal(err.responseHttpStatus, 401);
});

test('appAuthToken acts for merchant B', async () => {
  const { token, merchant_pid } = creds.alipay.app_auth_tokens[0];
  assert.equal(merchant_pid, MERCHANT_B);
  const b = await query(sdk, { trade_no: OTHER_MERCHANT_TRADE }, { appAuthToken: token });
  assert.deepEqual(b.data, expectedTrade(await adminRecord('alipay-trade', OTHER_MERCHANT_TRADE)));
  const shared = await query(sdk, { out_trade_no: SHARED_OUT_TRADE_NO }, { appAuthToken: token });
  assert.equal(shared.data.trade_no, OTHER_MERCHANT_TRADE);
  const a = await rejection(query(sdk, { trade_no: SEED_TRADE }, { appAuthToken: token }));
  assert.equal(a.code, 'ACQ.TRADE_NOT_EXIST');
  assert.equal(a.responseHttpStatus, 400);
  const bad = await rejection(query(sdk, { trade_no: T1 }, { appAuthToken: 'not-a-token' }));
  assert.equal(bad.code, 'invalid-app-auth-token');
  assert.equal(bad.responseHttpStatus, 401);
});

test('expired_seconds through additionalAuthInfo', async () => {
  const ok = await query(makeSdk({ additionalAuthInfo: 'expired_seconds=300' }), { trade_no: T1 });
  assert.equal(ok.data.trade_no, T1);
  const err = await rejection(query(makeSdk({ additionalAuthInfo: 'expired_seconds=soon' }), { trade_no: T1 }));
  assert.equal(err.code, 'invalid-timestamp');
  assert.equal(err.responseHttpStatus, 401);
});

test('unknown v3 path: 400 invalid-method', async () => {
  const err = await rejection(sdk.curl('POST', '/v3/alipay/trade/nosuch', { body: { trade_no: T1 } }));
  assert.equal(err.code, 'invalid-method');
  assert.equal(err.responseHttpStatus, 400);
});

test('AES content encryption (needEncrypt)', async () => {
  const rec = await startRecorder();
  try {
    const client = makeSdk({ endpoint: rec.url });
    const res = await query(client, { trade_no: T1 }, { needEncrypt: true });
    assert.equal(res.responseHttpStatus, 200);
    assert.deepEqual(res.data, expectedTrade(await adminRecord('alipay-trade', T1)));
    const { requestBody, headers, body } = rec.seen.at(-1);
    assert.ok(!requestBody.includes('trade_no'), 'the request body travels encrypted');
    assert.match(body, /^[A-Za-z0-9+/]+=*$/, 'the answer travels encrypted');
    assert.ok(verifyWithAlipayKey(`${headers['alipay-timestamp']}\n${headers['alipay-nonce']}\n${body}\n`, headers['alipay-signature']));
    assert.deepEqual(JSON.parse(aesDecrypt(body)), res.data);
    // Errors stay plain JSON, as the SDK parses them before decrypting anything.
    const err = await rejection(query(client, { trade_no: OTHER_MERCHANT_TRADE }, { needEncrypt: true }));
    assert.equal(err.code, 'ACQ.TRADE_NOT_EXIST');
    assert.equal(err.responseHttpStatus, 400);
  } finally {
    await rec.close();
  }
});

test('the SDK really checks signatures (control: another Alipay public key)', async () => {
  const err = await rejection(query(makeSdk({ alipayPublicKey: otherKeyPair().publicKey }), { trade_no: T1 }));
  assert.equal(err.code, 'response-signature-verify-error');
});

test('answers carry alipay-timestamp, alipay-nonce, alipay-signature, alipay-trace-id', async () => {
  const rec = await startRecorder();
  try {
    const res = await query(makeSdk({ endpoint: rec.url }), { trade_no: T1 });
    const { headers, body, status } = rec.seen.at(-1);
    assert.equal(status, 200);
    assert.match(headers['alipay-timestamp'], /^\d{13}$/);
    assert.ok(headers['alipay-nonce']);
    assert.equal(res.traceId, headers['alipay-trace-id']);
    assert.ok(verifyWithAlipayKey(`${headers['alipay-timestamp']}\n${headers['alipay-nonce']}\n${body}\n`, headers['alipay-signature']));
  } finally {
    await rec.close();
  }
});

test('reserved characters: the literal request target and body are what is signed', async () => {
  const weird = 'A+B&C=D%E 中/?#';
  const get = await rejection(sdk.curl('GET', PATH, { query: { out_trade_no: weird } }));
  assert.equal(get.code, 'ACQ.TRADE_NOT_EXIST');
  const post = await rejection(query(sdk, { out_trade_no: weird }));
  assert.equal(post.code, 'ACQ.TRADE_NOT_EXIST');
  // POST with a query string too.
  const both = await sdk.curl('POST', PATH, { query: { x: 'a b' }, body: { trade_no: T1 } });
  assert.equal(both.data.trade_no, T1);
});
