#!/usr/bin/env bash
# Start a local deployment: one control plane and one data-plane worker on 127.0.0.1, open
# mode (no tokens: local development only), storage under $OMNIGRAPH_HOME (default
# ~/.local/share/omnigraph-dev), the local embedding model (tests/embedder, all-MiniLM-L6-v2
# on 127.0.0.1) as the worker's embedding provider, and two example graphs created through
# the management API and loaded through the worker: `social`, and `intel` (the published
# industry-intel cookbook, plus test chunks for full-text and vector search; its Chunk
# vectors are 3072-dimensional, so the local model runs as a stand-in of that width,
# `--tile 8`: see tests/embedder/server.py). Ctrl-C stops them all.
#   deploy/local/up.sh BIN_DIR
set -euo pipefail
BIN_DIR=${1:?usage: up.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HOME_DIR=${OMNIGRAPH_HOME:-$HOME/.local/share/omnigraph-dev}
CP_PORT=${CP_PORT:-8080}
DP_PORT=${DP_PORT:-8081}
EMB_PORT=${EMB_PORT:-8089}
mkdir -p "$HOME_DIR"
CONFIG="$HOME_DIR/omnigraph.yaml"
[ -f "$CONFIG" ] || printf 'server:\n  bind: 127.0.0.1:%s\ngraphs: {}\n' "$CP_PORT" > "$CONFIG"

export OMNIGRAPH_UNAUTHENTICATED=1
"$ROOT/tests/embedder/setup.sh"
"${OMNIGRAPH_EMBEDDER_VENV:-$HOME/.cache/omnigraph/embedder-venv}/bin/python" \
    "$ROOT/tests/embedder/server.py" --port "$EMB_PORT" --tile 8 --quiet >/dev/null &
EMB=$!
export OMNIGRAPH_EMBEDDING_URL="http://127.0.0.1:$EMB_PORT/v1" OMNIGRAPH_EMBEDDING_MODEL=all-MiniLM-L6-v2
"$BIN_DIR/omnigraph-control-plane" serve --config "$CONFIG" --bind "127.0.0.1:$CP_PORT" &
CP=$!
trap 'kill $CP $EMB ${DP:-} 2>/dev/null || true' EXIT INT TERM
wait_up() { for _ in $(seq 100); do curl -fs "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }
wait_up "http://127.0.0.1:$CP_PORT"
"$BIN_DIR/omnigraph-data-plane" serve --bind "127.0.0.1:$DP_PORT" \
    --control-plane "http://127.0.0.1:$CP_PORT" --advertise-url "http://127.0.0.1:$DP_PORT" &
DP=$!
wait_up "http://127.0.0.1:$DP_PORT"

wait_up "http://127.0.0.1:$EMB_PORT"

# example GRAPH_ID SCHEMA DATA...: create the graph (once) and load the files as one change.
example() {
    if curl -fs "http://127.0.0.1:$CP_PORT/graphs" | grep -q "\"$1\""; then
        return 0
    fi
    python3 - "$2" "$HOME_DIR/$1.omni" "$1" > "$HOME_DIR/create.json" <<'PY'
import json, sys
print(json.dumps({"graph_id": sys.argv[3], "uri": sys.argv[2], "schema": {"source": open(sys.argv[1]).read()}}))
PY
    curl -fsS -X POST "http://127.0.0.1:$CP_PORT/graphs" -H 'content-type: application/json' --data @"$HOME_DIR/create.json"; echo
    sleep 1
    python3 -c 'import json,sys; print(json.dumps({"data": "".join(open(f).read() for f in sys.argv[1:]), "mode": "overwrite"}))' \
        "${@:3}" > "$HOME_DIR/ingest.json"
    curl -fsS -X POST "http://127.0.0.1:$DP_PORT/graphs/$1/ingest" -H 'content-type: application/json' --data @"$HOME_DIR/ingest.json"; echo
}
example social "$ROOT/tests/fixtures/social.pg" "$ROOT/tests/fixtures/social.jsonl"
example intel "$ROOT/tests/fixtures/industry-intel/schema.pg" "$ROOT/tests/fixtures/industry-intel/seed.jsonl" \
    "$ROOT/tests/fixtures/industry-intel-chunks.jsonl"

cat <<MSG

Omnigraph is up (open mode, local storage in $HOME_DIR):
  control plane  http://127.0.0.1:$CP_PORT   (GET/POST /graphs, /healthz)
  data plane     http://127.0.0.1:$DP_PORT   (/graphs/social/read, /change, /ingest, /snapshot, ...)
Try:
  curl -s http://127.0.0.1:$CP_PORT/graphs
  curl -s http://127.0.0.1:$DP_PORT/graphs/social/snapshot
  curl -s -X POST http://127.0.0.1:$DP_PORT/graphs/social/read -H 'content-type: application/json' \\
    -d '{"query_source": "query q() { match { \$p: Person } return { \$p.name, \$p.age } order { \$p.name } }"}'
  curl -s -X POST http://127.0.0.1:$DP_PORT/graphs/intel/read -H 'content-type: application/json' \
    -d '{"query_source": "query q(\$q: String) { match { \$c: Chunk } return { \$c.text } order { rrf(nearest(\$c.embedding, \$q), bm25(\$c.text, \$q)) } limit 3 }", "params": {"q": "robots grasping objects"}}'
Ctrl-C stops them all.
MSG
wait
