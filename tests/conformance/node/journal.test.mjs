// The request journal seen from the official Node `alipay-sdk` 4.14.0, unmodified: every call
// appears in the journal under the id the SDK reports (`traceId`), and a client on a UTC host
// (no TZ) gets the whole-hours diagnosis, in the journal and as the hint `--demo` appends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSdk, creds, SEED_TRADE, SHARED_OUT_TRADE_NO } from './alipay_common.mjs';

const ADMIN = process.env.TRADEQ_ADMIN_URL;

async function admin(path) {
  const res = await fetch(`${ADMIN}${path}`, { headers: { authorization: `Bearer ${creds.admin_token}` } });
  assert.equal(res.status, 200, `admin API ${res.status} for ${path}`);
  return await res.json();
}

test('a v2 exec is in the journal under the traceId the SDK got', async () => {
  const got = await makeSdk().exec('alipay.trade.query', { bizContent: { out_trade_no: SHARED_OUT_TRADE_NO } },
    { validateSign: true });
  assert.equal(got.code, '10000');
  assert.ok(got.traceId);
  const entry = await admin(`/v1/journal/${got.traceId}`);
  assert.equal(entry.id, got.traceId);
  assert.equal(entry.front_door, 'alipay_v2');
  assert.equal(entry.method, 'alipay.trade.query');
  assert.equal(entry.app, creds.alipay.app_id);
  assert.equal(entry.outcome, 'ok');
  assert.equal(entry.verification, 'verified');
  assert.equal(entry.record_key, SHARED_OUT_TRADE_NO);
  assert.deepEqual(entry.diagnosis, []);
  assert.ok(entry.sign_string.includes('&method=alipay.trade.query&'), entry.sign_string);
  assert.equal(entry.params.sign, undefined);
});

test('a v3 curl is in the journal under its alipay-trace-id', async () => {
  const res = await makeSdk().curl('POST', '/v3/alipay/trade/query', { body: { trade_no: SEED_TRADE } });
  assert.ok(res.traceId);
  const entry = await admin(`/v1/journal/${res.traceId}`);
  assert.equal(entry.front_door, 'alipay_v3');
  assert.equal(entry.params.trade_no, SEED_TRADE);
  assert.equal(entry.outcome, 'ok');
});

test('a client on a UTC host is told to set TZ=Asia/Shanghai', async () => {
  process.env.TZ = 'UTC';
  let got;
  try {
    got = await makeSdk().exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE } });
  } finally {
    process.env.TZ = 'Asia/Shanghai';
  }
  assert.equal(got.subCode ?? got.sub_code, 'isv.invalid-timestamp');
  // `tradeq serve --demo` explains in the answer too.
  assert.match(got.subMsg ?? got.sub_msg, /set TZ=Asia\/Shanghai/);
  const entry = await admin(`/v1/journal/${got.traceId}`);
  assert.equal(entry.outcome, 'error');
  assert.equal(entry.sub_code, 'isv.invalid-timestamp');
  assert.match(entry.diagnosis.join(' '), /8 whole hours off: your client stamped UTC/);
  const errors = await admin('/v1/journal?outcome=error&limit=1');
  assert.equal(errors.entries[0].id, got.traceId);
});
