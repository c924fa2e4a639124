#!/usr/bin/env bash
# Branch creation, merge and schema apply time on the standard generated graph at two
# sizes, to show whether they depend on the graph's size (shared/engine/benches/branch_bench.rs).
#   scripts/bench_branch.sh [CHANGED_ROWS] [SIZES...]
#   default 10000, sizes 100000:500000 1000000:5000000 (nodes:edges)
# Not a test: figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000:500000 1000000:5000000)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
cargo build --workspace --bins --examples --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null  # the tests' feature set: reuses their build
BIN="$CARGO_TARGET_DIR/debug/omnigraph-data-plane"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for size in "${SIZES[@]}"; do
    nodes=${size%:*}
    edges=${size#*:}
    rm -rf "$WORK"/*
    python3 "${GEN_GRAPH:-scripts/gen_graph.py}" "$WORK/data" --nodes "$nodes" --edges "$edges" >/dev/null
    "$BIN" init --schema "$WORK/data/bench.pg" "$WORK/g.omni" >/dev/null
    "$BIN" load --data "$WORK/data/bench.jsonl" --mode overwrite --store "$WORK/g.omni" >/dev/null
    rm -rf "$WORK/data"
    echo "== $nodes nodes / $edges edges"
    "$CARGO_TARGET_DIR/debug/examples/branch_bench" "$WORK/g.omni" "$ROWS"
done
