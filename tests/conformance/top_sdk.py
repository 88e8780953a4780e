# -*- coding: utf-8 -*-
"""The official Python TOP SDK (taobao-sdk-python3 1.0.9, `top.api.base.RestApi`), unmodified,
against `tradeq serve --demo`: the three TOP methods and every gateway error class.

The SDK hard-codes `/router/rest`, `format=json`, `sign_method=md5` and an epoch-millisecond
`timestamp`, with system parameters in the URL and business parameters in a form body. It has no
way to choose hmac or hmac-sha256 (`sign()` is MD5 only), so those are covered by
top_raw_http.py.
"""

import datetime
import json

import pytest

import top.api.base
from top_support import (
    APP_KEY,
    EXPIRED_SHORT_TRADE_NO,
    EXPIRED_TRADE_NO,
    GUIDE,
    ORDER_ID,
    OTHER_ALIPAY_TRADE_NO,
    OTHER_ONSITE_OUT,
    OTHER_ONSITE_SHORT,
    OTHER_ONSITE_TRADE_NO,
    OTHER_ORDER_ID,
    OTHER_OUT_ORDER_ID,
    OTHER_SESSION,
    OUT_ORDER_ID,
    OUT_TRADE_NO,
    SECRET,
    SESSION,
    SHORT_TRADE_NO,
    TRADE_NO,
    EdiAlipayTradeQueryRequest,
    NamedRequest,
    OmniOrderQueryRequest,
    OnsiteTradeQueryRequest,
    sdk_call,
    sdk_error,
)


def onsite(session=SESSION, **keys):
    req = OnsiteTradeQueryRequest()
    for k, v in keys.items():
        setattr(req, k, v)
    return sdk_call(req, session)


def onsite_error(session=SESSION, **keys):
    req = OnsiteTradeQueryRequest()
    for k, v in keys.items():
        setattr(req, k, v)
    return sdk_error(req, session)


def edi_request(**inner):
    req = EdiAlipayTradeQueryRequest()
    req.edi_alipay_trade_query_request = json.dumps(inner, ensure_ascii=False)
    return req


def omni_request(user_id=GUIDE, order_id=ORDER_ID, out_order_id=OUT_ORDER_ID):
    req = OmniOrderQueryRequest()
    req.user_id = user_id
    req.order_id = order_id
    req.out_order_id = out_order_id
    return req


def trade_of(answer):
    assert list(answer) == ["alibaba_xlife_onsite_trade_query_response"], answer
    body = answer["alibaba_xlife_onsite_trade_query_response"]
    assert isinstance(body["request_id"], str) and body["request_id"]
    return body["onsite_trade_query_response"]


def assert_error(e, code, subcode=None, message=None):
    assert e.errorcode == code, str(e)
    assert e.subcode == subcode, str(e)
    if message is not None:
        assert e.message == message, str(e)


# --- alibaba.xlife.onsite.trade.query -------------------------------------------------------


def check_demo_onsite_trade(t):
    """The demo record of the xlife document's trade (docs/methods.md §3) (crates/tradeq-server/src/demo.rs)."""
    assert t["trade_no"] == TRADE_NO
    assert t["out_trade_no"] == OUT_TRADE_NO
    assert t["buyer_id"] == "2088102122524333"
    assert t["buyer_nick"] == "59****5620"  # masked, as the xlife document shows (docs/methods.md §3)
    assert t["store_name"] == "炉鱼城西银泰店"
    assert t["trade_status"] == "TRADE_SUCCESS"
    assert t["total_amount"] == 88888
    assert t["buyer_total_fund_fee"] == 50000
    assert t["buyer_total_promotion_fee"] == 38888
    assert t["invoice_amount"] == 60000
    assert t["store_total_marketing_fee"] == 28888
    assert t["store_total_receivable_fee"] == 60000
    # The fund bills are split at gmt_query: one disbursed 100 minutes ago, one in a week.
    received = t["store_received_fund_bill_list"]["fund_bill"]
    pending = t["store_pending_fund_bill_list"]["fund_bill"]
    assert [b["amount"] for b in received] == [50000]
    assert [b["amount"] for b in pending] == [10000]
    assert received[0]["sub_fund_channel"] == "alipay_financeaccount"
    assert received[0]["fund_channel"] == "alipay"
    assert received[0]["payment_seq_no"] == TRADE_NO
    assert "gmt_payment" in received[0]
    assert pending[0]["sub_fund_channel"] == "alipay_mj_subsidy"
    assert "gmt_payment" not in pending[0] and "payment_seq_no" not in pending[0]
    assert t["store_total_received_fee"] == sum(b["amount"] for b in received) == 50000
    assert t["store_total_pending_fee"] == sum(b["amount"] for b in pending) == 10000
    # The documented identities.
    assert (
        t["store_total_receivable_fee"]
        == t["store_total_received_fee"] + t["store_total_pending_fee"]
    )
    assert t["total_amount"] == t["buyer_total_fund_fee"] + t["buyer_total_promotion_fee"]
    assert t["total_amount"] == t["store_total_receivable_fee"] + t["store_total_marketing_fee"]
    promos = t["buyer_promotion_bill_list"]["promotion_bill"]
    assert sum(p["amount"] for p in promos) == t["buyer_total_promotion_fee"]
    assert promos[0] == {
        "amount": 9000,
        "extend_params": '[{"abc":"123"}]',
        "subject": "阿香米线10元代金券",
        "type": "coupon",
    }
    goods = t["goods_detail_list"]["goods_detail"]
    assert goods == [
        {
            "quantity": "1",
            "price": "8800",
            "amount": "8800",
            "goods_name": "iPad",
            "goods_id": "10460001",
            "shop_name": "ecco",
            "shop_no": "10460",
        }
    ]
    assert t["attachment"] == '[{"a":"123"}]'
    # gmt_query is the time of the query, GMT+8.
    tz = datetime.timezone(datetime.timedelta(hours=8))
    q = datetime.datetime.strptime(t["gmt_query"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    assert abs((datetime.datetime.now(tz) - q).total_seconds()) < 120, t["gmt_query"]
    pay = datetime.datetime.strptime(t["gmt_payment"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    assert pay < q


@pytest.mark.parametrize(
    "keys",
    [
        {"trade_no": TRADE_NO},
        {"short_trade_no": SHORT_TRADE_NO},
        {"out_trade_no": OUT_TRADE_NO},
        # Priority trade_no > short_trade_no > out_trade_no: the others may be wrong.
        {"trade_no": TRADE_NO, "short_trade_no": "00000000", "out_trade_no": "nope"},
        {"short_trade_no": SHORT_TRADE_NO, "out_trade_no": "nope"},
    ],
)
def test_onsite_success(keys):
    check_demo_onsite_trade(trade_of(onsite(**keys)))


def test_onsite_priority_is_respected():
    # A wrong trade_no is not rescued by a right short_trade_no.
    e = onsite_error(trade_no="2013112011001004330000000000", short_trade_no=SHORT_TRADE_NO)
    assert_error(e, 50, "isp.TRADE_ORDER_NOT_FOUND", "Remote service error")


def test_onsite_not_found():
    for keys in (
        {"trade_no": "2099010100000000000000000000"},
        {"short_trade_no": "00000000"},
        {"out_trade_no": "no-such-order"},
    ):
        assert_error(onsite_error(**keys), 50, "isp.TRADE_ORDER_NOT_FOUND")


def test_onsite_needs_one_key():
    assert_error(onsite_error(), 50, "isv.INVALID_PARAMETER", "Remote service error")


def test_onsite_short_trade_no_expires_after_30_days():
    # The 2015 demo trade resolves by trade_no, but not by its stale short number.
    t = trade_of(onsite(trade_no=EXPIRED_TRADE_NO))
    assert t["trade_no"] == EXPIRED_TRADE_NO
    assert_error(onsite_error(short_trade_no=EXPIRED_SHORT_TRADE_NO), 50, "isp.TRADE_ORDER_NOT_FOUND")


def test_onsite_missing_and_invalid_session():
    assert_error(onsite_error(session=None, trade_no=TRADE_NO), 26, None, "Missing session")
    e = onsite_error(session="not-a-session", trade_no=TRADE_NO)
    assert_error(e, 27, "invalid-sessionkey", "Invalid session")


def test_onsite_other_merchant_looks_not_found_and_is_visible_to_its_session():
    for keys in (
        {"trade_no": OTHER_ONSITE_TRADE_NO},
        {"short_trade_no": OTHER_ONSITE_SHORT},
        {"out_trade_no": OTHER_ONSITE_OUT},
    ):
        assert_error(onsite_error(**keys), 50, "isp.TRADE_ORDER_NOT_FOUND")
        t = trade_of(onsite(session=OTHER_SESSION, **keys))
        assert t["trade_no"] == OTHER_ONSITE_TRADE_NO
        assert t["store_name"] == "别家门店"
    # And merchant A's trade is not found through merchant B's session.
    assert_error(
        onsite_error(session=OTHER_SESSION, trade_no=TRADE_NO), 50, "isp.TRADE_ORDER_NOT_FOUND"
    )


# --- tmall.luxury.stage.edi.alipay.trade.query ----------------------------------------------


def edi_data(answer):
    assert list(answer) == ["tmall_luxury_stage_edi_alipay_trade_query_response"], answer
    body = answer["tmall_luxury_stage_edi_alipay_trade_query_response"]
    assert body["request_id"]
    return body["data"]


SEED_003_FIELDS = {
    "trade_no", "out_trade_no", "buyer_logon_id", "trade_status", "total_amount",
    "trans_currency", "settle_currency", "settle_amount", "pay_currency", "pay_amount",
    "settle_trans_rate", "trans_pay_rate", "buyer_pay_amount", "point_amount", "invoice_amount",
    "send_pay_date", "receipt_amount", "store_id", "terminal_id", "fund_bill_list", "store_name",
    "buyer_user_id", "charge_amount", "charge_flags", "settlement_id", "trade_settle_info",
    "auth_trade_pay_mode", "buyer_user_type", "mdiscount_amount", "discount_amount", "subject",
    "body", "alipay_sub_merchant_id", "ext_infos", "industry_sepc_detail", "alipay_store_id",
    "buyer_user_name", "discount_goods_detail", "voucher_detail_list",
}


def test_edi_success_without_session():
    d = edi_data(sdk_call(edi_request(trade_no=TRADE_NO)))
    assert d["trade_no"] == TRADE_NO
    assert d["out_trade_no"] == OUT_TRADE_NO
    assert d["buyer_logon_id"] == "159****5620"
    assert d["trade_status"] == "TRADE_CLOSED"
    assert d["total_amount"] == "88.88"
    assert d["trans_currency"] == "CNY"
    assert d["settle_currency"] == "USD"
    assert d["settle_amount"] == "15.96"
    assert d["pay_amount"] == "8.88"
    assert d["buyer_pay_amount"] == "8.88"
    assert d["point_amount"] == "10.00"
    assert d["invoice_amount"] == "12.11"
    assert d["receipt_amount"] == "15.25"
    assert d["send_pay_date"] == "2014-11-27 15:45:57"
    assert d["store_name"] == "证大五道口店"
    assert d["buyer_user_name"] == "张三"
    # Gated blocks are absent unless asked for.
    for gated in ("fund_bill_list", "trade_settle_info", "voucher_detail_list",
                  "mdiscount_amount", "discount_goods_detail"):
        assert gated not in d, gated
    # Only the fields the EDI document has (docs/methods.md §4) (no alipay.trade.query-only fields).
    assert set(d) <= SEED_003_FIELDS, set(d) - SEED_003_FIELDS


def test_edi_by_out_trade_no_and_query_options():
    options = ["fund_bill_list", "trade_settle_info", "voucher_detail_list",
               "discount_goods_detail", "mdiscount_amount"]
    for q in (options, ",".join(options)):
        d = edi_data(sdk_call(edi_request(out_trade_no=OUT_TRADE_NO, query_options=q)))
        assert d["trade_no"] == TRADE_NO
        bills = d["fund_bill_list"]["trade_fund_bill_d_t_o"]
        assert [(b["fund_channel"], b["amount"]) for b in bills] == [
            ("ALIPAYACCOUNT", "10.00"),
            ("BANKCARD", "8.88"),
        ]
        detail = d["trade_settle_info"]["trade_settle_detail_list"]["trade_settle_detail_d_t_o"]
        assert detail[0]["operation_type"] == "replenish" and detail[0]["amount"] == "10.00"
        voucher = d["voucher_detail_list"]["voucher_detail_d_t_o"][0]
        assert voucher["name"] == "全场9折优惠券"
        contrib = voucher["other_contribute_detail"]["contribute_detail_d_t_o"]
        assert contrib == [{"contribute_amount": "6.88", "contribute_type": "支付宝平台出资"}]
        assert d["mdiscount_amount"] == "8.88"
        assert d["discount_goods_detail"] == "promotion 10"
        assert set(d) == SEED_003_FIELDS


def test_edi_not_found_and_other_merchant():
    e = sdk_error(edi_request(trade_no="2099010100000000000000000000"))
    assert_error(e, 50, "ACQ.TRADE_NOT_EXIST", "Remote service error")
    # Merchant B's trade is not found for the app's own merchant...
    assert_error(sdk_error(edi_request(trade_no=OTHER_ALIPAY_TRADE_NO)), 50, "ACQ.TRADE_NOT_EXIST")
    # ...nor through merchant A's session, but is visible through merchant B's.
    assert_error(
        sdk_error(edi_request(trade_no=OTHER_ALIPAY_TRADE_NO), SESSION), 50, "ACQ.TRADE_NOT_EXIST"
    )
    d = edi_data(sdk_call(edi_request(trade_no=OTHER_ALIPAY_TRADE_NO), OTHER_SESSION))
    assert d["trade_no"] == OTHER_ALIPAY_TRADE_NO
    # out_trade_no is per merchant: the same number resolves to each merchant's own trade.
    d = edi_data(sdk_call(edi_request(out_trade_no=OUT_TRADE_NO), OTHER_SESSION))
    assert d["trade_no"] == OTHER_ALIPAY_TRADE_NO
    assert_error(
        sdk_error(edi_request(trade_no=TRADE_NO), OTHER_SESSION), 50, "ACQ.TRADE_NOT_EXIST"
    )


def test_edi_invalid_parameter_and_session():
    assert_error(sdk_error(edi_request()), 50, "ACQ.INVALID_PARAMETER")
    e = sdk_error(edi_request(trade_no=TRADE_NO), "not-a-session")
    assert_error(e, 27, "invalid-sessionkey")


# --- alibaba.omni.order.query ---------------------------------------------------------------


def omni_result(answer):
    assert list(answer) == ["alibaba_omni_order_query_response"], answer
    body = answer["alibaba_omni_order_query_response"]
    assert body["request_id"]
    return body["result"]


def test_omni_success():
    r = omni_result(sdk_call(omni_request(), SESSION))
    assert r["success"] is True
    assert "msg_code" not in r and "msg_info" not in r
    m = r["model"]
    assert m["order_id"] == ORDER_ID
    assert m["out_order_id"] == OUT_ORDER_ID
    assert m["o2o_guide_id"] == 3031798632
    assert m["item_id"] == 560540831441
    assert m["item_title"] == "juhuasuan强预热2阶段测试宝贝请不要拍"
    assert m["voucher_price"] == 10000 and m["pay_status"] == 8
    assert m["can_close"] is True
    assert m["subpay_order_list"]["sub_pay_order_detail"][0]["subpay_order_id"] == 968772003804955
    assert m["promotion_info"]["promotion_buy_amount"] == 111
    serial = m["pay_order_serial_infos"]["pay_order_serial_info"][0]
    assert serial["pay_serial_no"] == "1538363939613011008096025771"
    assert serial["pay_time"] == "2018-10-08 12:00:00"


@pytest.mark.parametrize(
    "user_id,order_id,out_order_id",
    [
        (GUIDE, ORDER_ID, "54321"),  # mismatching out_order_id
        ("1", ORDER_ID, OUT_ORDER_ID),  # another guide
        (GUIDE, "109078258777800000", OUT_ORDER_ID),  # no such order
        (GUIDE, OTHER_ORDER_ID, OTHER_OUT_ORDER_ID),  # merchant B's order via A's session
    ],
)
def test_omni_not_found(user_id, order_id, out_order_id):
    r = omni_result(sdk_call(omni_request(user_id, order_id, out_order_id), SESSION))
    assert r["success"] is False
    assert r["msg_code"] == "daogoubao.order-not-exist"
    assert r["msg_info"]
    assert "model" not in r


def test_omni_other_merchant_session():
    r = omni_result(sdk_call(omni_request(GUIDE, OTHER_ORDER_ID, OTHER_OUT_ORDER_ID), OTHER_SESSION))
    assert r["success"] is True and r["model"]["order_id"] == OTHER_ORDER_ID
    r = omni_result(sdk_call(omni_request(), OTHER_SESSION))
    assert r["success"] is False and r["msg_code"] == "daogoubao.order-not-exist"


def test_omni_missing_required_arguments():
    for name in ("user_id", "order_id", "out_order_id"):
        req = omni_request()
        setattr(req, name, None)  # the SDK drops None attributes
        e = sdk_error(req, SESSION)
        assert_error(e, 40, None, "Missing required arguments:" + name)


def test_omni_needs_a_session():
    assert_error(sdk_error(omni_request()), 26, None, "Missing session")


# --- gateway checks through the SDK ---------------------------------------------------------


def test_missing_method():
    e = sdk_error(NamedRequest(""), SESSION)
    assert_error(e, 21, None, "Missing method")


@pytest.mark.parametrize("name", ["taobao.nope.get", "alipay.trade.query", "koubei.trade.itemorder.query"])
def test_invalid_method(name):
    assert_error(sdk_error(NamedRequest(name), SESSION), 22, None, "Invalid method")


def test_bad_app_key():
    e = sdk_error(omni_request(), SESSION, app_key="00000000")
    assert_error(e, 29, "isv.appkey-not-exists", "Invalid app Key")


def test_bad_signature():
    e = sdk_error(omni_request(), SESSION, secret=SECRET + "x")
    assert_error(e, 25, None, "Invalid signature")
    # The hint names the string the server verified, never the secret.
    assert SECRET not in (e.submsg or "")
    assert "app_key" + APP_KEY in (e.submsg or "")


@pytest.mark.parametrize("skew", [-11 * 60, 11 * 60])
def test_stale_timestamp(monkeypatch, skew):
    real = top.api.base.time.time
    monkeypatch.setattr(top.api.base.time, "time", lambda: real() + skew)
    e = sdk_error(omni_request(), SESSION)
    assert_error(e, 31, None, "Invalid timestamp")


@pytest.mark.parametrize("skew", [-9 * 60, 9 * 60])
def test_timestamp_within_window(monkeypatch, skew):
    real = top.api.base.time.time
    monkeypatch.setattr(top.api.base.time, "time", lambda: real() + skew)
    assert omni_result(sdk_call(omni_request(), SESSION))["success"] is True
