#!/usr/bin/env bash
# Runs the README's commands as written against a fresh `pagos --sandbox`:
#  1. the relative links of README.md and docs/*.md lead somewhere (tests/readme/blocks.py links)
#  2. pagos --sandbox starts on free ports, with an admin token, in a scratch directory
#  3. every ```sh block marked <!-- readme-test --> runs, in order, in one bash session with
#     `set -euo pipefail` (the README's curls carry -f, so an error answer fails the run)
# The README's ports (8080, 8090) are replaced by free ones and `target/release/pagos` by the
# binary under test (PAGOS_BIN, default target/debug/pagos, built if missing). Run by
# tests/readme.rs in `cargo test`; works alone from any directory. Needs bash, curl, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

echo "== readme: links"
python3 "$here/blocks.py" links README.md docs/*.md

bin=${PAGOS_BIN:-"$repo/target/debug/pagos"}
if [ -z "${PAGOS_BIN:-}" ] && [ ! -x "$bin" ]; then cargo build --bin pagos; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
work=$(mktemp -d)
port=$(free_port)
sandbox_port=$(free_port)
admin_token="admin_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# The README starts the sandbox with no other setting; the admin token is the one its operations
# section asks for. The scratch directory is the working directory, so nothing lands in the tree.
(cd "$work" && PAGOS__SERVER__HOST=127.0.0.1 PAGOS__SERVER__PORT="$port" \
  PAGOS__SANDBOX__PORT="$sandbox_port" PAGOS__ADMIN__TOKEN="$admin_token" RUST_LOG=warn \
  exec "$bin" --sandbox >"$work/pagos.log" 2>&1) &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
base="http://127.0.0.1:$port"
sandbox="http://127.0.0.1:$sandbox_port"
for _ in $(seq 1 150); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/pagos.log"; exit 1; }
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { cat "$work/pagos.log"; exit 1; }

echo "== readme: pagos --sandbox at $base, simulator at $sandbox"

python3 "$here/blocks.py" script README.md --port "$port" --sandbox-port "$sandbox_port" \
  --bin "$bin" >"$work/readme.sh"
status=0
(cd "$work" && PAGOS__ADMIN__TOKEN="$admin_token" bash "$work/readme.sh") || status=$?
if [ "$status" -ne 0 ]; then
  echo "readme: a README block failed (exit $status); pagos's log:"
  tail -n 40 "$work/pagos.log"
  exit "$status"
fi
