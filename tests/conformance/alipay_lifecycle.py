# -*- coding: utf-8 -*-
"""A record lifecycle seen through the community `python-alipay-sdk`, unmodified: a POS-style
client polls `alipay.trade.query` until the trade is paid. The trade was created unpaid and
given the `trade-paid-on-third-query` template through the admin API, so it is WAIT_BUYER_PAY on
polls 1 and 2 and TRADE_SUCCESS from poll 3 on. Every answer passed the SDK's signature check.
"""

import json
import os
import urllib.request

import alipay_common as c
from alipay import AliPay

TRADE_NO = "2024010122001446880500000002"


def admin(method, path, body=None):
    creds = c.credentials()
    req = urllib.request.Request(
        os.environ["TRADEQ_ADMIN_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode("utf-8"),
        headers={
            "Authorization": "Bearer " + creds["admin_token"],
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))


def client():
    creds = c.credentials()["alipay"]
    sdk = AliPay(
        appid=creds["app_id"],
        app_notify_url=None,
        app_private_key_string=creds["app_private_key_pkcs1_pem"],
        alipay_public_key_string=creds["alipay_public_key_pem"],
        sign_type="RSA2",
    )
    sdk._gateway = c.gateway() + "/gateway.do"
    return sdk


def test_polling_until_paid():
    admin("POST", "/v1/reset", {"to": "demo"})
    attached = admin(
        "POST",
        "/v1/records/alipay-trade/%s/lifecycle" % TRADE_NO,
        {"template": "trade-paid-on-third-query"},
    )
    assert attached["lifecycle"]["steps"][0]["status"] == "pending"

    sdk = client()
    polls = []
    while len(polls) < 10:
        got = sdk.api_alipay_trade_query(trade_no=TRADE_NO)
        assert got["code"] == "10000", got
        polls.append(got)
        if got["trade_status"] == "TRADE_SUCCESS":
            break
    assert [p["trade_status"] for p in polls] == [
        "WAIT_BUYER_PAY",
        "WAIT_BUYER_PAY",
        "TRADE_SUCCESS",
    ]
    paid = polls[-1]
    assert "send_pay_date" not in polls[1]
    assert paid["send_pay_date"]
    assert paid["receipt_amount"] == paid["total_amount"]

    # The admin API shows the step applied after three queries, and the answer equals the
    # stored record's rendering.
    rec = c.admin_record("alipay-trade", TRADE_NO)
    assert rec["lifecycle"]["queries"] == 3
    assert rec["lifecycle"]["steps"][0]["status"] == "applied"
    del rec["lifecycle"]
    assert c.expected_trade_v2(rec) == sdk.api_alipay_trade_query(trade_no=TRADE_NO)
    bills = sdk.server_api(
        "alipay.trade.query", {"trade_no": TRADE_NO, "query_options": ["fund_bill_list"]}
    )["fund_bill_list"]
    assert bills[0]["fund_channel"] == "ALIPAYACCOUNT"
