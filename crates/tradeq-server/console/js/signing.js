// Building and signing protocol requests exactly as the SDKs do, and checking answers'
// signatures. The rules (docs/protocol/): v2 signs the sorted `name=value&…` of every parameter
// but `sign`; v3 signs five lines (auth string, method, target, body, and the app auth token
// when sent); TOP digests the sorted `name` + `value` concatenation under the app secret.

import { importPrivateKey, importPublicKey, rsaSign, rsaVerify, topDigest, randomHex } from './crypto.js';

// The explorer's methods: id, wire name, front door, business fields.
export const METHODS = [
  { id: 'alipay.trade.query/v2', name: 'alipay.trade.query', door: 'alipay_v2', label: 'alipay.trade.query (v2 gateway)',
    fields: [['out_trade_no', '6823789339978248'], ['trade_no', ''], ['org_pid', ''], ['query_options', '', 'comma-separated, e.g. fund_bill_list,trade_settle_info']] },
  { id: 'alipay.trade.query/v3', name: 'alipay.trade.query', door: 'alipay_v3', label: 'alipay.trade.query (v3 REST)',
    fields: [['out_trade_no', '6823789339978248'], ['trade_no', ''], ['org_pid', ''], ['query_options', '', 'comma-separated, e.g. fund_bill_list,trade_settle_info']] },
  { id: 'koubei.trade.itemorder.query', name: 'koubei.trade.itemorder.query', door: 'alipay_v2', label: 'koubei.trade.itemorder.query (v2 gateway)',
    fields: [['order_no', '20160831001040010900010000000001']] },
  { id: 'alibaba.xlife.onsite.trade.query', name: 'alibaba.xlife.onsite.trade.query', door: 'top', label: 'alibaba.xlife.onsite.trade.query (TOP)',
    fields: [['trade_no', '2013112011001004330000121536'], ['short_trade_no', ''], ['out_trade_no', '']] },
  { id: 'tmall.luxury.stage.edi.alipay.trade.query', name: 'tmall.luxury.stage.edi.alipay.trade.query', door: 'top', label: 'tmall.luxury.stage.edi.alipay.trade.query (TOP)',
    fields: [['out_trade_no', '6823789339978248'], ['trade_no', ''], ['query_options', '', 'comma-separated']],
    wrap: 'edi_alipay_trade_query_request' },
  { id: 'alibaba.omni.order.query', name: 'alibaba.omni.order.query', door: 'top', label: 'alibaba.omni.order.query (TOP)',
    fields: [['user_id', '3031798632'], ['order_id', '108717674563804955'], ['out_order_id', '12348']] },
];

// `yyyy-MM-dd HH:mm:ss` in GMT+8, the platforms' time.
export function gmt8(ms = Date.now()) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

// Form encoding as the SDKs write it (space as %20 is decoded the same by the gateway).
function form(pairs) {
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

// The business parameters as JSON members: query_options becomes an array; empty fields are
// left out (an SDK does not send them).
function business(method, values) {
  const biz = {};
  for (const [name] of method.fields) {
    const v = (values[name] || '').trim();
    if (!v) continue;
    biz[name] = name === 'query_options' ? v.split(',').map(s => s.trim()).filter(Boolean) : v;
  }
  return biz;
}

// v2: every parameter but `sign`, sorted, `name=value&…`; blank values are not sent at all.
export function v2SignString(params) {
  return params.filter(([, v]) => v !== '').sort(byName).map(([k, v]) => `${k}=${v}`).join('&');
}

export function topSignString(params) {
  return params.filter(([, v]) => v.trim() !== '').sort(byName).map(([k, v]) => k + v).join('');
}

// Builds and signs a request stamped `nowMs`. `creds`: {appId, privateKey, appAuthToken} for
// Alipay, {appKey, secret, session, signMethod} for TOP. Answers {request, signString};
// `request` is what POST /v1/explorer/send takes.
export async function buildRequest(method, values, creds, nowMs = Date.now()) {
  const biz = business(method, values);
  if (method.door === 'alipay_v2') {
    const params = [
      ['app_id', creds.appId], ['method', method.name], ['format', 'JSON'], ['charset', 'utf-8'],
      ['sign_type', 'RSA2'], ['timestamp', gmt8(nowMs)], ['version', '1.0'],
      ['biz_content', JSON.stringify(biz)],
    ];
    if (creds.appAuthToken) params.push(['app_auth_token', creds.appAuthToken]);
    const signString = v2SignString(params);
    const key = await importPrivateKey(creds.privateKey);
    const sign = await rsaSign(key, signString);
    // The SDKs' layout: common parameters and `sign` in the query, biz_content in the body.
    const query = params.filter(([k]) => k !== 'biz_content').concat([['sign', sign]]);
    return {
      signString,
      request: {
        method: 'POST',
        target: `/gateway.do?${form(query)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
        body: form([['biz_content', JSON.stringify(biz)]]),
      },
    };
  }
  if (method.door === 'alipay_v3') {
    const target = `/v3/${method.name.replaceAll('.', '/')}`;
    const body = JSON.stringify(biz);
    const auth = `app_id=${creds.appId},nonce=${randomHex(16)},timestamp=${nowMs}`;
    let signString = `${auth}\nPOST\n${target}\n${body}\n`;
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (creds.appAuthToken) {
      signString += `${creds.appAuthToken}\n`;
      headers['alipay-app-auth-token'] = creds.appAuthToken;
    }
    const key = await importPrivateKey(creds.privateKey);
    headers.authorization = `ALIPAY-SHA256withRSA ${auth},sign=${await rsaSign(key, signString)}`;
    return { signString, request: { method: 'POST', target, headers, body } };
  }
  const system = [
    ['method', method.name], ['app_key', creds.appKey], ['timestamp', gmt8(nowMs)], ['format', 'json'],
    ['v', '2.0'], ['sign_method', creds.signMethod],
  ];
  if (creds.session) system.push(['session', creds.session]);
  const bizPairs = method.wrap
    ? (Object.keys(biz).length ? [[method.wrap, JSON.stringify(biz)]] : [])
    : Object.entries(biz).map(([k, v]) => [k, String(v)]);
  const signString = topSignString([...system, ...bizPairs]);
  const sign = await topDigest(creds.signMethod, creds.secret, signString);
  return {
    signString,
    request: {
      method: 'POST',
      target: `/router/rest?${form([...system, ['sign', sign]])}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: form(bizPairs),
    },
  };
}

// The exact text of a v2 answer's `<method>_response` (or `error_response`) object, found by
// quote-aware brace matching, and its `sign`; null when the body has no such object.
export function v2SignedPart(body, methodName) {
  const keys = [`"${methodName.replaceAll('.', '_')}_response"`, '"error_response"'];
  for (const key of keys) {
    const at = body.indexOf(key);
    if (at < 0) continue;
    const start = body.indexOf('{', at + key.length);
    if (start < 0 || body.slice(at + key.length, start).replace(/[\s:]/g, '')) continue;
    let depth = 0, inString = false;
    for (let i = start; i < body.length; i++) {
      const c = body[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        const content = body.slice(start, i + 1);
        const m = body.slice(i + 1).match(/^\s*,\s*(?:"alipay_cert_sn"\s*:\s*"[^"]*"\s*,\s*)?"sign"\s*:\s*"([^"]*)"/);
        return { content, sign: m ? m[1] : null };
      }
    }
  }
  return null;
}

// Whether an answer's signature verifies: {verdict: 'verifies' | 'does not verify' | 'not signed',
// signed: the text that the signature covers}.
export async function checkAnswer(method, answer, platformPublicKeyPem) {
  if (method.door === 'top') return { verdict: 'not signed', detail: 'TOP answers carry no signature.' };
  if (answer.status === null) return { verdict: 'not signed', detail: 'No answer was received.' };
  let signed, sign;
  if (method.door === 'alipay_v2') {
    const part = v2SignedPart(answer.body, method.name);
    if (!part || !part.sign) return { verdict: 'not signed', detail: 'The answer has no sign.' };
    signed = part.content;
    sign = part.sign;
  } else {
    const h = answer.headers;
    if (!h['alipay-signature']) return { verdict: 'not signed', detail: 'The answer has no alipay-signature header.' };
    signed = `${h['alipay-timestamp']}\n${h['alipay-nonce']}\n${answer.body}\n`;
    sign = h['alipay-signature'];
  }
  if (!platformPublicKeyPem) return { verdict: 'does not verify', detail: 'No platform public key for this app.', signed };
  const key = await importPublicKey(platformPublicKeyPem);
  const ok = await rsaVerify(key, signed, sign);
  return {
    verdict: ok ? 'verifies' : 'does not verify',
    detail: ok ? 'Verified with the app\'s platform public key.' : 'The signature does not match the platform public key.',
    signed,
  };
}
