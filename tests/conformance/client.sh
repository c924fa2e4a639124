#!/usr/bin/env bash
# The committed OpenAPI documents are usable: generate Python clients from openapi/*.json
# with openapi-python-client, then drive a live local deployment with them
# (client_demo.py: create a graph, load, read, change, snapshot, export).
#   tests/conformance/client.sh BIN_DIR
set -euo pipefail
OG_BIN=${1:?usage: client.sh BIN_DIR}
. "$(dirname "$0")/lib.sh"
og_venv
og_start
GEN="$OG_WORK/generated"
mkdir -p "$GEN"
for plane in control-plane data-plane; do
    package=$( [ "$plane" = control-plane ] && echo cp_client || echo dp_client )
    (cd "$GEN" && PATH="$OG_VENV/bin:$PATH" "$OG_VENV/bin/openapi-python-client" generate \
        --path "$OG_ROOT/openapi/$plane.json" --meta none --output-path "$package" \
        --config "$OG_ROOT/tests/conformance/openapi-python-client.yaml" >"$GEN/$package.log" 2>&1) \
        || { cat "$GEN/$package.log"; exit 1; }
    echo "generated $package from openapi/$plane.json"
done
if ! PYTHONPATH="$GEN" "$OG_VENV/bin/python" "$OG_ROOT/tests/conformance/client_demo.py" \
    "$OG_CP" "$OG_DP" "$OG_ADMIN_TOKEN" "$OG_WORK/graphs"; then
    og_logs
    exit 1
fi
