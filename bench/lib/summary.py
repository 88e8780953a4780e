#!/usr/bin/env python3
"""Prints the results table of the latest benchmark rows in bench/results/summary.jsonl."""

import json
import sys


def load(path):
    latest = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            bench = r["bench"]
            # Runs with a non-default record cache are kept apart from the target runs.
            if r.get("record_cache", "default") != "default":
                bench = f"{bench}-record-cache-{r['record_cache']}"
            # Store sizes on PostgreSQL are rows of their own beside SQLite's.
            if r.get("backend", "sqlite") != "sqlite":
                bench = f"{bench}-{r['backend']}"
            key = (bench, r.get("method"), r.get("format"), r.get("records"))
            latest[key] = r
    return latest


def n(x):
    return f"{round(float(x)):,}" if x not in (None, "") else "n/a"


def ms(us):
    return f"{float(us) / 1000:.2f}" if us not in (None, "") else "n/a"


def verdict(value, target, higher=True):
    if value in (None, "", "n/a"):
        return "n/a"
    ok = float(value) >= target if higher else float(value) <= target
    return "met" if ok else "**missed**"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/summary.jsonl"
    rows = load(path)
    out = []
    add = out.append
    add("| benchmark | result | ratio | target | verdict |")
    add("|---|---|---|---|---|")
    rsa = rows.get(("rsa-ceiling", None, None, None))
    if rsa:
        add(f"| RSA-2048 on one core (openssl speed) | sign {n(rsa['sign_per_s'])}/s, verify {n(rsa['verify_per_s'])}/s "
            f"| ceiling {n(rsa['ceiling'])} answers/s | | |")
    v2 = rows.get(("alipay-v2", None, None, None))
    if v2:
        add(f"| v2 (a) distinct trades, 1 core | {n(v2['a_rps'])} answers/s | {v2['a_ratio_pct']} % of RSA ceiling "
            f"{n(v2['ceiling'])} (same run) | ≥ 90 % | {verdict(v2['a_ratio_pct'], 90)} |")
        add(f"| v2 (b) one unchanged trade (signature cache), 1 core | {n(v2['b_rps'])} answers/s "
            f"| {v2['b_over_a']} × (a) | ≥ 10 × | {verdict(v2['b_over_a'], 10)} |")
        add(f"| v2 (a) latency at half peak ({n(v2['a_lat_rps'])}/s) | p50 {ms(v2['a_p50_us'])} ms, p99 {ms(v2['a_p99_us'])} ms | | | |")
        add(f"| v2 (b) latency at half peak ({n(v2['b_lat_rps'])}/s) | p50 {ms(v2['b_p50_us'])} ms, p99 {ms(v2['b_p99_us'])} ms | | | |")
        if v2.get("both_rps") not in (None, ""):
            add(f"| v2 (a), server on both cores (wrk sharing them) | {n(v2['both_rps'])} answers/s "
                f"| {v2['both_ratio_pct']} % of 2 × ceiling | (info) | |")
    v3 = rows.get(("alipay-v3", None, None, None))
    if v3:
        add(f"| v3 fresh nonces, 1 core | {n(v3['rps'])} answers/s | {v3['ratio_pct']} % of RSA ceiling "
            f"{n(v3['ceiling'])} (same run) | ≥ 90 % | {verdict(v3['ratio_pct'], 90)} |")
        add(f"| v3 latency at half peak ({n(v3['lat_rps'])}/s) | p50 {ms(v3['p50_us'])} ms, p99 {ms(v3['p99_us'])} ms | | | |")
    for method in ("edi", "xlife"):
        for fmt in ("json", "xml"):
            t = rows.get(("top", method, fmt, None))
            if not t:
                continue
            name = "tmall.luxury.stage.edi.alipay.trade.query" if method == "edi" else "alibaba.xlife.onsite.trade.query"
            add(f"| TOP {name} {fmt} ({t['answer_bytes']} B), 1 core | {n(t['tradeq_rps'])} answers/s; "
                f"p50 {ms(t['p50_us'])} ms, p99 {ms(t['p99_us'])} ms at {n(t['lat_rps'])}/s "
                f"| {t['ratio_pct']} % of nginx ({n(t['nginx_rps'])}/s) best/best"
                + (f"; paired median {t['paired_median_pct']} % ({t['paired_ratios_pct']})" if t.get("paired_median_pct") else "")
                + f" | ≥ 50 % | {verdict(t.get('paired_median_pct') or t['ratio_pct'], 50)} |")
    curve = sorted((r for k, r in rows.items() if k[0] == "top-curve"),
                   key=lambda r: (r["format"], int(r["records"]), r["method"]))
    for r in curve:
        target = "≥ 50 %" if r["method"] == "default" and int(r["records"]) >= 50000 else "(info)"
        add(f"| TOP EDI {r['format']}, {n(r['records'])} distinct trades, {r['method']} "
            f"(record cache {n(r['record_cache_entries'])}) | {n(r['tradeq_rps'])} answers/s "
            f"| {r['ratio_pct']} % of nginx ({n(r['nginx_rps'])}/s) best/best; paired median "
            f"{r['paired_median_pct']} % ({r['paired_ratios_pct']}) | {target} "
            f"| {verdict(r['paired_median_pct'], 50) if target != '(info)' else ''} |")
    for r in sorted((r for k, r in rows.items() if k[0] == "top-instructions"), key=lambda r: r["method"]):
        add(f"| TOP EDI JSON instructions per answer, {r['method']} (callgrind) | {n(r['per_answer'])} | | | |")
    imp = rows.get(("import", None, None, None))
    if imp:
        add(f"| import {n(imp['count'])} alipay trades into SQLite | {n(imp['sqlite_rps'])} records/s "
            f"({float(imp['sqlite_s']):.2f} s) | | ≥ 50,000/s | {verdict(imp['sqlite_rps'], 50000)} |")
        add(f"| same file again into SQLite (all unchanged) | {n(imp['sqlite_again_rps'])} records/s | | | |")
        if imp.get("pg_rps") not in (None, ""):
            add(f"| import into PostgreSQL | {n(imp['pg_rps'])} records/s ({float(imp['pg_s']):.2f} s) | | | |")
            add(f"| same file again into PostgreSQL (all unchanged) | {n(imp['pg_again_rps'])} records/s | | | |")
    for case in ("top-warm", "top-cold", "v2"):
        r = rows.get(("pg-vs-sqlite", case, None, None))
        if r:
            add(f"| PostgreSQL vs SQLite: {r['name']} | PostgreSQL {n(r['pg_rps'])}/s, SQLite {n(r['sqlite_rps'])}/s "
                f"| median {r['median_pct']} % ({r['ratios_pct']}) | ≥ 60 % | {verdict(r['median_pct'], 60)} |")
    for bench, backend in (("store-size", "SQLite"), ("store-size-postgres", "PostgreSQL")):
        sizes = sorted((r for k, r in rows.items() if k[0] == bench), key=lambda r: int(r["records"]))
        for r in sizes:
            add(f"| {backend} store of {n(r['records'])} records ({r['db_mb']} MB) | v2 p50 {ms(r['v2_p50_us'])} / p99 {ms(r['v2_p99_us'])} ms "
                f"at {n(r['v2_rate'])}/s; TOP EDI p50 {ms(r['top_p50_us'])} / p99 {ms(r['top_p99_us'])} ms at {n(r['top_rate'])}/s; "
                f"TOP peak {n(r['top_peak_rps'])}/s | | flat | |")
        if len(sizes) >= 2:
            a, b = sizes[0], sizes[-1]
            add(f"| {backend} p50 growth {n(a['records'])} → {n(b['records'])} | v2 × {float(b['v2_p50_us']) / float(a['v2_p50_us']):.2f}, "
                f"TOP × {float(b['top_p50_us']) / float(a['top_p50_us']):.2f} | | flat | |")
    loads = sorted({f"{k[0]}: {r['load']}" for k, r in rows.items() if "load" in r})
    out.append("")
    out.append("Machine state before each benchmark: " + "; ".join(loads))
    print("\n".join(out))


if __name__ == "__main__":
    main()
