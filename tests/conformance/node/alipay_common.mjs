// Shared helpers of the Node Alipay conformance suites (imported by alipay_*.test.mjs).
//
// The SDKs send the host's local wall-clock time as the v2 `timestamp`, read by the gateway as
// Beijing time (docs/protocol/alipay-v2.md §5.1): run the client as a client in China would. Node picks up
// a change of process.env.TZ at run time.
process.env.TZ = 'Asia/Shanghai';

import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';

export const GATEWAY = process.env.TRADEQ_GATEWAY;
export const creds = JSON.parse(fs.readFileSync(process.env.TRADEQ_CREDENTIALS, 'utf8'));
export const APP_ID = '2021000000000001';
export const MERCHANT_B = '2088202146225246';
export const OTHER_MERCHANT_TRADE = '2015042321001004720200028594';
export const OTHER_MERCHANT_KOUBEI = '20170601000000001000000009';
export const SHARED_OUT_TRADE_NO = '6823789339978248';
export const CHINESE_TRADE = '2014112611001004680073956707';
export const SEED_TRADE = '2013112011001004330000121536';
export const T1 = '2024010122001446880500000001';

// trade_no -> [status, out_trade_no]
export const TRADES = {
  '2024010122001446880500000002': [ 'WAIT_BUYER_PAY', 'DEMO-WAIT-1' ],
  [T1]: [ 'TRADE_SUCCESS', 'T1' ],
  [CHINESE_TRADE]: [ 'TRADE_SUCCESS', '20150320010101001' ],
  '2024010122001446880500000003': [ 'TRADE_FINISHED', 'DEMO-FINISHED-1' ],
  [SEED_TRADE]: [ 'TRADE_CLOSED', SHARED_OUT_TRADE_NO ],
};
export const KOUBEI_ORDERS = {
  '20170501000000001000000002': 'INIT',
  '20170501000000001000000003': 'WAIT_PAY',
  '20170501000000001000000004': 'PAID',
  '20170427000000001000000001': 'SUCCESS',
  '20170501000000001000000005': 'FINISH',
  '20160831001040010900010000000001': 'CLOSE',
};
const MASKS = {
  15901825620: '159****5620',
  'abcdef@example.com': 'abc***@example.com',
  'abcdefg@example.com': 'abc***@example.com',
  13800138000: '138****8000',
  13800138001: '138****8001',
  13900139000: '139****9000',
};
export const ALL_OPTIONS = [ 'fund_bill_list', 'trade_settle_info', 'voucher_detail_list' ];
export const NOT_FOUND = { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' };
export const INVALID_SIGNATURE_PREFIX = '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：';

/** An SDK for the demo app; snake_case results so they compare with the stored records. */
export function makeSdk(overrides = {}) {
  return new AlipaySdk({
    appId: creds.alipay.app_id,
    privateKey: creds.alipay.app_private_key_pkcs1_pem,
    alipayPublicKey: creds.alipay.alipay_public_key_pem,
    gateway: `${GATEWAY}/gateway.do`,
    endpoint: GATEWAY,
    encryptKey: creds.alipay.aes_key,
    camelcase: false,
    ...overrides,
  });
}

export function otherKeyPair() {
  return crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
}

export async function adminRecord(kind, key) {
  const res = await fetch(`${process.env.TRADEQ_ADMIN_URL}/v1/records/${kind}/${key}`, {
    headers: { authorization: `Bearer ${creds.admin_token}` },
  });
  if (res.status !== 200) throw new Error(`admin API ${res.status} for ${kind}/${key}`);
  return await res.json();
}

/** The result of exec without the SDK's own traceId. */
export function plain(result) {
  const { traceId, ...rest } = result;
  return rest;
}

const DIGITS = { JPY: 0, KRW: 0 };
export function money(minor, currency = 'CNY') {
  const digits = DIGITS[currency] ?? 2;
  if (digits === 0) return String(minor);
  const neg = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const unit = 10 ** digits;
  return `${neg}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')}`;
}

const TRADE_STRINGS = [
  'trade_no', 'out_trade_no', 'trade_status', 'trans_currency', 'settle_currency', 'pay_currency',
  'settle_trans_rate', 'trans_pay_rate', 'send_pay_date', 'store_id', 'terminal_id', 'store_name',
  'buyer_user_id', 'buyer_open_id', 'charge_flags', 'settlement_id', 'auth_trade_pay_mode',
  'buyer_user_type', 'subject', 'body', 'alipay_sub_merchant_id', 'ext_infos',
  'industry_sepc_detail', 'alipay_store_id', 'buyer_user_name',
];
const TRADE_AMOUNTS = [
  'total_amount', 'buyer_pay_amount', 'point_amount', 'invoice_amount', 'receipt_amount',
  'charge_amount', 'discount_amount',
];
const VOUCHER_AMOUNTS = [
  'amount', 'merchant_contribute', 'other_contribute', 'purchase_buyer_contribute',
  'purchase_merchant_contribute', 'purchase_ant_contribute',
];

function mapAmounts(obj, amountKeys, cur) {
  const out = {};
  for (const [ k, v ] of Object.entries(obj)) out[k] = amountKeys.includes(k) ? money(v, cur) : v;
  return out;
}

/** alipay.trade.query's business fields for a stored trade (the v3 body; v2 adds code/msg). */
export function expectedTrade(rec, options = []) {
  const cur = rec.trans_currency ?? 'CNY';
  const out = {};
  for (const k of TRADE_STRINGS) if (k in rec) out[k] = rec[k];
  out.buyer_logon_id = MASKS[rec.buyer_logon_id];
  for (const k of TRADE_AMOUNTS) if (k in rec) out[k] = money(rec[k], cur);
  if ('settle_amount' in rec && 'settle_currency' in rec) out.settle_amount = money(rec.settle_amount, rec.settle_currency);
  if ('pay_amount' in rec && 'pay_currency' in rec) out.pay_amount = money(rec.pay_amount, rec.pay_currency);
  if (options.includes('fund_bill_list') && rec.fund_bill_list?.length) {
    out.fund_bill_list = rec.fund_bill_list.map(b => mapAmounts(b, [ 'amount', 'real_amount' ], cur));
  }
  if (options.includes('trade_settle_info') && rec.trade_settle_detail_list?.length) {
    out.trade_settle_info = {
      trade_settle_detail_list: rec.trade_settle_detail_list.map(d => mapAmounts(d, [ 'amount' ], cur)),
    };
  }
  if (options.includes('voucher_detail_list') && rec.voucher_detail_list?.length) {
    out.voucher_detail_list = rec.voucher_detail_list.map(v => {
      const o = mapAmounts(v, VOUCHER_AMOUNTS, cur);
      if (v.other_contribute_detail) {
        o.other_contribute_detail = v.other_contribute_detail.map(d => mapAmounts(d, [ 'contribute_amount' ], cur));
      }
      return o;
    });
  }
  return out;
}

export function expectedTradeV2(rec, options = []) {
  return { code: '10000', msg: 'Success', ...expectedTrade(rec, options) };
}

/** koubei.trade.itemorder.query for a stored order; yuan as numbers (`25.00` parses to 25). */
export function expectedKoubei(rec) {
  const out = { code: '10000', msg: 'Success' };
  for (const k of [ 'order_no', 'out_order_no', 'partner_id', 'trade_no', 'status', 'buyer_id', 'biz_product',
    'gmt_create', 'seller_id', 'gmt_payment', 'gmt_modified' ]) {
    if (k in rec) out[k] = rec[k];
  }
  for (const k of [ 'total_amount', 'real_pay_amount', 'discount_amount', 'deliver_seller_real_amount' ]) {
    if (k in rec) out[k] = rec[k] / 100;
  }
  out.item_order_vo = rec.item_order_vo.map(i => ({ ...i, price: i.price / 100 }));
  return out;
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The sub_msg of isv.invalid-signature for Node's v2 string-to-sign, `&` written `&amp;`. */
export function invalidSignaturePattern(method, bizContent, extra = '') {
  return new RegExp('^' + escapeRegExp(INVALID_SIGNATURE_PREFIX)
    + escapeRegExp(`app_id=${APP_ID}&amp;biz_content=${bizContent}&amp;charset=utf-8${extra}&amp;method=${method}&amp;sign_type=RSA2&amp;timestamp=`)
    + '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d' + escapeRegExp('&amp;version=1.0') + '$');
}

/**
 * A pass-through HTTP proxy in front of the gateway that keeps every exchange, so a test can
 * look at the exact bytes the SDK sent and received.
 */
export async function startRecorder() {
  const seen = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = {};
    for (const [ k, v ] of Object.entries(req.headers)) {
      if (![ 'host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive' ].includes(k)) headers[k] = v;
    }
    const upstream = await fetch(GATEWAY + req.url, {
      method: req.method, headers, body: body.length ? body : undefined,
    });
    const answer = Buffer.from(await upstream.arrayBuffer());
    const answerHeaders = Object.fromEntries(upstream.headers);
    seen.push({ method: req.method, url: req.url, requestHeaders: headers, requestBody: body.toString('utf8'), status: upstream.status, headers: answerHeaders, body: answer.toString('utf8') });
    delete answerHeaders['content-length'];
    delete answerHeaders['transfer-encoding'];
    delete answerHeaders.connection;
    delete answerHeaders['keep-alive'];
    res.writeHead(upstream.status, answerHeaders);
    res.end(answer);
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise(resolve => server.close(resolve)),
  };
}

export function verifyWithAlipayKey(content, signatureB64) {
  return crypto.verify('RSA-SHA256', Buffer.from(content, 'utf8'), creds.alipay.alipay_public_key_pem, Buffer.from(signatureB64, 'base64'));
}

export function aesDecrypt(ciphertextB64) {
  const decipher = crypto.createDecipheriv('aes-128-cbc', Buffer.from(creds.alipay.aes_key, 'base64'), Buffer.alloc(16));
  return Buffer.concat([ decipher.update(Buffer.from(ciphertextB64, 'base64')), decipher.final() ]).toString('utf8');
}
