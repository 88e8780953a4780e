# -*- coding: utf-8 -*-
"""Raw HTTP against tradeq's Alipay OpenAPI v3 front door (issue #4), with our own signing.

`Authorization: ALIPAY-SHA256withRSA app_id=…,nonce=…,timestamp=<ms>[,expired_seconds=…],sign=…`
over `<auth string>\\n<method>\\n<request target>\\n<body>\\n[<app auth token>\\n]`; answers signed
over `<alipay-timestamp>\\n<alipay-nonce>\\n<body>\\n` (docs/protocol/alipay-v3.md §2, §3).
"""

import base64
import http.client
import json
import re
import time
import urllib.parse
import uuid

import pytest
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad, unpad

import alipay_common as c

PATH = "/v3/alipay/trade/query"
TRADE = "2024010122001446880500000001"


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def encrypted(self):
        return self.headers.get("content-type", "").startswith("text/plain")

    def json(self):
        text = aes_decrypt(self.body) if self.encrypted() else self.body
        return json.loads(text.decode("utf-8"))


def aes_key():
    return base64.b64decode(c.credentials()["alipay"]["aes_key"])


def aes_encrypt(plain):
    cipher = AES.new(aes_key(), AES.MODE_CBC, iv=bytes(16))
    return base64.b64encode(cipher.encrypt(pad(plain, 16)))


def aes_decrypt(ciphertext_b64):
    cipher = AES.new(aes_key(), AES.MODE_CBC, iv=bytes(16))
    return unpad(cipher.decrypt(base64.b64decode(ciphertext_b64)), 16)


def app_key():
    return RSA.import_key(c.credentials()["alipay"]["app_private_key_pkcs1_pem"])


def alipay_key():
    return RSA.import_key(c.credentials()["alipay"]["alipay_public_key_pem"])


def sign(key, content):
    return base64.b64encode(pkcs1_15.new(key).sign(SHA256.new(content))).decode("ascii")


def auth_string(ts_ms=None, nonce=None, extra="", app_id=c.APP_ID):
    ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
    return "app_id=%s,nonce=%s,timestamp=%d%s" % (app_id, nonce or uuid.uuid4(), ts_ms, extra)


def authorization(method, target, body=b"", token=None, key=None, auth=None):
    auth = auth or auth_string()
    content = ("%s\n%s\n%s\n" % (auth, method, target)).encode("utf-8") + body + b"\n"
    if token is not None:
        content += token.encode("utf-8") + b"\n"
    return "ALIPAY-SHA256withRSA %s,sign=%s" % (auth, sign(key or app_key(), content))


def send(method, target, body=b"", authorization_header=None, token=None, content_type=None,
         extra_headers=None):
    u = urllib.parse.urlsplit(c.gateway())
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"accept": "application/json"}
    if method != "GET":
        headers["content-type"] = content_type or "application/json"
    if authorization_header is not None:
        headers["authorization"] = authorization_header
    if token is not None:
        headers["alipay-app-auth-token"] = token
    headers.update(extra_headers or {})
    conn.request(method, target, body=body if method != "GET" else None, headers=headers)
    resp = conn.getresponse()
    answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    conn.close()
    check_answer(answer)
    return answer


def signed(method, target, body=b"", token=None, extra_headers=None, content_type=None, **kw):
    return send(method, target, body, authorization(method, target, body, token, **kw), token,
                content_type=content_type, extra_headers=extra_headers)


def response_signature_ok(answer):
    h = answer.headers
    content = ("%s\n%s\n" % (h["alipay-timestamp"], h["alipay-nonce"])).encode("utf-8")
    content += answer.body + b"\n"
    try:
        pkcs1_15.new(alipay_key()).verify(SHA256.new(content), base64.b64decode(h["alipay-signature"]))
        return True
    except (ValueError, TypeError):
        return False


def check_answer(answer):
    """Every answer is JSON with a trace id; every < 400 answer is signed and verifies (and so
    does every signed error)."""
    assert answer.encrypted() or answer.headers["content-type"].startswith("application/json"), \
        answer.headers
    assert not answer.encrypted() or answer.status < 400, "errors are never encrypted"
    assert answer.headers.get("alipay-trace-id")
    body = answer.json()
    if answer.status < 400:
        for h in ("alipay-timestamp", "alipay-nonce", "alipay-signature"):
            assert answer.headers.get(h), (h, answer.status, answer.headers)
        assert len(answer.headers["alipay-timestamp"]) == 13
        assert abs(int(answer.headers["alipay-timestamp"]) - time.time() * 1000) < 60_000
        assert answer.body, "an answer below 400 must have a JSON body"
    else:
        assert set(body) == {"code", "message", "links"}, body
        assert body["links"][0]["desc"] == "解决方案"
        assert answer.headers["alipay-trace-id"] in body["links"][0]["link"]
    if "alipay-signature" in answer.headers:
        assert response_signature_ok(answer), (answer.status, answer.headers, answer.body)


def body_of(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_post_success():
    options = ["fund_bill_list", "voucher_detail_list"]
    trade_no = "2013112011001004330000121536"
    answer = signed("POST", PATH, body_of({"trade_no": trade_no, "query_options": options}))
    assert answer.status == 200
    rec = c.admin_record("alipay-trade", trade_no)
    assert answer.json() == c.expected_trade(rec, options)
    assert "code" not in answer.json()


@pytest.mark.parametrize("trade_no", sorted(c.TRADES))
def test_post_every_status_by_out_trade_no(trade_no):
    answer = signed("POST", PATH, body_of({"out_trade_no": c.TRADES[trade_no][1]}))
    assert answer.status == 200
    assert answer.json() == c.expected_trade(c.admin_record("alipay-trade", trade_no))


def test_get_with_query_parameters():
    trade_no = "2013112011001004330000121536"
    rec = c.admin_record("alipay-trade", trade_no)
    target = PATH + "?" + urllib.parse.urlencode({"trade_no": trade_no})
    got = signed("GET", target)
    assert got.status == 200
    posted = signed("POST", PATH, body_of({"trade_no": trade_no}))
    assert got.body == posted.body
    assert got.json() == c.expected_trade(rec)
    # query_options repeated, or comma-separated.
    for query in ([("trade_no", trade_no), ("query_options", "fund_bill_list"),
                   ("query_options", "trade_settle_info")],
                  [("trade_no", trade_no), ("query_options", "fund_bill_list,trade_settle_info")]):
        answer = signed("GET", PATH + "?" + urllib.parse.urlencode(query))
        assert answer.status == 200
        assert answer.json() == c.expected_trade(rec, ["fund_bill_list", "trade_settle_info"])
    by_out = signed("GET", PATH + "?out_trade_no=DEMO-WAIT-1")
    assert by_out.json()["trade_status"] == "WAIT_BUYER_PAY"


def test_get_signature_covers_the_literal_query():
    # Signed for one query, sent with another: the request target is part of the signature.
    auth = authorization("GET", PATH + "?trade_no=" + TRADE)
    answer = send("GET", PATH + "?trade_no=2013112011001004330000121536", authorization_header=auth)
    assert answer.status == 401 and answer.json()["code"] == "invalid-signature"


def test_not_found_and_other_merchant_look_the_same():
    missing = signed("POST", PATH, body_of({"trade_no": "2099010122001446880599999999"}))
    other = signed("POST", PATH, body_of({"trade_no": c.OTHER_MERCHANT_TRADE}))
    for answer in (missing, other):
        assert answer.status == 400
        body = answer.json()
        assert body["code"] == "ACQ.TRADE_NOT_EXIST" and body["message"] == "交易不存在"
    assert {k: v for k, v in missing.json().items() if k != "links"} == \
        {k: v for k, v in other.json().items() if k != "links"}


def test_app_auth_token_header():
    token = c.credentials()["alipay"]["app_auth_tokens"][0]["token"]
    b = signed("POST", PATH, body_of({"trade_no": c.OTHER_MERCHANT_TRADE}), token=token)
    assert b.status == 200
    assert b.json() == c.expected_trade(c.admin_record("alipay-trade", c.OTHER_MERCHANT_TRADE))
    a = signed("POST", PATH, body_of({"trade_no": TRADE}), token=token)
    assert a.status == 400 and a.json()["code"] == "ACQ.TRADE_NOT_EXIST"
    # The token line is signed: the same header without signing the token fails.
    body = body_of({"trade_no": c.OTHER_MERCHANT_TRADE})
    unsigned_token = send("POST", PATH, body, authorization("POST", PATH, body), token=token)
    assert unsigned_token.status == 401 and unsigned_token.json()["code"] == "invalid-signature"


def test_replayed_nonce_is_refused():
    body = body_of({"trade_no": TRADE})
    header = authorization("POST", PATH, body)
    first = send("POST", PATH, body, header)
    assert first.status == 200
    second = send("POST", PATH, body, header)
    assert second.status == 401
    assert second.json()["code"] == "invalid-signature"
    assert "nonce" in second.json()["message"]
    # A fresh nonce for the same request is fine.
    assert signed("POST", PATH, body).status == 200


@pytest.mark.parametrize("offset_ms", [-11 * 60_000, -3600_000, 11 * 60_000])
def test_timestamp_outside_the_window(offset_ms):
    body = body_of({"trade_no": TRADE})
    auth = auth_string(ts_ms=int(time.time() * 1000) + offset_ms)
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=auth))
    assert answer.status == 401 and answer.json()["code"] == "invalid-timestamp"


def test_timestamp_in_seconds_is_refused():
    body = body_of({"trade_no": TRADE})
    auth = auth_string(ts_ms=int(time.time()))
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=auth))
    assert answer.status == 401 and answer.json()["code"] == "invalid-timestamp"


def test_expired_seconds():
    body = body_of({"trade_no": TRADE})
    now = int(time.time() * 1000)
    # Two minutes old, valid for one: expired, although inside the default window.
    expired = auth_string(ts_ms=now - 120_000, extra=",expired_seconds=60")
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=expired))
    assert answer.status == 401 and answer.json()["code"] == "invalid-timestamp"
    # Twenty minutes old, valid for an hour: accepted, although outside the default window.
    alive = auth_string(ts_ms=now - 20 * 60_000, extra=",expired_seconds=3600")
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=alive))
    assert answer.status == 200 and answer.json()["trade_no"] == TRADE


@pytest.mark.parametrize("value", ["0", "-5", "abc", "92233720368547", "9223372036854775807", "99999999999999999999"])
def test_bad_or_huge_expired_seconds_is_a_clean_401(value):
    body = body_of({"trade_no": TRADE})
    auth = auth_string(extra=",expired_seconds=" + value)
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=auth))
    assert answer.status == 401 and answer.json()["code"] == "invalid-timestamp"


def mangled_headers():
    body = body_of({"trade_no": TRADE})
    good = authorization("POST", PATH, body)
    auth, sig = good[len("ALIPAY-SHA256withRSA "):].rsplit(",sign=", 1)
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    return body, [
        (None, "missing-signature"),
        ("", "missing-signature"),
        ("Bearer abc", "missing-signature"),
        ("ALIPAY-SHA1withRSA " + good[len("ALIPAY-SHA256withRSA "):], "missing-signature"),
        ("ALIPAY-SHA256withRSA " + auth, "missing-signature"),
        ("ALIPAY-SHA256withRSA " + auth + ",sign=", "missing-signature"),
        ("ALIPAY-SHA256withRSA  " + auth + ",sign=" + sig, "missing-signature"),
        ("ALIPAY-SHA256withRSA " + auth + ",sign=" + flipped, "invalid-signature"),
        ("ALIPAY-SHA256withRSA " + auth + ",sign=!!!not-base64!!!", "invalid-signature"),
        ("ALIPAY-SHA256withRSA " + auth.replace("app_id=", "app_id=x", 1) + ",sign=" + sig,
         "invalid-app-id"),
        ("ALIPAY-SHA256withRSA " + auth + ",garbage,sign=" + sig, "invalid-parameter"),
        ("ALIPAY-SHA256withRSA " + auth + ",nonce=again,sign=" + sig, "invalid-parameter"),
        ("ALIPAY-SHA256withRSA " + auth.replace("timestamp=", "timestamp=x", 1) + ",sign=" + sig,
         "invalid-timestamp"),
        ("ALIPAY-SHA256withRSA " + ",".join(p for p in auth.split(",") if not p.startswith("app_id"))
         + ",sign=" + sig, "missing-app-id"),
        ("ALIPAY-SHA256withRSA " + auth + ",sign=" + sig + "x" * 5000, "invalid-parameter"),
    ]


def test_mangled_authorization_header():
    body, cases = mangled_headers()
    for header, code in cases:
        answer = send("POST", PATH, body, header)
        assert answer.status == 401, (header, answer.status, answer.body)
        assert answer.json()["code"] == code, (header, answer.body)


def test_invalid_signature_names_the_verified_string():
    body = body_of({"trade_no": TRADE})
    auth = auth_string()
    other = RSA.generate(2048)
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=auth, key=other))
    assert answer.status == 401 and answer.json()["code"] == "invalid-signature"
    expected = "%s\nPOST\n%s\n%s\n" % (auth, PATH, body.decode())
    assert answer.json()["message"].endswith(expected)
    # The app is known, so the error is signed too.
    assert response_signature_ok(answer)


def test_body_changed_after_signing():
    body = body_of({"trade_no": TRADE})
    header = authorization("POST", PATH, body)
    answer = send("POST", PATH, body_of({"trade_no": c.OTHER_MERCHANT_TRADE}), header)
    assert answer.status == 401 and answer.json()["code"] == "invalid-signature"


def test_unknown_app_id_is_unsigned():
    body = body_of({"trade_no": TRADE})
    auth = auth_string(app_id="2021000000009999")
    answer = send("POST", PATH, body, authorization("POST", PATH, body, auth=auth))
    assert answer.status == 401 and answer.json()["code"] == "invalid-app-id"
    assert "alipay-signature" not in answer.headers


def test_unknown_v3_path_is_invalid_method():
    for target, method in (("/v3/alipay/trade/nosuch", "POST"), ("/v3/alipay/trade/refund", "POST"),
                           ("/v3/stream/alipay/trade/query", "POST"), ("/v3/x", "GET")):
        body = b"{}" if method == "POST" else b""
        answer = signed(method, target, body)
        assert answer.status == 400, (target, answer.body)
        assert answer.json()["code"] == "invalid-method"
        assert answer.json()["message"] == "不存在的方法名"


def test_bad_bodies_are_400():
    for body in (b"not json", b"[1,2]", b'{"trade_no":'):
        answer = signed("POST", PATH, body)
        assert answer.status == 400 and answer.json()["code"] == "invalid-parameter", body
    empty = signed("POST", PATH, b"{}")
    assert empty.status == 400 and empty.json()["code"] == "ACQ.INVALID_PARAMETER"


def test_every_answer_below_400_is_signed():
    # check_answer runs on every answer of this file; this one checks the check.
    answer = signed("POST", PATH, body_of({"trade_no": TRADE}))
    assert answer.status == 200 and response_signature_ok(answer)
    tampered = Answer(answer.status, dict(answer.headers), answer.body.replace(b"88.88", b"88.89"))
    assert b"88.88" in answer.body and not response_signature_ok(tampered)


AES_HEADERS = {"alipay-encrypt-type": "AES", "alipay-encryption-algm": "AES"}


def test_aes_encrypted_request_and_answer():
    body = aes_encrypt(body_of({"trade_no": TRADE}))
    answer = signed("POST", PATH, body, extra_headers=AES_HEADERS, content_type="text/plain")
    assert answer.status == 200 and answer.encrypted()
    assert re.fullmatch(rb"[A-Za-z0-9+/]+=*", answer.body), answer.body
    assert response_signature_ok(answer)  # over the ciphertext, as sent
    assert answer.json() == c.expected_trade(c.admin_record("alipay-trade", TRADE))


def test_aes_errors_are_plain_json():
    bad = [
        (AES_HEADERS, b"this is not base64!", "decryption-error-unknown"),
        # 15 bytes: never a whole AES block, so no key can decrypt it (16 random bytes would
        # carry valid padding about one time in 256).
        (AES_HEADERS, base64.b64encode(b"0123456789abcde"), "decryption-error-unknown"),
        ({"alipay-encrypt-type": "DES"}, aes_encrypt(b"{}"), "invalid-encrypt-type"),
    ]
    for headers, body, code in bad:
        answer = signed("POST", PATH, body, extra_headers=headers, content_type="text/plain")
        assert answer.status == 400 and not answer.encrypted(), (code, answer.body)
        assert answer.json()["code"] == code
    missing = signed("POST", PATH, aes_encrypt(body_of({"trade_no": c.OTHER_MERCHANT_TRADE})),
                     extra_headers=AES_HEADERS, content_type="text/plain")
    assert missing.status == 400 and missing.json()["code"] == "ACQ.TRADE_NOT_EXIST"


def test_oversized_body_is_a_json_error():
    body = body_of({"trade_no": TRADE, "padding": "x" * (300 * 1024)})
    answer = signed("POST", PATH, body)
    assert answer.status == 413 and answer.json()["code"] == "invalid-parameter"
