#!/usr/bin/env bash
# Object-store requests per single-row insert, point read, 1-hop read and 1,000-row load,
# on the S3 test server (tests/s3), as a worker's own counters
# (omnigraph_object_store_requests_total, README.md "Observability") see them and as a
# counting proxy in front of the server sees them (scripts/count_proxy.py): the two agree
# when the counters miss nothing.
#   scripts/bench_object_store.sh [HISTORY] [SAMPLES]    default 10 5
# HISTORY single-row inserts run first, so the graph has that many versions. Not a test:
# figures go in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
HISTORY=${1:-10}
SAMPLES=${2:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omnigraph/target}"
# The workspace's feature set, as the tests build it (a `-p` build would rebuild Lance).
cargo build --workspace --all-targets --features omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints >/dev/null
BIN="$CARGO_TARGET_DIR/debug/omnigraph-data-plane"
source tests/s3/lib.sh
WORK=$(mktemp -d)
PROXY= DP=
cleanup() {
    [ -z "$DP" ] || kill "$DP" 2>/dev/null || true
    [ -z "$PROXY" ] || kill "$PROXY" 2>/dev/null || true
    s3_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
s3_start
PROXY_PORT=$(s3_free_port)
python3 scripts/count_proxy.py "$PROXY_PORT" "$S3_PORT" "$WORK/proxy.log" &
PROXY=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && break; sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT"
URI="s3://omnigraph/bench-$$/g"
"$BIN" init --schema tests/fixtures/social.pg "$URI" >/dev/null
printf 'graph:\n  uri: %s\n' "$URI" >"$WORK/omnigraph.yaml"
WORKER_PORT=$(s3_free_port)
"$BIN" serve --config "$WORK/omnigraph.yaml" --bind "127.0.0.1:$WORKER_PORT" --unauthenticated \
    2>"$WORK/worker.log" &
DP=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$WORKER_PORT/readyz" >/dev/null && break; sleep 0.1; done
python3 - "http://127.0.0.1:$WORKER_PORT" "$WORK/proxy.log" "$HISTORY" "$SAMPLES" <<'PY'
import collections, json, statistics, sys, urllib.request
W, LOG, HISTORY, SAMPLES = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def post(path, body):
    req = urllib.request.Request(W + path, json.dumps(body).encode(), {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))

def counters():
    c = collections.Counter()
    for line in urllib.request.urlopen(W + "/metrics").read().decode().splitlines():
        if line.startswith("omnigraph_object_store_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            c[labels.split('operation="')[1].split('"')[0]] += int(float(value))
    return c

def proxied():
    with open(LOG) as f:
        return collections.Counter(line.split()[0] for line in f)

def measure(run):
    c0, p0 = counters(), proxied()
    run()
    return +(counters() - c0), +(proxied() - p0)

def show(counts):
    return " ".join(f"{op} {n}" for op, n in sorted(counts.items())) + f" = {sum(counts.values())}"

post("/ingest", {"data": open("tests/fixtures/social.jsonl").read(), "mode": "overwrite"})
n = [0]
def insert():
    n[0] += 1
    post("/change", {"query_source": "query add($n: String) { insert Person { name: $n } }",
                     "params": {"n": f"person-{n[0]}"}})
for _ in range(HISTORY):
    insert()
point = {"query_source": "query q($n: String) { match { $p: Person { name: $n } } return { $p.name } }",
         "params": {"n": "Alice"}}
hop = {"query_source": "query q($n: String) { match { $p: Person { name: $n } $p knows $f } return { $f.name } }",
       "params": {"n": "Alice"}}
def load():
    n[0] += 1
    rows = "".join(json.dumps({"type": "Person", "data": {"name": f"load-{n[0]}-{i}"}}) + "\n" for i in range(1000))
    post("/ingest", {"data": rows, "mode": "append"})
cases = [
    ("single-row insert", insert, None),
    ("point read right after a write", lambda: post("/read", point), insert),
    ("warm point read", lambda: post("/read", point), lambda: post("/read", point)),
    ("warm 1-hop read", lambda: post("/read", hop), lambda: post("/read", hop)),
    ("1,000-row load", load, None),
]
print(f"graph with {HISTORY} versions of history before measuring, {SAMPLES} samples each")
for name, run, before in cases:
    seen = []
    for _ in range(SAMPLES):
        if before:
            before()
        seen.append(measure(run))
    agree = all(c == p for c, p in seen)
    counts = collections.Counter(show(c) for c, _ in seen)
    print(f"{name}: {'; '.join(f'{k} ({v}x)' for k, v in counts.most_common())}"
          f" [{'the proxy saw the same' if agree else 'PROXY DIFFERS: ' + str([show(p) for _, p in seen])}]")
PY
