# -*- coding: utf-8 -*-
"""Shared helpers of the Alipay conformance suites (imported by alipay_*.py, not a test file).

The server under test is `tradeq serve --demo`; the Rust harness passes its coordinates in
TRADEQ_CREDENTIALS, TRADEQ_GATEWAY, TRADEQ_PORT and TRADEQ_ADMIN_URL. Expected values are built
from the stored demo records (admin API) with the documented output rules: amounts as strings
with the currency's minor digits (v2/v3 alipay.trade.query), yuan as JSON numbers with two
decimals (koubei), buyer_logon_id masked, optional blocks only when asked for.
"""

import json
import os
import re
import time
import urllib.request
from decimal import Decimal

# The SDKs send the host's local wall-clock time as `timestamp`, and the gateway reads it as
# Beijing time (docs/protocol/alipay-v2.md §5.1): run the clients as a client in China would.
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()

APP_ID = "2021000000000001"
MERCHANT_A = "2088102146225135"
MERCHANT_B = "2088202146225246"
OTHER_MERCHANT_TRADE = "2015042321001004720200028594"
OTHER_MERCHANT_KOUBEI = "20170601000000001000000009"
SHARED_OUT_TRADE_NO = "6823789339978248"  # used by merchant A and merchant B
GBK_TRADE = "2014112611001004680073956707"

# Every alipay.trade.query status of the demo data: trade_no -> (status, out_trade_no).
TRADES = {
    "2024010122001446880500000002": ("WAIT_BUYER_PAY", "DEMO-WAIT-1"),
    "2024010122001446880500000001": ("TRADE_SUCCESS", "T1"),
    GBK_TRADE: ("TRADE_SUCCESS", "20150320010101001"),
    "2024010122001446880500000003": ("TRADE_FINISHED", "DEMO-FINISHED-1"),
    "2013112011001004330000121536": ("TRADE_CLOSED", SHARED_OUT_TRADE_NO),
}
# Every koubei.trade.itemorder.query status: order_no -> status.
KOUBEI_ORDERS = {
    "20170501000000001000000002": "INIT",
    "20170501000000001000000003": "WAIT_PAY",
    "20170501000000001000000004": "PAID",
    "20170427000000001000000001": "SUCCESS",
    "20170501000000001000000005": "FINISH",
    "20160831001040010900010000000001": "CLOSE",
}
# Raw logon id -> what the protocol shows (phone: 3 + **** + 4; e-mail: 3 + *** + @domain).
MASKS = {
    "15901825620": "159****5620",
    "abcdef@example.com": "abc***@example.com",
    "abcdefg@example.com": "abc***@example.com",
    "13800138000": "138****8000",
    "13800138001": "138****8001",
    "13900139000": "139****9000",
}
ALL_OPTIONS = ["fund_bill_list", "trade_settle_info", "voucher_detail_list"]

NOT_FOUND = {
    "code": "40004",
    "msg": "Business Failed",
    "sub_code": "ACQ.TRADE_NOT_EXIST",
    "sub_msg": "交易不存在",
}
INVALID_SIGNATURE_PREFIX = (
    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
)


def credentials():
    with open(os.environ["TRADEQ_CREDENTIALS"], encoding="utf-8") as f:
        return json.load(f)


def gateway():
    return os.environ["TRADEQ_GATEWAY"]


def pem_body(pem):
    """The base64 of a PEM without its marker lines (what the official Python SDK takes)."""
    return "".join(l.strip() for l in pem.strip().splitlines() if not l.startswith("-----"))


def admin_record(kind, key):
    """A stored record, as the admin API returns it."""
    creds = credentials()
    req = urllib.request.Request(
        "%s/v1/records/%s/%s" % (os.environ["TRADEQ_ADMIN_URL"], kind, key),
        headers={"Authorization": "Bearer " + creds["admin_token"]},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))


def other_private_key_pkcs1_pem():
    """A fresh RSA-2048 key the server does not know (PKCS#1 PEM)."""
    from Crypto.PublicKey import RSA

    return RSA.generate(2048).export_key(pkcs=1).decode("ascii")


def other_public_key_pem():
    from Crypto.PublicKey import RSA

    return RSA.generate(2048).publickey().export_key().decode("ascii")


_DIGITS = {"JPY": 0, "KRW": 0}


def money(minor, currency="CNY"):
    digits = _DIGITS.get(currency or "CNY", 2)
    quantum = Decimal(1).scaleb(-digits)
    return str(Decimal(minor).scaleb(-digits).quantize(quantum))


_TRADE_STRINGS = [
    "trade_no", "out_trade_no", "trade_status", "trans_currency", "settle_currency",
    "pay_currency", "settle_trans_rate", "trans_pay_rate", "send_pay_date", "store_id",
    "terminal_id", "store_name", "buyer_user_id", "buyer_open_id", "charge_flags",
    "settlement_id", "auth_trade_pay_mode", "buyer_user_type", "subject", "body",
    "alipay_sub_merchant_id", "ext_infos", "industry_sepc_detail", "alipay_store_id",
    "buyer_user_name",
]
_TRADE_AMOUNTS = [
    "total_amount", "buyer_pay_amount", "point_amount", "invoice_amount", "receipt_amount",
    "charge_amount", "discount_amount",
]
_VOUCHER_AMOUNTS = [
    "amount", "merchant_contribute", "other_contribute", "purchase_buyer_contribute",
    "purchase_merchant_contribute", "purchase_ant_contribute",
]


def expected_trade(rec, options=()):
    """The business fields of alipay.trade.query for a stored trade (no code/msg)."""
    cur = rec.get("trans_currency", "CNY")
    out = {k: rec[k] for k in _TRADE_STRINGS if k in rec}
    out["buyer_logon_id"] = MASKS[rec["buyer_logon_id"]]
    for k in _TRADE_AMOUNTS:
        if k in rec:
            out[k] = money(rec[k], cur)
    for amount, currency in (("settle_amount", "settle_currency"), ("pay_amount", "pay_currency")):
        if amount in rec and currency in rec:
            out[amount] = money(rec[amount], rec[currency])
    if "fund_bill_list" in options and rec.get("fund_bill_list"):
        out["fund_bill_list"] = [
            {k: (money(v, cur) if k in ("amount", "real_amount") else v) for k, v in b.items()}
            for b in rec["fund_bill_list"]
        ]
    if "trade_settle_info" in options and rec.get("trade_settle_detail_list"):
        out["trade_settle_info"] = {
            "trade_settle_detail_list": [
                {k: (money(v, cur) if k == "amount" else v) for k, v in d.items()}
                for d in rec["trade_settle_detail_list"]
            ]
        }
    if "mdiscount_amount" in options and "mdiscount_amount" in rec:
        out["mdiscount_amount"] = money(rec["mdiscount_amount"], cur)
    if "discount_goods_detail" in options and "discount_goods_detail" in rec:
        out["discount_goods_detail"] = rec["discount_goods_detail"]
    if "voucher_detail_list" in options and rec.get("voucher_detail_list"):
        vouchers = []
        for v in rec["voucher_detail_list"]:
            o = {k: (money(x, cur) if k in _VOUCHER_AMOUNTS else x) for k, x in v.items()}
            if "other_contribute_detail" in v:
                o["other_contribute_detail"] = [
                    {"contribute_type": d["contribute_type"],
                     "contribute_amount": money(d["contribute_amount"], cur)}
                    for d in v["other_contribute_detail"]
                ]
            vouchers.append(o)
        out["voucher_detail_list"] = vouchers
    return out


def expected_trade_v2(rec, options=()):
    out = {"code": "10000", "msg": "Success"}
    out.update(expected_trade(rec, options))
    return out


def yuan(fen):
    return Decimal(fen).scaleb(-2).quantize(Decimal("0.01"))


def expected_koubei(rec):
    """koubei.trade.itemorder.query's inner object for a stored order; yuan as Decimals."""
    out = {"code": "10000", "msg": "Success"}
    for k in ("order_no", "out_order_no", "partner_id", "trade_no", "status", "buyer_id",
              "biz_product", "gmt_create", "seller_id", "gmt_payment", "gmt_modified"):
        if k in rec:
            out[k] = rec[k]
    for k in ("total_amount", "real_pay_amount", "discount_amount", "deliver_seller_real_amount"):
        if k in rec:
            out[k] = yuan(rec[k])
    out["item_order_vo"] = [
        {k: (yuan(v) if k == "price" else v) for k, v in item.items()}
        for item in rec["item_order_vo"]
    ]
    return out


def as_decimals(value):
    """Floats (from a JSON parser without parse_float) turned into Decimals, recursively."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_decimals(v) for v in value]
    return value


def assert_koubei_wire_numbers(raw_text, rec):
    """Koubei yuan amounts are JSON numbers with exactly two decimals on the wire (`25.00`)."""
    for k in ("total_amount", "real_pay_amount", "deliver_seller_real_amount"):
        assert '"%s":%s' % (k, yuan(rec[k])) in raw_text, (k, raw_text)


def invalid_signature_pattern(method, biz_content_regex):
    """The sub_msg of isv.invalid-signature: the gateway's string-to-sign, `&` as `&amp;`."""
    return re.compile(
        "^" + re.escape(INVALID_SIGNATURE_PREFIX)
        + re.escape("app_id=%s&amp;biz_content=" % APP_ID) + biz_content_regex
        + re.escape("&amp;charset=")
        + r"[^&]+(&amp;format=json)?"
        + re.escape("&amp;method=%s&amp;sign_type=RSA2&amp;timestamp=" % method)
        + r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
        + re.escape("&amp;version=1.0") + "$"
    )
