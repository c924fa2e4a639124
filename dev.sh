#!/usr/bin/env bash
# Developer entry points (the README's two set-up commands):
#   ./dev.sh up     build, then start a local deployment on local storage with an example graph
#   ./dev.sh test   install what the tests need (protoc, prometheus, ...), then run every test (cargo tests, the
#                   OpenAPI conformance fuzzing, the generated-client check, the
#                   integration suites on S3-compatible storage, the fault and load scenarios)
set -euo pipefail
cd "$(dirname "$0")"

# The build cache lives outside the clone so that repeated runs (and fresh clones) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
# Tests build the control plane and the data plane with their crash points
# (tests/tests/control_plane_lifecycle.rs, tests/tests/maintenance_crash.rs); `up`, the
# benchmarks and the images build them without (see control-plane/Cargo.toml,
# shared/engine/Cargo.toml).
export OMNIGRAPH_TEST_FEATURES="--features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints"

need_protoc() {
    if ! command -v protoc >/dev/null 2>&1; then
        echo "installing protobuf-compiler (Lance builds its protobuf code with protoc)" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler >/dev/null
    fi
}

# The metrics test (tests/tests/metrics.rs) scrapes both planes with a real Prometheus.
need_prometheus() {
    if ! command -v prometheus >/dev/null 2>&1; then
        echo "installing prometheus (tests/tests/metrics.rs scrapes both planes with it)" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    fi
}

cmd_test() {
    need_protoc
    need_prometheus
    if cargo fmt --version >/dev/null 2>&1; then
        cargo fmt --all -- --check
    fi
    # Everything the tests run, in one build with one feature set: the binaries, the test
    # binaries and the examples (the fault scenarios). A build of the binaries alone
    # resolves features without the dev-dependencies and would compile Lance and
    # DataFusion a second time for `cargo test`.
    # OMNIGRAPH_BUILD_TIMINGS=1 adds cargo's --timings report (target/cargo-timings/).
    local timings=""
    [ "${OMNIGRAPH_BUILD_TIMINGS:-0}" = 1 ] && timings="--timings"
    # shellcheck disable=SC2086
    cargo build --workspace --all-targets $OMNIGRAPH_TEST_FEATURES $timings
    # The deployment files (Dockerfiles, compose, Kubernetes, nginx, configs and policies).
    OMNIGRAPH_COMPOSE_RUN=0 tests/deploy/validate.sh "$CARGO_TARGET_DIR/debug"
    # API conformance (schemathesis) and a client generated from openapi/, against live
    # binaries; they install their Python tools into a venv under ~/.cache/omnigraph.
    tests/conformance/schemathesis.sh "$CARGO_TARGET_DIR/debug"
    tests/conformance/client.sh "$CARGO_TARGET_DIR/debug"
    # The local embedding model that the search tests start (tests/embedder).
    tests/embedder/setup.sh
    local log status=0
    log=$(mktemp)
    # shellcheck disable=SC2086
    cargo test --workspace $OMNIGRAPH_TEST_FEATURES -- --test-threads=2 2>&1 | tee "$log" || status=1
    # The integration suites again with every graph on the S3-compatible test server, the
    # compose deployment run as processes (on that server), then the fault and load
    # scenarios.
    tests/s3/run.sh 2>&1 | tee -a "$log" || status=1
    OMNIGRAPH_COMPOSE_RUN=only tests/deploy/validate.sh "$CARGO_TARGET_DIR/debug" 2>&1 | tee -a "$log" || status=1
    LOAD_SECONDS=${LOAD_SECONDS:-60} tests/faults/run.sh 2>&1 | tee -a "$log" || status=1
    # One closing line for the whole run (cargo prints one per test binary; the S3 suite's
    # binaries are counted the same way, and each compose-run check and each fault
    # scenario counts as one test).
    awk '/^test result:/ {p += $4; f += $6}
         /^(faults|compose): [0-9]+ passed, [0-9]+ failed$/ {p += $2; f += $4}
         END {printf "all: %d passed, %d failed\n", p, f}' "$log"
    rm -f "$log"
    return "$status"
}

cmd_up() {
    need_protoc
    cargo build --workspace --bins
    exec deploy/local/up.sh "$CARGO_TARGET_DIR/debug"
}

case "${1:-}" in
    test) cmd_test ;;
    up) cmd_up ;;
    *) echo "usage: $0 up|test" >&2; exit 2 ;;
esac
