#!/usr/bin/env bash
# The relay under a steady intake, on PostgreSQL. Usage:
#   bench/steady.sh [rate events/s] [seconds] [pagos binary ...]
# With no binary, builds pagos (release) and measures it. Runs a PostgreSQL server of its own
# (initdb in a temporary directory, default settings, pg_stat_statements, port 18433), creates
# rate x seconds orders through the first binary into a seed database, then for each binary in
# turn: a fresh `CREATE DATABASE … TEMPLATE` copy (a checkpoint writes it out before the load,
# see bench/run.sh's `settle`), pagos with the relay on and one receiver, and
# rate x seconds signed `order.paid` events posted at a fixed rate (open loop). Every 10 s it
# prints the notifications pending and the lease table's pages; at the end, how many were
# delivered 3 s after the load, and the statements that took the server longest. A relay that
# keeps up ends with all delivered and a pending count near zero throughout. See BENCHMARKS.md
# ("2026-12-07 day"). Every load is bounded by its count and duration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RATE=${1:-1000}
SECS=${2:-56}
shift $(($# < 2 ? $# : 2))
BINS=("$@")
EVENTS=$((RATE * SECS))
P_PG=18433 P_FAKE=18281 P_PAGOS=18280 P_RECV=18300 P_CTL=18299

WORK=$(mktemp -d /tmp/pagos-steady.XXXXXX)
PIDS=()
PG_AS=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
say() { printf '== %s\n' "$*" >&2; }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${PG_AS[@]}" "$pg_bin/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  say "logs in $WORK"
}
trap cleanup EXIT
[ -x "$pg_bin/initdb" ] || { say "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"; exit 1; }

say "build bench/tools${BINS[*]:+ (pagos given)}"
CARGO_TARGET_DIR="$ROOT/target/bench-tools" nice -n 10 \
  cargo build --release --locked --quiet --manifest-path bench/tools/Cargo.toml
BT="$ROOT/target/bench-tools/release/benchtool"
if [ "${#BINS[@]}" -eq 0 ]; then
  nice -n 10 cargo build --release --locked --quiet
  BINS=("$ROOT/target/release/pagos")
fi

if [ "$(id -u)" = 0 ]; then PG_AS=(runuser -u postgres --); chown postgres "$WORK"; fi
"${PG_AS[@]}" "$pg_bin/initdb" -D "$WORK/pg" -A trust -U postgres >"$WORK/initdb.log" 2>&1
printf '%s\n' "port = $P_PG" "listen_addresses = '127.0.0.1'" \
  "unix_socket_directories = '$WORK/pg'" "shared_preload_libraries = 'pg_stat_statements'" \
  "log_min_duration_statement = 200" "log_autovacuum_min_duration = 0" "log_checkpoints = on" |
  "${PG_AS[@]}" tee -a "$WORK/pg/postgresql.conf" >/dev/null
"${PG_AS[@]}" "$pg_bin/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w start >/dev/null
ADMIN="postgres://postgres@127.0.0.1:$P_PG/postgres"
psql "$ADMIN" -qc "create extension pg_stat_statements"
sql() { psql "postgres://postgres@127.0.0.1:$P_PG/$1" -qAtc "$2"; }

start_pagos() { # binary database relay(on|off) name: sets PAGOS_PID once ready
  local -a env=(
    PAGOS__SERVER__HOST=127.0.0.1 PAGOS__SERVER__PORT=$P_PAGOS
    PAGOS__DATABASE__URL="postgres://postgres@127.0.0.1:$P_PG/$2?sslmode=disable"
    PAGOS__CONEKTA__API_URL="http://127.0.0.1:$P_FAKE"
    PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY="$(cat "$ROOT/tests/data/keys/webhook_public.pem")"
    PAGOS__RELAY__ALLOW_PRIVATE_TARGETS=true PAGOS__ADMIN__TOKEN=bench
  )
  [ "$3" = off ] || env+=(PAGOS__RELAY__SIGNING_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
  local since
  since=$(date +%s%N)
  nice -n 10 env "${env[@]}" "$1" >"$WORK/pagos-$4.log" 2>&1 &
  PAGOS_PID=$!
  PIDS+=("$PAGOS_PID")
  "$BT" wait-ready --url "http://127.0.0.1:$P_PAGOS/readyz" --since-ns "$since" --timeout 60 \
    --threads 1 >/dev/null
}

say "sign $EVENTS events, create their orders through pagos (untimed)"
"$BT" sign --key "$ROOT/tests/data/keys/webhook_private.pem" --prefix "s-" --count "$EVENTS" \
  --out "$WORK/events.tsv" --threads 2 >&2
nice -n 10 "$BT" fake-conekta --port $P_FAKE --threads 1 >"$WORK/fake.log" 2>&1 &
PIDS+=("$!")
psql "$ADMIN" -qc "create database seeded"
start_pagos "${BINS[0]}" seeded off seed
"$BT" load --url "http://127.0.0.1:$P_PAGOS/pagos" --rports $P_RECV:1 --conns 32 \
  --requests "$EVENTS" --duration 600 \
  --template '{"provider":"conekta","action":"create","reference_id":"s-{n}","amount":1000,"secret":"key_benchbenchbenchbench01","first_name":"andres","last_name":"jaro","email":"andres@example.com","return_url":"https://shop.example","notification_url":"http://127.0.0.1:{rport}/notify"}' >&2
kill "$PAGOS_PID"; wait "$PAGOS_PID" 2>/dev/null || true
sql seeded "vacuum analyze"

for i in "${!BINS[@]}"; do
  bin=${BINS[$i]}
  psql "$ADMIN" -qc "set client_min_messages = warning" -c "drop database if exists run" \
    -c "create database run template seeded" -c "checkpoint" \
    -c "select pg_stat_statements_reset()" >/dev/null
  nice -n 10 "$BT" receivers --base $P_RECV --count 1 --control $P_CTL --hang none --threads 1 \
    >"$WORK/receiver-$i.log" 2>&1 &
  recv=$!
  PIDS+=("$recv")
  start_pagos "$bin" run on "run-$i"
  echo "== $bin: $EVENTS events at $RATE/s"
  for t in $(seq 10 10 "$SECS"); do
    sleep 10
    echo "$t s: $(sql run "select count(*) from deliveries where status = 'pending'") pending, \
$(sql run "select pg_relation_size('delivery_leases') / 8192") lease pages"
  done &
  sampler=$!
  nice -n 10 "$BT" load --url "http://127.0.0.1:$P_PAGOS/webhooks/conekta" \
    --signed "$WORK/events.tsv" --conns 16 --rate "$RATE" --duration "$SECS"
  wait "$sampler" || true
  sleep 3
  echo "delivered 3 s after the load: $(sql run "select count(*) from deliveries where status = 'delivered'") of $EVENTS"
  psql "$ADMIN" -qAt -F ' | ' -c "select calls, round(mean_exec_time::numeric * 1000) || ' us mean', \
    round(total_exec_time::numeric) || ' ms', left(regexp_replace(query, '\s+', ' ', 'g'), 48) \
    from pg_stat_statements where dbid = (select oid from pg_database where datname = 'run') \
    order by total_exec_time desc limit 4"
  kill "$PAGOS_PID" "$recv"
  wait "$PAGOS_PID" "$recv" 2>/dev/null || true
done
