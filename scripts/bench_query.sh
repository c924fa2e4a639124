#!/usr/bin/env bash
# Query latency benchmark on the standard generated graph (scripts/gen_graph.py):
# point lookup, 1-hop, 2-hop, filter+limit and a single-row insert, median and p99 over
# SAMPLES random start nodes, warm (shared/engine/benches/query_bench.rs).
#   scripts/bench_query.sh [NODES] [EDGES] [SAMPLES]     default 1000000 5000000 200
# Set BENCH_STORE to reuse a loaded graph. Not a test: figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000000}
EDGES=${2:-5000000}
SAMPLES=${3:-200}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
# The workspace's feature set, as the tests build it (a `-p` build would rebuild Lance).
cargo build --workspace --bins --examples --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null  # the tests' feature set: reuses their build
BIN="$CARGO_TARGET_DIR/debug/omnigraph-data-plane"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STORE=${BENCH_STORE:-}
if [ -z "$STORE" ]; then
    STORE="$WORK/g.omni"
    python3 "${GEN_GRAPH:-scripts/gen_graph.py}" "$WORK/data" --nodes "$NODES" --edges "$EDGES" >/dev/null
    "$BIN" init --schema "$WORK/data/bench.pg" "$STORE" >/dev/null
    "$BIN" load --data "$WORK/data/bench.jsonl" --mode overwrite --store "$STORE" >/dev/null
    rm -rf "$WORK/data"
fi
"$CARGO_TARGET_DIR/debug/examples/query_bench" "$STORE" "$SAMPLES"
