#!/usr/bin/env python3
"""Concurrent-writer benchmark: single-row inserts through POST /change from many clients.

The standard graph (scripts/gen_graph.py, default 100,000 nodes / 500,000 edges) is loaded
and served by one data-plane worker with bearer tokens, one actor per client (the per-actor
admission cap, 16 writes in flight, must not be what limits the run). For each client count
in --clients, every client inserts Person rows with fresh uids, one after another on its own
keep-alive connection, for --seconds seconds. The script prints writes/s, the median and p99
latency, the refusals by status, and how many graph versions the writes made (fewer versions
than writes: group commit published several together, shared/engine/src/mutate/group.rs).
A last row repeats the first concurrent count after --aged earlier single-row writes. The
worker runs its maintenance (compaction and cleanup) every --maintenance seconds, as a
served graph would (0: off, and writes then slow down as fragments pile up).

    scripts/bench_writes.py [--nodes 100000] [--edges 500000] [--clients 1,8,32,64]
                            [--seconds 20] [--aged 3000] [--maintenance 10]

Not a test: figures go in notes. Uses the dev build in $CARGO_TARGET_DIR (default
~/.cache/omnigraph/target), built with the test feature set so the tests' build is reused;
BENCH_PROFILE=release uses target/release (built with `cargo build --release`).
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/omnigraph/target"))
PROFILE = os.environ.get("BENCH_PROFILE", "debug")
BIN = os.path.join(TARGET, PROFILE, "omnigraph-data-plane")

INSERT = "query add($u: String, $n: String) { insert Person { uid: $u, name: $n, age: 30, city: \"Oslo\" } }"
ACTORS = 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def token(i):
    return f"bench-writer-token-{i:04d}-padding"


class Worker:
    def __init__(self, store, work, maintenance):
        self.port = free_port()
        config = os.path.join(work, "omnigraph.yaml")
        policy = os.path.join(work, "bench-policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\ngroups:\n  writers: [" + ", ".join(f"writer-{i}" for i in range(ACTORS)) +
                    "]\nrules:\n  - id: writers\n    allow: { actors: { group: writers }, "
                    "actions: [read, change], branch_scope: any }\n")
        with open(config, "w") as f:
            f.write(f"graphs:\n  bench:\n    uri: {store}\n    policy:\n      file: {policy}\n")
        tokens = {f"writer-{i}": token(i) for i in range(ACTORS)}
        env = dict(os.environ, RUST_LOG="warn",
                   OMNIGRAPH_SERVER_BEARER_TOKENS_JSON=json.dumps(tokens))
        env.pop("OMNIGRAPH_UNAUTHENTICATED", None)
        self.log = open(os.path.join(work, f"worker-{self.port}.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", config, "--bind", f"127.0.0.1:{self.port}",
             "--maintenance-interval-secs", str(maintenance)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(400):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the worker did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class Client:
    def __init__(self, port, actor):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"content-type": "application/json",
                        "authorization": f"Bearer {token(actor)}"}

    def post(self, path, body):
        started = time.perf_counter()
        self.conn.request("POST", f"/graphs/bench{path}", json.dumps(body), self.headers)
        response = self.conn.getresponse()
        text = response.read()
        return response.status, (time.perf_counter() - started) * 1000, text


def graph_version(port):
    c = Client(port, 0)
    status, _, text = c.post("/read", {"query_source": "query q() { match { $p: Person { uid: \"p0\" } } return { $p.name } }"})
    if status != 200:
        raise RuntimeError(f"read: {status} {text[:300]!r}")
    return json.loads(text)["target"]["manifest_version"]


def run_clients(port, clients, seconds, prefix):
    latencies, refused = [], {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(i):
        c = Client(port, i % ACTORS)
        n = 0
        mine, bad = [], {}
        while time.monotonic() < deadline:
            n += 1
            status, ms, text = c.post("/change", {"query_source": INSERT,
                                                 "params": {"u": f"{prefix}-{i}-{n}", "n": f"W {i} {n}"}})
            if status == 200:
                mine.append(ms)
            elif status not in (409, 429, 503):
                raise RuntimeError(f"insert: {status} {text[:300]!r}")
            else:
                bad[status] = bad.get(status, 0) + 1
                if status >= 500:
                    print(f"  error {status}: {text[:200]!r}", file=sys.stderr)
        with lock:
            latencies.extend(mine)
            for k, v in bad.items():
                refused[k] = refused.get(k, 0) + v

    before = graph_version(port)
    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    versions = graph_version(port) - before
    return {
        "clients": clients,
        "writes": len(latencies),
        "per_s": len(latencies) / elapsed,
        "median": statistics.median(latencies) if latencies else float("nan"),
        "p99": pct(latencies, 0.99) if latencies else float("nan"),
        "refused": refused,
        "versions": versions,
    }


def print_row(label, r):
    refused = ", ".join(f"{n}x {s}" for s, n in sorted(r["refused"].items())) or "none"
    per_version = r["writes"] / r["versions"] if r["versions"] else float("nan")
    print(f"| {label} | {r['per_s']:.0f} | {r['median']:.1f} | {r['p99']:.1f} | {refused} | "
          f"{r['versions']} ({per_version:.1f} writes each) |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=500_000)
    p.add_argument("--clients", default="1,8,32,64")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--maintenance", type=int, default=10,
                   help="seconds between the worker's maintenance rounds (compaction, cleanup); 0: off")
    p.add_argument("--aged", type=int, default=3000,
                   help="single-row writes made before the last row (0: no such row)")
    args = p.parse_args()
    if PROFILE == "debug" and (not os.path.exists(BIN) or os.environ.get("BENCH_BUILD", "1") == "1"):
        subprocess.run(["cargo", "build", "--workspace", "--all-targets", "--features",
                        "omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="omnigraph-writes-")
    worker = None
    try:
        data_dir = os.path.join(work, "data")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_graph.py"), data_dir,
                        "--nodes", str(args.nodes), "--edges", str(args.edges)],
                       check=True, stdout=subprocess.DEVNULL)
        store = os.path.join(work, "g.omni")
        subprocess.run([BIN, "init", "--schema", os.path.join(data_dir, "bench.pg"), store],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([BIN, "load", "--data", os.path.join(data_dir, "bench.jsonl"), "--mode",
                        "overwrite", "--store", store], check=True, stdout=subprocess.DEVNULL)
        worker = Worker(store, work, args.maintenance)
        print(f"# concurrent single-row inserts: {args.nodes} nodes / {args.edges} edges, one worker, "
              f"local disk, {PROFILE} build ({BIN}), {args.seconds:.0f} s per row, one actor per client, "
              f"maintenance every {args.maintenance} s (0: off)")
        print("| clients | writes/s | median ms | p99 ms | refused | graph versions made |")
        print("|---|---|---|---|---|---|", flush=True)
        counts = [int(c) for c in args.clients.split(",")]
        for clients in counts:
            print_row(str(clients), run_clients(worker.port, clients, args.seconds, f"c{clients}"))
        if args.aged:
            c = Client(worker.port, 0)
            for i in range(args.aged):
                status, _, text = c.post("/change", {"query_source": INSERT,
                                                     "params": {"u": f"aged-{i}", "n": f"Aged {i}"}})
                if status != 200:
                    raise RuntimeError(f"ageing write: {status} {text[:300]!r}")
            clients = next((n for n in counts if n > 1), 8)
            print_row(f"{clients}, after {args.aged} more single-row writes",
                      run_clients(worker.port, clients, args.seconds, "aged"))
    finally:
        if worker:
            worker.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
