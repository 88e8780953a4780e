// The official Node `alipay-sdk` 4.14.0, unmodified: OpenAPI v2 `exec` against tradeq's
// /gateway.do with `validateSign: true` (issue #3). With validateSign the SDK throws when the
// answer's signature does not verify, so every result below passed its check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  makeSdk, adminRecord, plain, otherKeyPair, expectedTradeV2, expectedKoubei, invalidSignaturePattern,
  startRecorder, verifyWithAlipayKey, aesDecrypt, escapeRegExp, creds,
  TRADES, KOUBEI_ORDERS, ALL_OPTIONS, NOT_FOUND, OTHER_MERCHANT_TRADE, OTHER_MERCHANT_KOUBEI,
  SHARED_OUT_TRADE_NO, CHINESE_TRADE, SEED_TRADE, T1, MERCHANT_B,
} from './alipay_common.mjs';

const sdk = makeSdk();
const V = { validateSign: true };

function tradeQuery(client, bizContent, extra = {}, options = V) {
  return client.exec('alipay.trade.query', { bizContent, ...extra }, options);
}

test('alipay.trade.query by trade_no, every status', async () => {
  for (const [ tradeNo, [ status ] ] of Object.entries(TRADES)) {
    const got = plain(await tradeQuery(sdk, { trade_no: tradeNo }));
    assert.deepEqual(got, expectedTradeV2(await adminRecord('alipay-trade', tradeNo)));
    assert.equal(got.trade_status, status);
  }
});

test('alipay.trade.query by out_trade_no', async () => {
  for (const [ tradeNo, [ , outTradeNo ] ] of Object.entries(TRADES)) {
    const got = plain(await tradeQuery(sdk, { out_trade_no: outTradeNo }));
    assert.deepEqual(got, expectedTradeV2(await adminRecord('alipay-trade', tradeNo)));
  }
});

test('camelCase results by default (the SDK default)', async () => {
  const got = await tradeQuery(makeSdk({ camelcase: true }), { tradeNo: SEED_TRADE, queryOptions: [ 'fund_bill_list' ] });
  assert.equal(got.tradeStatus, 'TRADE_CLOSED');
  assert.equal(got.buyerLogonId, '159****5620');
  assert.equal(got.fundBillList[1].bankCode, 'CMB');
  assert.ok(got.traceId);
});

test('query_options gate fund_bill_list, trade_settle_info, voucher_detail_list', async () => {
  const rec = await adminRecord('alipay-trade', SEED_TRADE);
  const none = plain(await tradeQuery(sdk, { trade_no: SEED_TRADE }));
  assert.deepEqual(none, expectedTradeV2(rec));
  for (const b of ALL_OPTIONS) assert.ok(!(b in none), b);
  for (const block of ALL_OPTIONS) {
    const one = plain(await tradeQuery(sdk, { trade_no: SEED_TRADE, query_options: [ block ] }));
    assert.deepEqual(one, expectedTradeV2(rec, [ block ]));
    assert.deepEqual(ALL_OPTIONS.filter(b => b in one), [ block ]);
  }
  const every = plain(await tradeQuery(sdk, { trade_no: SEED_TRADE, query_options: ALL_OPTIONS }));
  assert.deepEqual(every, expectedTradeV2(rec, ALL_OPTIONS));
  assert.equal(every.trade_settle_info.trade_settle_detail_list[0].amount, '10.00');
});

test('buyer_logon_id is masked', async () => {
  const got = await tradeQuery(sdk, { trade_no: SEED_TRADE });
  assert.equal(got.buyer_logon_id, '159****5620');
});

test('Chinese text in the request and the answer', async () => {
  const got = plain(await tradeQuery(sdk, { trade_no: CHINESE_TRADE, query_options: [ 'fund_bill_list', '中文选项' ] }));
  assert.deepEqual(got, expectedTradeV2(await adminRecord('alipay-trade', CHINESE_TRADE), [ 'fund_bill_list' ]));
  assert.equal(got.subject, '中文商品 GBK 测试');
});

test('koubei.trade.itemorder.query, every status', async () => {
  for (const [ orderNo, status ] of Object.entries(KOUBEI_ORDERS)) {
    const got = plain(await sdk.exec('koubei.trade.itemorder.query', { bizContent: { order_no: orderNo } }, V));
    assert.deepEqual(got, expectedKoubei(await adminRecord('koubei-order', orderNo)));
    assert.equal(got.status, status);
  }
});

test('not found, and another merchant\'s trade, look the same', async () => {
  const missing = plain(await tradeQuery(sdk, { trade_no: '2099010122001446880599999999' }));
  const other = plain(await tradeQuery(sdk, { trade_no: OTHER_MERCHANT_TRADE }));
  assert.deepEqual(missing, NOT_FOUND);
  assert.deepEqual(other, missing);
  const kbMissing = plain(await sdk.exec('koubei.trade.itemorder.query', { bizContent: { order_no: '20990101000000001000000001' } }, V));
  const kbOther = plain(await sdk.exec('koubei.trade.itemorder.query', { bizContent: { order_no: OTHER_MERCHANT_KOUBEI } }, V));
  assert.equal(kbMissing.code, '40004');
  assert.equal(kbMissing.sub_code, 'INVALID_PARAMETER');
  assert.deepEqual(kbOther, kbMissing);
});

test('wrong private key: isv.invalid-signature naming the gateway\'s string-to-sign', async () => {
  const bad = makeSdk({ privateKey: otherKeyPair().privateKey });
  const got = plain(await tradeQuery(bad, { trade_no: T1 }));
  assert.equal(got.code, '40002');
  assert.equal(got.msg, 'Invalid Arguments');
  assert.equal(got.sub_code, 'isv.invalid-signature');
  assert.match(got.sub_msg, invalidSignaturePattern('alipay.trade.query', `{"trade_no":"${T1}"}`));
});

test('unknown app id: unsigned isv.invalid-app-id; validateSign crashes on the missing sign', async () => {
  const rec = await startRecorder();
  try {
    const stranger = makeSdk({ appId: '2021000000009999', gateway: `${rec.url}/gateway.do` });
    // Without verification the SDK returns the error object.
    const got = plain(await tradeQuery(stranger, { trade_no: T1 }, {}, {}));
    assert.equal(got.code, '40002');
    assert.equal(got.sub_code, 'isv.invalid-app-id');
    assert.equal(got.sub_msg, '无效的AppID参数');
    const raw = JSON.parse(rec.seen.at(-1).body);
    assert.deepEqual(Object.keys(raw), [ 'alipay_trade_query_response' ]);
    // With validateSign: true, a missing sign is a Node TypeError (docs/protocol/alipay-v2.md §3).
    await assert.rejects(tradeQuery(stranger, { trade_no: T1 }), err => {
      assert.equal(err.code, 'ERR_INVALID_ARG_TYPE');
      return true;
    });
  } finally {
    await rec.close();
  }
});

test('stale timestamp: isv.invalid-timestamp', async () => {
  const RealDate = globalThis.Date;
  class StaleDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() - 3600 * 1000);
      else super(...args);
    }
    static now() {
      return RealDate.now() - 3600 * 1000;
    }
  }
  globalThis.Date = StaleDate;
  let got;
  try {
    got = plain(await tradeQuery(sdk, { trade_no: T1 }));
  } finally {
    globalThis.Date = RealDate;
  }
  assert.deepEqual(got, { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-timestamp', sub_msg: '非法的时间戳参数' });
});

test('app_auth_token acts for merchant B', async () => {
  const { token, merchant_pid } = creds.alipay.app_auth_tokens[0];
  assert.equal(merchant_pid, MERCHANT_B);
  const b = plain(await tradeQuery(sdk, { trade_no: OTHER_MERCHANT_TRADE }, { appAuthToken: token }));
  assert.deepEqual(b, expectedTradeV2(await adminRecord('alipay-trade', OTHER_MERCHANT_TRADE)));
  const shared = await tradeQuery(sdk, { out_trade_no: SHARED_OUT_TRADE_NO }, { appAuthToken: token });
  assert.equal(shared.trade_no, OTHER_MERCHANT_TRADE);
  const a = plain(await tradeQuery(sdk, { trade_no: SEED_TRADE }, { appAuthToken: token }));
  assert.deepEqual(a, NOT_FOUND);
  const badToken = await tradeQuery(sdk, { trade_no: T1 }, { appAuthToken: 'not-a-token' });
  assert.equal(badToken.code, '20001');
  assert.equal(badToken.sub_code, 'aop.invalid-app-auth-token');
});

test('AES: encrypted request and answer (needEncrypt)', async () => {
  const rec = await startRecorder();
  try {
    const client = makeSdk({ gateway: `${rec.url}/gateway.do` });
    const expected = expectedTradeV2(await adminRecord('alipay-trade', T1));
    // The SDK decrypts, but cannot verify an encrypted answer (see below): verify it here.
    const got = plain(await client.exec('alipay.trade.query', { bizContent: { trade_no: T1 }, needEncrypt: true }));
    assert.deepEqual(got, expected);
    const { requestBody, body } = rec.seen.at(-1);
    const form = new URLSearchParams(requestBody);
    assert.equal(form.get('encrypt_type'), 'AES');
    assert.ok(!form.get('biz_content').includes('trade_no'), 'biz_content travels encrypted');
    const m = /^\{"alipay_trade_query_response":("[A-Za-z0-9+/=]+"),"sign":"([A-Za-z0-9+/=]+)"\}$/.exec(body);
    assert.ok(m, body);
    assert.ok(verifyWithAlipayKey(m[1], m[2]), 'the signature covers the quoted ciphertext');
    assert.deepEqual(JSON.parse(aesDecrypt(JSON.parse(m[1]))), expected);
    // Business errors travel encrypted too.
    const missing = plain(await client.exec('alipay.trade.query', { bizContent: { trade_no: '2099010122001446880599999999' }, needEncrypt: true }));
    assert.deepEqual(missing, NOT_FOUND);
    // SDK defect: getSignStr keeps only what lies between braces, so with validateSign the SDK
    // rejects every encrypted answer, however it is signed.
    await assert.rejects(
      client.exec('alipay.trade.query', { bizContent: { trade_no: T1 }, needEncrypt: true }, V),
      /验签失败/,
    );
  } finally {
    await rec.close();
  }
});

test('the SDK really checks signatures (control: another Alipay public key)', async () => {
  const wrong = makeSdk({ alipayPublicKey: otherKeyPair().publicKey });
  await assert.rejects(tradeQuery(wrong, { trade_no: T1 }), new RegExp(escapeRegExp('验签失败')));
});

test('the signed object is exactly the emitted bytes', async () => {
  const rec = await startRecorder();
  try {
    await tradeQuery(makeSdk({ gateway: `${rec.url}/gateway.do` }), { trade_no: CHINESE_TRADE }, {});
    const { body, headers } = rec.seen.at(-1);
    assert.ok(headers.trace_id, 'trace_id header');
    const m = /^\{"alipay_trade_query_response":(\{.*\}),"sign":"([A-Za-z0-9+/=]+)"\}$/.exec(body);
    assert.ok(m, body);
    assert.ok(verifyWithAlipayKey(m[1], m[2]));
  } finally {
    await rec.close();
  }
});

test('RSA (SHA1withRSA) sign_type', async () => {
  const got = plain(await tradeQuery(makeSdk({ signType: 'RSA' }), { trade_no: T1 }));
  assert.deepEqual(got, expectedTradeV2(await adminRecord('alipay-trade', T1)));
});

test('reserved characters in values, and empty extra parameters, are signed as sent', async () => {
  const weird = plain(await tradeQuery(sdk, { out_trade_no: 'A+B&C=D%E 中/?#' }));
  assert.deepEqual(weird, NOT_FOUND);
  const extra = await tradeQuery(sdk, { trade_no: T1 }, { foo: '', terminalType: 'WAP' });
  assert.equal(extra.code, '10000');
  assert.equal(extra.trade_no, T1);
});
