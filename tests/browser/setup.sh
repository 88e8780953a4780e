#!/usr/bin/env bash
# Installs the browser suite's Node packages from the npm registry into tests/browser/node_modules:
# puppeteer-core (the driver; it downloads no browser, the suite uses the system's Chromium) and
# the official `alipay-sdk`. Idempotent; a stamp file skips the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.tradeq-stamp
want="$(cat package.json)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm install --no-audit --no-fund --silent
  printf '%s' "$want" > "$stamp"
fi
