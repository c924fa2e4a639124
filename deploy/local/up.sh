#!/usr/bin/env bash
# Start a local deployment: one control plane and one data-plane worker on 127.0.0.1, open
# mode (no tokens: local development only), storage under $OMNIGRAPH_HOME (default
# ~/.local/share/omnigraph-dev), and the example graph `social` created through the
# management API and loaded through the worker. Ctrl-C stops both.
#   deploy/local/up.sh BIN_DIR
set -euo pipefail
BIN_DIR=${1:?usage: up.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HOME_DIR=${OMNIGRAPH_HOME:-$HOME/.local/share/omnigraph-dev}
CP_PORT=${CP_PORT:-8080}
DP_PORT=${DP_PORT:-8081}
mkdir -p "$HOME_DIR"
CONFIG="$HOME_DIR/omnigraph.yaml"
[ -f "$CONFIG" ] || printf 'server:\n  bind: 127.0.0.1:%s\ngraphs: {}\n' "$CP_PORT" > "$CONFIG"

export OMNIGRAPH_UNAUTHENTICATED=1
"$BIN_DIR/omnigraph-control-plane" serve --config "$CONFIG" --bind "127.0.0.1:$CP_PORT" &
CP=$!
trap 'kill $CP ${DP:-} 2>/dev/null || true' EXIT INT TERM
wait_up() { for _ in $(seq 100); do curl -fs "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }
wait_up "http://127.0.0.1:$CP_PORT"
"$BIN_DIR/omnigraph-data-plane" serve --bind "127.0.0.1:$DP_PORT" \
    --control-plane "http://127.0.0.1:$CP_PORT" --advertise-url "http://127.0.0.1:$DP_PORT" &
DP=$!
wait_up "http://127.0.0.1:$DP_PORT"

if ! curl -fs "http://127.0.0.1:$CP_PORT/graphs" | grep -q '"social"'; then
    python3 - "$ROOT/tests/fixtures/social.pg" "$HOME_DIR/social.omni" > "$HOME_DIR/create.json" <<'PY'
import json, sys
print(json.dumps({"graph_id": "social", "uri": sys.argv[2], "schema": {"source": open(sys.argv[1]).read()}}))
PY
    curl -fsS -X POST "http://127.0.0.1:$CP_PORT/graphs" -H 'content-type: application/json' --data @"$HOME_DIR/create.json"; echo
    sleep 1
    python3 -c 'import json,sys; print(json.dumps({"data": open(sys.argv[1]).read(), "mode": "overwrite"}))' \
        "$ROOT/tests/fixtures/social.jsonl" > "$HOME_DIR/ingest.json"
    curl -fsS -X POST "http://127.0.0.1:$DP_PORT/graphs/social/ingest" -H 'content-type: application/json' --data @"$HOME_DIR/ingest.json"; echo
fi

cat <<MSG

Omnigraph is up (open mode, local storage in $HOME_DIR):
  control plane  http://127.0.0.1:$CP_PORT   (GET/POST /graphs, /healthz)
  data plane     http://127.0.0.1:$DP_PORT   (/graphs/social/read, /change, /ingest, /snapshot, ...)
Try:
  curl -s http://127.0.0.1:$CP_PORT/graphs
  curl -s http://127.0.0.1:$DP_PORT/graphs/social/snapshot
  curl -s -X POST http://127.0.0.1:$DP_PORT/graphs/social/read -H 'content-type: application/json' \\
    -d '{"query_source": "query q() { match { \$p: Person } return { \$p.name, \$p.age } order { \$p.name } }"}'
Ctrl-C stops both processes.
MSG
wait
