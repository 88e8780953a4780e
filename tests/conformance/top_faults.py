# -*- coding: utf-8 -*-
"""Fault injection as the official Python TOP SDK (taobao-sdk-python3, unmodified) sees it: each
fault is installed through the admin API, then the SDK calls alibaba.xlife.onsite.trade.query.
"""

import json
import os
import time
import urllib.request

import pytest

from top_support import CREDS, SESSION, TRADE_NO, OnsiteTradeQueryRequest, sdk_call, sdk_error

ADMIN = os.environ["TRADEQ_ADMIN_URL"].rstrip("/")


def admin(method, path, body=None):
    req = urllib.request.Request(
        ADMIN + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "authorization": "Bearer " + CREDS["admin_token"],
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(req) as res:
        text = res.read().decode()
        return res.status, (json.loads(text) if text else None)


def add_rule(rule):
    status, body = admin("POST", "/v1/faults", rule)
    assert status == 201, body
    return body["id"]


def onsite_request():
    req = OnsiteTradeQueryRequest()
    req.trade_no = TRADE_NO
    return req


@pytest.fixture(autouse=True)
def no_rules():
    admin("DELETE", "/v1/faults")
    yield
    admin("DELETE", "/v1/faults")


def test_app_call_limited_is_a_top_exception_with_code_7():
    add_rule({"match": {"front_door": "top"}, "times": 1, "action": {"type": "error", "code": "7"}})
    e = sdk_error(onsite_request(), SESSION)
    assert e.errorcode == 7, str(e)
    assert e.subcode == "accesscontrol.limited-by-app-access-count", str(e)
    assert e.message == "App Call Limited", str(e)
    # `times: 1`: the next call is served.
    answer = sdk_call(onsite_request(), SESSION)
    assert "alibaba_xlife_onsite_trade_query_response" in answer


@pytest.mark.parametrize(
    "code", ["isp.top-remote-connection-timeout", "isp.top-remote-service-unavailable"]
)
def test_isp_errors_are_code_15_with_the_sub_code(code):
    add_rule({"match": {"front_door": "top"}, "times": 1, "action": {"type": "error", "code": code}})
    e = sdk_error(onsite_request(), SESSION)
    assert e.errorcode == 15, str(e)
    assert e.subcode == code, str(e)


def test_isp_system_error_as_the_method_reports_it():
    add_rule(
        {
            "match": {"method": "alibaba.xlife.onsite.trade.query"},
            "times": 1,
            "action": {"type": "error", "code": "isp.SYSTEM_ERROR"},
        }
    )
    e = sdk_error(onsite_request(), SESSION)
    assert (e.errorcode, e.subcode) == (50, "isp.SYSTEM_ERROR"), str(e)


def test_a_rule_for_every_front_door_maps_acq_system_error():
    add_rule({"match": {"key": TRADE_NO}, "times": 1, "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}})
    e = sdk_error(onsite_request(), SESSION)
    assert (e.errorcode, e.subcode) == (50, "isp.SYSTEM_ERROR"), str(e)


def test_http_status_crashes_the_sdk_while_it_builds_its_message():
    # The SDK means to raise RequestException('invalid http status 503,detail body:' + body) but
    # adds bytes to str: what a caller gets for a load balancer's 503 is a TypeError.
    add_rule({"match": {"front_door": "top"}, "times": 1, "action": {"type": "http_status", "status": 503}})
    with pytest.raises(TypeError) as info:
        sdk_call(onsite_request(), SESSION)
    assert "can only concatenate str" in str(info.value), repr(info.value)


def test_reset_is_a_connection_error():
    add_rule({"match": {"front_door": "top"}, "times": 1, "action": {"type": "reset"}})
    with pytest.raises(Exception) as info:
        sdk_call(onsite_request(), SESSION)
    assert "RemoteDisconnected" in repr(info.value) or "closed" in str(info.value), repr(info.value)


def test_delay_answers_late():
    add_rule({"match": {"front_door": "top"}, "times": 1, "action": {"type": "delay", "ms": 600}})
    started = time.monotonic()
    answer = sdk_call(onsite_request(), SESSION)
    assert time.monotonic() - started >= 0.55
    assert "alibaba_xlife_onsite_trade_query_response" in answer


def test_bad_signature_is_refused_for_top():
    status_body = None
    try:
        admin("POST", "/v1/faults", {"match": {"front_door": "top"}, "action": {"type": "bad_signature"}})
    except urllib.error.HTTPError as e:
        status_body = (e.code, json.loads(e.read().decode()))
    assert status_body is not None
    assert status_body[0] == 400
    assert status_body[1]["error"]["field"] == "action.type"
