#!/usr/bin/env bash
# Over 400 lines: one harness, its seven measurements sharing the helpers and processes above them.
# pagos benchmark harness. Usage: bench/run.sh [--smoke]
#
# Builds what it needs, starts everything on 127.0.0.1, measures, stops everything and prints a
# table. Full mode uses the release build; --smoke uses the debug build and tiny counts (a few
# seconds of load) and only checks that everything starts and no request fails (the crash
# takeover, 6, runs the same in both modes).
# Every load loop is bounded by a duration and/or a count. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full
case "${1:-}" in
  --smoke) MODE=smoke ;;
  "") ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

if [ "$MODE" = full ]; then
  SAT_SECS=10; SAT_CONNS=64; RATE=500; RATE_SECS=10; WARM_SECS=2
  SLOW_CONC=2000; SLOW_SECS=15; SLOW_DELAY_MS=300
  EVENTS=12000; DRAIN=10000; HANG_PAIRS=3; PROFILE=release
  STEADY_RATE=1000; STEADY_SECS=30
else
  SAT_SECS=1; SAT_CONNS=8; RATE=50; RATE_SECS=1; WARM_SECS=0.3
  SLOW_CONC=50; SLOW_SECS=1; SLOW_DELAY_MS=300
  EVENTS=300; DRAIN=200; HANG_PAIRS=1; PROFILE=debug
  STEADY_RATE=100; STEADY_SECS=3
fi
STEADY_EVENTS=$((STEADY_RATE * STEADY_SECS))
# Crash takeover, the same in both modes: 64 notifications to one receiver answering after 2 s.
TAKEOVER=64; TAKEOVER_DELAY_MS=2000
RECEIVERS=10

# Loopback ports.
P_PAGOS=18080; P_PAGOS2=18090; P_FAKE=18081; P_NGINX=18082; P_SLOW=18083
P_RECV=18100; P_CTL=18099
NICE=(nice -n 10)
P_PG=18432
PG_DB="pagos_bench_$$"

WORK=$(mktemp -d /tmp/pagos-bench.XXXXXX)
PIDS=()
FAILED=0
say() { printf '== %s\n' "$*" >&2; }
die() { say "FAILED: $*"; FAILED=1; exit 1; }

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${PG_OWN:-}" ]; then
    "${PG_AS[@]}" "$PG_OWN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  elif [ -n "${PG_CREATED:-}" ]; then
    for db in $PG_DB ${PG_DB}_seeded ${PG_DB}_ing ${PG_DB}_two ${PG_DB}_d1 ${PG_DB}_d10 ${PG_DB}_run ${PG_DB}_tls ${PG_DB}_steady; do
      psql "$PG_ADMIN" -qc "drop database if exists $db" >/dev/null 2>&1 || true
    done
  fi
  if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
    say "logs kept in $WORK"
    for f in "$WORK"/*.log; do [ -s "$f" ] && { echo "--- $f (tail)"; tail -n 5 "$f"; }; done >&2
  elif [ -n "${PAGOS_BENCH_KEEP:-}" ]; then
    say "logs kept in $WORK (PAGOS_BENCH_KEEP)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ tools and builds
say "tools"
if ! command -v nginx >/dev/null 2>&1; then
  # Debian's nginx; its package scripts must not start a system nginx (port 80).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made_policy=1; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null) ||
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null)
  [ -n "$made_policy" ] && rm -f "$policy"
fi
command -v nginx >/dev/null || die "nginx could not be installed"
command -v python3 >/dev/null || die "python3 is needed (sqlite copies)"

# PostgreSQL: in full mode a server of the harness's own (initdb in $WORK, default durability,
# pg_stat_statements loaded), so its CPU and statement counts are this run's alone; otherwise,
# or when no server binaries are found, the machine's server on 127.0.0.1:5432.
PG_HOST=127.0.0.1:5432; PG_KIND="the machine's server, 127.0.0.1:5432 (other users' work counts)"
PG_OWN=; PG_AS=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ "$MODE" = full ] && [ -x "$pg_bin/initdb" ]; then
  if [ "$(id -u)" = 0 ]; then PG_AS=(runuser -u postgres --); chown postgres "$WORK"; fi
  if "${PG_AS[@]}" "$pg_bin/initdb" -D "$WORK/pg" -A trust -U postgres >"$WORK/initdb.log" 2>&1; then
    printf '%s\n' "port = $P_PG" "listen_addresses = '127.0.0.1'" \
      "unix_socket_directories = '$WORK/pg'" "shared_preload_libraries = 'pg_stat_statements'" \
      "max_connections = 200" "log_autovacuum_min_duration = 0" "log_min_duration_statement = 250" |
      "${PG_AS[@]}" tee -a "$WORK/pg/postgresql.conf" >/dev/null
    # TLS as well, with a throwaway self-signed certificate, for the ingest over TLS in (3).
    if openssl req -new -x509 -days 2 -nodes -subj /CN=127.0.0.1 -keyout "$WORK/pg/server.key" \
      -out "$WORK/pg/server.crt" >/dev/null 2>&1; then
      chmod 600 "$WORK/pg/server.key"
      [ "${#PG_AS[@]}" -eq 0 ] || chown postgres "$WORK/pg/server.key" "$WORK/pg/server.crt"
      echo "ssl = on" | "${PG_AS[@]}" tee -a "$WORK/pg/postgresql.conf" >/dev/null
    fi
    "${PG_AS[@]}" "$pg_bin/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w start >/dev/null ||
      die "the harness's PostgreSQL did not start"
    PG_OWN=$pg_bin; PG_HOST=127.0.0.1:$P_PG
    PG_KIND="the harness's own server (initdb, default durability, pg_stat_statements)"
  fi
fi
PG_ADMIN="postgres://postgres@$PG_HOST/postgres"
# pagos's connections are plain unless a measurement says otherwise (the machine's server
# offers TLS, the harness's own too): the figures stay comparable with earlier runs.
PLAIN="?sslmode=disable"
[ -z "$PG_OWN" ] || psql "$PG_ADMIN" -qc "create extension pg_stat_statements" >/dev/null

say "build pagos ($PROFILE) and bench/tools (release)"
if [ "$PROFILE" = release ]; then
  "${NICE[@]}" cargo build --release --locked --quiet
else
  "${NICE[@]}" cargo build --locked --quiet
fi
PAGOS_BIN="$ROOT/target/$PROFILE/pagos"
CARGO_TARGET_DIR="$ROOT/target/bench-tools" "${NICE[@]}" \
  cargo build --release --locked --quiet --manifest-path bench/tools/Cargo.toml
BT="$ROOT/target/bench-tools/release/benchtool"

# ------------------------------------------------------------------ helpers
start_bg() { # name cmd...: starts a niced background process, logs to $WORK/name.log
  local name=$1; shift
  "${NICE[@]}" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  LAST_PID=$!
}

stop_pid() { # pid [signal]: SIGTERM (or signal), wait for it to exit, forget it (its number may be reused)
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

wait_port() { # port
  for _ in $(seq 1 500); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.01
  done
  die "nothing listens on 127.0.0.1:$1"
}

status_kb() { # pid field (VmRSS | VmHWM)
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

mb() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }

TICK=$(getconf CLK_TCK)
cpu_ticks() { # pid...: user + system CPU ticks used so far by these processes
  local pid sum=0
  for pid in "$@"; do
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
pg_ticks() { # CPU ticks of the PostgreSQL server's processes so far (the machine's: everyone's)
  local pids postmaster
  if [ -n "$PG_OWN" ]; then
    postmaster=$(head -n 1 "$WORK/pg/postmaster.pid")
    pids="$postmaster $(pgrep -P "$postmaster" || true)"
  else
    pids=$(pgrep -x postgres || true)
  fi
  # shellcheck disable=SC2086
  cpu_ticks $pids
}
machine_ticks() { # busy and all CPU ticks of the whole machine so far (steal counts as not busy)
  awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat
}
cores_busy() { # "busy all" before, "busy all" after -> how many of the machine's cores were busy
  awk -v a="$1" -v b="$2" -v n="$(nproc)" \
    'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.2f", (y[2] > x[2] ? n * (y[1] - x[1]) / (y[2] - x[2]) : 0)}'
}
pg_xacts() { # database -> transactions it committed or rolled back so far (autocommit reads count)
  psql "$PG_ADMIN" -Atc "select xact_commit + xact_rollback from pg_stat_database where datname = '$1'"
}
statements_reset() { [ -z "$PG_OWN" ] || psql "$PG_ADMIN" -qAtc "select pg_stat_statements_reset()" >/dev/null; }
# settle: the copies a measurement starts from are made by `CREATE DATABASE … TEMPLATE`, which
# on PostgreSQL 15 writes the copy through shared buffers and leaves it there dirty (7,000 of
# their 16,384 after a copy of the seeded store). A timed load then ran while it was still
# dirty and paid for writing it out: the setup's cost, paid by the measurement (PostgreSQL's
# intake at 0.70-0.78 of SQLite's without this, 0.85-0.86 with it, in alternating rounds;
# BENCHMARKS.md, "2026-12-07 late morning"). A checkpoint writes it before the clock starts.
settle() { psql "$PG_ADMIN" -qc checkpoint >/dev/null || die "CHECKPOINT failed"; }
statements_per() { # database count -> statements and execution time per item since the reset, and the top three
  if [ -z "$PG_OWN" ]; then echo "-"; return; fi
  psql "$PG_ADMIN" -qAt -v n="$2" -v db="$1" <<'SQL'
with s as (select calls, total_exec_time as ms, left(regexp_replace(query, '\s+', ' ', 'g'), 24) as q
  from pg_stat_statements where dbid = (select oid from pg_database where datname = :'db')),
top as (select sum(calls) as calls, sum(ms) as ms, q from s group by q order by 2 desc limit 3)
select round(sum(calls) / :n, 2) || ' statements, ' || round((sum(ms) * 1000 / :n)::numeric, 0)
  || ' us executing; most: ' || (select string_agg('`' || q || '...` ' || round(calls / :n, 2)
  || ' x, ' || round((ms * 1000 / :n)::numeric, 0) || ' us', '; ') from top) from s
SQL
}
tls_ratio() { if [ "$INGEST_PG_TLS" = - ]; then echo "- (no TLS offered)"; else r "$INGEST_PG_TLS / $INGEST_PG"; fi; }
per() { awk -v a="$1" -v n="$2" 'BEGIN {printf "%.2f", (n > 0 ? a / n : 0)}'; }
r() { awk "BEGIN {printf \"%.2f\", $*}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
us_per() { # ticks count -> CPU microseconds per item
  awk -v t="$1" -v n="$2" -v hz="$TICK" 'BEGIN {printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0)}'
}

# start_pagos name db_url conekta_port [relay=on]: sets PAGOS_PID and READY_MS
start_pagos() { # PAGOS_PORT=… start_pagos …: on another port (a second replica)
  local name=$1 db=$2 conekta=$3 relay=${4:-off} port=${PAGOS_PORT:-$P_PAGOS}
  local -a env=(
    PAGOS__SERVER__HOST=127.0.0.1 PAGOS__SERVER__PORT=$port
    PAGOS__DATABASE__URL="$db"
    PAGOS__CONEKTA__API_URL="http://127.0.0.1:$conekta"
    PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY="$(cat "$ROOT/tests/data/keys/webhook_public.pem")"
    PAGOS__RELAY__ALLOW_PRIVATE_TARGETS=true
    PAGOS__ADMIN__TOKEN=bench
  )
  if [ "$relay" = on ]; then
    env+=(PAGOS__RELAY__SIGNING_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
  fi
  local since
  since=$(date +%s%N)
  start_bg "$name" env "${env[@]}" "$PAGOS_BIN"
  PAGOS_PID=$LAST_PID
  READY_MS=$("$BT" wait-ready --url "http://127.0.0.1:$port/readyz" --since-ns "$since" --timeout 60 --threads 1) ||
    die "pagos ($name) did not become ready"
}

stop_pagos() { stop_pid "$PAGOS_PID"; }

# load name url [benchtool load args...]: runs the generator, checks for errors, prints its line
load() {
  local name=$1 url=$2; shift 2
  local line
  line=$("${NICE[@]}" "$BT" load --url "$url" "$@" 2>"$WORK/load-$name.log") || die "load $name failed"
  echo "$line" >"$WORK/load-$name.out"
  say "$name: $line"
  local errors
  errors=$(field "$line" errors)
  if [ "$errors" != 0 ]; then
    cat "$WORK/load-$name.log" >&2
    die "$name: $errors requests failed"
  fi
  echo "$line"
}
field() { sed -n "s/.* \{0,1\}$2=\([^ ]*\).*/\1/p" <<<" $1"; }

create_body() { # reference prefix -> a create request template ({n}, {rport} filled by the generator)
  printf '{"provider":"conekta","action":"create","reference_id":"%s{n}","amount":1000,"secret":"key_benchbenchbenchbench01","first_name":"andres","last_name":"jaro","email":"andres@example.com","return_url":"https://shop.example","notification_url":"http://127.0.0.1:{rport}/notify"}' "$1"
}

# ------------------------------------------------------------------ 1. create path
say "1. create path: fake Conekta, nginx in front of it, pagos in front of it"
start_bg fake "$BT" fake-conekta --port $P_FAKE --threads 1
FAKE_PID=$LAST_PID
wait_port $P_FAKE
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream fake { server 127.0.0.1:$P_FAKE; keepalive 128; }
  server {
    listen 127.0.0.1:$P_NGINX;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
start_bg nginx nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
NGINX_PID=$LAST_PID
wait_port $P_NGINX

start_pagos create "sqlite://$WORK/create.db?mode=rwc" $P_FAKE
sleep 1
IDLE_KB=$(status_kb "$PAGOS_PID" VmRSS)
START_READY_MS=$READY_MS
say "pagos ready in ${READY_MS} ms, idle RSS $(mb "$IDLE_KB") MB"

# This hour's disk: a create on SQLite waits for an fsync (two when it restarts the WAL after a
# checkpoint), so its tail follows the disk's. A 4 KB write + fsync, 2,000 in a row, in $WORK.
FSYNC_MS=$(python3 - "$WORK/fsync.probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
block, took = b"x" * 4096, []
for i in range(2000):
    start = time.perf_counter()
    os.pwrite(fd, block, (i % 64) * 4096)
    os.fsync(fd)
    took.append(time.perf_counter() - start)
os.close(fd)
os.unlink(sys.argv[1])
took.sort()
print("%.3f / %.3f" % (took[len(took) // 2] * 1e3, took[len(took) * 99 // 100] * 1e3))
PY
) || die "the fsync probe failed"
declare -A SAT P50 P99
for line in a:fake:"http://127.0.0.1:$P_FAKE/orders" b:nginx:"http://127.0.0.1:$P_NGINX/orders" c:pagos:"http://127.0.0.1:$P_PAGOS/pagos"; do
  key=${line%%:*}; rest=${line#*:}; name=${rest%%:*}; url=${rest#*:}
  load "warm-$name" "$url" --template "$(create_body "w$key-")" --rports $P_RECV:$RECEIVERS \
    --conns "$SAT_CONNS" --duration "$WARM_SECS" >/dev/null
  ticks=$(cpu_ticks "$PAGOS_PID")
  out=$(load "sat-$name" "$url" --template "$(create_body "s$key-")" --rports $P_RECV:$RECEIVERS \
    --conns "$SAT_CONNS" --duration "$SAT_SECS")
  SAT[$key]=$(field "$out" rps)
  if [ "$key" = c ]; then
    CPU_CREATE_SAT=$(us_per $(( $(cpu_ticks "$PAGOS_PID") - ticks )) "$(field "$out" ok)")
  fi
done
out=$(load rate-nginx "http://127.0.0.1:$P_NGINX/orders" --template "$(create_body "rb-")" \
  --rports $P_RECV:$RECEIVERS --conns 64 --rate "$RATE" --duration "$RATE_SECS")
P50[b]=$(field "$out" p50_ms); P99[b]=$(field "$out" p99_ms)
# rate_pair name: the fake alone, then pagos (on $P_PAGOS) in front of it, at the same fixed
# rate; appends to FAKE_P50/P99, PAGOS_P50/P99 and ADDED_P50/P99 (pagos minus the fake). Each
# pair's difference is taken within the same half minute: a spell of another tenant's load in a
# lone 10 s run would land in the difference whole.
FAKE_P50=(); FAKE_P99=(); PAGOS_P50=(); PAGOS_P99=(); ADDED_P50=(); ADDED_P99=()
rate_pair() {
  local name=$1 out a50 a99 c50 c99
  out=$(load "rate-fake-$name" "http://127.0.0.1:$P_FAKE/orders" \
    --template "$(create_body "ra$name-")" --rports $P_RECV:$RECEIVERS --conns 64 --rate "$RATE" \
    --duration "$RATE_SECS")
  a50=$(field "$out" p50_ms); a99=$(field "$out" p99_ms)
  out=$(load "rate-$name" "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "rc$name-")" \
    --rports $P_RECV:$RECEIVERS --conns 64 --rate "$RATE" --duration "$RATE_SECS")
  c50=$(field "$out" p50_ms); c99=$(field "$out" p99_ms)
  FAKE_P50+=("$a50"); FAKE_P99+=("$a99"); PAGOS_P50+=("$c50"); PAGOS_P99+=("$c99")
  ADDED_P50+=("$(r "$c50 - $a50")"); ADDED_P99+=("$(r "$c99 - $a99")")
}
for pair in $(seq 1 "$HANG_PAIRS"); do rate_pair "sqlite-$pair"; done
P50[a]=$(median "${FAKE_P50[@]}"); P99[a]=$(median "${FAKE_P99[@]}")
P50[c]=$(median "${PAGOS_P50[@]}"); P99[c]=$(median "${PAGOS_P99[@]}")
ADDED50=$(median "${ADDED_P50[@]}"); ADDED99=$(median "${ADDED_P99[@]}")
ADDED99_ALL="${ADDED_P99[*]}"
PEAK1_KB=$(status_kb "$PAGOS_PID" VmHWM)
stop_pagos
stop_pid "$NGINX_PID"

# ------------------------------------------------------------------ 1b. expired checkout
say "1b. create whose checkout comes back already expired vs live ($HANG_PAIRS alternating pairs)"
start_bg expfake "$BT" fake-conekta --port $P_SLOW --expired-checkout true --threads 1
EXPFAKE_PID=$LAST_PID
wait_port $P_SLOW
LIVE_RATES=(); EXPIRED_RATES=()
for i in $(seq 1 "$HANG_PAIRS"); do
  for kind in live expired; do
    port=$P_FAKE; [ "$kind" = expired ] && port=$P_SLOW
    start_pagos "create-$kind-$i" "sqlite://$WORK/create-$kind-$i.db?mode=rwc" "$port"
    load "warm-$kind-$i" "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "w$kind$i-")" \
      --rports $P_RECV:$RECEIVERS --conns "$SAT_CONNS" --duration "$WARM_SECS" >/dev/null
    out=$(load "sat-$kind-$i" "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "s$kind$i-")" \
      --rports $P_RECV:$RECEIVERS --conns "$SAT_CONNS" --duration "$SAT_SECS")
    if [ "$kind" = live ]; then LIVE_RATES+=("$(field "$out" rps)"); else EXPIRED_RATES+=("$(field "$out" rps)"); fi
    stop_pagos
  done
done
stop_pid "$EXPFAKE_PID"

# ------------------------------------------------------------------ 2. slow provider
say "2. slow provider: Conekta answers after ${SLOW_DELAY_MS} ms, $SLOW_CONC concurrent creates"
start_bg slowfake "$BT" fake-conekta --port $P_SLOW --delay-ms "$SLOW_DELAY_MS" --threads 1
wait_port $P_SLOW
start_pagos slow "sqlite://$WORK/slow.db?mode=rwc" $P_SLOW
out=$(load slow "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "slow-")" \
  --rports $P_RECV:$RECEIVERS --conns "$SLOW_CONC" --duration "$SLOW_SECS")
SLOW_RPS=$(field "$out" rps); SLOW_OK=$(field "$out" ok); SLOW_ERR=$(field "$out" errors)
SLOW_P50=$(field "$out" p50_ms); SLOW_P99=$(field "$out" p99_ms)
PEAK2_KB=$(status_kb "$PAGOS_PID" VmHWM)
stop_pagos

# ------------------------------------------------------------------ 3. webhook ingest
say "3. webhook ingest: sign $EVENTS order.paid events (untimed)"
"${NICE[@]}" "$BT" sign --key "$ROOT/tests/data/keys/webhook_private.pem" --prefix "e-" \
  --count "$EVENTS" --out "$WORK/events.tsv" --threads 2

# seed name db_url: a store holding the orders the events are about, created through pagos;
# sets CPU_CREATE (pagos) and PG_CPU_CREATE (the server) per create; leaves pagos stopped
seed() {
  start_pagos "seed-$1" "$2" $P_FAKE
  local out ticks pg
  ticks=$(cpu_ticks "$PAGOS_PID"); pg=$(pg_ticks)
  out=$(load "seed-$1" "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "e-")" \
    --rports $P_RECV:$RECEIVERS --conns 32 --requests "$EVENTS" --duration 600)
  CPU_CREATE=$(us_per $(( $(cpu_ticks "$PAGOS_PID") - ticks )) "$(field "$out" ok)")
  PG_CPU_CREATE=$(us_per $(( $(pg_ticks) - pg )) "$(field "$out" ok)")
  stop_pagos
}
# copy_seeded kind copy: a fresh copy of the seeded store, as a database URL
copy_seeded() {
  case $1 in
    sqlite)
      rm -f "$WORK/$2.db" "$WORK/$2.db-wal" "$WORK/$2.db-shm"
      python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute(f"VACUUM INTO {sys.argv[2]!r}")' \
        "$WORK/seeded.db" "$WORK/$2.db"
      echo "sqlite://$WORK/$2.db?mode=rwc" ;;
    postgres*)
      psql "$PG_ADMIN" -qc "drop database if exists $2" >/dev/null
      psql "$PG_ADMIN" -qc "create database $2 template ${PG_DB}_seeded" >/dev/null ||
        die "cannot copy ${PG_DB}_seeded"
      settle
      if [ "$1" = postgres-tls ]; then
        echo "postgres://postgres@$PG_HOST/$2?sslmode=require"
      else
        echo "postgres://postgres@$PG_HOST/$2$PLAIN"
      fi ;;
  esac
}
# ingest name db_url [replicas]: the signed events posted as fast as pagos answers, to one
# replica or to two behind one load; sets INGEST_RPS, CPU_EVENT (pagos, every replica),
# PG_CPU_EVENT (the server) and, on PostgreSQL, INGEST_STMTS and INGEST_XACTS (the copy's
# database is named by the URL); leaves pagos stopped
ingest() {
  local name=$1 url=$2 replicas=${3:-1} db=
  local out queued ticks pg xacts=0 pids urls
  start_pagos "ingest-$name" "$url" $P_FAKE
  pids=("$PAGOS_PID"); urls="http://127.0.0.1:$P_PAGOS/webhooks/conekta"
  if [ "$replicas" = 2 ]; then
    PAGOS_PORT=$P_PAGOS2 start_pagos "ingest-$name-b" "$url" $P_FAKE
    pids+=("$PAGOS_PID"); urls="$urls,http://127.0.0.1:$P_PAGOS2/webhooks/conekta"
    # A heartbeat, so that the first knows of the second (as replicas in service know of
    # each other) and takes its share with one writer (pg_group_commit.rs, WRITERS_SHARING).
    sleep 1.2
  fi
  case $url in
    postgres*) db=${url##*/}; db=${db%%\?*}; xacts=$(pg_xacts "$db"); statements_reset ;;
  esac
  ticks=$(cpu_ticks "${pids[@]}"); pg=$(pg_ticks)
  out=$(load "ingest-$name" "$urls" --signed "$WORK/events.tsv" --conns 64 --duration 600)
  INGEST_RPS=$(field "$out" rps)
  CPU_EVENT=$(us_per $(( $(cpu_ticks "${pids[@]}") - ticks )) "$(field "$out" ok)")
  PG_CPU_EVENT=$(us_per $(( $(pg_ticks) - pg )) "$(field "$out" ok)")
  queued=0
  for port in $P_PAGOS $P_PAGOS2; do
    [ "$port" = $P_PAGOS2 ] && [ "$replicas" != 2 ] && continue
    queued=$(( queued + $(curl -fsS "http://127.0.0.1:$port/metrics" |
      awk '/^pagos_webhooks_total/ && /outcome="queued"/ {s += $2} END {print s + 0}') ))
  done
  [ "$queued" = "$EVENTS" ] || die "ingest $name: $EVENTS events sent, $queued queued"
  INGEST_STMTS=-; INGEST_XACTS=-
  [ -n "$db" ] && INGEST_STMTS=$(statements_per "$db" "$EVENTS")
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  [ -n "$db" ] && INGEST_XACTS=$(per $(( $(pg_xacts "$db") - xacts )) "$EVENTS")
  return 0
}
# Each store gets its orders once; every measurement takes the events into a fresh copy of it,
# and the rounds alternate SQLite, PostgreSQL and two replicas on PostgreSQL, so the ratios
# compare minutes of the same kind (one run of each, minutes apart, swung them by 20-30%).
seed sqlite "sqlite://$WORK/seeded.db?mode=rwc"
CPU_CREATE_SQLITE=$CPU_CREATE
psql "$PG_ADMIN" -qc "create database ${PG_DB}_seeded" >/dev/null ||
  die "cannot create PostgreSQL database ${PG_DB}_seeded"
PG_CREATED=1
seed postgres "postgres://postgres@$PG_HOST/${PG_DB}_seeded$PLAIN"
CPU_CREATE_PG=$CPU_CREATE; PGSERVER_CREATE=$PG_CPU_CREATE
INGEST_SQLITE_ALL=(); INGEST_PG_ALL=(); INGEST_TWO_ALL=()
for round in $(seq 1 "$HANG_PAIRS"); do
  # The first round's stores are those the drains and the takeover start from.
  sqlite_copy=ingest-$round; pg_copy=${PG_DB}_ing
  [ "$round" = 1 ] && sqlite_copy=ingest && pg_copy=$PG_DB
  ingest "sqlite-$round" "$(copy_seeded sqlite "$sqlite_copy")"
  INGEST_SQLITE_ALL+=("$INGEST_RPS")
  [ "$round" = 1 ] && CPU_EVENT_SQLITE=$CPU_EVENT
  ingest "postgres-$round" "$(copy_seeded postgres "$pg_copy")"
  INGEST_PG_ALL+=("$INGEST_RPS")
  if [ "$round" = 1 ]; then
    CPU_EVENT_PG=$CPU_EVENT; PGSERVER_EVENT=$PG_CPU_EVENT
    PG_INGEST_XACTS=$INGEST_XACTS; PG_INGEST_STMTS=$INGEST_STMTS
  fi
  # Two replicas on one PostgreSQL, behind one load as behind a Service: its 64 connections
  # spread over both, every connection taking the next event of one sequence, so both work to
  # the end.
  ingest "two-$round" "$(copy_seeded postgres "${PG_DB}_two")" 2
  INGEST_TWO_ALL+=("$INGEST_RPS")
  if [ "$round" = 1 ]; then
    CPU_EVENT_TWO=$CPU_EVENT; PGSERVER_EVENT_TWO=$PG_CPU_EVENT; PG_INGEST_XACTS_TWO=$INGEST_XACTS
  fi
done
INGEST_SQLITE=$(median "${INGEST_SQLITE_ALL[@]}")
INGEST_PG=$(median "${INGEST_PG_ALL[@]}")
INGEST_TWO=$(median "${INGEST_TWO_ALL[@]}")
# The same intake over TLS (sslmode=require), as a production database is reached: small
# writes in a row must not wait for the server's delayed ACKs (Nagle's algorithm off).
INGEST_PG_TLS=-
if psql "postgres://postgres@$PG_HOST/postgres?sslmode=require" -qAtc "select 1" >/dev/null 2>&1; then
  ingest postgres-tls "$(copy_seeded postgres-tls "${PG_DB}_tls")"
  INGEST_PG_TLS=$INGEST_RPS
fi
# Added latency on PostgreSQL: creates at the same fixed rate as (1), against the same fake,
# in pairs with the fake alone as in (1).
start_pagos rate-pg "postgres://postgres@$PG_HOST/$PG_DB$PLAIN" $P_FAKE
load warm-pg "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "wpg-")" \
  --rports $P_RECV:$RECEIVERS --conns 64 --rate "$RATE" --duration "$WARM_SECS" >/dev/null
FAKE_P50=(); FAKE_P99=(); PAGOS_P50=(); PAGOS_P99=(); ADDED_P50=(); ADDED_P99=()
for pair in $(seq 1 "$HANG_PAIRS"); do rate_pair "pg-$pair"; done
P50_PG=$(median "${PAGOS_P50[@]}"); P99_PG=$(median "${PAGOS_P99[@]}")
ADDED99_PG=$(median "${ADDED_P99[@]}"); ADDED99_PG_ALL="${ADDED_P99[*]}"
stop_pagos

# ------------------------------------------------------------------ 4. relay drain
say "4. relay drain: $DRAIN queued notifications"
# The SQLite store of (3) holds $EVENTS pending notifications (no signing secret then). Keep
# $DRAIN of them, spread evenly over the receivers, or all pointed at the first receiver.
python3 - "$WORK/ingest.db" "$WORK" "$DRAIN" "$RECEIVERS" "$P_RECV" <<'EOF'
import sqlite3, sys
src, work, drain, receivers, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
con = sqlite3.connect(src)
con.execute(f"VACUUM INTO '{work}/drain10.db'")
con.close()
con = sqlite3.connect(f"{work}/drain10.db")
per = drain // receivers
for k in range(receivers):
    key = f"http://127.0.0.1:{base + k}"
    con.execute("DELETE FROM deliveries WHERE target_key = ? AND id NOT IN "
                "(SELECT id FROM deliveries WHERE target_key = ? ORDER BY id LIMIT ?)", (key, key, per))
con.commit()
n = con.execute("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]
assert n == per * receivers, n
con.execute(f"VACUUM INTO '{work}/drain1.db'")
con.close()
con = sqlite3.connect(f"{work}/drain1.db")
con.execute("UPDATE deliveries SET target_url = ?, target_key = ?",
            (f"http://127.0.0.1:{base}/notify", f"http://127.0.0.1:{base}"))
con.commit()
con.close()
EOF

# run_store template_name store -> a fresh copy of the trimmed store to drain, as a database URL
run_store() {
  case $2 in
    sqlite)
      rm -f "$WORK/run.db" "$WORK/run.db-wal" "$WORK/run.db-shm"  # a previous run's WAL is not this copy's
      cp "$WORK/$1.db" "$WORK/run.db"
      echo "sqlite://$WORK/run.db?mode=rwc" ;;
    postgres)
      psql "$PG_ADMIN" -qc "drop database if exists ${PG_DB}_run" >/dev/null
      psql "$PG_ADMIN" -qc "create database ${PG_DB}_run template ${PG_DB}_$1" >/dev/null ||
        die "cannot copy ${PG_DB}_$1"
      settle
      echo "postgres://postgres@$PG_HOST/${PG_DB}_run$PLAIN" ;;
  esac
}

# drain name db_url expected hang_port(or none) [replicas]: sets DRAIN_MS (all healthy
# delivered), NINE_RATE, DRAIN_CPU_US (pagos CPU per delivery, all replicas), DRAIN_PG_US
# (PostgreSQL server CPU per delivery); checks that no notification arrived twice.
drain() {
  local name=$1 url=$2 expected=$3 hang=$4 replicas=${5:-1}
  start_bg "recv-$name" "$BT" receivers --base $P_RECV --count $RECEIVERS --control $P_CTL \
    --hang "$hang" --threads 1
  local recv_pid=$LAST_PID
  wait_port $P_CTL
  local t0 deadline report got pids pg
  case $url in postgres*) statements_reset ;; esac
  pg=$(pg_ticks)
  local machine
  machine=$(machine_ticks)
  t0=$(date +%s%3N)
  start_pagos "drain-$name" "$url" $P_FAKE on
  pids=("$PAGOS_PID")
  if [ "$replicas" = 2 ]; then
    PAGOS_PORT=$P_PAGOS2 start_pagos "drain-$name-b" "$url" $P_FAKE on
    pids+=("$PAGOS_PID")
  fi
  # One request that the receivers answer once all have arrived: a shell polling every 50 ms
  # took 7-13% off a drain to one receiver on two cores (BENCHMARKS.md, 2026-12-07 night).
  report=$(curl -fsS --max-time 130 "http://127.0.0.1:$P_CTL/?until=$expected&wait_ms=120000")
  got=$(awk '$1 != "hanging" {s += $2} END {print s + 0}' <<<"$report")
  [ "$got" -ge "$expected" ] || die "drain $name: $got of $expected delivered in 120 s"
  DRAIN_MS=$(awk -v t0="$t0" '$1 != "hanging" && $2 > 0 && $4 > m {m = $4} END {print m - t0}' <<<"$report")
  DRAIN_BUSY=$(cores_busy "$machine" "$(machine_ticks)")
  # The nine receivers other than the last port: notifications/s from pagos's start.
  NINE_RATE=$(awk -v t0="$t0" -v last=$((P_RECV + RECEIVERS - 1)) \
    '$1 != "hanging" && $1 != last {n += $2; if ($4 > m) m = $4} END {printf "%.0f", n * 1000 / (m - t0)}' <<<"$report")
  DRAIN_CPU_US=$(us_per "$(cpu_ticks "${pids[@]}")" "$expected")
  DRAIN_PG_US=$(us_per $(( $(pg_ticks) - pg )) "$expected")
  # Anything sent twice would show up here, a moment after the last first delivery.
  sleep 0.5
  got=$(curl -fsS "http://127.0.0.1:$P_CTL/" | awk '$1 != "hanging" {s += $2} END {print s + 0}')
  [ "$got" = "$expected" ] || die "drain $name: $got notifications arrived for $expected queued"
  # With two replicas: how many each delivered (its relay's own count).
  DRAIN_SHARES=-
  if [ "$replicas" = 2 ]; then
    DRAIN_SHARES=$(for port in $P_PAGOS $P_PAGOS2; do
      curl -fsS "http://127.0.0.1:$port/metrics" |
        awk '/^pagos_relay_attempts_total/ && /outcome="delivered"/ {s += $2} END {print s + 0}'
    done | paste -sd /)
  fi
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  stop_pid "$recv_pid"
  # PostgreSQL: transactions per delivery (a fresh copy, so all of them are this drain's and
  # its start's; a stopped process has flushed its counts).
  DRAIN_XACTS=-
  DRAIN_STMTS=-
  case $url in
    postgres*)
      DRAIN_XACTS=$(per "$(pg_xacts "${PG_DB}_run")" "$expected")
      DRAIN_STMTS=$(statements_per "${PG_DB}_run" "$expected") ;;
  esac
}
drain one "$(run_store drain1 sqlite)" "$DRAIN" none
DRAIN1_MS=$DRAIN_MS
# A drain lasts about a second, so one pair of runs is mostly start-up and noise: the healthy
# and the hanging run alternate $HANG_PAIRS times, and the medians are compared.
HEALTHY_RATES=(); HANG_RATES=(); DRAIN10_ALL=()
for pair in $(seq 1 "$HANG_PAIRS"); do
  drain "ten-$pair" "$(run_store drain10 sqlite)" "$DRAIN" none
  DRAIN10_ALL+=("$DRAIN_MS"); HEALTHY_RATES+=("$NINE_RATE")
  drain "hang-$pair" "$(run_store drain10 sqlite)" $((DRAIN / RECEIVERS * (RECEIVERS - 1))) $((P_RECV + RECEIVERS - 1))
  HANG_RATES+=("$NINE_RATE")
done
DRAIN10_MS=$(median "${DRAIN10_ALL[@]}")
NINE_HEALTHY=$(median "${HEALTHY_RATES[@]}")
NINE_HANG=$(median "${HANG_RATES[@]}")

# The same drains on PostgreSQL: the store of (3), trimmed the same way; then two replicas.
psql "$PG_ADMIN" -qc "create database ${PG_DB}_d10 template $PG_DB" >/dev/null || die "cannot copy $PG_DB"
psql "postgres://postgres@$PG_HOST/${PG_DB}_d10" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL ||
DELETE FROM deliveries WHERE id IN (SELECT id FROM (SELECT id, row_number()
  OVER (PARTITION BY target_key ORDER BY id) AS n FROM deliveries) r WHERE n > $((DRAIN / RECEIVERS)));
ANALYZE;
SQL
  die "cannot trim ${PG_DB}_d10"
psql "$PG_ADMIN" -qc "create database ${PG_DB}_d1 template ${PG_DB}_d10" >/dev/null || die "cannot copy ${PG_DB}_d10"
psql "postgres://postgres@$PG_HOST/${PG_DB}_d1" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL ||
UPDATE deliveries SET target_url = 'http://127.0.0.1:$P_RECV/notify', target_key = 'http://127.0.0.1:$P_RECV';
ANALYZE;
SQL
  die "cannot point ${PG_DB}_d1 at one receiver"
PG1_ALL=(); PG2_ALL=(); PG10_ALL=(); PG2_10_ALL=(); PG2_SHARES=(); PG2_10_SHARES=()
PG10_BUSY=(); PG2_10_BUSY=()
for pair in $(seq 1 "$HANG_PAIRS"); do
  drain "pg-one-$pair" "$(run_store d1 postgres)" "$DRAIN" none
  PG1_ALL+=("$DRAIN_MS"); PG_DRAIN_CPU=$DRAIN_CPU_US; PG_DRAIN_SERVER=$DRAIN_PG_US
  PG_DRAIN_XACTS=$DRAIN_XACTS; PG_DRAIN_STMTS=$DRAIN_STMTS
  drain "pg-two-$pair" "$(run_store d1 postgres)" "$DRAIN" none 2
  PG2_ALL+=("$DRAIN_MS"); PG2_DRAIN_CPU=$DRAIN_CPU_US; PG2_SHARES+=("$DRAIN_SHARES")
  drain "pg-ten-$pair" "$(run_store d10 postgres)" "$DRAIN" none
  PG10_ALL+=("$DRAIN_MS"); PG10_BUSY+=("$DRAIN_BUSY")
  # A target's in-flight limit holds across replicas, so to one receiver a second replica can
  # at best match one; to ten, both can work.
  drain "pg-two-ten-$pair" "$(run_store d10 postgres)" "$DRAIN" none 2
  PG2_10_ALL+=("$DRAIN_MS"); PG2_10_SHARES+=("$DRAIN_SHARES"); PG2_10_BUSY+=("$DRAIN_BUSY")
done
PG_DRAIN1_MS=$(median "${PG1_ALL[@]}")
PG_DRAIN2_MS=$(median "${PG2_ALL[@]}")
PG_DRAIN10_MS=$(median "${PG10_ALL[@]}")
PG_DRAIN2_10_MS=$(median "${PG2_10_ALL[@]}")
drain sqlite-cpu "$(run_store drain1 sqlite)" "$DRAIN" none
SQLITE_DRAIN_CPU=$DRAIN_CPU_US

# ------------------------------------------------------------------ 6. crash takeover
say "6. crash takeover: kill -9 with 16 deliveries in flight, restart on PostgreSQL"
# Of the PostgreSQL store of (3), keep $TAKEOVER notifications (one per order), all pointed at
# one receiver that answers after ${TAKEOVER_DELAY_MS} ms: 16 (the per-target limit) are in flight
# when pagos is killed, and their leases (15 s timeout + 10 s) would stall the restart.
PG_URL="postgres://postgres@$PG_HOST/$PG_DB$PLAIN"
psql "$PG_URL" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "cannot trim the PostgreSQL store"
DELETE FROM deliveries WHERE id NOT IN (SELECT id FROM deliveries ORDER BY id LIMIT $TAKEOVER);
UPDATE deliveries SET target_url = 'http://127.0.0.1:$P_RECV/notify',
                      target_key = 'http://127.0.0.1:$P_RECV';
SQL
settle
start_bg recv-takeover "$BT" receivers --base $P_RECV --count 1 --control $P_CTL \
  --delay-ms "$TAKEOVER_DELAY_MS" --threads 1
TAKEOVER_RECV_PID=$LAST_PID
wait_port $P_CTL
arrived() { # [until]: "count last_ms": POSTs that reached the receiver (once `until` have, at most 60 s)
  curl -fsS --max-time 70 "http://127.0.0.1:$P_CTL/?until=${1:-0}&wait_ms=60000" |
    awk -v p=$P_RECV '$1 == p {print $2, $4}'
}
wait_arrived() { # more_than what: sets N_ARRIVED, LAST_ARRIVED
  local line
  line=$(arrived $(( $1 + 1 ))) || line="0 0"
  read -r N_ARRIVED LAST_ARRIVED <<<"$line"
  [ "${N_ARRIVED:-0}" -gt "$1" ] || die "takeover: $2 ($N_ARRIVED POSTs in 60 s)"
}
start_pagos takeover-1 "$PG_URL" $P_FAKE on
wait_arrived 15 "16 deliveries never were in flight"
stop_pid "$PAGOS_PID" KILL
line=$(arrived) || die "takeover: the receiver does not answer"
read -r KILLED_AT _ <<<"$line"
T0=$(date +%s%3N)
start_pagos takeover-2 "$PG_URL" $P_FAKE on
TAKEOVER_READY_MS=$READY_MS
wait_arrived "$KILLED_AT" "nothing delivered after the restart"
TAKEOVER_MS=$((LAST_ARRIVED - T0))
say "crash takeover: first delivery ${TAKEOVER_MS} ms after the restart (ready in ${TAKEOVER_READY_MS} ms)"
deadline=$(( $(date +%s) + 120 ))
until curl -fsS -H "Authorization: Bearer bench" \
  "http://127.0.0.1:$P_PAGOS/admin/deliveries?status=pending&limit=1" | grep -q '"deliveries":\[\]'; do
  [ "$(date +%s)" -ge "$deadline" ] && die "takeover: notifications still pending after 120 s"
  sleep 0.05
done
TAKEOVER_ALL_MS=$(( $(date +%s%3N) - T0 ))
stop_pagos
stop_pid "$TAKEOVER_RECV_PID"

# ------------------------------------------------------------------ 7. steady intake
say "7. the relay under a steady intake on PostgreSQL: $STEADY_RATE events/s for $STEADY_SECS s"
# A copy of the seeded PostgreSQL store gets $STEADY_EVENTS orders more, created through pagos
# (untimed) and all notifying one receiver. Then pagos, relay on, takes their order.paid events
# at a fixed rate (open loop) while the receiver answers at once, and the pending count is read
# every second. A relay that keeps up delivers the last notification moments after the last
# event; one that falls behind (the relay before 2026-12-07 day, BENCHMARKS.md) leaves a
# backlog that only grows. Its own section: the drains above start from a full queue.
"${NICE[@]}" "$BT" sign --key "$ROOT/tests/data/keys/webhook_private.pem" --prefix "s-" \
  --count "$STEADY_EVENTS" --out "$WORK/steady.tsv" --threads 2
STEADY_DB=${PG_DB}_steady
psql "$PG_ADMIN" -qc "create database $STEADY_DB template ${PG_DB}_seeded" >/dev/null ||
  die "cannot copy ${PG_DB}_seeded"
STEADY_URL="postgres://postgres@$PG_HOST/$STEADY_DB$PLAIN"
start_pagos steady-seed "$STEADY_URL" $P_FAKE
load steady-seed "http://127.0.0.1:$P_PAGOS/pagos" --template "$(create_body "s-")" \
  --rports $P_RECV:1 --conns 32 --requests "$STEADY_EVENTS" --duration 600 >/dev/null
stop_pagos
psql "postgres://postgres@$PG_HOST/$STEADY_DB" -qc "vacuum analyze" >/dev/null
settle
steady_pending() { psql "postgres://postgres@$PG_HOST/$STEADY_DB" -qAtc \
  "select count(*) from deliveries where status = 'pending'"; }
start_bg recv-steady "$BT" receivers --base $P_RECV --count 1 --control $P_CTL --hang none --threads 1
STEADY_RECV_PID=$LAST_PID
wait_port $P_CTL
start_pagos steady "$STEADY_URL" $P_FAKE on
( for _ in $(seq 1 "$STEADY_SECS"); do sleep 1; steady_pending; done ) >"$WORK/steady-pending.txt" &
STEADY_SAMPLER=$!
PIDS+=("$STEADY_SAMPLER")
out=$(load steady "http://127.0.0.1:$P_PAGOS/webhooks/conekta" --signed "$WORK/steady.tsv" \
  --conns 16 --rate "$STEADY_RATE" --requests "$STEADY_EVENTS" --duration "$((STEADY_SECS + 30))")
STEADY_END=$(date +%s%3N)
wait "$STEADY_SAMPLER" 2>/dev/null || true
STEADY_P99=$(field "$out" p99_ms)
[ "$(field "$out" ok)" = "$STEADY_EVENTS" ] || die "steady: $(field "$out" ok) of $STEADY_EVENTS events taken"
report=$(curl -fsS --max-time 40 "http://127.0.0.1:$P_CTL/?until=$STEADY_EVENTS&wait_ms=30000")
read -r STEADY_GOT STEADY_LAST < <(awk -v p=$P_RECV '$1 == p {print $2, $4}' <<<"$report")
[ "${STEADY_GOT:-0}" -ge "$STEADY_EVENTS" ] ||
  die "steady: $STEADY_GOT of $STEADY_EVENTS delivered 30 s after the load (pending each second: $(paste -sd ' ' "$WORK/steady-pending.txt"))"
STEADY_LAG_MS=$((STEADY_LAST - STEADY_END))
sleep 0.5
got=$(curl -fsS "http://127.0.0.1:$P_CTL/" | awk -v p=$P_RECV '$1 == p {print $2}')
[ "$got" = "$STEADY_EVENTS" ] || die "steady: $got notifications arrived for $STEADY_EVENTS events"
STEADY_MAX=$(sort -n "$WORK/steady-pending.txt" | tail -n 1)
STEADY_SAMPLES=$(awk 'NR % 5 == 0' "$WORK/steady-pending.txt" | paste -sd ' ')
stop_pagos
stop_pid "$STEADY_RECV_PID"

# ------------------------------------------------------------------ table
cat <<EOF

pagos benchmark ($MODE, $PROFILE build) on $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB, $(date -u +%Y-%m-%dT%H:%MZ)
PostgreSQL: $PG_KIND

| measurement | figure | target |
|---|---|---|
| 1 create, saturation ($SAT_CONNS conns): (a) fake / (b) nginx / (c) pagos | ${SAT[a]} / ${SAT[b]} / ${SAT[c]} req/s | |
| 1 create throughput ratio c/b | $(r "${SAT[c]} / ${SAT[b]}") | >= 0.5 |
| 1 create at $RATE req/s, p50: (a) / (b) / (c) (a, c: medians of $HANG_PAIRS) | ${P50[a]} / ${P50[b]} / ${P50[c]} ms | |
| 1 create at $RATE req/s, p99: (a) / (b) / (c) (a, c: medians of $HANG_PAIRS) | ${P99[a]} / ${P99[b]} / ${P99[c]} ms | |
| 1 the disk this hour: a 4 KB write + fsync, p50 / p99 | $FSYNC_MS ms | |
| 1 added latency c-a, p50 / p99 (medians of $HANG_PAIRS pairs) | $ADDED50 / $ADDED99 ms (p99 pairs: $ADDED99_ALL) | p99 <= 1 |
| 1 pagos on PostgreSQL at $RATE req/s, p50 / p99 (medians of $HANG_PAIRS); added (minus the fake's) p99 (median of $HANG_PAIRS pairs) | ${P50_PG} / ${P99_PG} ms; $ADDED99_PG ms (pairs: $ADDED99_PG_ALL) | added p99 <= 3 |
| 1b create saturation, checkout answered expired vs live (medians of $HANG_PAIRS pairs) | $(median "${EXPIRED_RATES[@]}") / $(median "${LIVE_RATES[@]}") req/s = $(r "$(median "${EXPIRED_RATES[@]}") / $(median "${LIVE_RATES[@]}")") (pairs: $(for i in "${!LIVE_RATES[@]}"; do printf '%s/%s ' "${EXPIRED_RATES[$i]}" "${LIVE_RATES[$i]}"; done)) | >= 0.9 |
| 2 slow provider ($SLOW_CONC conc, ${SLOW_DELAY_MS} ms): throughput | $SLOW_RPS req/s ($SLOW_OK ok, $SLOW_ERR errors; p50 $SLOW_P50 ms, p99 $SLOW_P99 ms) | |
| 2 vs Little's-law bound $(r "$SLOW_CONC * 1000 / $SLOW_DELAY_MS") req/s | $(r "$SLOW_RPS / ($SLOW_CONC * 1000 / $SLOW_DELAY_MS)") | >= 0.8, 0 errors |
| 2 pagos peak RSS | $(mb "$PEAK2_KB") MB | <= 128 |
| 3 webhook ingest, durable, SQLite (median of $HANG_PAIRS rounds) | $INGEST_SQLITE events/s (rounds: ${INGEST_SQLITE_ALL[*]}) | >= 3000 |
| 3 webhook ingest, durable, PostgreSQL (median of $HANG_PAIRS rounds) | $INGEST_PG events/s (rounds: ${INGEST_PG_ALL[*]}) | |
| 3 webhook ingest, durable, PostgreSQL over TLS (sslmode=require) / plain | $INGEST_PG_TLS / $INGEST_PG events/s = $(tls_ratio) | |
| 4 drain $DRAIN to one receiver | $DRAIN1_MS ms | <= 5000 |
| 4 drain $DRAIN to ten receivers (median of $HANG_PAIRS) | $DRAIN10_MS ms | |
| 4 drain $DRAIN on PostgreSQL: to one receiver / to ten (medians of $HANG_PAIRS) | $PG_DRAIN1_MS / $PG_DRAIN10_MS ms (one: ${PG1_ALL[*]}; ten: ${PG10_ALL[*]}) | <= 2000 each |
| 3/4 two replicas on one PostgreSQL vs one: ingest events/s / drain $DRAIN to one receiver (ms, medians) | $INGEST_TWO vs $INGEST_PG = $(r "$INGEST_TWO / $INGEST_PG") (two: ${INGEST_TWO_ALL[*]}) / $PG_DRAIN2_MS vs $PG_DRAIN1_MS ms = $(r "$PG_DRAIN1_MS / $PG_DRAIN2_MS") (two: ${PG2_ALL[*]}; delivered by each: ${PG2_SHARES[*]}) | >= 1.0, every notification once |
| 4 two replicas vs one: drain $DRAIN to ten receivers (ms, medians) | $PG_DRAIN2_10_MS vs $PG_DRAIN10_MS ms = $(r "$PG_DRAIN10_MS / $PG_DRAIN2_10_MS") (two: ${PG2_10_ALL[*]}; delivered by each: ${PG2_10_SHARES[*]}) | >= 1.0, every notification once |
| 4 machine's cores busy while draining to ten, one replica / two (of $(nproc); medians) | $(median "${PG10_BUSY[@]}") / $(median "${PG2_10_BUSY[@]}") (one: ${PG10_BUSY[*]}; two: ${PG2_10_BUSY[*]}) | |
| 3 PostgreSQL ingest / SQLite's (medians; rounds alternate) | $(r "$INGEST_PG / $INGEST_SQLITE") (rounds: $(for i in "${!INGEST_PG_ALL[@]}"; do r "${INGEST_PG_ALL[$i]} / ${INGEST_SQLITE_ALL[$i]}"; printf ' '; done)) | >= 0.8 |
| PostgreSQL transactions (autocommit reads count) per event taken in / per delivery to one receiver | $PG_INGEST_XACTS / $PG_DRAIN_XACTS | |
| PostgreSQL statements per event taken in (pg_stat_statements) | $PG_INGEST_STMTS | |
| PostgreSQL statements per delivery to one receiver (pg_stat_statements) | $PG_DRAIN_STMTS | |
| CPU per create / event / delivery, pagos on SQLite | $CPU_CREATE_SQLITE / $CPU_EVENT_SQLITE / $SQLITE_DRAIN_CPU us (create at saturation, $SAT_CONNS conns: $CPU_CREATE_SAT us) | |
| CPU per create / event / delivery, pagos on PostgreSQL (two replicas' drain, both) | $CPU_CREATE_PG / $CPU_EVENT_PG / $PG_DRAIN_CPU us ($PG2_DRAIN_CPU us) | |
| CPU per create / event / delivery, the PostgreSQL server (its processes) | $PGSERVER_CREATE / $PGSERVER_EVENT / $PG_DRAIN_SERVER us | |
| CPU per event taken in by two replicas on PostgreSQL (first round): pagos (both) / the server, and transactions per event; one replica's | $CPU_EVENT_TWO / $PGSERVER_EVENT_TWO us, $PG_INGEST_XACTS_TWO; $CPU_EVENT_PG / $PGSERVER_EVENT us, $PG_INGEST_XACTS | |
| 4 nine receivers' rate, one of ten hanging vs all healthy (medians of $HANG_PAIRS pairs) | $NINE_HANG / $NINE_HEALTHY per s = $(r "$NINE_HANG / $NINE_HEALTHY") (pairs: $(for i in "${!HANG_RATES[@]}"; do printf '%s/%s ' "${HANG_RATES[$i]}" "${HEALTHY_RATES[$i]}"; done)) | >= 0.9 |
| 5 idle RSS | $(mb "$IDLE_KB") MB | <= 20 |
| 5 peak RSS during 1 / during 2 | $(mb "$PEAK1_KB") / $(mb "$PEAK2_KB") MB | |
| 5 start to /readyz 200 | $START_READY_MS ms | <= 300 |
| 6 crash takeover, PostgreSQL: restart to first delivery ($TAKEOVER to one receiver, 16 in flight at kill -9) | $TAKEOVER_MS ms (ready in $TAKEOVER_READY_MS ms; all delivered $TAKEOVER_ALL_MS ms after the restart) | <= 3000 |
| 7 steady intake on PostgreSQL, relay on, one receiver: $STEADY_EVENTS events at $STEADY_RATE/s; most pending (read each second) / every 5 s; last delivery after the last event; intake p99 | $STEADY_MAX / $STEADY_SAMPLES; ${STEADY_LAG_MS} ms; ${STEADY_P99} ms | all delivered, once |
EOF
say "done: every process started, no request failed"
