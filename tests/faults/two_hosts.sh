#!/usr/bin/env bash
# Two data planes on two machines, racing to publish one graph on S3-compatible storage.
#
# The "machines" are network namespaces this script makes (and removes): host-a and
# host-b each have their own loopback, where their worker listens on 127.0.0.1:8081, and
# a veth link to a third namespace, store, where the S3 test server listens. The workers
# share nothing but the object store: no file system path, no lock, no network but the
# store's. Clients on each host send concurrent inserts to their own worker; each worker
# publishes the inserts that reach it together as one version (group commit), and a group
# that loses the race to the other host is planned again on the new head (a client would
# see 409 only after 20 s of lost re-plans). Checks: no insert is refused; every
# acknowledged insert is in the graph exactly once; no version is reported by both hosts (the
# manifest compare-and-swap admits one publisher per version); the graph's version grew
# by exactly the number of distinct versions the acknowledgements report; both workers
# read the same graph. Prints the counts and the throughput.
#
#   tests/faults/two_hosts.sh BIN_DIR S3_SERVER_BINARY
# Settings: TWO_HOSTS_CLIENTS (per host, default 4), TWO_HOSTS_WRITES (per client, default 15).
# Needs root (ip netns); only addresses inside the namespaces it made are used.
set -euo pipefail
BIN_DIR=$(cd "${1:?usage: two_hosts.sh BIN_DIR S3_SERVER_BINARY}" && pwd)
S3_BIN=${2:?usage: two_hosts.sh BIN_DIR S3_SERVER_BINARY}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLIENTS=${TWO_HOSTS_CLIENTS:-4}
WRITES=${TWO_HOSTS_WRITES:-15}
NAME=two_hosts

if ! command -v ip >/dev/null 2>&1; then
    echo "installing iproute2 (ip netns)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi

id=$(( $$ % 100000 ))
NS_STORE=og-store-$id
NS_A=og-a-$id
NS_B=og-b-$id
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # Whatever still runs on a host (a worker started through `on` runs in a subshell,
    # so its pid is not in PIDS) dies with it.
    for ns in "$NS_A" "$NS_B" "$NS_STORE"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT
trap 'exit 143' INT TERM

fail() {
    echo "$NAME: FAIL: $*"
    for log in "$WORK"/*.log; do
        echo "--- $(basename "$log") (tail)"
        tail -n 20 "$log"
    done
    exit 1
}

# The three machines, and a link from each host to the store: 10.213.N.1 (store side) and
# 10.213.N.2 (host side), N = 1 for host-a, 2 for host-b.
for ns in "$NS_STORE" "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
link() { # HOST_NS N
    local store_end=og-s$2-$id host_end=og-h$2-$id
    ip link add "$store_end" type veth peer name "$host_end"
    ip link set "$store_end" netns "$NS_STORE"
    ip link set "$host_end" netns "$1"
    ip -n "$NS_STORE" addr add "10.213.$2.1/24" dev "$store_end"
    ip -n "$1" addr add "10.213.$2.2/24" dev "$host_end"
    ip -n "$NS_STORE" link set "$store_end" up
    ip -n "$1" link set "$host_end" up
}
link "$NS_A" 1
link "$NS_B" 2

# The store.
mkdir -p "$WORK/s3"
ip netns exec "$NS_STORE" "$S3_BIN" "$WORK/s3" --host 0.0.0.0 --port 9000 --bucket omnigraph \
    --access-key two-hosts --secret-key two-hosts-secret >"$WORK/store.log" 2>&1 &
PIDS+=($!)

# on HOST_NS N COMMAND...: runs COMMAND on that host, with the store's address as its
# S3 endpoint.
on() {
    local ns=$1 n=$2
    shift 2
    ip netns exec "$ns" env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
        AWS_ENDPOINT_URL="http://10.213.$n.1:9000" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=two-hosts AWS_SECRET_ACCESS_KEY=two-hosts-secret \
        AWS_EC2_METADATA_DISABLED=true "$@"
}
for _ in $(seq 100); do
    on "$NS_A" 1 curl -s -o /dev/null "http://10.213.1.1:9000/" && break
    sleep 0.1
done
on "$NS_A" 1 curl -s -o /dev/null "http://10.213.1.1:9000/" || fail "the store is not reachable from host-a"

URI=s3://omnigraph/two-hosts/graph.omni
on "$NS_A" 1 "$BIN_DIR/omnigraph-data-plane" init --schema "$ROOT/tests/fixtures/social.pg" "$URI" \
    >"$WORK/init.log" 2>&1 || fail "init from host-a"

# One worker per host, each from its own omnigraph.yaml (single mode, open: the hosts'
# loopbacks are reachable only from inside them).
for host in a b; do
    ns=$NS_A n=1
    [ "$host" = b ] && ns=$NS_B n=2
    mkdir -p "$WORK/$host"
    printf 'graph:\n  uri: %s\n' "$URI" >"$WORK/$host/omnigraph.yaml"
    on "$ns" "$n" "$BIN_DIR/omnigraph-data-plane" serve --config "$WORK/$host/omnigraph.yaml" \
        --bind 127.0.0.1:8081 --unauthenticated --worker-id "host-$host" >"$WORK/worker-$host.log" 2>&1 &
    PIDS+=($!)
done
for host in a b; do
    ns=$NS_A
    [ "$host" = b ] && ns=$NS_B
    for _ in $(seq 300); do
        ip netns exec "$ns" curl -fs http://127.0.0.1:8081/readyz >/dev/null 2>&1 && break
        sleep 0.1
    done
    ip netns exec "$ns" curl -fs http://127.0.0.1:8081/readyz >/dev/null || fail "worker on host-$host not ready"
done

version() { # HOST_NS: the graph's version as that host's worker sees it
    ip netns exec "$1" curl -fs http://127.0.0.1:8081/snapshot |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["manifest_version"])'
}
v0=$(version "$NS_A")

# client HOST_NS HOST C: WRITES inserts through that host's worker; one line per answer:
# status, name, host and the version an acknowledgement reports (the body, when refused).
client() {
    local ns=$1 host=$2 c=$3 w name status body
    for w in $(seq "$WRITES"); do
        name="$host-$c-$w"
        body="$WORK/body-$host-$c"
        status=$(ip netns exec "$ns" curl -s -o "$body" -w '%{http_code}' --max-time 60 \
            -H 'content-type: application/json' \
            -d "{\"query_source\": \"query q() { insert Person { name: \\\"$name\\\" } }\"}" \
            http://127.0.0.1:8081/change) || status=000
        if [ "$status" = 200 ]; then
            echo "$status $name $host $(grep -o '"manifest_version":[0-9]*' "$body" | cut -d: -f2)"
        else
            echo "$status $name $host $(tr -d '\n' <"$body" 2>/dev/null | head -c 300)"
        fi
    done
}
started=$(date +%s.%N)
for c in $(seq "$CLIENTS"); do
    client "$NS_A" a "$c" >"$WORK/answers-a-$c" &
    client "$NS_B" b "$c" >"$WORK/answers-b-$c" &
done
wait_clients() {
    local pid
    for pid in $(jobs -p); do
        case " ${PIDS[*]} " in *" $pid "*) continue ;; esac
        wait "$pid"
    done
}
wait_clients
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
cat "$WORK"/answers-* >"$WORK/answers"

acked=$(awk '$1 == 200' "$WORK/answers" | wc -l)
refused=$(awk '$1 == 409' "$WORK/answers" | wc -l)
other=$(awk '$1 != 200 && $1 != 409' "$WORK/answers" | wc -l)
total=$(wc -l <"$WORK/answers")
echo "$NAME: $total inserts from $((2 * CLIENTS)) clients on two hosts in $elapsed s: $acked acknowledged, $refused refused (409), $other other"
# A loser re-plans (for up to 20 s) instead of refusing: no insert of a fresh key is refused.
[ "$refused" -eq 0 ] ||
    fail "$refused inserts refused: $(awk '$1 == 409' "$WORK/answers" | head -3 | tr '\n' ' ')"
[ "$other" -eq 0 ] || fail "answers other than 200 and 409: $(awk '$1 != 200 && $1 != 409' "$WORK/answers" | head -5 | tr '\n' ' ')"
[ "$acked" -gt 0 ] || fail "no write was acknowledged"

# What each host's worker reads back.
# shellcheck disable=SC2016  # the query's $p is not a shell variable
read_names() { # HOST_NS
    ip netns exec "$1" curl -fs -H 'content-type: application/json' \
        -d '{"query_source": "query q() { match { $p: Person } return { $p.name } }"}' \
        http://127.0.0.1:8081/read |
        python3 -c 'import json, sys; print("\n".join(sorted(r["p.name"] for r in json.load(sys.stdin)["rows"])))'
}
awk '$1 == 200 {print $2}' "$WORK/answers" | sort >"$WORK/expected"
read_names "$NS_A" >"$WORK/seen-a"
read_names "$NS_B" >"$WORK/seen-b"
cmp -s "$WORK/seen-a" "$WORK/seen-b" || fail "the two hosts read different graphs"
if ! cmp -s "$WORK/expected" "$WORK/seen-a"; then
    echo "acknowledged but missing: $(comm -23 "$WORK/expected" "$WORK/seen-a" | head -5 | tr '\n' ' ')"
    echo "present but not acknowledged: $(comm -13 "$WORK/expected" "$WORK/seen-a" | head -5 | tr '\n' ' ')"
    fail "the graph does not hold exactly the acknowledged inserts"
fi
[ "$(sort -u "$WORK/seen-a" | wc -l)" -eq "$(wc -l <"$WORK/seen-a")" ] || fail "a row is there twice"
v1=$(version "$NS_B")
# The versions the acknowledgements report: each published by one host only, and every
# version the graph grew by is one of them or a compaction by the workers' maintenance.
both=$(awk '$1 == 200 {print $4, $3}' "$WORK/answers" | sort -u | awk '{print $1}' | uniq -d | head -5 | tr '\n' ' ')
[ -z "$both" ] || fail "versions reported by both hosts: $both"
versions=$(awk '$1 == 200 {print $4}' "$WORK/answers" | sort -u | wc -l)
maintained=$(ip netns exec "$NS_A" curl -fs "http://127.0.0.1:8081/commits?limit=10000" |
    python3 -c "import json, sys; print(sum(1 for c in json.load(sys.stdin)['commits'] if c['actor'] == 'maintenance' and c['manifest_version'] > $v0))")
[ "$((v1 - v0))" -eq "$((versions + maintained))" ] ||
    fail "the version went from $v0 to $v1, but the $acked acknowledged writes report $versions versions and maintenance published $maintained"
echo "$NAME: versions $v0 -> $v1 for $acked acknowledged writes (group commit: $versions versions, none published by both hosts; $maintained by maintenance); both hosts read the same $acked rows"
echo "$NAME: PASS"
