# -*- coding: utf-8 -*-
"""Shared helpers of the TOP (/router/rest) conformance suites.

- the demo credentials and gateway coordinates from the environment `run_suite` sets;
- request classes for the three TOP methods, declared the way the official Python SDK
  (taobao-sdk-python3, `top.api.base.RestApi`) declares its generated ones;
- an independent signer and raw-HTTP caller (urllib only) following docs/protocol/top.md section 5.
"""

import datetime
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import urllib.request
import uuid

import top
from top.api.base import RestApi, TopException

ONSITE = "alibaba.xlife.onsite.trade.query"
EDI = "tmall.luxury.stage.edi.alipay.trade.query"
OMNI = "alibaba.omni.order.query"

# Demo identifiers (crates/tradeq-server/src/demo.rs, docs/methods.md "Demo").
TRADE_NO = "2013112011001004330000121536"
SHORT_TRADE_NO = "77778888"
OUT_TRADE_NO = "6823789339978248"
EXPIRED_TRADE_NO = "2013112011001004330000121611"  # short 77770011, created 2015
EXPIRED_SHORT_TRADE_NO = "77770011"
OTHER_ONSITE_TRADE_NO = "2015112711001004330000999999"  # merchant B
OTHER_ONSITE_SHORT = "77779999"
OTHER_ONSITE_OUT = "OTHER-MERCHANT-ONSITE"
OTHER_ALIPAY_TRADE_NO = "2015042321001004720200028594"  # merchant B, same out_trade_no as A's
ORDER_ID = "108717674563804955"
OUT_ORDER_ID = "12348"
GUIDE = "3031798632"
OTHER_ORDER_ID = "109078258777809999"  # merchant B
OTHER_OUT_ORDER_ID = "99999"


def credentials():
    with open(os.environ["TRADEQ_CREDENTIALS"], encoding="utf-8") as f:
        return json.load(f)


CREDS = credentials()
TOP_CREDS = CREDS["top"]
APP_KEY = TOP_CREDS["app_key"]
SECRET = TOP_CREDS["app_secret"]
SESSION = TOP_CREDS["session"]
OTHER_SESSION = TOP_CREDS["other_merchant_session"]
HOST = "127.0.0.1"
PORT = int(os.environ["TRADEQ_PORT"])
GATEWAY = os.environ["TRADEQ_GATEWAY"].rstrip("/") + "/router/rest"


# --- the official SDK -----------------------------------------------------------------------


class OnsiteTradeQueryRequest(RestApi):
    def __init__(self, domain=HOST, port=PORT):
        RestApi.__init__(self, domain, port)
        self.trade_no = None
        self.short_trade_no = None
        self.out_trade_no = None

    def getapiname(self):
        return ONSITE


class EdiAlipayTradeQueryRequest(RestApi):
    def __init__(self, domain=HOST, port=PORT):
        RestApi.__init__(self, domain, port)
        # A JSON text, as the official doc samples for Python write object parameters.
        self.edi_alipay_trade_query_request = None

    def getapiname(self):
        return EDI


class OmniOrderQueryRequest(RestApi):
    def __init__(self, domain=HOST, port=PORT):
        RestApi.__init__(self, domain, port)
        self.user_id = None
        self.order_id = None
        self.out_order_id = None

    def getapiname(self):
        return OMNI


class NamedRequest(RestApi):
    """A request for any method name (including none), to reach the gateway checks."""

    def __init__(self, name, domain=HOST, port=PORT, **params):
        RestApi.__init__(self, domain, port)
        self._name = name  # `_`-prefixed attributes are sent without the underscore: keep it out
        for k, v in params.items():
            setattr(self, k, v)

    def getApplicationParameters(self):
        params = RestApi.getApplicationParameters(self)
        params.pop("name", None)
        return params

    def getapiname(self):
        return self._name


def sdk_call(req, session=None, app_key=APP_KEY, secret=SECRET):
    """Runs `req` through the unmodified SDK; returns the parsed answer or raises TopException."""
    req.set_app_info(top.appinfo(app_key, secret))
    return req.getResponse(session)


def sdk_error(req, session=None, **kw):
    """Runs `req` and returns the TopException it must raise."""
    try:
        answer = sdk_call(req, session, **kw)
    except TopException as e:
        return e
    raise AssertionError("expected a TopException, got %r" % (answer,))


# --- an independent signer and raw HTTP caller ---------------------------------------------


def sign_string(params, include_empty=True):
    """docs/protocol/top.md section 5: every parameter but `sign`, sorted by name (byte order),
    `name1value1name2value2`. With include_empty an empty value appears as its bare name
    (Python / Node SDK style); without, it is skipped (Java style)."""
    keys = sorted(
        (k for k, v in params.items() if k != "sign" and (include_empty or str(v).strip())),
        key=lambda k: k.encode("utf-8"),
    )
    return "".join("%s%s" % (k, params[k]) for k in keys)


def digest(method, secret, s):
    data = s.encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + data + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    # Anything else (to provoke "unsupported sign_method"): an HMAC with that hashlib digest.
    return hmac.new(key, data, method).hexdigest().upper()


def gmt8_now(offset_seconds=0):
    tz = datetime.timezone(datetime.timedelta(hours=8))
    t = datetime.datetime.now(tz) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(offset_seconds=0):
    return str(int((time.time() + offset_seconds) * 1000))


def system_params(method, session=None, fmt="json", sign_method="md5", timestamp=None, **extra):
    p = {
        "method": method,
        "app_key": APP_KEY,
        "timestamp": timestamp if timestamp is not None else gmt8_now(),
        "v": "2.0",
        "sign_method": sign_method,
    }
    if fmt is not None:
        p["format"] = fmt
    if session is not None:
        p["session"] = session
    p.update(extra)
    return p


def signed(params, secret=SECRET, include_empty=True):
    """Returns a copy of params with `sign` added."""
    p = dict(params)
    p["sign"] = digest(p.get("sign_method", "md5"), secret, sign_string(p, include_empty))
    return p


class Answer(object):
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body  # bytes

    @property
    def text(self):
        return self.body.decode("utf-8")

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    def json(self):
        return json.loads(self.text)


def http(url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


def post_form(query=None, body=None):
    """POSTs `body` form-urlencoded, `query` in the URL."""
    url = GATEWAY
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = urllib.parse.urlencode(body or {}).encode("utf-8")
    return http(url, data, {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})


def get(query):
    return http(GATEWAY + "?" + urllib.parse.urlencode(query), method="GET")


def post_multipart(fields, boundary=None):
    """POSTs every field as multipart/form-data, as the official Node SDK does."""
    boundary = boundary or ("----TopNodeBoundary" + uuid.uuid4().hex)
    lines = []
    for name, value in fields.items():
        lines.append(b"--" + boundary.encode())
        lines.append(('Content-Disposition: form-data; name="%s"' % name).encode("utf-8"))
        lines.append(b"")
        lines.append(str(value).encode("utf-8"))
    lines.append(b"--" + boundary.encode() + b"--")
    lines.append(b"")
    data = b"\r\n".join(lines)
    return http(
        GATEWAY, data, {"Content-Type": "multipart/form-data; boundary=%s" % boundary}
    )


def call(method, biz=None, session=None, where="split", **sys_kw):
    """Signs and sends a request. where: 'split' (system in the URL, business in the body, as the
    Java and Python SDKs), 'body' (all in a urlencoded body, .NET), 'multipart' (Node), 'get'."""
    params = system_params(method, session=session, **sys_kw)
    biz = biz or {}
    allp = signed({**params, **biz})
    if where == "split":
        sys_part = {k: v for k, v in allp.items() if k not in biz}
        return post_form(sys_part, biz)
    if where == "body":
        return post_form(None, allp)
    if where == "multipart":
        return post_multipart(allp)
    if where == "get":
        return get(allp)
    raise ValueError(where)
