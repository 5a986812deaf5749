#!/usr/bin/env bash
# Concierge benchmark suite (issue #4): builds the release binaries, starts its own nats-server and
# server(s) on free loopback ports in a temporary folder, runs every scenario (3 runs each, or 1
# with --quick), prints one markdown table and writes it to bench/results/latest.md.
#
#   bench/run.sh [--quick] [--only 1,2,...] [--no-build] [--runs N]
#                [--nats-conf FILE | --cluster] [--results NAME]
#                scenarios: 1 2 3 4 5 7 8 9 (5 includes 6), 1sio 3sio (sio: both), 9img, 10
#
# 1sio is scenario 1 over Socket.IO (WebSocket transport) beside scenario 1 over /ws, both in the
# same run on a finer ladder of rates, and records Socket.IO's max rate over /ws's of that run;
# 3sio is scenario 3 over Socket.IO (docs/performance.md, "Socket.IO").
#
# 9 is issue 16's uploads: 20 clients each uploading a 10 MiB file 10 times (twice with --quick)
# into one conversation (UPLOAD_CLIENTS=N and UPLOADS_EACH=N change both numbers), the file being
# `%PDF-1.4\n` and random bytes (typed from its head and streamed through, never decoded), with the
# server's VmRSS sampled every 20 ms: uploads/s, MB/s, latency, and the server's peak RSS above
# idle (target <= 64 MiB). 9img (not in the default set) does the same with a 12 MP, ~2 MiB JPEG,
# which the server holds whole and decodes for its thumbnail, 2 at a time (docs/performance.md,
# "Issue 16: attachments").
#
# 10 is issue 19's search (not in the default set: seeding 1,000,000 messages and indexing them
# twice takes several minutes a run; use --only 10). 1,000 conversations of 1,000 messages each
# (100 with --quick; SEARCH_MSGS=N per conversation changes it), varied texts in several scripts
# (bench/src/text.rs) seeded straight into the log; a node on an empty DATA_DIR, timed from its exec
# until its search index holds the whole log (concierge_projection_lag{projection="search"} 0) and
# until /ready; then, the node stopped, `concierge rebuild --search` on that DATA_DIR, timed
# (target for both >= 50,000 messages/s); `du` of DATA_DIR/search against the bytes of message
# text; then the node again and search queries from 64 keep-alive clients (16 admins, 48 as
# customers) for the scenario's duration: queries/s, latency (p99 target <= 20 ms), failures
# (not 200, or no results where every caller has some: docs/performance.md, "Issue 19: search").
#
# --no-build uses the binaries already in target/release (for iterating on the suite itself).
# --runs N overrides the number of runs of each scenario.
# --nats-conf starts each nats-server with FILE instead of the repo's nats.conf; --cluster starts a
# 3-node cluster from nats/cluster/node.conf instead, with the streams at 3 replicas
# (docs/durability.md). NATS_SERVER=path picks another nats-server binary. --results NAME writes
# bench/results/NAME.md and NAME.jsonl instead of latest.*.
#
# Not run by CI or tests. Method and latest results: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
BUILD=1
ONLY="1 2 3 4 5 7 8 9 1sio 3sio"
NATS_CONF=nats.conf
CLUSTER=0
RESULTS=latest
RUNS_WANTED=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --only) ONLY="${2//,/ }"; shift ;;
    --nats-conf) NATS_CONF="$2"; shift ;;
    --cluster) CLUSTER=1 ;;
    --results) RESULTS="$2"; shift ;;
    --runs) RUNS_WANTED="$2"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--only 1,2,...,9,1sio,3sio|sio,9img,10] [--no-build] [--runs N] [--nats-conf FILE | --cluster] [--results NAME]" >&2; exit 2 ;;
  esac
  shift
done
ONLY=" $ONLY "
ONLY="${ONLY// sio / 1sio 3sio }"
# Replicas of every stream: the node's STREAM_REPLICAS and the stream loadgen creates.
REPLICAS=1
if [[ $CLUSTER == 1 ]]; then REPLICAS=3; fi

if [[ $QUICK == 1 ]]; then
  RUNS=1 DUR=2 RATES=2000,5000,10000,20000 SEED_MSGS=98 CONNS=${CONNS:-2000} FANOUT=${FANOUT:-2000}
  SIO_RATES_1=1000,2000,3000,4000,6000,8000,10000,12000,15000
  UPLOADS_EACH=${UPLOADS_EACH:-2}
  SEARCH_MSGS=${SEARCH_MSGS:-100}
  SIO_RATES_20=250,500,750,1000,1500,2000,3000,4000
else
  UPLOADS_EACH=${UPLOADS_EACH:-10}
  SEARCH_MSGS=${SEARCH_MSGS:-1000}
  RUNS=3 DUR=5 RATES=2000,5000,7500,10000,15000,20000,25000,30000 SEED_MSGS=998 CONNS=19500 FANOUT=10000
  # About 10 % apart, so that a ratio of two maxima is not a ratio of two coarse steps; the one of
  # 20 admins starts lower, as each send becomes 21 frames.
  SIO_RATES_1=1000,1100,1200,1300,1450,1600,1750,1900,2100,2300,2500,2750,3000,3300,3600,4000,4400,4800,5300,5800,6400,7000,7700,8500,9300,10200,11200,12300,13500,15000,16500,18000,20000,22000,25000,30000
  SIO_RATES_20=250,275,300,330,360,400,440,480,530,580,640,700,770,850,930,1000,1100,1200,1300,1450,1600,1750,1900,2100,2300,2500,2750,3000,3300,3600,4000,4400,4800,5300,5800,6400,7000
fi
RUNS=${RUNS_WANTED:-$RUNS}
UPLOAD_CLIENTS=${UPLOAD_CLIENTS:-20}
SEED_CONVS=1000
SEED_EVENTS=$((SEED_CONVS * (SEED_MSGS + 2)))
# Scenario 10: conversations (one customer each, cus0..), and message_sent events in all.
SEARCH_CONVS=1000
SEARCH_MESSAGES=$((SEARCH_CONVS * SEARCH_MSGS))

# Both processes inherit the raised open-file limit (scenario 3 needs ~19,500 sockets on each side).
ulimit -n "$(ulimit -Hn)"

if [[ $BUILD == 1 ]]; then
  cargo build --release -p concierge -p concierge-bench
fi
LOADGEN="$PWD/target/release/loadgen"
SERVER="$PWD/target/release/concierge"
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
export JWT_SECRET="bench-$RANDOM$RANDOM$RANDOM"
LG=("$LOADGEN" --workers 2)

WORK="$(mktemp -d -t concierge-bench.XXXXXX)"
ROWS="$WORK/rows.jsonl"
: >"$ROWS"
NATS_PIDS=() SERVER_PID="" NATS_URL="" ADDR="" DATA_DIR=""

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

stop_all() {
  stop_server
  local pid
  for pid in "${NATS_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NATS_PIDS=()
  rm -rf "$WORK"/nats* "$WORK/data"
}

cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
  local port=$1 i
  for i in $(seq 1 400); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listening on 127.0.0.1:$port" >&2
  return 1
}

start_nats() {
  stop_all
  if [[ $CLUSTER == 1 ]]; then
    start_cluster
    return
  fi
  local port
  port=$("$LOADGEN" free-port)
  mkdir -p "$WORK/nats"
  "$NATS_SERVER" -c "$NATS_CONF" -a 127.0.0.1 -p "$port" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
  NATS_PIDS=($!)
  NATS_URL="nats://127.0.0.1:$port"
  wait_port "$port"
}

# Three clustered nats-servers from nats/cluster/node.conf, each with its own ports and store;
# returns once they have elected a JetStream meta leader.
start_cluster() {
  local i ports=() routes=() urls=()
  for i in 1 2 3; do
    ports+=("$("$LOADGEN" free-port)")
    routes+=("nats-route://127.0.0.1:$("$LOADGEN" free-port)")
  done
  for i in 0 1 2; do
    mkdir -p "$WORK/nats$i"
    NATS_NAME="n$((i + 1))" NATS_PORT="${ports[$i]}" NATS_CLUSTER_PORT="${routes[$i]##*:}" \
      NATS_ROUTE_1="${routes[0]}" NATS_ROUTE_2="${routes[1]}" NATS_ROUTE_3="${routes[2]}" \
      NATS_STORE="$WORK/nats$i" "$NATS_SERVER" -c nats/cluster/node.conf >"$WORK/nats$i.log" 2>&1 &
    NATS_PIDS+=($!)
    urls+=("nats://127.0.0.1:${ports[$i]}")
  done
  NATS_URL="$(IFS=,; echo "${urls[*]}")"
  for i in 0 1 2; do wait_port "${ports[$i]}"; done
  for i in $(seq 1 400); do
    if grep -q "metadata leader" "$WORK"/nats?.log; then return 0; fi
    sleep 0.05
  done
  echo "the nats cluster elected no JetStream meta leader" >&2
  return 1
}

# Starts a node on $DATA_DIR (kept if it exists); sets STARTED_NS just before the exec.
launch_server() {
  local port=${1:-}
  [[ -n "$port" ]] || port=$("$LOADGEN" free-port)
  ADDR="127.0.0.1:$port"
  mkdir -p "$DATA_DIR"
  STARTED_NS=$(date +%s%N)
  NATS_URL="$NATS_URL" STREAM_REPLICAS="$REPLICAS" PORT="$port" HOST=127.0.0.1 DATA_DIR="$DATA_DIR" \
    SEND_RATE_LIMIT=0 RUST_LOG=warn "$SERVER" serve >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
}

# A fresh nats-server and a fresh node, ready.
fresh() {
  start_nats
  DATA_DIR="$WORK/data"
  launch_server
  "${LG[@]}" wait-ready --addr "$ADDR" --started-ns "$STARTED_NS" --scenario startup \
    --figure ready --timeout-secs 60 >/dev/null
}

# Runs one scenario command; a failure is reported and the suite goes on.
try() {
  if ! "$@"; then
    echo "!! failed: $*" >&2
    tail -n 20 "$WORK/server.log" >&2 2>/dev/null || true
  fi
}

# Keeps the server's Prometheus metrics after a scenario of the first run (where time goes).
save_metrics() {
  if [[ $run == 1 ]]; then
    mkdir -p bench/results
    local name="metrics-$1.txt"
    [[ $RESULTS == latest ]] || name="metrics-$RESULTS-$1.txt"
    curl -sf "http://$ADDR/metrics" >"bench/results/$name" || true
  fi
}

has() { [[ " $ONLY " == *" $1 "* ]]; }

for run in $(seq 1 "$RUNS"); do
  echo "=== run $run of $RUNS ===" >&2
  T=(--secret "$JWT_SECRET" --out "$ROWS")
  if has 1; then
    for admins in 1 20; do
      fresh
      try "${LG[@]}" ws-sends --addr "$ADDR" "${T[@]}" --admins "$admins" \
        --scenario "1 ws sends, $admins admin$([[ $admins == 1 ]] || echo s)" \
        --duration "$DUR" --rates "$RATES"
      save_metrics "1-ws-$admins-admins"
    done
  fi
  if has 2; then
    fresh
    try "${LG[@]}" http-sends --addr "$ADDR" "${T[@]}" --duration "$DUR"
    save_metrics 2-http
  fi
  if has 1sio; then
    # /ws and Socket.IO back to back on fresh nodes, in alternating order from run to run, then
    # Socket.IO's max rate over /ws's of this run. With 20 admins the fixed rate is 1,000/s: at
    # 2,000/s (42,000 frames/s) admin sockets were closed as too slow on this 2-core machine, and
    # every rate after that then fails.
    for admins in 1 20; do
      plural=$([[ $admins == 1 ]] || echo s)
      if [[ $admins == 1 ]]; then fixed=2000 rates=$SIO_RATES_1; else fixed=1000 rates=$SIO_RATES_20; fi
      mark=$(wc -l <"$ROWS")
      codecs=(ws socketio)
      if ((run % 2 == 0)); then codecs=(socketio ws); fi
      for codec in "${codecs[@]}"; do
        fresh
        try "${LG[@]}" ws-sends --addr "$ADDR" "${T[@]}" --codec "$codec" --admins "$admins" \
          --scenario "1sio $codec sends, $admins admin$plural" --duration "$DUR" \
          --fixed-rate "$fixed" --rates "$rates" --server-pid "$SERVER_PID"
        save_metrics "1sio-$codec-$admins-admins"
      done
      # The max rate (goal: >= 80 % of /ws's), and the server's CPU per send at the fixed rate
      # (steadier on a shared machine; <= 1.25 is the same 80 % if sends are CPU-bound).
      for figure in "max sends/s with p99<=50ms" "server CPU µs/send @$((fixed / 1000))k/s"; do
        goal=">=0.8" name="max sends/s / same run's ws"
        if [[ $figure == server* ]]; then goal="<=1.25" name="server CPU per send / same run's ws"; fi
        try "$LOADGEN" ratio --input "$ROWS" --after-line "$mark" --out "$ROWS" \
          --num "1sio socketio sends, $admins admin$plural|$figure" \
          --den "1sio ws sends, $admins admin$plural|$figure" \
          --scenario "1sio socketio sends, $admins admin$plural" --figure "$name" --goal "$goal"
      done
    done
  fi
  if has 3; then
    fresh
    try "${LG[@]}" connections --addr "$ADDR" "${T[@]}" --sources 4 --count "$CONNS" \
      --server-pid "$SERVER_PID"
  fi
  if has 3sio; then
    fresh
    try "${LG[@]}" connections --addr "$ADDR" "${T[@]}" --codec socketio --sources 4 \
      --count "$CONNS" --server-pid "$SERVER_PID" --scenario "3sio socketio connections" \
      --rss-goal-kib 16
  fi
  if has 4; then
    fresh
    try "${LG[@]}" fanout --addr "$ADDR" "${T[@]}" --sources 4 --count "$FANOUT" --nats "$NATS_URL"
  fi
  if has 5; then
    start_nats
    try "${LG[@]}" seed --nats "$NATS_URL" --conversations "$SEED_CONVS" --messages "$SEED_MSGS" \
      --replicas "$REPLICAS" --scenario "5 rebuild" --out "$ROWS"
    DATA_DIR="$WORK/data"
    rm -rf "$DATA_DIR"
    launch_server
    try "${LG[@]}" wait-ready --addr "$ADDR" --started-ns "$STARTED_NS" --scenario "5 rebuild" \
      --figure "seconds to /ready, $SEED_EVENTS events" --events "$SEED_EVENTS" \
      --events-goal ">=100000" --out "$ROWS"
    views_kib=$(du -sk "$DATA_DIR/views" | cut -f1)
    "${LG[@]}" record --scenario "5 rebuild" --figure "views on disk MiB" \
      --value "$(awk "BEGIN {print $views_kib / 1024}")" --out "$ROWS" >/dev/null
    # Scenario 6: SIGTERM, then the same DATA_DIR again.
    port=${ADDR##*:}
    stop_server
    launch_server "$port"
    try "${LG[@]}" wait-ready --addr "$ADDR" --started-ns "$STARTED_NS" --scenario "6 cold start" \
      --figure "process start to /ready s" --goal "<=2" --out "$ROWS"
  fi
  if has 7; then
    start_nats
    try "${LG[@]}" seed --nats "$NATS_URL" --conversations 1000 --messages 50 --replicas "$REPLICAS"
    DATA_DIR="$WORK/data"
    launch_server
    "${LG[@]}" wait-ready --addr "$ADDR" --started-ns "$STARTED_NS" --scenario startup \
      --figure ready --timeout-secs 120 >/dev/null
    try "${LG[@]}" reads --addr "$ADDR" "${T[@]}" --duration "$DUR"
  fi
  if has 8; then
    start_nats
    try "${LG[@]}" ceiling --nats "$NATS_URL" --duration "$DUR" --replicas "$REPLICAS" --out "$ROWS"
  fi
  if has 9; then
    fresh
    try "${LG[@]}" uploads --addr "$ADDR" "${T[@]}" --kind pdf --clients "$UPLOAD_CLIENTS" \
      --per-client "$UPLOADS_EACH" --bytes $((10 * 1024 * 1024)) --server-pid "$SERVER_PID" \
      --nats-pid "${NATS_PIDS[0]}" --rss-goal-mib 64 \
      --scenario "9 uploads, $UPLOAD_CLIENTS × 10 MiB PDF"
    save_metrics 9-uploads-pdf
  fi
  if has 9img; then
    fresh
    try "${LG[@]}" uploads --addr "$ADDR" "${T[@]}" --kind jpeg --clients "$UPLOAD_CLIENTS" \
      --per-client "$UPLOADS_EACH" --bytes $((2 * 1024 * 1024)) --server-pid "$SERVER_PID" \
      --nats-pid "${NATS_PIDS[0]}" --scenario "9img uploads, $UPLOAD_CLIENTS × 2 MiB JPEG 12 MP"
    save_metrics 9img-uploads-jpeg
  fi
  if has 10; then
    # The log as seeded (plus one admin join per conversation), indexed live by a node on an empty
    # DATA_DIR, then again by `rebuild --search` on that DATA_DIR, the node stopped.
    start_nats
    mark=$(wc -l <"$ROWS")
    try "${LG[@]}" seed --nats "$NATS_URL" --conversations "$SEARCH_CONVS" --messages "$SEARCH_MSGS" \
      --text sentences --replicas "$REPLICAS" --scenario "10 search" --out "$ROWS"
    DATA_DIR="$WORK/data"
    rm -rf "$DATA_DIR"
    launch_server
    try "${LG[@]}" search-catch-up --addr "$ADDR" --started-ns "$STARTED_NS" --nats "$NATS_URL" \
      --messages "$SEARCH_MESSAGES" --goal ">=50000" --out "$ROWS"
    port=${ADDR##*:}
    stop_server
    try "${LG[@]}" search-rebuild --server "$SERVER" --data-dir "$DATA_DIR" --nats "$NATS_URL" \
      --replicas "$REPLICAS" --messages "$SEARCH_MESSAGES" --goal ">=50000" --out "$ROWS"
    if [[ -d "$DATA_DIR/search" ]]; then
      index_kib=$(du -sk "$DATA_DIR/search" | cut -f1)
      "${LG[@]}" record --scenario "10 search" --figure "index on disk MiB" \
        --value "$(awk "BEGIN {print $index_kib / 1024}")" --out "$ROWS" >/dev/null
      try "$LOADGEN" ratio --input "$ROWS" --after-line "$mark" --out "$ROWS" \
        --num "10 search|index on disk MiB" --den "10 search|message text MiB" \
        --scenario "10 search" --figure "index on disk / message text"
    fi
    launch_server "$port"
    "${LG[@]}" wait-ready --addr "$ADDR" --started-ns "$STARTED_NS" --scenario startup \
      --figure ready --timeout-secs 600 >/dev/null
    try "${LG[@]}" search-queries --addr "$ADDR" "${T[@]}" --conversations "$SEARCH_CONVS" \
      --clients 64 --admin-clients 16 --duration "$DUR" --server-pid "$SERVER_PID"
    save_metrics 10-search
  fi
  stop_all
done

mkdir -p bench/results
echo >&2
"$LOADGEN" report --input "$ROWS" --output "bench/results/$RESULTS.md"
cp "$ROWS" "bench/results/$RESULTS.jsonl"
