#!/usr/bin/env bash
# API conformance: schemathesis fuzzes both planes of a live local deployment from their
# served OpenAPI documents and fails on any 5xx, any response that violates its
# documented schema or content type, and any undocumented status code.
#   tests/conformance/schemathesis.sh BIN_DIR
# Internal routes (tag `internal`) are left out: they are the planes' own protocol, and
# fuzzing them would register random worker URLs that the control plane would then call.
set -euo pipefail
OG_BIN=${1:?usage: schemathesis.sh BIN_DIR}
. "$(dirname "$0")/lib.sh"
og_venv
og_start
EXAMPLES=${OMNIGRAPH_FUZZ_EXAMPLES:-100}
status=0
# The data plane first: the control-plane run may delete the example graph (its graph_id
# parameter is pinned to it too).
for target in "data-plane $OG_DP" "control-plane $OG_CP"; do
    set -- $target
    echo "== schemathesis: $1 ($2/openapi.json, $EXAMPLES examples per operation)"
    # From the temp dir: schemathesis keeps a cache in its working directory. One worker:
    # with two threads, CPython 3.11 failed inside schemathesis now and then ("SystemError:
    # AST constructor recursion depth mismatch"), a crash of the tool, not of the API.
    # tests/conformance/schemathesis_hooks.py: serializers for the load routes' bodies.
    if ! (cd "$OG_WORK" && PYTHONPATH="$OG_ROOT/tests/conformance" SCHEMATHESIS_HOOKS=schemathesis_hooks \
        "$OG_VENV/bin/st" --no-color --config-file "$OG_ROOT/tests/conformance/schemathesis.toml" \
        run "$2/openapi.json" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
        --exclude-tag internal \
        --header "Authorization: Bearer $OG_ADMIN_TOKEN" \
        --max-examples "$EXAMPLES" --seed 1 --workers 1 --request-timeout 30 \
        --phases examples,coverage,fuzzing --warnings off); then
        status=1
    fi
done
if [ "$status" -ne 0 ]; then og_logs; fi
curl -fs "$OG_DP/healthz" >/dev/null || { echo "data plane died" >&2; status=1; }
curl -fs "$OG_CP/healthz" >/dev/null || { echo "control plane died" >&2; status=1; }
exit "$status"
