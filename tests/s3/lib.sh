# Sourced by the scripts that need S3-compatible object storage: builds the test server
# (tests/s3/server) once, starts it on a free 127.0.0.1 port with its data in a temp dir,
# and exports what Omnigraph's processes and tests read:
#   AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ALLOW_HTTP
#   OMNIGRAPH_TEST_STORAGE=s3://omnigraph/<run>   (where the tests put their graphs)
# s3_stop (also run on exit by s3_start's caller via trap) stops it and removes its data.

S3_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

s3_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts (or restarts, on the same port and data) the server; sets S3_PID.
s3_serve() {
    "$S3_BIN" "$S3_DATA" --host 127.0.0.1 --port "$S3_PORT" --bucket omnigraph \
        --access-key omnigraph-test --secret-key omnigraph-test-secret >>"$S3_LOG" 2>&1 &
    S3_PID=$!
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then
            return 0
        fi
        sleep 0.1
    done
    echo "the S3 test server did not start; its log:" >&2
    cat "$S3_LOG" >&2
    return 1
}

s3_start() {
    S3_BIN=$("$S3_DIR/build_server.sh")
    S3_WORK=$(mktemp -d)
    S3_DATA="$S3_WORK/data"
    S3_LOG="$S3_WORK/server.log"
    S3_PORT=$(s3_free_port)
    s3_serve
    export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT"
    export AWS_ACCESS_KEY_ID=omnigraph-test
    export AWS_SECRET_ACCESS_KEY=omnigraph-test-secret
    export AWS_REGION=us-east-1
    export AWS_ALLOW_HTTP=true
    export OMNIGRAPH_TEST_STORAGE="s3://omnigraph/run-$$"
    echo "S3-compatible server on $AWS_ENDPOINT_URL (data in $S3_DATA)" >&2
}

s3_stop() {
    # (Callers run with `set -e`: the killed server's status must not become theirs.)
    if [ -n "${S3_PID:-}" ]; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
    fi
    if [ -n "${S3_WORK:-}" ]; then
        rm -rf "$S3_WORK"
    fi
    return 0
}
