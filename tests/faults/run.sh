#!/usr/bin/env bash
# Fault and load scenarios against the real binaries on 127.0.0.1, with their graphs on
# the S3-compatible test server (tests/s3/server), each bounded in time and printing its
# figures:
#   fault_kill_worker_mid_load   kill -9 a data plane in the middle of a large load
#   fault_kill_control_plane     kill -9 the control plane under load, restart, converge
#   fault_store_restart          kill and restart the object store under load (503s)
#   load_mixed                   sustained mixed load through two workers
#   two_hosts                    two workers on two machines (network namespaces) racing
#                                to publish one graph on the store (tests/faults/two_hosts.sh)
# Usage: tests/faults/run.sh [scenario...]   (default: all five)
# Settings (environment): LOAD_SECONDS (default 120), LOAD_CLIENTS, FAULT_ROWS,
# FAULT_ROUNDS, FAULT_CLIENTS, FAULT_SECONDS, FAULT_DOWN_SECONDS; OMNIGRAPH_FAULT_STORAGE=local
# runs them on local disk instead (fault_store_restart needs S3 and is skipped then).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
# The test build's features (as ./dev.sh sets them), so nothing is rebuilt.
: "${OMNIGRAPH_TEST_FEATURES:=--features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints}"
# Only loopback: whatever AWS_* the caller has, the scenarios set their own endpoint.
unset AWS_PROFILE AWS_SESSION_TOKEN

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(fault_kill_worker_mid_load fault_kill_control_plane fault_store_restart load_mixed two_hosts)

# shellcheck disable=SC2086  # OMNIGRAPH_TEST_FEATURES (./dev.sh) is split on purpose
cargo build --quiet --workspace --bins --examples $OMNIGRAPH_TEST_FEATURES || exit 1
if [ "${OMNIGRAPH_FAULT_STORAGE:-s3}" = local ]; then
    export OMNIGRAPH_S3_SERVER=""
else
    OMNIGRAPH_S3_SERVER=$(tests/s3/build_server.sh) || exit 1
    export OMNIGRAPH_S3_SERVER
fi

passed=0
failed=0
for s in "${scenarios[@]}"; do
    if [ -z "$OMNIGRAPH_S3_SERVER" ] && { [ "$s" = fault_store_restart ] || [ "$s" = two_hosts ]; }; then
        echo "$s: skipped (needs the S3 test server)"
        continue
    fi
    echo "== $s"
    start=$(date +%s)
    if [ "$s" = two_hosts ]; then
        run=(tests/faults/two_hosts.sh "$CARGO_TARGET_DIR/debug" "$OMNIGRAPH_S3_SERVER")
    else
        run=("$CARGO_TARGET_DIR/debug/examples/$s")
    fi
    # A bound on every scenario, whatever happens inside it.
    if timeout --kill-after=10 900 "${run[@]}"; then
        passed=$((passed + 1))
    else
        echo "$s: FAILED (exit $?)"
        failed=$((failed + 1))
    fi
    echo "$s: $(( $(date +%s) - start )) s"
done
echo "faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
