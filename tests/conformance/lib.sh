# Sourced by the conformance scripts: a Python virtual environment with the tools of
# requirements.txt, and a local deployment (control plane + one data-plane worker on
# 127.0.0.1, bearer tokens, the example graph `social` created by POST /graphs and
# loaded through the worker) in a temp dir, stopped and removed on exit.
#
# Needs: OG_BIN (directory of the built binaries).

OG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OG_VENV=${OMNIGRAPH_VENV:-$HOME/.cache/omnigraph/venv}
OG_ADMIN_TOKEN=admin-token-for-the-conformance-run

og_venv() {
    local stamp="$OG_VENV/.requirements"
    if [ -x "$OG_VENV/bin/python" ] && cmp -s "$stamp" "$OG_ROOT/tests/conformance/requirements.txt"; then
        return 0
    fi
    if ! python3 -m venv "$OG_VENV" >/dev/null 2>&1; then
        echo "installing python3-venv" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$OG_VENV"
    fi
    "$OG_VENV/bin/pip" install -q --disable-pip-version-check -r "$OG_ROOT/tests/conformance/requirements.txt"
    cp "$OG_ROOT/tests/conformance/requirements.txt" "$stamp"
}

og_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

og_wait() { # URL PATTERN: until /healthz answers with PATTERN in its body
    for _ in $(seq 300); do
        curl -fs "$1/healthz" 2>/dev/null | grep -q "$2" && return 0
        sleep 0.1
    done
    echo "$1 did not become ready" >&2
    return 1
}

og_stop() {
    [ -n "${OG_DP_PID:-}" ] && kill "$OG_DP_PID" 2>/dev/null || true
    [ -n "${OG_CP_PID:-}" ] && kill "$OG_CP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "${OG_WORK:-}" ] && [ -z "${OG_KEEP:-}" ] && rm -rf "$OG_WORK"
}

# Starts the deployment; sets OG_CP, OG_DP (base URLs) and OG_WORK.
og_start() {
    OG_WORK=$(mktemp -d)
    trap og_stop EXIT
    mkdir -p "$OG_WORK/graphs"
    cat > "$OG_WORK/server-policy.yaml" <<'YAML'
version: 1
rules:
  - id: admin-manages-graphs
    allow: { actors: { actor: admin }, actions: [graph_list, graph_create] }
YAML
    printf 'server:\n  policy: { file: server-policy.yaml }\n  storage_roots: ["%s/graphs"]\ngraphs: {}\n' \
        "$OG_WORK" > "$OG_WORK/omnigraph.yaml"
    export OMNIGRAPH_SERVER_BEARER_TOKENS_JSON="{\"admin\": \"$OG_ADMIN_TOKEN\"}"
    OMNIGRAPH_INTERNAL_TOKEN="internal-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    export OMNIGRAPH_INTERNAL_TOKEN
    unset OMNIGRAPH_UNAUTHENTICATED OMNIGRAPH_SERVER_BEARER_TOKEN OMNIGRAPH_SERVER_BEARER_TOKENS_FILE
    # Only loopback, ever: any object-store call goes to a closed local port, and the
    # AWS SDK never asks an instance-metadata service for credentials.
    export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_EC2_METADATA_DISABLED=true \
        AWS_ACCESS_KEY_ID=conformance AWS_SECRET_ACCESS_KEY=conformance AWS_REGION=us-east-1
    local cp_port dp_port
    cp_port=$(og_free_port)
    dp_port=$(og_free_port)
    OG_CP="http://127.0.0.1:$cp_port"
    OG_DP="http://127.0.0.1:$dp_port"
    (cd "$OG_WORK" && exec "$OG_BIN/omnigraph-control-plane" serve --config omnigraph.yaml \
        --bind "127.0.0.1:$cp_port" >"$OG_WORK/control-plane.log" 2>&1) &
    OG_CP_PID=$!
    og_wait "$OG_CP" '"status"'
    (cd "$OG_WORK" && exec "$OG_BIN/omnigraph-data-plane" serve --bind "127.0.0.1:$dp_port" \
        --control-plane "$OG_CP" --advertise-url "$OG_DP" >"$OG_WORK/data-plane.log" 2>&1) &
    OG_DP_PID=$!
    og_wait "$OG_DP" '"ready":true'

    python3 - "$OG_ROOT/tests/fixtures/social.pg" "$OG_WORK/graphs/social.omni" > "$OG_WORK/create.json" <<'PY'
import json, sys
policy = "version: 1\nrules:\n  - id: all\n    allow: { actors: any, actions: [read, export, change, schema_apply, branch_create, branch_delete, branch_merge] }\n"
print(json.dumps({"graph_id": "social", "uri": sys.argv[2],
                  "schema": {"source": open(sys.argv[1]).read()}, "policy": {"content": policy}}))
PY
    curl -fsS -X POST "$OG_CP/graphs" -H "authorization: Bearer $OG_ADMIN_TOKEN" \
        -H 'content-type: application/json' --data @"$OG_WORK/create.json" >/dev/null
    python3 -c 'import json,sys; print(json.dumps({"data": open(sys.argv[1]).read(), "mode": "overwrite"}))' \
        "$OG_ROOT/tests/fixtures/social.jsonl" > "$OG_WORK/ingest.json"
    curl -fsS -X POST "$OG_DP/graphs/social/ingest" -H "authorization: Bearer $OG_ADMIN_TOKEN" \
        -H 'content-type: application/json' --data @"$OG_WORK/ingest.json" >/dev/null
}

og_logs() {
    echo "--- control plane log (tail) ---"; tail -n 40 "$OG_WORK/control-plane.log" || true
    echo "--- data plane log (tail) ---"; tail -n 40 "$OG_WORK/data-plane.log" || true
}
