#!/usr/bin/env bash
# Search figures: index build, k=10 nearest-neighbour latency and recall@10 against exact
# search, full-text latency, on a generated corpus (shared/engine/benches/search_bench.rs).
#   scripts/bench_search.sh [DOCS] [DIM] [QUERIES]      default 1000000 384 200
# Not a test: figures go in notes. Needs about 6 GB of memory and disk at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
cargo build --workspace --bins --examples --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null  # the tests' feature set: reuses their build
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$CARGO_TARGET_DIR/debug/examples/search_bench" "$WORK" "${1:-1000000}" "${2:-384}" "${3:-200}"
