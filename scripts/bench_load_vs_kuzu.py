#!/usr/bin/env python3
"""Bulk load, side by side: this project and Kuzu load the same generated graph in one run.

The standard graph (scripts/gen_graph.py: Person nodes with a key and three properties,
Knows edges with one property) is generated once. Then, each in its own process:
  - this project: `omnigraph-data-plane init` and `load --mode overwrite` of the JSONL
    (with the key index the load builds), then `export` of the loaded graph and a load of
    the export into a new graph (the round trip), compared row for row by count;
  - Kuzu (the `kuzu` package from PyPI, in a venv this script makes under
    ~/.cache/omnigraph/venv-kuzu): CREATE NODE/REL TABLE and COPY FROM the same rows as CSV.
Printed: rows/s and peak RSS (from /usr/bin/time) of each, and the ratios.

    scripts/bench_load_vs_kuzu.py [--nodes 1000000] [--edges 5000000] [--release]

--release builds and uses the release binary (what the images ship; a long build the first
time); the default is the dev build the tests use. Not a test: figures go in notes.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/omnigraph/target"))
FEATURES = "omnigraph-control-plane/failpoints,omnigraph-data-plane/failpoints"
KUZU_VERSION = "0.11.3"
VENV = os.path.expanduser("~/.cache/omnigraph/venv-kuzu")

KUZU_LOAD = r"""
import sys, kuzu
db = kuzu.Database(sys.argv[1])
conn = kuzu.Connection(db)
conn.execute("CREATE NODE TABLE Person(uid STRING, name STRING, age INT32, city STRING, PRIMARY KEY(uid))")
conn.execute("CREATE REL TABLE Knows(FROM Person TO Person, since INT32)")
conn.execute(f"COPY Person FROM '{sys.argv[2]}' (HEADER=true)")
conn.execute(f"COPY Knows FROM '{sys.argv[3]}' (HEADER=true)")
n = conn.execute("MATCH (p:Person) RETURN count(p)").get_next()[0]
e = conn.execute("MATCH ()-[k:Knows]->() RETURN count(k)").get_next()[0]
print(n + e)
"""


def timed(cmd, stdout=subprocess.DEVNULL):
    """(seconds, peak RSS in MiB, stdout text) of one command."""
    with tempfile.NamedTemporaryFile("r") as rss:
        started = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, check=True,
                             stdout=stdout, text=True)
        seconds = time.perf_counter() - started
        peak = int(rss.read().strip().splitlines()[-1]) / 1024
    return seconds, peak, out.stdout if stdout == subprocess.PIPE else ""


def kuzu_python():
    python = os.path.join(VENV, "bin", "python")
    check = subprocess.run([python, "-c", f"import kuzu; assert kuzu.__version__ == '{KUZU_VERSION}'"],
                           capture_output=True) if os.path.exists(python) else None
    if check is None or check.returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"kuzu=={KUZU_VERSION}"], check=True)
    return python


def to_csv(jsonl, people_csv, knows_csv):
    with open(jsonl) as f, open(people_csv, "w", newline="") as p, open(knows_csv, "w", newline="") as k:
        people, knows = csv.writer(p), csv.writer(k)
        people.writerow(["uid", "name", "age", "city"])
        knows.writerow(["from", "to", "since"])
        for line in f:
            row = json.loads(line)
            if "type" in row:
                d = row["data"]
                people.writerow([d["uid"], d["name"], d["age"], d["city"]])
            else:
                knows.writerow([row["from"], row["to"], row.get("data", {}).get("since")])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=5_000_000)
    p.add_argument("--release", action="store_true")
    args = p.parse_args()
    profile = "release" if args.release else "debug"
    # The release build is the images' (deploy/docker/*.Dockerfile: no test features); the dev
    # build is the tests' (with their features, so their build is reused).
    if args.release:
        build = ["cargo", "build", "--release", "--locked", "--workspace", "--bins"]
    else:
        build = ["cargo", "build", "--workspace", "--bins", "--features", FEATURES]
    if os.environ.get("BENCH_BUILD", "1") == "1":
        subprocess.run(build, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(TARGET, profile, "omnigraph-data-plane")
    python = kuzu_python()

    work = tempfile.mkdtemp(prefix="omnigraph-load-bench-")
    try:
        data = os.path.join(work, "data")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_graph.py"), data,
                        "--nodes", str(args.nodes), "--edges", str(args.edges)],
                       check=True, stdout=subprocess.DEVNULL)
        jsonl, schema = os.path.join(data, "bench.jsonl"), os.path.join(data, "bench.pg")
        people_csv, knows_csv = os.path.join(data, "people.csv"), os.path.join(data, "knows.csv")
        to_csv(jsonl, people_csv, knows_csv)
        rows = args.nodes + args.edges
        print(f"# bulk load: {args.nodes} nodes / {args.edges} edges ({rows} rows), "
              f"{profile} build of this project, Kuzu {KUZU_VERSION} (CSV COPY), this machine")

        store = os.path.join(work, "g.omni")
        subprocess.run([binary, "init", "--schema", schema, store], check=True, stdout=subprocess.DEVNULL)
        og_s, og_rss, _ = timed([binary, "load", "--data", jsonl, "--mode", "overwrite", "--store", store])

        kuzu_db = os.path.join(work, "kuzu.db")
        kz_s, kz_rss, kz_out = timed([python, "-c", KUZU_LOAD, kuzu_db, people_csv, knows_csv],
                                     stdout=subprocess.PIPE)
        if int(kz_out.strip()) != rows:
            raise SystemExit(f"kuzu loaded {kz_out.strip()} rows, expected {rows}")

        # Round trip: export, load into a new graph, compare.
        exported = os.path.join(work, "export.jsonl")
        with open(exported, "w") as out:
            started = time.perf_counter()
            subprocess.run([binary, "export", "--store", store], check=True, stdout=out)
            ex_s = time.perf_counter() - started
        with open(exported) as f:
            exported_rows = sum(1 for _ in f)
        again = os.path.join(work, "again.omni")
        subprocess.run([binary, "init", "--schema", schema, again], check=True, stdout=subprocess.DEVNULL)
        rt_s, rt_rss, _ = timed([binary, "load", "--data", exported, "--mode", "overwrite", "--store", again])
        snapshots = [json.loads(subprocess.run([binary, "snapshot", "--store", s, "--json"], check=True,
                                               capture_output=True, text=True).stdout)
                     for s in (store, again)]
        counts = [sorted((t["table_key"], t["row_count"]) for t in s["tables"]) for s in snapshots]

        print(f"| system | seconds | rows/s | peak RSS MiB |")
        print(f"|---|---|---|---|")
        print(f"| omnigraph load (JSONL) | {og_s:.1f} | {rows / og_s:,.0f} | {og_rss:.0f} |")
        print(f"| kuzu COPY (CSV) | {kz_s:.1f} | {rows / kz_s:,.0f} | {kz_rss:.0f} |")
        print(f"| omnigraph export | {ex_s:.1f} | {exported_rows / ex_s:,.0f} | - |")
        print(f"| omnigraph load of the export | {rt_s:.1f} | {rows / rt_s:,.0f} | {rt_rss:.0f} |")
        print(f"rate omnigraph / kuzu: {kz_s / og_s:.2f}; peak memory omnigraph / kuzu: {og_rss / kz_rss:.2f}")
        print(f"round trip: {exported_rows} rows exported; tables and row counts "
              f"{'equal' if counts[0] == counts[1] and exported_rows == rows else 'DIFFER: ' + str(counts)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
