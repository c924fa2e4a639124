#!/usr/bin/env python3
"""Streamed load over HTTP: memory stays flat in the body's size.

One worker serves an empty graph (the schema of scripts/gen_graph.py); for each SIZE in
--sizes (MiB), a body of that many MiB of NDJSON Person rows (each padded to about
--row-bytes bytes in its `city`) is generated on the fly and sent chunked to
`POST /load/ndjson?mode=append` (gzip with --gzip), while the worker's resident memory is
sampled every 50 ms. Printed per size: seconds, rows/s, MiB/s and the worker's peak RSS,
so that a 1 GiB body can be compared with a smaller one.

    scripts/bench_stream_load.py [--sizes 256,1024] [--row-bytes 1000] [--gzip]

Uses the dev build in $CARGO_TARGET_DIR (default ~/.cache/omnigraph/target), built with the
tests' feature set. Not a test: figures go in notes.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/omnigraph/target"))
BIN = os.path.join(TARGET, "debug", "omnigraph-data-plane")
SCHEMA = """node Person {
    uid: String @key
    name: String
    age: I32
    city: String
}
edge Knows: Person -> Person {
    since: I32
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def body_chunks(size_mib, row_bytes, prefix, gzip):
    """NDJSON of about size_mib MiB, in chunks of about 1 MiB (compressed when gzip)."""
    pad = "x" * max(0, row_bytes - 80)
    target, sent, i = size_mib << 20, 0, 0
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip else None
    while sent < target:
        lines = []
        chunk_bytes = 0
        while chunk_bytes < (1 << 20) and sent + chunk_bytes < target:
            line = json.dumps({"type": "Person", "data": {"uid": f"{prefix}{i}", "name": f"P{i}",
                                                           "age": i % 100, "city": pad}}) + "\n"
            lines.append(line)
            chunk_bytes += len(line)
            i += 1
        data = "".join(lines).encode()
        sent += len(data)
        yield compressor.compress(data) if gzip else data
    if gzip:
        yield compressor.flush()
    body_chunks.rows = i


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="256,1024")
    p.add_argument("--row-bytes", type=int, default=1000)
    p.add_argument("--gzip", action="store_true")
    args = p.parse_args()
    if os.environ.get("BENCH_BUILD", "1") == "1":
        subprocess.run(["cargo", "build", "--workspace", "--bins", "--features",
                        "omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="omnigraph-stream-load-")
    proc = None
    try:
        schema = os.path.join(work, "bench.pg")
        with open(schema, "w") as f:
            f.write(SCHEMA)
        store = os.path.join(work, "g.omni")
        subprocess.run([BIN, "init", "--schema", schema, store], check=True, stdout=subprocess.DEVNULL)
        config = os.path.join(work, "omnigraph.yaml")
        with open(config, "w") as f:
            f.write(f"graph:\n  uri: {store}\n")
        port = free_port()
        log = open(os.path.join(work, "worker.log"), "w")
        proc = subprocess.Popen([BIN, "serve", "--config", config, "--bind", f"127.0.0.1:{port}",
                                 "--unauthenticated", "--maintenance-interval-secs", "0"],
                                env=dict(os.environ, RUST_LOG="warn"), stdout=log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        print(f"# streamed load over HTTP, dev build, one worker, rows of about {args.row_bytes} bytes"
              f"{', gzip' if args.gzip else ''}; worker RSS at rest {rss_mib(proc.pid):.0f} MiB")
        print("| body MiB | rows | seconds | rows/s | MiB/s | worker peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        for n, size in enumerate(int(s) for s in args.sizes.split(",")):
            peak = [rss_mib(proc.pid)]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mib(proc.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
            headers = {"content-type": "application/x-ndjson"}
            if args.gzip:
                headers["content-encoding"] = "gzip"
            started = time.perf_counter()
            conn.request("POST", "/load/ndjson?mode=append", body_chunks(size, args.row_bytes, f"s{n}-", args.gzip),
                         headers=headers, encode_chunked=True)
            response = conn.getresponse()
            answer = json.loads(response.read())
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            if response.status != 200:
                raise SystemExit(f"{response.status}: {answer}")
            rows = answer["total_entities"]
            print(f"| {answer['bytes_read'] / (1 << 20):.0f} | {rows} | {seconds:.1f} | {rows / seconds:,.0f} | "
                  f"{answer['bytes_read'] / (1 << 20) / seconds:.1f} | {peak[0]:.0f} |", flush=True)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
