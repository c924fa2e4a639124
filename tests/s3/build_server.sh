#!/usr/bin/env bash
# Builds the S3-compatible test server (tests/s3/server: the s3s-fs server from crates.io
# with atomic conditional writes) into a cache outside the clone; prints its binary path.
# About 160 crates, a few minutes on 2 cores the first time, nothing afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${OMNIGRAPH_CACHE:-$HOME/.cache/omnigraph}"
export CARGO_TARGET_DIR="$cache/s3-server-target"
cargo build --release --locked --quiet --manifest-path "$here/server/Cargo.toml" >&2 \
  || cargo build --release --quiet --manifest-path "$here/server/Cargo.toml" >&2
echo "$CARGO_TARGET_DIR/release/omnigraph-s3-server"
