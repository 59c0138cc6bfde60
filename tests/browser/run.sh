#!/usr/bin/env bash
# Browser tests of --sandbox in Debian's chromium (driven by playwright-core), every *.test.mjs
# here: paying a checkout onto the result page, the order page's events and the inbox, no page
# scrolling sideways at 390 px; screenshots in tests/browser/screenshots/. Installs what it needs
# on a fresh Debian machine (root).
set -euo pipefail
cd "$(dirname "$0")"
browser_dir=$(pwd)
repo=$(cd ../.. && pwd)

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error

cd "$repo"
cargo build --bin pagos

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
work=$(mktemp -d)
port=$(free_port)
sandbox_port=$(free_port)
secret="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
mkdir -p tests/artifacts
PAGOS__SERVER__HOST=127.0.0.1 PAGOS__SERVER__PORT="$port" \
  PAGOS__DATABASE__URL="sqlite://$work/pagos.db?mode=rwc" \
  PAGOS__SANDBOX__PORT="$sandbox_port" PAGOS__RELAY__SIGNING_SECRET="$secret" \
  PAGOS__RELAY__RETRY_SCHEDULE="1s,2s,5s" \
  target/debug/pagos --sandbox >"tests/artifacts/pagos-sandbox.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat tests/artifacts/pagos-sandbox.log; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null

cd "$browser_dir"
PAGOS_URL="http://127.0.0.1:$port" SANDBOX_URL="http://127.0.0.1:$sandbox_port" \
  PAGOS_SIGNING_SECRET="$secret" node --test ./*.test.mjs
echo "Screenshots (checkout, result page, cashier, inbox at 1280 and 390 px): $browser_dir/screenshots/"
