#!/usr/bin/env python3
"""Pre-builds signed requests for the load tests, and checks sample answers.

Request files have one request per line: METHOD <TAB> PATH <TAB> BODY [<TAB> Header: value]…
(bench/lib/replay.lua replays them with wrk).

  presign.py v2  CREDS TRADES.jsonl OUT --count N [--same]
  presign.py v3  CREDS TRADES.jsonl OUT --count N
  presign.py top CREDS TRADES.jsonl OUT --count N --method edi|xlife --format json|xml
  presign.py probe URL FILE KIND [--n 3]   send the first requests of FILE, check the answers
  presign.py replay URL FILE --n N --check STR   send the first N requests on one connection

v2 and top take --age SECS: timestamps SECS in the past (to make requests stale on purpose).

Signing follows the specs: docs/protocol/alipay-v2.md §2 (v2: every parameter but `sign`, sorted,
`k=v&…`, SHA256withRSA, base64; form-encoded on the wire), docs/protocol/alipay-v3.md §2 (v3: Authorization header over
`auth\\nMETHOD\\nURI\\nBODY\\n`, unique nonce) and docs/protocol/top.md §5 (md5(secret + k1v1k2v2… + secret),
upper-case hex).
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import sys
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

GMT8 = timezone(timedelta(hours=8))
V2_PATH = "/gateway.do"
V3_PATH = "/v3/alipay/trade/query"
TOP_PATH = "/router/rest"


def gmt8(t):
    return datetime.fromtimestamp(t, GMT8).strftime("%Y-%m-%d %H:%M:%S")


def trade_keys(path, count, field, spread=False):
    """`count` values of `field` from a JSONL file: the first ones, or with `spread` a uniform
    random sample of the whole file (fixed seed), in random order. Callers cycle through the
    list when the file holds fewer records than asked."""
    pattern = re.compile(r'"%s":"([^"]*)"' % re.escape(field))
    keys = []
    rng = random.Random(42)
    seen = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = pattern.search(line)
            if not m:
                continue
            seen += 1
            if len(keys) < count:
                keys.append(m.group(1))
                if not spread and len(keys) >= count:
                    break
            else:
                j = rng.randrange(seen)  # reservoir sampling
                if j < count:
                    keys[j] = m.group(1)
    if not keys:
        sys.exit(f"no records in {path}")
    if spread:
        rng.shuffle(keys)
    return keys


def form(pairs):
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote_plus)


_KEY = None


def _load_key(pem):
    global _KEY
    if _KEY is None:
        _KEY = serialization.load_pem_private_key(pem.encode(), password=None)
    return _KEY


def rsa2(pem, data):
    sig = _load_key(pem).sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


# --- Alipay v2 ---------------------------------------------------------------------------------

def v2_line(job):
    pem, app_id, trade_no, ts = job
    params = {
        "app_id": app_id,
        "method": "alipay.trade.query",
        "format": "json",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": ts,
        "version": "1.0",
        "biz_content": json.dumps({"trade_no": trade_no}, separators=(",", ":")),
    }
    content = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["sign"] = rsa2(pem, content.encode("utf-8"))
    # Like the official Python SDK: common parameters and sign in the URL, biz_content in the body.
    query = form([(k, v) for k, v in params.items() if k != "biz_content"])
    body = form([("biz_content", params["biz_content"])])
    return "\t".join(["POST", f"{V2_PATH}?{query}", body,
                      "Content-Type: application/x-www-form-urlencoded;charset=utf-8"])


# --- Alipay v3 ---------------------------------------------------------------------------------

def v3_line(job):
    pem, app_id, trade_no, ts_ms, nonce = job
    body = json.dumps({"trade_no": trade_no}, separators=(",", ":"))
    auth = f"app_id={app_id},nonce={nonce},timestamp={ts_ms}"
    content = f"{auth}\nPOST\n{V3_PATH}\n{body}\n"
    sign = rsa2(pem, content.encode("utf-8"))
    return "\t".join(["POST", V3_PATH, body,
                      "Content-Type: application/json",
                      "Accept: application/json",
                      f"Authorization: ALIPAY-SHA256withRSA {auth},sign={sign}"])


# --- TOP ---------------------------------------------------------------------------------------

def top_sign(secret, params):
    s = "".join(f"{k}{params[k]}" for k in sorted(params) if params[k] != "")
    return hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest().upper()


def top_line(creds, method, fmt, key, ts):
    top = creds["top"]
    system = {
        "method": method,
        "app_key": top["app_key"],
        "timestamp": ts,
        "format": fmt,
        "v": "2.0",
        "sign_method": "md5",
        "partner_id": "top-sdk-java-20200706",
    }
    if method == "tmall.luxury.stage.edi.alipay.trade.query":
        biz = {"edi_alipay_trade_query_request": json.dumps({"trade_no": key}, separators=(",", ":"))}
    else:
        system["session"] = top["session"]
        biz = {"trade_no": key}
    sign = top_sign(top["app_secret"], {**system, **biz})
    # Like the Java/Python/PHP SDKs: system parameters in the URL, business ones in the body.
    query = form(list(system.items()) + [("sign", sign)])
    return "\t".join(["POST", f"{TOP_PATH}?{query}", form(list(biz.items())),
                      "Content-Type: application/x-www-form-urlencoded;charset=UTF-8"])


TOP_METHODS = {
    "edi": ("tmall.luxury.stage.edi.alipay.trade.query", "trade_no"),
    "xlife": ("alibaba.xlife.onsite.trade.query", "trade_no"),
}


def write_lines(out, lines):
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, out)


def cmd_v2(a, creds):
    ali = creds["alipay"]
    pem = ali["app_private_key_pkcs8_pem"]
    now = time.time() - a.age
    if a.same:
        # A polling client: one trade, a fresh request (new timestamp, new signature) each time.
        key = trade_keys(a.trades, 1, "trade_no")[0]
        jobs = [(pem, ali["app_id"], key, gmt8(now - (i % 600))) for i in range(a.count)]
    else:
        keys = trade_keys(a.trades, a.count, "trade_no", a.spread)
        if len(keys) < a.count:
            sys.exit(f"only {len(keys)} trades in {a.trades}: cannot make {a.count} distinct requests")
        jobs = [(pem, ali["app_id"], keys[i], gmt8(now)) for i in range(a.count)]
    with ProcessPoolExecutor(a.jobs) as ex:
        write_lines(a.out, ex.map(v2_line, jobs, chunksize=256))


def cmd_v3(a, creds):
    ali = creds["alipay"]
    pem = ali["app_private_key_pkcs8_pem"]
    keys = trade_keys(a.trades, a.count, "trade_no", a.spread)
    ts_ms = int(time.time() * 1000)
    run = os.urandom(4).hex()
    jobs = [(pem, ali["app_id"], keys[i % len(keys)], ts_ms, f"{run}-{i:08d}") for i in range(a.count)]
    with ProcessPoolExecutor(a.jobs) as ex:
        write_lines(a.out, ex.map(v3_line, jobs, chunksize=256))


def top_job(job):
    return top_line(*job)


def cmd_top(a, creds):
    method, field = TOP_METHODS[a.method]
    keys = trade_keys(a.trades, a.count, field, a.spread)
    ts = gmt8(time.time() - a.age)
    top = {"top": creds["top"]}  # what top_line reads: small to send to the workers
    jobs = ((top, method, a.format, keys[i % len(keys)], ts) for i in range(a.count))
    if a.count < 50_000:
        write_lines(a.out, map(top_job, jobs))
        return
    # A million requests take about a minute on one core: spread them over every core.
    with ProcessPoolExecutor(a.jobs) as ex:
        write_lines(a.out, ex.map(top_job, jobs, chunksize=4096))


# --- probe -------------------------------------------------------------------------------------

def send(url, line):
    f = line.rstrip("\n").split("\t")
    method, path, body = f[0], f[1], f[2]
    headers = dict(h.split(": ", 1) for h in f[3:])
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request(method, path, body=body.encode() if body else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    return r.status, hdrs, data


def verify_v2_answer(creds, data):
    """The v2 answer's sign covers the exact bytes of the *_response value."""
    text = data.decode("utf-8")
    key = '"alipay_trade_query_response":'
    start = text.index(key) + len(key)
    end = text.rindex(',"sign":"')
    signed = text[start:end].encode("utf-8")
    sign = json.loads(text)["sign"]
    pub = serialization.load_pem_public_key(creds["alipay"]["alipay_public_key_pem"].encode())
    pub.verify(base64.b64decode(sign), signed, padding.PKCS1v15(), hashes.SHA256())


def verify_v3_answer(creds, hdrs, data):
    content = f"{hdrs['alipay-timestamp']}\n{hdrs['alipay-nonce']}\n".encode() + data + b"\n"
    pub = serialization.load_pem_public_key(creds["alipay"]["alipay_public_key_pem"].encode())
    pub.verify(base64.b64decode(hdrs["alipay-signature"]), content, padding.PKCS1v15(), hashes.SHA256())


def cmd_replay(a):
    """Sends the first N requests of FILE one after another on one keep-alive connection (the
    instruction-count runs: a fixed number of answers, the client's cost outside the server)."""
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    sent = 0
    with open(a.file, encoding="utf-8") as f:
        for line in f:
            if sent == a.n:
                break
            fields = line.rstrip("\n").split("\t")
            headers = dict(h.split(": ", 1) for h in fields[3:])
            conn.request(fields[0], fields[1], body=fields[2].encode() if fields[2] else None,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200 or a.check.encode() not in data:
                sys.exit(f"replay: bad answer to request {sent + 1}: HTTP {r.status}: {data[:600]!r}")
            sent += 1
    conn.close()
    if sent < a.n:
        sys.exit(f"replay: only {sent} requests in {a.file}")
    print(sent)


def cmd_probe(a):
    creds = json.load(open(a.creds)) if a.creds else None
    with open(a.file, encoding="utf-8") as f:
        lines = [next(f) for _ in range(a.n)]
    sizes = []
    bodies = []
    for line in lines:
        status, hdrs, data = send(a.url, line)
        text = data.decode("utf-8", "replace")
        ok = status == 200
        if a.kind == "v2":
            ok = ok and '"code":"10000"' in text
            if ok and creds:
                verify_v2_answer(creds, data)
        elif a.kind == "v3":
            ok = ok and '"trade_no"' in text
            if ok and creds:
                verify_v3_answer(creds, hdrs, data)
        elif a.kind == "top-json":
            ok = ok and "error_response" not in text and '"trade_no"' in text
        elif a.kind == "top-xml":
            ok = ok and "<error_response" not in text and "<trade_no>" in text
        if not ok:
            sys.exit(f"probe failed: HTTP {status}: {text[:600]}")
        sizes.append(len(data))
        bodies.append(data)
    if a.static:
        # A real answer padded with trailing blanks (valid after a JSON or XML document) to the
        # mean answer size: what nginx serves as the same-size static baseline.
        mean = round(sum(sizes) / len(sizes))
        body = max((b for b in bodies if len(b) <= mean), key=len, default=min(bodies, key=len))
        with open(a.static, "wb") as f:
            f.write(body + b" " * (mean - len(body)))
    if a.save:
        with open(a.save, "wb") as f:
            f.write(data)
    print(json.dumps({"ok": True, "n": len(sizes), "mean_bytes": round(sum(sizes) / len(sizes)),
                      "min_bytes": min(sizes), "max_bytes": max(sizes)}))


# --- fill --------------------------------------------------------------------------------------

FILL_CHECKS = {"v2": '"code":"10000"', "top-json": '"trade_no"'}


def cmd_fill(a):
    """Sends every request of the file once over CONNS keep-alive connections and checks each
    answer: HTTP 200 and the kind's success marker (wrk cannot stop when a file runs out)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with open(a.file, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    u = urllib.parse.urlsplit(a.url)
    check = FILL_CHECKS[a.kind].encode()
    lock = threading.Lock()
    state = {"next": 0, "bad": 0, "errors": 0, "sample": ""}

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(lines):
                break
            f = lines[i].rstrip("\n").split("\t")
            headers = dict(h.split(": ", 1) for h in f[3:])
            try:
                conn.request(f[0], f[1], body=f[2].encode() if f[2] else None, headers=headers)
                r = conn.getresponse()
                data = r.read()
                good = r.status == 200 and check in data
                if not good:
                    with lock:
                        state["bad"] += 1
                        state["sample"] = state["sample"] or f"{r.status} {data[:300]!r}"
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    state["errors"] += 1
                    state["sample"] = state["sample"] or repr(e)
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
        conn.close()

    start = time.time()
    with ThreadPoolExecutor(max_workers=a.conns) as pool:
        for _ in range(a.conns):
            pool.submit(worker)
    secs = time.time() - start
    print(f"RESULT requests={len(lines)} duration_s={secs:.3f} rps={len(lines) / secs:.1f} "
          f"bad={state['bad']} errors={state['errors']}")
    if state["sample"]:
        print("SAMPLE " + state["sample"].replace("\n", " "))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("v2", "v3", "top"):
        s = sub.add_parser(name)
        s.add_argument("creds")
        s.add_argument("trades")
        s.add_argument("out")
        s.add_argument("--count", type=int, required=True)
        s.add_argument("--jobs", type=int, default=os.cpu_count())
        s.add_argument("--spread", action="store_true",
                       help="sample the trades at random from the whole file (default: the first ones)")
        if name in ("v2", "top"):
            s.add_argument("--age", type=float, default=0,
                           help="timestamps this many seconds in the past")
        if name == "v2":
            s.add_argument("--same", action="store_true", help="every request asks the same trade")
        if name == "top":
            s.add_argument("--method", choices=sorted(TOP_METHODS), required=True)
            s.add_argument("--format", choices=["json", "xml"], required=True)
    s = sub.add_parser("probe")
    s.add_argument("url")
    s.add_argument("file")
    s.add_argument("kind", choices=["v2", "v3", "top-json", "top-xml", "any"])
    s.add_argument("--creds")
    s.add_argument("--n", type=int, default=3)
    s.add_argument("--save", help="write the last answer body here")
    s.add_argument("--static", help="write a same-size static stand-in of the answers here")
    s = sub.add_parser("fill")
    s.add_argument("url")
    s.add_argument("file")
    s.add_argument("kind", choices=sorted(FILL_CHECKS))
    s.add_argument("--conns", type=int, default=32)
    s.add_argument("--timeout", type=float, default=10)
    s = sub.add_parser("replay")
    s.add_argument("url")
    s.add_argument("file")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--check", required=True, help="a byte string every answer must contain")
    a = p.parse_args()
    if a.cmd == "probe":
        return cmd_probe(a)
    if a.cmd == "fill":
        return cmd_fill(a)
    if a.cmd == "replay":
        return cmd_replay(a)
    creds = json.load(open(a.creds))
    {"v2": cmd_v2, "v3": cmd_v3, "top": cmd_top}[a.cmd](a, creds)


if __name__ == "__main__":
    main()
