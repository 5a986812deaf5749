#!/usr/bin/env bash
# Fuzzes the live HTTP API from its own OpenAPI document with schemathesis (docs/api-fuzzing.md).
#
# Builds the debug binary, starts its own nats-server and `concierge serve` on free ports, seeds a
# booking, its conversation and a message, then runs schemathesis (every phase, positive and
# negative data, every check, plus the hooks' "a refused request wrote nothing") once per token:
# none, an invalid one, a customer's, an admin's and a service's. Exits non-zero on any finding.
#
# Settings (environment):
#   API_FUZZ_EXAMPLES  test cases per operation and phase (default 10; CI's run); 200 is a long run
#   API_FUZZ_SEED      schemathesis seed (default: a random one, printed)
#   API_FUZZ_VENV      where the Python venv with schemathesis lives (default target/api-fuzz-venv)
#   API_FUZZ_REPORTS   where the JUnit reports go (default target/api-fuzz-reports)
#   API_FUZZ_TOKENS    which runs to do (default "none invalid customer admin service")
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

examples=${API_FUZZ_EXAMPLES:-10}
venv=${API_FUZZ_VENV:-$root/target/api-fuzz-venv}
reports=${API_FUZZ_REPORTS:-$root/target/api-fuzz-reports}
runs=${API_FUZZ_TOKENS:-none invalid customer admin service}
lock=$root/scripts/api-fuzz/requirements.lock
started=$(date +%s)

say() { printf '[api-fuzz] %s\n' "$*" >&2; }

# --- schemathesis, from the lock file, in its own venv -----------------------------------------
stamp=$venv/.lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -x "$venv/bin/schemathesis" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing schemathesis into $venv from $lock"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$lock"
  echo "$want" > "$stamp"
fi

# --- the server under test ---------------------------------------------------------------------
say "building the debug binary"
cargo build -q
bin=$root/target/debug/concierge

nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

work=$(mktemp -d "${TMPDIR:-/tmp}/api-fuzz.XXXXXX")
nats_pid=""
server_pid=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  if [ "$rc" != 0 ] && [ -f "$work/server.log" ]; then
    mkdir -p "$reports" && cp "$work/server.log" "$reports/server.log"
    say "server log (last 40 lines; all of it in $reports/server.log):"
    tail -n 40 "$work/server.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nats_port=$(free_port)
mon_port=$(free_port)
port=$(free_port)
"$nats_server" -js -a 127.0.0.1 -p "$nats_port" -m "$mon_port" -sd "$work/nats" \
  >"$work/nats.log" 2>&1 &
nats_pid=$!

export JWT_SECRET="api-fuzz-secret-$RANDOM$RANDOM"
NATS_URL="nats://127.0.0.1:$nats_port" PORT=$port HOST=127.0.0.1 DATA_DIR="$work/data" \
  SEND_RATE_LIMIT=0 WRITE_RATE_LIMIT=0 AUTH_FAILURE_LIMIT=0 RUST_LOG=warn \
  "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!

base=http://127.0.0.1:$port
for _ in $(seq 1 300); do
  if curl -fsS "$base/ready" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { say "the server exited"; exit 1; }
  sleep 0.1
done
curl -fsS "$base/ready" >/dev/null || { say "the server is not ready after 30 s"; exit 1; }

# --- tokens and seed data ----------------------------------------------------------------------
token() { "$bin" token --ttl 86400 "$@"; }
customer=$(token --sub cus_fuzz --role customer --name Fuzz --bookings bk_fuzz,bk_fuzz_2)
admin=$(token --sub adm_fuzz --role admin --name Admin)
service=$(token --sub svc_fuzz --role service)
invalid="$customer"x

api() { # METHOD PATH TOKEN [BODY] -> the body; fails unless 2xx
  local args=(-fsS -X "$1" -H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data "$4")
  curl "${args[@]}" "$base$2"
}
field() { "$venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

api PUT /messaging/bookings/bk_fuzz "$service" '{"customerId":"cus_fuzz","title":"Fuzz booking"}' >/dev/null
conversation=$(api GET /messaging/conversations/booking/bk_fuzz "$customer" | field 'd["id"]')
message=$(api POST "/messaging/conversations/$conversation/messages" "$customer" \
  '{"content":"Can I check in early?"}' | field 'd["id"]')
api POST "/messaging/conversations/$conversation/messages/$message/reactions" "$admin" '{"emoji":"👍"}' >/dev/null
say "seeded booking bk_fuzz, conversation $conversation, message $message"

# --- schemathesis, once per token --------------------------------------------------------------
export PYTHONPATH="$root/scripts/api-fuzz${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMATHESIS_HOOKS=hooks
export API_FUZZ_JSZ_URL="http://127.0.0.1:$mon_port/jsz?accounts=true&streams=true"
export API_FUZZ_STREAM=${STREAM_NAME:-CONCIERGE}
export API_FUZZ_CONVERSATION=$conversation API_FUZZ_MESSAGE=$message API_FUZZ_BOOKING=bk_fuzz
export API_FUZZ_WRITES_LOG=$work/refused-writes.log
seed_args=()
[ -n "${API_FUZZ_SEED:-}" ] && seed_args=(--seed "$API_FUZZ_SEED")
mkdir -p "$reports"

failed=()
for run in $runs; do
  case $run in
    none) auth=() ;;
    invalid) auth=(-H "Authorization: Bearer $invalid") ;;
    customer) auth=(-H "Authorization: Bearer $customer") ;;
    admin) auth=(-H "Authorization: Bearer $admin") ;;
    service) auth=(-H "Authorization: Bearer $service") ;;
    *) say "unknown run $run"; exit 2 ;;
  esac
  say "run '$run': $examples examples per operation"
  : >"$API_FUZZ_WRITES_LOG"
  status=0
  # One worker: the refused-write check compares the log's last seq around each call.
  # From the scratch folder, so that schemathesis's own cache lands there.
  (cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
    --phases examples,coverage,fuzzing,stateful --mode all --checks all \
    --max-examples "$examples" --workers 1 "${seed_args[@]}" \
    --generation-database none --no-color --suppress-health-check all \
    --request-timeout 10 "${auth[@]}" \
    --report junit --report-junit-path "$reports/$run.xml") || status=$?
  if [ -s "$API_FUZZ_WRITES_LOG" ]; then
    say "run '$run': refused requests that wrote to the log:"
    cat "$API_FUZZ_WRITES_LOG" >&2
    status=1
  fi
  [ "$status" = 0 ] || failed+=("$run")
  kill -0 "$server_pid" 2>/dev/null || { say "the server died during run '$run'"; exit 1; }
done

say "done in $(($(date +%s) - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  say "findings in: ${failed[*]} (JUnit reports in $reports)"
  exit 1
fi
say "no findings"
