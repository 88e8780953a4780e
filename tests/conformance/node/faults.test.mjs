// Fault injection as the official Node `alipay-sdk` 4.14.0, unmodified, sees it: each fault
// action is installed through the admin API, then the SDK calls alipay.trade.query with
// `validateSign: true` (v2 `exec`) or its own signature check (v3 `curl`).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { makeSdk, creds, SEED_TRADE } from './alipay_common.mjs';

const sdk = makeSdk();
const V = { validateSign: true };
const ADMIN = process.env.TRADEQ_ADMIN_URL;

async function admin(method, path, body) {
  const res = await fetch(`${ADMIN}${path}`, {
    method,
    headers: { authorization: `Bearer ${creds.admin_token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function addRule(rule) {
  const res = await admin('POST', '/v1/faults', rule);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

function v2Query(client = sdk) {
  return client.exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE } }, V);
}

function v3Query(client = sdk) {
  return client.curl('POST', '/v3/alipay/trade/query', { body: { trade_no: SEED_TRADE } });
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the SDK to throw');
}

beforeEach(async () => {
  assert.equal((await admin('DELETE', '/v1/faults')).status, 200);
});

test('error ACQ.SYSTEM_ERROR: exec returns the signed business failure, once', async () => {
  const id = await addRule({
    match: { method: 'alipay.trade.query' }, times: 1,
    action: { type: 'error', code: 'ACQ.SYSTEM_ERROR' },
  });
  // validateSign passed: the injected error is signed like a real one.
  const got = await v2Query();
  assert.equal(got.code, '40004');
  assert.equal(got.msg, 'Business Failed');
  assert.equal(got.sub_code, 'ACQ.SYSTEM_ERROR');
  assert.equal(got.sub_msg, '系统错误');
  const next = await v2Query();
  assert.equal(next.code, '10000');
  const list = (await admin('GET', '/v1/faults')).body.faults;
  assert.equal(list.find(r => r.id === id).hits, 1);
});

test('error ACQ.SYSTEM_ERROR on v3: curl throws with the code and HTTP 500', async () => {
  await addRule({ match: { front_door: 'alipay_v3' }, times: 1, action: { type: 'error', code: 'ACQ.SYSTEM_ERROR' } });
  const err = await rejection(v3Query());
  assert.equal(err.name, 'AlipayRequestError');
  assert.equal(err.code, 'ACQ.SYSTEM_ERROR');
  assert.equal(err.responseHttpStatus, 500);
  assert.equal((await v3Query()).responseHttpStatus, 200);
});

test('error 20000 isp.unknow-error (v2)', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'error', code: '20000' } });
  const got = await v2Query();
  assert.equal(got.code, '20000');
  assert.equal(got.sub_code, 'isp.unknow-error');
});

test('bad_signature: exec with validateSign throws its verification failure', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'bad_signature' } });
  const err = await rejection(v2Query());
  assert.match(err.message, /^验签失败，服务端返回的 sign: '.+' 无效/);
  // Without validateSign the SDK takes the tampered answer at face value.
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'bad_signature' } });
  const unchecked = await sdk.exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE } });
  assert.equal(unchecked.code, '10000');
});

test('bad_signature on v3: curl throws response-signature-verify-error', async () => {
  await addRule({ match: { front_door: 'alipay_v3' }, times: 1, action: { type: 'bad_signature' } });
  const err = await rejection(v3Query());
  assert.equal(err.code, 'response-signature-verify-error');
});

test('timeout: the SDK gives up with its own timeout error', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'timeout', ms: 3000 } });
  const impatient = makeSdk({ timeout: 800 });
  const started = Date.now();
  const err = await rejection(v2Query(impatient));
  const waited = Date.now() - started;
  assert.match(err.message, /^HttpClient Request error: Request timeout for 800 ms/);
  assert.equal(err.cause.name, 'HttpClientRequestTimeoutError');
  assert.ok(waited < 2900, `${waited} ms`);
});

// The SDK's HTTP client (urllib over undici) sends a request again, once, when its connection
// closes without an answer: a fault limited to one hit is invisible to it.
test('timeout shorter than the SDK\'s: held, closed, resent once, then a socket error', async () => {
  const id = await addRule({ match: { front_door: 'alipay_v2' }, action: { type: 'timeout', ms: 500 } });
  const started = Date.now();
  const err = await rejection(v2Query(makeSdk({ timeout: 5000 })));
  assert.ok(Date.now() - started >= 950, 'held twice');
  assert.match(err.message, /^HttpClient Request error: other side closed/);
  assert.equal(err.cause.code, 'UND_ERR_SOCKET');
  const rule = (await admin('GET', '/v1/faults')).body.faults.find(r => r.id === id);
  assert.equal(rule.hits, 2);
});

test('reset: resent once, then a socket error; with times 1 the resend succeeds', async () => {
  const id = await addRule({ match: { front_door: 'alipay_v2' }, action: { type: 'reset' } });
  const err = await rejection(v2Query());
  assert.match(err.message, /^HttpClient Request error: other side closed/);
  assert.equal(err.responseDataRaw, undefined);
  assert.equal((await admin('GET', '/v1/faults')).body.faults.find(r => r.id === id).hits, 2);
  await admin('DELETE', '/v1/faults');
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'reset' } });
  assert.equal((await v2Query()).code, '10000');
});

test('http_status 502: exec throws the HTTP error with the empty body', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'http_status', status: 502 } });
  const err = await rejection(v2Query());
  assert.match(err.message, /^HTTP 请求错误, status: 502/);
  assert.equal(err.responseDataRaw, '');
});

test('truncate: exec cannot parse the cut body', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'truncate', bytes: 40 } });
  const err = await rejection(v2Query());
  assert.match(err.message, /^Response 格式错误/);
  assert.equal(err.responseDataRaw.length, 40);
});

test('delay: the normal answer, late', async () => {
  await addRule({ match: { front_door: 'alipay_v2' }, times: 1, action: { type: 'delay', ms: 700 } });
  const started = Date.now();
  const got = await v2Query();
  assert.equal(got.code, '10000');
  assert.ok(Date.now() - started >= 650);
});
