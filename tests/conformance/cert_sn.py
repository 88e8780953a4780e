# -*- coding: utf-8 -*-
"""Prints, as one JSON object, the SNs python-alipay-sdk's DCAliPay computes for each certificate
file given as an argument: {"<file>": {"sn": "...", "root_sn": "..."}}. Used by the Rust test
that cross-checks tradeq-wire's SN functions (not a pytest file)."""

import json
import sys

from alipay import DCAliPay

out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        pem = f.read()
    out[path] = {"sn": DCAliPay.get_cert_sn(pem), "root_sn": DCAliPay.get_root_cert_sn(pem) or ""}
print(json.dumps(out))
