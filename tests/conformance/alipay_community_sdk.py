# -*- coding: utf-8 -*-
"""The community `python-alipay-sdk` (3.4.0), unmodified, against tradeq's /gateway.do (issue #3).

It sends every parameter in the URL of a GET, `biz_content` with `\\u` escapes. It verifies every
answer that carries a top-level "sign" and no error_response, raising AliPayValidationError on a
mismatch; answers without "sign" raise AliPayException. So every dict returned below passed the
SDK's signature check.
"""

import datetime as real_datetime
from decimal import Decimal

import pytest

import alipay as pyf
import alipay_common as c
from alipay import AliPay, ISVAliPay
from alipay.exceptions import AliPayException, AliPayValidationError


def make_client(cls=AliPay, private_key=None, appid=None, alipay_public_key=None, **extra):
    creds = c.credentials()["alipay"]
    client = cls(
        appid=appid or creds["app_id"],
        app_notify_url=None,
        app_private_key_string=private_key or creds["app_private_key_pkcs1_pem"],
        alipay_public_key_string=alipay_public_key or creds["alipay_public_key_pem"],
        sign_type="RSA2",
        **extra,
    )
    client._gateway = c.gateway() + "/gateway.do"
    return client


def trade_query(client, options=None, **keys):
    biz = dict(keys)
    if options is not None:
        biz["query_options"] = options
    return client.server_api("alipay.trade.query", biz)


@pytest.fixture(scope="module")
def client():
    return make_client()


@pytest.mark.parametrize("trade_no", sorted(c.TRADES))
def test_trade_by_trade_no_every_status(client, trade_no):
    # The SDK's own helper.
    got = client.api_alipay_trade_query(trade_no=trade_no)
    rec = c.admin_record("alipay-trade", trade_no)
    assert got == c.expected_trade_v2(rec)
    assert got["trade_status"] == c.TRADES[trade_no][0]


@pytest.mark.parametrize("trade_no", sorted(c.TRADES))
def test_trade_by_out_trade_no(client, trade_no):
    got = client.api_alipay_trade_query(out_trade_no=c.TRADES[trade_no][1])
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", trade_no))


def test_query_options_gate_the_optional_blocks(client):
    trade_no = "2013112011001004330000121536"
    rec = c.admin_record("alipay-trade", trade_no)
    plain = trade_query(client, trade_no=trade_no)
    assert plain == c.expected_trade_v2(rec)
    assert not [b for b in c.ALL_OPTIONS if b in plain]
    for block in c.ALL_OPTIONS:
        one = trade_query(client, trade_no=trade_no, options=[block])
        assert one == c.expected_trade_v2(rec, [block])
        assert [b for b in c.ALL_OPTIONS if b in one] == [block]
    every = trade_query(client, trade_no=trade_no, options=c.ALL_OPTIONS)
    assert every == c.expected_trade_v2(rec, c.ALL_OPTIONS)


def test_buyer_logon_id_is_masked(client):
    got = client.api_alipay_trade_query(trade_no="2013112011001004330000121536")
    assert got["buyer_logon_id"] == "159****5620"


def test_chinese_text(client):
    # The SDK escapes non-ASCII as \\uXXXX in biz_content; the gateway verifies the text as sent.
    got = trade_query(client, trade_no=c.GBK_TRADE, options=["中文选项"])
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", c.GBK_TRADE))
    assert got["subject"] == "中文商品 GBK 测试"


@pytest.mark.parametrize("order_no", sorted(c.KOUBEI_ORDERS))
def test_koubei_every_status(client, order_no):
    got = client.server_api("koubei.trade.itemorder.query", {"order_no": order_no})
    rec = c.admin_record("koubei-order", order_no)
    assert c.as_decimals(got) == c.expected_koubei(rec)
    assert got["status"] == c.KOUBEI_ORDERS[order_no]


def test_not_found_and_other_merchant_look_the_same(client):
    missing = client.api_alipay_trade_query(trade_no="2099010122001446880599999999")
    other = client.api_alipay_trade_query(trade_no=c.OTHER_MERCHANT_TRADE)
    assert missing == c.NOT_FOUND
    assert other == missing


def test_koubei_not_found_and_other_merchant_look_the_same(client):
    missing = client.server_api("koubei.trade.itemorder.query", {"order_no": "20990101000000001000000001"})
    other = client.server_api("koubei.trade.itemorder.query", {"order_no": c.OTHER_MERCHANT_KOUBEI})
    assert missing["code"] == "40004" and missing["sub_code"] == "INVALID_PARAMETER"
    assert other == missing


def test_wrong_private_key_is_invalid_signature_with_the_string_to_sign():
    bad = make_client(private_key=c.other_private_key_pkcs1_pem())
    got = bad.api_alipay_trade_query(trade_no="2024010122001446880500000001")
    assert got["code"] == "40002" and got["sub_code"] == "isv.invalid-signature"
    # This SDK sends no `format`, and its biz_content is compact json.dumps.
    biz = '\\{"trade_no":\\ ?"2024010122001446880500000001"\\}'
    assert c.invalid_signature_pattern("alipay.trade.query", biz).match(got["sub_msg"]), got["sub_msg"]
    assert "&amp;format=" not in got["sub_msg"]


def test_unknown_app_id_is_unsigned_and_the_sdk_raises():
    # Documented in the SDK (issue #69): an answer without "sign" raises AliPayException
    # carrying the raw body, without verification.
    stranger = make_client(appid="2021000000009999")
    with pytest.raises(AliPayException) as err:
        stranger.api_alipay_trade_query(trade_no="2024010122001446880500000001")
    text = str(err.value)
    assert "code:40002" in text and '"sub_code":"isv.invalid-app-id"' in text
    assert '"sign"' not in text


def test_stale_timestamp(monkeypatch):
    class StaleDatetime(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.datetime.now(tz) - real_datetime.timedelta(minutes=30)

    monkeypatch.setattr(pyf, "datetime", StaleDatetime)
    got = make_client().api_alipay_trade_query(trade_no="2024010122001446880500000001")
    assert got == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-timestamp",
        "sub_msg": "非法的时间戳参数",
    }


def test_app_auth_token_acts_for_merchant_b():
    token = c.credentials()["alipay"]["app_auth_tokens"][0]
    assert token["merchant_pid"] == c.MERCHANT_B
    isv = make_client(ISVAliPay, app_auth_token=token["token"])
    got = isv.api_alipay_trade_query(trade_no=c.OTHER_MERCHANT_TRADE)
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", c.OTHER_MERCHANT_TRADE))
    assert isv.api_alipay_trade_query(out_trade_no=c.SHARED_OUT_TRADE_NO)["trade_no"] == c.OTHER_MERCHANT_TRADE
    assert isv.api_alipay_trade_query(trade_no="2013112011001004330000121536") == c.NOT_FOUND


def test_the_sdk_really_checks_signatures():
    wrong = make_client(alipay_public_key=c.other_public_key_pem())
    with pytest.raises(AliPayValidationError):
        wrong.api_alipay_trade_query(trade_no="2024010122001446880500000001")


def test_koubei_amounts_are_two_decimal_numbers(client):
    got = client.server_api("koubei.trade.itemorder.query", {"order_no": "20160831001040010900010000000001"})
    assert isinstance(got["total_amount"], float) and Decimal(repr(got["total_amount"])) == Decimal("25")


def test_rsa_sha1_sign_type():
    creds = c.credentials()["alipay"]
    rsa1 = AliPay(appid=creds["app_id"], app_notify_url=None,
                  app_private_key_string=creds["app_private_key_pkcs1_pem"],
                  alipay_public_key_string=creds["alipay_public_key_pem"], sign_type="RSA")
    rsa1._gateway = c.gateway() + "/gateway.do"
    got = rsa1.api_alipay_trade_query(trade_no="2024010122001446880500000001")
    assert got == c.expected_trade_v2(c.admin_record("alipay-trade", "2024010122001446880500000001"))


def test_reserved_characters_in_values(client):
    assert client.api_alipay_trade_query(out_trade_no="A+B&C=D%E 中/?#") == c.NOT_FOUND
