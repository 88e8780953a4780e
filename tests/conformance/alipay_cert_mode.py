# -*- coding: utf-8 -*-
"""The community `python-alipay-sdk` (3.4.0) cert-mode client `DCAliPay`, unmodified, against
tradeq's /gateway.do (issue #16), configured with the demo's certificate-mode app
(`alipay.cert_mode` in demo-credentials.json).

DCAliPay computes `app_cert_sn` and `alipay_root_cert_sn` from the certificates, adds them to every
request (a GET, everything in the URL, signed), and verifies answers with the key of the Alipay
public certificate. It raises AliPayValidationError on a signature mismatch, so every dict
returned below passed the SDK's signature check.
"""

import json
import os
import urllib.request

import pytest

import alipay_common as c
from alipay import DCAliPay
from alipay.exceptions import AliPayValidationError

T1 = "2024010122001446880500000001"
SEED_TRADE = "2013112011001004330000121536"


def cert_mode():
    return c.credentials()["alipay"]["cert_mode"]


def make_client(**overrides):
    cm = cert_mode()
    args = dict(
        appid=cm["app_id"],
        app_private_key_string=cm["app_private_key_pkcs1_pem"],
        app_public_key_cert_string=cm["app_cert_pem"],
        alipay_public_key_cert_string=cm["alipay_public_cert_pem"],
        alipay_root_cert_string=cm["alipay_root_cert_pem"],
        sign_type="RSA2",
    )
    args.update(overrides)
    client = DCAliPay(**args)
    client._gateway = c.gateway() + "/gateway.do"
    return client


@pytest.fixture(scope="module")
def client():
    return make_client()


def test_the_sdk_computes_the_sns_the_credentials_state(client):
    cm = cert_mode()
    assert client.app_cert_sn == cm["app_cert_sn"]
    assert client.alipay_root_cert_sn == cm["alipay_root_cert_sn"]
    assert DCAliPay.get_cert_sn(cm["alipay_public_cert_pem"]) == cm["alipay_cert_sn"]


@pytest.mark.parametrize("trade_no", sorted(c.TRADES))
def test_trade_query_every_status(client, trade_no):
    got = client.api_alipay_trade_query(trade_no=trade_no)
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", trade_no))
    assert got["trade_status"] == c.TRADES[trade_no][0]


def test_trade_query_with_options_and_by_out_trade_no(client):
    rec = c.admin_record("alipay-trade", SEED_TRADE)
    got = client.server_api(
        "alipay.trade.query", {"trade_no": SEED_TRADE, "query_options": c.ALL_OPTIONS}
    )
    assert got == c.expected_trade_v2(rec, c.ALL_OPTIONS)
    assert client.api_alipay_trade_query(out_trade_no=c.SHARED_OUT_TRADE_NO) == c.expected_trade_v2(rec)


def test_trade_query_not_found(client):
    assert client.api_alipay_trade_query(trade_no="2099010122001446880599999999") == c.NOT_FOUND


@pytest.mark.parametrize("order_no", sorted(c.KOUBEI_ORDERS))
def test_koubei_every_status(client, order_no):
    got = client.server_api("koubei.trade.itemorder.query", {"order_no": order_no})
    assert c.as_decimals(got) == c.expected_koubei(c.admin_record("koubei-order", order_no))


def test_koubei_not_found(client):
    got = client.server_api("koubei.trade.itemorder.query", {"order_no": "20990101000000001000000001"})
    assert got["code"] == "40004" and got["sub_code"] == "INVALID_PARAMETER"


def test_app_auth_token_acts_for_merchant_b(client):
    # A token of the certificate-mode app, granted through the admin API; DCAliPay passes extra
    # keyword arguments of server_api as signed top-level parameters.
    creds = c.credentials()
    req = urllib.request.Request(
        os.environ["TRADEQ_ADMIN_URL"] + "/v1/app-auth-tokens",
        data=json.dumps({"app_id": cert_mode()["app_id"], "merchant_pid": c.MERCHANT_B}).encode(),
        headers={
            "Authorization": "Bearer " + creds["admin_token"],
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read().decode("utf-8"))["token"]
    got = client.server_api("alipay.trade.query", {"trade_no": c.OTHER_MERCHANT_TRADE}, app_auth_token=token)
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", c.OTHER_MERCHANT_TRADE))
    assert client.server_api("alipay.trade.query", {"trade_no": SEED_TRADE}, app_auth_token=token) == c.NOT_FOUND


def test_a_wrong_root_bundle_is_refused():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "alipay_root_cert.pem"), encoding="utf-8") as f:
        other_roots = f.read()
    wrong = make_client(alipay_root_cert_string=other_roots)
    assert wrong.alipay_root_cert_sn != cert_mode()["alipay_root_cert_sn"]
    got = wrong.api_alipay_trade_query(trade_no=T1)
    assert got == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-alipay-root-cert-sn",
        "sub_msg": "无效支付宝根证书序列号",
    }


def test_an_unknown_app_certificate_is_refused():
    # A certificate the server never issued for this app: the platform's own.
    wrong = make_client(app_public_key_cert_string=cert_mode()["alipay_public_cert_pem"])
    got = wrong.api_alipay_trade_query(trade_no=T1)
    assert got["code"] == "40002" and got["sub_code"] == "isv.app-cert-not-exist"
    assert "trade_no" not in got


def test_the_sdk_really_checks_signatures():
    # Control: the app certificate given as the Alipay certificate (another key).
    wrong = make_client(alipay_public_key_cert_string=cert_mode()["app_cert_pem"])
    with pytest.raises(AliPayValidationError):
        wrong.api_alipay_trade_query(trade_no=T1)
