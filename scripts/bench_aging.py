#!/usr/bin/env python3
"""Ageing benchmark: how a graph's writes, reads and storage evolve over many small writes.

The standard graph (scripts/gen_graph.py, default 100,000 nodes / 500,000 edges) is loaded
and served by one data-plane worker; WRITES single-row inserts go through POST /change one
after another, and every STEP writes the script measures: insert latency (median / p99 of
those STEP inserts), point-read and 1-hop-read latency (median / p99 of READS reads each),
the number of files and the bytes under the graph's directory. With maintenance on, once the
writes stop and the worker's rounds settled, it measures reads again and FRESH_INSERTS more
inserts. Last, a graph freshly loaded with the same rows is served and measured the same way
(reads, then FRESH_INSERTS inserts): the baseline of the ratios it prints.

It runs twice in one invocation, on the same build and data:
  - `off`: maintenance off (--maintenance-interval-secs 0): what the project did before
    maintenance existed;
  - `on`: the worker's maintenance every INTERVAL seconds (compaction, then cleanup with a
    short retention so that the steady state shows within the run: --retention-days 0,
    --keep-versions 100, --cleanup-grace-secs GRACE).

    scripts/bench_aging.py [--nodes 100000] [--edges 500000] [--writes 10000] [--step 2000]
                           [--reads 200] [--modes off,on] [--interval 20] [--grace 30]

Not a test: figures go in notes. Uses the dev build in $CARGO_TARGET_DIR (default
~/.cache/omnigraph/target), built with the test feature set so the tests' build is reused.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/omnigraph/target"))
BIN = os.path.join(TARGET, "debug", "omnigraph-data-plane")

POINT = "query point($id: String) { match { $p: Person { uid: $id } } return { $p.name, $p.age } }"
HOP = "query hop($id: String) { match { $p: Person { uid: $id } $p knows $f } return { $f.name } }"
INSERT = "query add($u: String, $n: String) { insert Person { uid: $u, name: $n, age: 30, city: \"Oslo\" } }"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def disk(path):
    files, size = 0, 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                size += os.path.getsize(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue  # deleted by the worker's cleanup while this walked
            files += 1
    return files, size


class Worker:
    def __init__(self, store, work, extra):
        self.port = free_port()
        config = os.path.join(work, "omnigraph.yaml")
        with open(config, "w") as f:
            f.write(f"graphs:\n  bench:\n    uri: {store}\n")
        env = dict(os.environ, OMNIGRAPH_UNAUTHENTICATED="1", RUST_LOG=os.environ.get("WLOG", "warn"))
        self.log = open(os.path.join(work, f"worker-{self.port}.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", config, "--bind", f"127.0.0.1:{self.port}"] + extra,
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(400):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def post(self, path, body):
        data = json.dumps(body)
        started = time.perf_counter()
        self.conn.request("POST", f"/graphs/bench{path}", data, {"content-type": "application/json"})
        response = self.conn.getresponse()
        text = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {text[:300]!r}")
        return elapsed

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def worker_args(mode, args):
    if mode == "off":
        return ["--maintenance-interval-secs", "0"]
    return ["--maintenance-interval-secs", str(args.interval), "--retention-days", "0",
            "--keep-versions", "100", "--cleanup-grace-secs", str(args.grace)]


def run(mode, args, data_dir, work):
    store = os.path.join(work, f"g-{mode}.omni")
    subprocess.run([BIN, "init", "--schema", os.path.join(data_dir, "bench.pg"), store],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([BIN, "load", "--data", os.path.join(data_dir, "bench.jsonl"), "--mode",
                    "overwrite", "--store", store], check=True, stdout=subprocess.DEVNULL)
    worker = Worker(store, work, worker_args(mode, args))
    rng = random.Random(7)
    try:
        # Warm the per-version caches as a serving worker would be.
        for _ in range(50):
            worker.post("/read", {"query_source": POINT, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
            worker.post("/read", {"query_source": HOP, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
        rows = []
        inserts = []

        def checkpoint(writes, label=None):
            points = [worker.post("/read", {"query_source": POINT, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
                      for _ in range(args.reads)]
            hops = [worker.post("/read", {"query_source": HOP, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
                    for _ in range(args.reads)]
            files, size = disk(store)
            row = {
                "writes": writes if label is None else f"{writes} ({label})",
                "files": files,
                "mib": size / (1 << 20),
                "insert": (statistics.median(inserts), pct(inserts, 0.99)) if inserts else None,
                "point": (statistics.median(points), pct(points, 0.99)),
                "hop": (statistics.median(hops), pct(hops, 0.99)),
            }
            rows.append(row)
            print_row(mode, row)

        checkpoint(0)
        for i in range(1, args.writes + 1):
            inserts.append(worker.post("/change", {"query_source": INSERT,
                                                   "params": {"u": f"aged-{i}", "n": f"Aged {i}"}}))
            if i % args.step == 0:
                checkpoint(i)
                inserts.clear()
        if mode == "on":
            # Idle until the maintenance settles: past the grace, then until the bytes on
            # disk stop changing for two maintenance rounds (bounded).
            time.sleep(args.grace + args.interval)
            last, stable_since = disk(store), time.time()
            deadline = time.time() + args.grace + 10 * args.interval + 60
            while time.time() < deadline and time.time() - stable_since < 2 * args.interval + 1:
                time.sleep(1)
                now = disk(store)
                if now != last:
                    last, stable_since = now, time.time()
            inserts.clear()
            checkpoint(args.writes, label="settled")
            # Then inserts into the settled graph, as on the fresh one (`fresh_load`).
            after = [worker.post("/change", {"query_source": INSERT,
                                             "params": {"u": f"settled-{i}", "n": f"Settled {i}"}})
                     for i in range(args.fresh_inserts)]
            rows[-1]["insert_after"] = (statistics.median(after), pct(after, 0.99))
            # And in a new worker process on the same storage: whatever grew in the first
            # worker's memory is gone, what grew in storage is not.
            worker.stop()
            worker = Worker(store, work, worker_args(mode, args))
            for _ in range(50):
                worker.post("/read", {"query_source": POINT, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
            restarted = [worker.post("/change", {"query_source": INSERT,
                                                 "params": {"u": f"restarted-{i}", "n": f"Restarted {i}"}})
                         for i in range(args.fresh_inserts)]
            rows[-1]["insert_restarted"] = (statistics.median(restarted), pct(restarted, 0.99))
        return rows
    finally:
        worker.stop()


def fresh_load(args, data_dir, work):
    """(files, bytes) of a graph loaded at once with the rows the aged graph ends with."""
    data = os.path.join(work, "fresh.jsonl")
    with open(data, "w") as out, open(os.path.join(data_dir, "bench.jsonl")) as generated:
        shutil.copyfileobj(generated, out)
        for i in range(1, args.writes + 1):
            out.write(json.dumps({"type": "Person", "data": {"uid": f"aged-{i}", "name": f"Aged {i}",
                                                            "age": 30, "city": "Oslo"}}) + "\n")
    store = os.path.join(work, "g-fresh.omni")
    subprocess.run([BIN, "init", "--schema", os.path.join(data_dir, "bench.pg"), store],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([BIN, "load", "--data", data, "--mode", "overwrite", "--store", store],
                   check=True, stdout=subprocess.DEVNULL)
    files, size = disk(store)
    # Served as the aged graph was (the same worker settings as the last mode, warmed the
    # same way): reads, then inserts, the baseline the aged graph's latencies are compared with.
    worker = Worker(store, work, worker_args(args.modes.split(",")[-1], args))
    rng = random.Random(7)
    try:
        for _ in range(50):
            worker.post("/read", {"query_source": POINT, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
            worker.post("/read", {"query_source": HOP, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
        points = [worker.post("/read", {"query_source": POINT, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
                  for _ in range(args.reads)]
        hops = [worker.post("/read", {"query_source": HOP, "params": {"id": f"p{rng.randrange(args.nodes)}"}})
                for _ in range(args.reads)]
        inserts = [worker.post("/change", {"query_source": INSERT,
                                           "params": {"u": f"fresh-{i}", "n": f"Fresh {i}"}})
                   for i in range(args.fresh_inserts)]
    finally:
        worker.stop()
    return {
        "writes": f"fresh load of the same rows; then {args.fresh_inserts} inserts",
        "files": files,
        "mib": size / (1 << 20),
        "insert": (statistics.median(inserts), pct(inserts, 0.99)),
        "point": (statistics.median(points), pct(points, 0.99)),
        "hop": (statistics.median(hops), pct(hops, 0.99)),
    }


def fmt(pair):
    return "-" if pair is None else f"{pair[0]:.1f} / {pair[1]:.1f}"


def print_header():
    print(f"| maintenance | writes | files | MiB on disk | insert ms median / p99 | point read ms | 1-hop read ms |")
    print(f"|---|---|---|---|---|---|---|", flush=True)


def print_row(mode, r):
    print(f"| {mode} | {r['writes']} | {r['files']} | {r['mib']:.1f} | {fmt(r['insert'])} | "
          f"{fmt(r['point'])} | {fmt(r['hop'])} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=500_000)
    p.add_argument("--writes", type=int, default=10_000)
    p.add_argument("--step", type=int, default=2_000)
    p.add_argument("--reads", type=int, default=200)
    p.add_argument("--modes", default="off,on")
    p.add_argument("--interval", type=int, default=20, help="seconds between maintenance rounds (mode on)")
    p.add_argument("--grace", type=int, default=30, help="cleanup grace in seconds (mode on)")
    p.add_argument("--fresh-inserts", type=int, default=500,
                   help="inserts timed on the freshly loaded graph (the baseline)")
    args = p.parse_args()
    if not os.path.exists(BIN) or os.environ.get("BENCH_BUILD", "1") == "1":
        subprocess.run(["cargo", "build", "--workspace", "--all-targets", "--features",
                        "omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="omnigraph-aging-")
    try:
        data_dir = os.path.join(work, "data")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_graph.py"), data_dir,
                        "--nodes", str(args.nodes), "--edges", str(args.edges)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"# ageing: {args.nodes} nodes / {args.edges} edges, {args.writes} single-row inserts "
              f"through POST /change, dev build ({BIN})")
        print_header()
        last = {}
        for mode in args.modes.split(","):
            last[mode] = run(mode, args, data_dir, work)[-1]
        fresh = fresh_load(args, data_dir, work)
        print_row("-", fresh)
        print(f"\nfresh load of the same rows ({args.nodes + args.writes} people, {args.edges} edges): "
              f"{fresh['files']} files, {fresh['mib']:.1f} MiB")
        for mode, row in last.items():
            ratio = lambda key, i: row[key][i] / fresh[key][i]
            print(f"{mode}, {row['writes']} writes: {row['mib']:.1f} MiB = "
                  f"{row['mib'] / fresh['mib']:.2f} x the fresh load; point read median / p99 "
                  f"{ratio('point', 0):.2f} / {ratio('point', 1):.2f} x, 1-hop {ratio('hop', 0):.2f} / "
                  f"{ratio('hop', 1):.2f} x the fresh graph's")
        for mode, row in last.items():
            if row.get("insert_after"):
                median, p99 = row["insert_after"]
                print(f"{mode}: {args.fresh_inserts} inserts after settling: {median:.1f} / {p99:.1f} ms = "
                      f"{median / fresh['insert'][0]:.2f} / {p99 / fresh['insert'][1]:.2f} x the fresh graph's")
            if row.get("insert_restarted"):
                median, p99 = row["insert_restarted"]
                print(f"{mode}: then {args.fresh_inserts} inserts through a new worker process: "
                      f"{median:.1f} / {p99:.1f} ms = {median / fresh['insert'][0]:.2f} / "
                      f"{p99 / fresh['insert'][1]:.2f} x the fresh graph's")
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
