# -*- coding: utf-8 -*-
"""TOP /router/rest over raw HTTP (urllib), signed by top_support's own signer
(docs/protocol/top.md section 5): envelopes byte by byte, every transport the SDKs use, every sign
method and timestamp form, and HTTP 200 for every error.
"""

import json
import re
import xml.etree.ElementTree as ET

import pytest

from top_support import (
    EDI,
    GATEWAY,
    GUIDE,
    OMNI,
    ONSITE,
    ORDER_ID,
    OUT_ORDER_ID,
    SECRET,
    SESSION,
    TRADE_NO,
    call,
    digest,
    epoch_ms,
    gmt8_now,
    http,
    post_form,
    post_multipart,
    sign_string,
    signed,
    system_params,
)

OMNI_BIZ = {"user_id": GUIDE, "order_id": ORDER_ID, "out_order_id": OUT_ORDER_ID}
ONSITE_BIZ = {"trade_no": TRADE_NO}
XML_DECL = '<?xml version="1.0" encoding="utf-8" ?>'
JSON_CT = "text/javascript;charset=UTF-8"


def ok_omni(answer):
    assert answer.status == 200, answer.text
    assert answer.content_type == JSON_CT, answer.content_type
    body = answer.json()
    assert "error_response" not in body, answer.text
    r = body["alibaba_omni_order_query_response"]["result"]
    assert r["success"] is True and r["model"]["order_id"] == ORDER_ID
    return r


def top_error(answer, fmt="json"):
    """Every error: HTTP 200, an error_response with a numeric code and a request_id."""
    assert answer.status == 200, (answer.status, answer.text)
    if fmt == "json":
        assert answer.content_type == JSON_CT, answer.content_type
        body = answer.json()
        assert list(body) == ["error_response"], answer.text
        err = body["error_response"]
        assert isinstance(err["code"], int)
        assert list(err)[-1] == "request_id" and err["request_id"]
        assert list(err)[:2] == ["code", "msg"]
        return err
    assert answer.text.startswith(XML_DECL + "<error_response>"), answer.text
    root = ET.fromstring(answer.body)
    assert root.tag == "error_response"
    tags = [c.tag for c in root]
    assert tags[:2] == ["code", "msg"] and tags[-1] == "request_id", tags
    err = {c.tag: c.text for c in root}
    err["code"] = int(err["code"])
    return err


# --- the signer itself (so a wrong helper cannot make the suite pass vacuously) -------------


def test_signer_reproduces_the_protocol_vectors():
    doc = {
        "method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
        "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
        "fields": "num_iid,title,nick,price,num", "num_iid": "11223344",
    }
    assert digest("md5", "helloworld", sign_string(doc)) == "66987CB115214E59E6EC978214934FB8"
    doc["sign_method"] = "hmac"
    assert digest("hmac", "helloworld", sign_string(doc)) == "D56D7858309C31B6251083A874D48273"
    doc["sign_method"] = "hmac-sha256"
    assert digest("hmac-sha256", "helloworld", sign_string(doc)) == (
        "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"
    )
    note = {
        "method": "alibaba.omni.order.query", "app_key": "12345678", "timestamp": "2024-01-01 12:00:00",
        "format": "json", "v": "2.0", "sign_method": "md5", "note": "测试",
    }
    assert digest("md5", "helloworld", sign_string(note)) == "5683121CAF74EE60D4DB8CD76D7C3146"


# --- envelopes ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", None])
def test_xml_answer(fmt):
    a = call(ONSITE, ONSITE_BIZ, SESSION, fmt=fmt)
    assert a.status == 200
    assert a.content_type.startswith("text/xml"), a.content_type
    assert a.text.startswith(XML_DECL + "<alibaba_xlife_onsite_trade_query_response>"), a.text[:80]
    root = ET.fromstring(a.body)
    assert root.tag == "alibaba_xlife_onsite_trade_query_response"
    assert [c.tag for c in root] == ["onsite_trade_query_response", "request_id"]
    t = root.find("onsite_trade_query_response")
    assert t.findtext("trade_no") == TRADE_NO
    assert t.findtext("store_name") == "炉鱼城西银泰店"
    assert t.findtext("total_amount") == "88888"
    bills = t.findall("store_received_fund_bill_list/fund_bill")
    assert [b.findtext("amount") for b in bills] == ["50000"]
    assert [b.findtext("amount") for b in t.findall("store_pending_fund_bill_list/fund_bill")] == ["10000"]
    assert t.findtext("extend_params") == '[{"abc":"123"}]'
    assert "炉鱼城西银泰店".encode("utf-8") in a.body


def test_xml_omni_booleans_and_errors():
    a = call(OMNI, OMNI_BIZ, SESSION, fmt="xml")
    root = ET.fromstring(a.body)
    assert root.tag == "alibaba_omni_order_query_response"
    assert root.findtext("result/success") == "true"
    assert root.findtext("result/model/can_close") == "true"
    err = top_error(call(OMNI, {}, SESSION, fmt="xml"), "xml")
    assert err["code"] == 40 and err["msg"] == "Missing required arguments:user_id"


def check_sorted(obj, path="$"):
    """Keys sorted (byte order) in every object; request_id, where present, last."""
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check_sorted(v, "%s[%d]" % (path, i))
        return
    if not isinstance(obj, list) and hasattr(obj, "pairs"):
        keys = [k for k, _ in obj.pairs]
        rest = [k for k in keys if k != "request_id"]
        assert rest == sorted(rest, key=lambda k: k.encode()), (path, keys)
        if "request_id" in keys:
            assert keys[-1] == "request_id", (path, keys)
        for k, v in obj.pairs:
            check_sorted(v, path + "." + k)


class Pairs(dict):
    def __init__(self, pairs):
        dict.__init__(self, pairs)
        self.pairs = pairs


def parse_pairs(text):
    return json.loads(text, object_pairs_hook=Pairs)


def no_nulls(obj):
    if obj is None:
        return False
    if isinstance(obj, dict):
        return all(no_nulls(v) for v in obj.values())
    if isinstance(obj, list):
        return all(no_nulls(v) for v in obj)
    return True


@pytest.mark.parametrize(
    "method,biz,session,root,lists",
    [
        (ONSITE, ONSITE_BIZ, SESSION, "alibaba_xlife_onsite_trade_query_response",
         [("onsite_trade_query_response", "store_received_fund_bill_list", "fund_bill"),
          ("onsite_trade_query_response", "store_pending_fund_bill_list", "fund_bill"),
          ("onsite_trade_query_response", "buyer_promotion_bill_list", "promotion_bill"),
          ("onsite_trade_query_response", "goods_detail_list", "goods_detail")]),
        (EDI, {"edi_alipay_trade_query_request": json.dumps(
            {"trade_no": TRADE_NO, "query_options": ["fund_bill_list", "voucher_detail_list"]})},
         None, "tmall_luxury_stage_edi_alipay_trade_query_response",
         [("data", "fund_bill_list", "trade_fund_bill_d_t_o"),
          ("data", "voucher_detail_list", "voucher_detail_d_t_o")]),
        (OMNI, OMNI_BIZ, SESSION, "alibaba_omni_order_query_response",
         [("result", "model", "subpay_order_list", "sub_pay_order_detail"),
          ("result", "model", "pay_order_serial_infos", "pay_order_serial_info")]),
    ],
)
def test_json_answer(method, biz, session, root, lists):
    a = call(method, biz, session, fmt="json")
    assert a.status == 200
    assert a.content_type == JSON_CT
    text = a.text
    assert "\\u" not in text  # raw UTF-8, never \u escapes (the Java SDK mis-decodes them)
    body = parse_pairs(text)
    assert list(body) == [root], list(body)  # exactly one root key
    assert no_nulls(body)
    assert ":null" not in text
    check_sorted(body)
    assert list(body[root])[-1] == "request_id"
    assert re.fullmatch(r"[0-9a-z]{12,13}", body[root]["request_id"])
    for path in lists:
        node = body[root]
        for p in path[:-1]:
            node = node[p]
        assert isinstance(node, dict) and list(node) == [path[-1]], (path, node)
        assert isinstance(node[path[-1]], list) and node[path[-1]], path
    assert "证大五道口店" in text or "炉鱼城西银泰店" in text or "juhuasuan强预热" in text


def test_json_is_compact_and_utf8():
    a = call(ONSITE, ONSITE_BIZ, SESSION)
    assert "炉鱼城西银泰店".encode("utf-8") in a.body
    assert b'": ' not in a.body and b'", "' not in a.body  # compact
    assert a.headers.get("top-bodylength") == str(len(a.text.encode("utf-16-le")) // 2)


def test_simplify():
    a = call(ONSITE, ONSITE_BIZ, SESSION, simplify="true")
    assert a.status == 200 and a.content_type == JSON_CT
    body = parse_pairs(a.text)
    assert "alibaba_xlife_onsite_trade_query_response" not in body
    assert list(body) == ["onsite_trade_query_response", "request_id"], list(body)
    t = body["onsite_trade_query_response"]
    assert isinstance(t["store_received_fund_bill_list"], list)
    assert t["store_received_fund_bill_list"][0]["amount"] == 50000
    assert isinstance(t["goods_detail_list"], list)
    assert isinstance(t["buyer_promotion_bill_list"], list)
    check_sorted(body)
    # Omni: nested lists bare too.
    body = call(OMNI, OMNI_BIZ, SESSION, simplify="true").json()
    assert isinstance(body["result"]["model"]["subpay_order_list"], list)
    # Errors stay wrapped.
    err = top_error(call(OMNI, {}, SESSION, simplify="true"))
    assert err["code"] == 40
    # simplify only applies to JSON.
    a = call(ONSITE, ONSITE_BIZ, SESSION, fmt="xml", simplify="true")
    assert ET.fromstring(a.body).tag == "alibaba_xlife_onsite_trade_query_response"


# --- transports -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["split", "body", "multipart", "get"])
def test_transports(where):
    ok_omni(call(OMNI, OMNI_BIZ, SESSION, where=where))


def test_multipart_with_chinese_and_every_param_in_the_body():
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ, "note": "测试 中文+&=%"})
    assert "sign" in p
    ok_omni(post_multipart(p))


def test_node_sdk_multipart_under_a_form_content_type():
    # network.js keeps a preset Content-Type and appends the multipart boundary to it.
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ})
    b = "--------------------------475127328716491602719381"
    parts = []
    for k, v in p.items():
        parts += ["--" + b, 'Content-Disposition: form-data; name="%s"' % k, "", v]
    data = "\r\n".join(parts + ["--" + b + "--", ""]).encode("utf-8")
    ok_omni(http(GATEWAY, data, {"Content-Type": "application/x-www-form-urlencoded; boundary=" + b}))


def test_params_split_arbitrarily_between_url_and_body():
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ})
    keys = sorted(p)
    ok_omni(post_form({k: p[k] for k in keys[::2]}, {k: p[k] for k in keys[1::2]}))
    # sign in the body, the rest in the URL (and the other way round).
    ok_omni(post_form({k: v for k, v in p.items() if k != "sign"}, {"sign": p["sign"]}))
    ok_omni(post_form({"sign": p["sign"]}, {k: v for k, v in p.items() if k != "sign"}))


def test_timestamp_with_percent_encoded_space():
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ})
    q = "&".join("%s=%s" % (k, v.replace(" ", "%20").replace(":", "%3A")) for k, v in p.items())
    ok_omni(http(GATEWAY + "?" + q, method="GET"))


# --- signing and timestamps -----------------------------------------------------------------


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("ts", ["gmt8", "epoch_ms"])
def test_sign_methods_and_timestamp_forms(sign_method, ts):
    stamp = gmt8_now() if ts == "gmt8" else epoch_ms()
    ok_omni(call(OMNI, OMNI_BIZ, SESSION, sign_method=sign_method, timestamp=stamp))
    # And the same request with a wrong secret is refused.
    p = {**system_params(OMNI, SESSION, sign_method=sign_method, timestamp=stamp), **OMNI_BIZ}
    bad = signed(p, secret=SECRET + "x")
    assert len(bad["sign"]) == (64 if sign_method == "hmac-sha256" else 32)
    assert top_error(post_form(None, bad))["code"] == 25


def test_hmac_is_not_md5_of_the_wrapped_string():
    # hmac: HMAC-MD5 keyed by the secret, no secret concatenated.
    p = {**system_params(OMNI, SESSION, sign_method="hmac"), **OMNI_BIZ}
    p["sign"] = digest("md5", SECRET, sign_string(p))
    assert top_error(post_form(None, p))["code"] == 25


def test_lower_case_sign_accepted():
    p = signed({**system_params(OMNI, SESSION, sign_method="hmac-sha256"), **OMNI_BIZ})
    p["sign"] = p["sign"].lower()
    ok_omni(post_form(None, p))


@pytest.mark.parametrize("include_empty", [True, False])
def test_empty_valued_parameter(include_empty):
    # Python/Node sign an empty value as its bare name; Java drops it. Both are accepted.
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ, "note": ""}, include_empty=include_empty)
    ok_omni(post_form(None, p))


def test_every_parameter_is_signed():
    p = signed({**system_params(OMNI, SESSION), **OMNI_BIZ, "partner_id": "top-sdk-java-20200706"})
    for name in ("out_order_id", "partner_id", "session", "timestamp", "format"):
        tampered = dict(p)
        tampered[name] = {"out_order_id": "54321", "partner_id": "x", "session": "y",
                          "timestamp": gmt8_now(1), "format": "xml"}[name]
        fmt = "xml" if name == "format" else "json"
        assert top_error(post_form(None, tampered), fmt)["code"] == 25, name
    extra = dict(p)
    extra["simplify"] = "true"
    assert top_error(post_form(None, extra))["code"] == 25


@pytest.mark.parametrize("skew", [-11 * 60, 11 * 60])
@pytest.mark.parametrize("form", ["gmt8", "epoch_ms"])
def test_stale_timestamps(skew, form):
    stamp = gmt8_now(skew) if form == "gmt8" else epoch_ms(skew)
    err = top_error(call(OMNI, OMNI_BIZ, SESSION, timestamp=stamp))
    assert (err["code"], err["msg"]) == (31, "Invalid timestamp")


def test_timestamp_read_as_gmt8_not_utc():
    import datetime
    utc = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert top_error(call(OMNI, OMNI_BIZ, SESSION, timestamp=utc))["code"] == 31


# --- errors: always HTTP 200, error_response, request_id --------------------------------------


def unsigned(params):
    return post_form(None, params)


ERROR_CASES = [
    ("missing method", lambda f: unsigned({"format": f} if f else {}), 21, None),
    ("invalid method", lambda f: call("taobao.nope", {}, SESSION, fmt=f), 22, None),
    ("missing app key", lambda f: unsigned({"method": OMNI, "format": f or ""}), 28, None),
    ("bad app key",
     lambda f: post_form(None, signed({**system_params(OMNI, SESSION, fmt=f, app_key="0"), **OMNI_BIZ})),
     29, "isv.appkey-not-exists"),
    ("missing sign",
     lambda f: unsigned({**system_params(OMNI, SESSION, fmt=f), **OMNI_BIZ}), 24, None),
    ("bad sign", lambda f: post_form(None, {**signed({**system_params(OMNI, SESSION, fmt=f), **OMNI_BIZ}), "sign": "0" * 32}), 25, None),
    ("unknown sign_method", lambda f: call(OMNI, OMNI_BIZ, SESSION, fmt=f, sign_method="sha1"), 25, None),
    ("stale timestamp", lambda f: call(OMNI, OMNI_BIZ, SESSION, fmt=f, timestamp=gmt8_now(-3600)), 31, None),
    ("garbage timestamp", lambda f: call(OMNI, OMNI_BIZ, SESSION, fmt=f, timestamp="yesterday"), 31, None),
    ("bad version", lambda f: call(OMNI, OMNI_BIZ, SESSION, fmt=f, v="1.0"), 33, None),
    ("missing session", lambda f: call(ONSITE, ONSITE_BIZ, None, fmt=f), 26, None),
    ("invalid session", lambda f: call(ONSITE, ONSITE_BIZ, "nope", fmt=f), 27, "invalid-sessionkey"),
    ("missing argument", lambda f: call(OMNI, {}, SESSION, fmt=f), 40, None),
    ("not found", lambda f: call(ONSITE, {"trade_no": "1"}, SESSION, fmt=f), 50, "isp.TRADE_ORDER_NOT_FOUND"),
    ("none of the keys", lambda f: call(ONSITE, {}, SESSION, fmt=f), 50, "isv.INVALID_PARAMETER"),
    ("edi not found", lambda f: call(EDI, {"edi_alipay_trade_query_request": '{"trade_no":"1"}'}, None, fmt=f),
     50, "ACQ.TRADE_NOT_EXIST"),
    ("edi not json", lambda f: call(EDI, {"edi_alipay_trade_query_request": "{"}, None, fmt=f), 41, None),
    ("http action", lambda f: http(GATEWAY + ("?format=" + f if f else ""), method="PUT"), 9, None),
]


@pytest.mark.parametrize("fmt", ["json", "xml", None])
@pytest.mark.parametrize("name,send,code,sub_code", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_are_http_200_envelopes(fmt, name, send, code, sub_code):
    err = top_error(send(fmt), "json" if fmt == "json" else "xml")
    assert err["code"] == code, err
    assert err.get("sub_code") == sub_code, err


def test_unreadable_requests_answer_in_the_url_format():
    # A body over the size limit, or one that cannot be parsed, still gets an envelope with
    # HTTP 200 -- in JSON when the URL asks for it (the Python SDK json.loads every answer).
    big = b"note=" + b"x" * (2 * 1024 * 1024)
    a = http(GATEWAY + "?format=json&method=" + OMNI, big,
             {"Content-Type": "application/x-www-form-urlencoded"})
    assert top_error(a)["code"] == 43
    a = http(GATEWAY + "?format=json", b"a=%ZZ", {"Content-Type": "application/x-www-form-urlencoded"})
    assert top_error(a)["code"] == 43
    a = http(GATEWAY + "?format=json", b"--x\r\nbroken", {"Content-Type": "multipart/form-data; boundary=x"})
    assert top_error(a)["code"] == 43
    a = http(GATEWAY + "?format=json&method=a&method=b", method="GET")
    assert top_error(a)["code"] == 41
    a = http(GATEWAY, b"a=%ZZ", {"Content-Type": "application/x-www-form-urlencoded"})
    assert top_error(a, "xml")["code"] == 43
