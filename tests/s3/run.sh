#!/usr/bin/env bash
# Runs the storage-dependent test suites against a real S3-compatible server on 127.0.0.1:
# every integration-test target of the workspace (engine, data plane, control plane,
# cluster) with OMNIGRAPH_TEST_STORAGE pointing at a bucket of the server, so that each
# test that makes a graph makes it as s3://omnigraph/... instead of in a temp dir.
# Extra arguments go to cargo test (e.g. `tests/s3/run.sh --test e2e data_plane::`, one
# area of the end-to-end binary; the test binaries are `lang`, `engine` and `e2e`).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
# The test build's features (as ./dev.sh sets them), so nothing is rebuilt.
: "${OMNIGRAPH_TEST_FEATURES:=--features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints}"
source tests/s3/lib.sh
trap s3_stop EXIT
s3_start

# OMNIGRAPH_TEST_FEATURES (set by ./dev.sh): the test build's features, split on purpose.
# shellcheck disable=SC2086
log=$(mktemp)
status=0
if [ "$#" -gt 0 ]; then
    cargo test --workspace $OMNIGRAPH_TEST_FEATURES --no-fail-fast "$@" -- --test-threads=2 2>&1 | tee "$log" || status=$?
else
    cargo test --workspace $OMNIGRAPH_TEST_FEATURES --no-fail-fast --test '*' -- --test-threads=2 2>&1 | tee "$log" || status=$?
fi
awk '/^test result:/ {p += $4; f += $6} END {printf "s3: %d passed, %d failed\n", p, f}' "$log"
rm -f "$log"
exit "$status"
