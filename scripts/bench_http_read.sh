#!/usr/bin/env bash
# HTTP read benchmark: POST /graphs/bench/read point lookups by key (the standard `point`
# query: `match { $p: Person { uid: $uid } }`, a random uid per request) with 64 concurrent
# connections, against one data-plane worker and then two workers over the same storage.
#   scripts/bench_http_read.sh [NODES] [EDGES] [SECONDS]     default 1000000 5000000 20
# Needs wrk (apt-get install wrk; installed here if missing). Prints wrk's figures:
# requests/s and the latency distribution. Not a test: figures go in notes.
# Set BENCH_STORE to reuse a loaded graph (e.g. one made by a previous run with KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000000}
EDGES=${2:-5000000}
SECONDS_PER_RUN=${3:-20}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --workspace --bins --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null  # the tests' feature set: reuses their build
BIN="$CARGO_TARGET_DIR/debug/omnigraph-data-plane"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

STORE=${BENCH_STORE:-}
if [ -z "$STORE" ]; then
    STORE="$WORK/g.omni"
    python3 "${GEN_GRAPH:-scripts/gen_graph.py}" "$WORK/data" --nodes "$NODES" --edges "$EDGES" >/dev/null
    "$BIN" init --schema "$WORK/data/bench.pg" "$STORE" >/dev/null
    "$BIN" load --data "$WORK/data/bench.jsonl" --mode overwrite --store "$STORE" >/dev/null
    rm -rf "$WORK/data"
fi
printf 'graphs:\n  bench:\n    uri: %s\n' "$STORE" > "$WORK/omnigraph.yaml"

cat > "$WORK/point.lua" <<LUA
math.randomseed(7)
local nodes = $NODES
local q = 'query point(\$id: String) { match { \$p: Person { uid: \$id } } return { \$p.name, \$p.age } }'
request = function()
  local body = '{"query_source": "' .. q .. '", "params": {"id": "p' .. math.random(0, nodes - 1) .. '"}}'
  return wrk.format("POST", nil, {["content-type"] = "application/json"}, body)
end
LUA

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_worker() {
    local port=$1
    OMNIGRAPH_UNAUTHENTICATED=1 RUST_LOG=warn "$BIN" serve --config "$WORK/omnigraph.yaml" \
        --bind "127.0.0.1:$port" > "$WORK/worker-$port.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
    # Warm (the standard figures are warm): open the graph, build its per-version caches and
    # load the property columns the query reads, which happens lazily on first touch.
    wrk -t1 -c8 -d"${WARM_SECONDS:-10}s" -s "$WORK/point.lua" "http://127.0.0.1:$port/graphs/bench/read" >/dev/null
}

P1=$(free_port); start_worker "$P1"
echo "== one worker, 64 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/point.lua" "http://127.0.0.1:$P1/graphs/bench/read"

P2=$(free_port); start_worker "$P2"
echo "== two workers, 32 connections each (64 in all), ${SECONDS_PER_RUN}s"
wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/point.lua" "http://127.0.0.1:$P1/graphs/bench/read" > "$WORK/w1.txt" &
W1=$!
wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/point.lua" "http://127.0.0.1:$P2/graphs/bench/read" > "$WORK/w2.txt"
wait "$W1"
echo "-- worker 1"; cat "$WORK/w1.txt"
echo "-- worker 2"; cat "$WORK/w2.txt"
python3 - "$WORK/w1.txt" "$WORK/w2.txt" <<'PY'
import re, sys
total = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", open(f).read()).group(1)) for f in sys.argv[1:])
print(f"== two workers: {total:.0f} requests/s in all")
PY
