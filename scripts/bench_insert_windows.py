#!/usr/bin/env python3
"""Insert latency and worker memory over a long run of single-row inserts into one graph.

Serves STORE (a graph directory, for example one that `KEEP=1 scripts/bench_aging.py` left
behind) with one data-plane worker and sends WINDOWS x 500 single-row inserts through
POST /change one after another; after each window of 500 it prints their median and p90
latency and the worker's resident memory. What grows with the worker's lifetime (caches)
shows as a rising column; what grows with the graph's storage shows against a fresh graph.

    scripts/bench_insert_windows.py STORE [--windows 8] [--maintenance on|off] [--copy]

  --maintenance on   the worker's rounds as in scripts/bench_aging.py (every 20 s,
                     --retention-days 0 --keep-versions 100 --cleanup-grace-secs 30);
                     off: none (the default, so that runs compare storage alone)
  --copy             serve a `cp -r` copy of STORE instead (the same files in new,
                     compact directories), left in place afterwards: STORE.copy

Not a test: figures go in notes. Uses the dev build in $CARGO_TARGET_DIR (default
~/.cache/omnigraph/target); build it first (./dev.sh test builds it).
"""

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_aging  # noqa: E402  (the worker wrapper and the queries)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("store")
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--maintenance", choices=["on", "off"], default="off")
    p.add_argument("--copy", action="store_true")
    args = p.parse_args()
    store = os.path.abspath(args.store.rstrip("/"))
    if args.copy:
        copy = store + ".copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(store, copy)
        store = copy
    work = store + ".bench"
    os.makedirs(work, exist_ok=True)
    if args.maintenance == "on":
        extra = ["--maintenance-interval-secs", "20", "--retention-days", "0",
                 "--keep-versions", "100", "--cleanup-grace-secs", "30"]
    else:
        extra = ["--maintenance-interval-secs", "0"]
    worker = bench_aging.Worker(store, work, extra)
    run = os.urandom(4).hex()
    print(f"# {store}: windows of 500 single-row inserts, maintenance {args.maintenance}, dev build")
    print("| window | insert ms median / p90 | worker RSS MiB |")
    print("|---|---|---|", flush=True)
    try:
        for w in range(args.windows):
            times = [worker.post("/change", {"query_source": bench_aging.INSERT,
                                             "params": {"u": f"win-{run}-{w}-{i}", "n": "W"}})
                     for i in range(500)]
            print(f"| {w + 1} | {statistics.median(times):.2f} / {bench_aging.pct(times, 0.9):.2f} | "
                  f"{rss_mib(worker.proc.pid)} |", flush=True)
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
