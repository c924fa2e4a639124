#!/usr/bin/env bash
# Load benchmark on the standard generated graph (scripts/gen_graph.py).
#   scripts/bench_load.sh [NODES] [EDGES]     default 1000000 5000000
#   BENCH_PROFILE=release scripts/bench_load.sh   the release build (what the images ship)
# Prints rows/s, peak RSS and size on disk. Not a test: figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000000}
EDGES=${2:-5000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
if [ "${BENCH_PROFILE:-dev}" = release ]; then
    cargo build --release --locked --workspace --bins >/dev/null  # as deploy/docker/*.Dockerfile
    BIN="$CARGO_TARGET_DIR/release/omnigraph-data-plane"
else
    cargo build --workspace --bins --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null  # the tests' feature set: reuses their build
    BIN="$CARGO_TARGET_DIR/debug/omnigraph-data-plane"
fi
echo "build: ${BENCH_PROFILE:-dev} ($BIN)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
GEN=${GEN_GRAPH:-scripts/gen_graph.py}
python3 "$GEN" "$WORK/data" --nodes "$NODES" --edges "$EDGES" >/dev/null
"$BIN" init --schema "$WORK/data/bench.pg" "$WORK/g.omni" >/dev/null
ROWS=$((NODES + EDGES))
START=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" load --data "$WORK/data/bench.jsonl" --mode overwrite --store "$WORK/g.omni" >/dev/null
END=$(date +%s.%N)
SECS=$(python3 -c "print(f'{$END - $START:.2f}')")
RSS_MB=$(( $(cat "$WORK/rss") / 1024 ))
echo "nodes=$NODES edges=$EDGES rows=$ROWS seconds=$SECS rows_per_s=$(python3 -c "print(int($ROWS / ($END - $START)))") peak_rss_mib=$RSS_MB"
echo "jsonl_size=$(du -sh "$WORK/data/bench.jsonl" | cut -f1) graph_size_on_disk=$(du -sh "$WORK/g.omni" | cut -f1)"
