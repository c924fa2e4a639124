#!/usr/bin/env python3
"""The standard benchmark graph of this repository, generated deterministically.

    scripts/gen_graph.py OUTDIR [--nodes N] [--edges M] [--seed S]

OUTDIR gets:
  bench.pg      the schema: Person {uid @key, name, age, city}, Knows: Person -> Person {since}
  bench.jsonl   the rows in the bulk-load format (nodes first, then edges)
  person.csv    uid,name,age,city   (no header; for tools that load CSV, e.g. Kuzu's COPY)
  knows.csv     from,to,since

Defaults: 1,000,000 people and 5,000,000 Knows edges. Node properties are functions of the
node's number; each edge picks its two endpoints uniformly at random (self-loops and
parallel edges included) and a `since` year in 1990..2024, from one seeded generator, so a
given (nodes, edges, seed) always gives the same files, byte for byte. The figures in
README.md were measured on graphs made with the default seed 7.
"""

import argparse
import os
import random

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
CITIES = ("Lisbon", "Oslo", "Quito", "Nairobi", "Hanoi", "Lima", "Perth", "Turin")
FIRST_YEAR, YEARS = 1990, 35
BATCH = 10_000


def person(i):
    """(uid, name, age, city) of person number i."""
    return f"p{i}", f"Person {i}", 18 + (i * 7919) % 60, CITIES[(i * 31) % len(CITIES)]


def edges(count, nodes, rng):
    """`count` (from, to, since) triples: uniform endpoints, then the year."""
    for _ in range(count):
        src = rng.randrange(nodes)
        dst = rng.randrange(nodes)
        yield src, dst, FIRST_YEAR + rng.randrange(YEARS)


def write_batched(files, rows):
    """Writes each row's lines to `files`, buffering BATCH rows at a time."""
    buffers = [[] for _ in files]
    for lines in rows:
        for buf, line in zip(buffers, lines):
            buf.append(line)
        if len(buffers[0]) >= BATCH:
            for f, buf in zip(files, buffers):
                f.write("".join(buf))
                buf.clear()
    for f, buf in zip(files, buffers):
        f.write("".join(buf))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=5_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.nodes < 1 or args.edges < 0:
        ap.error("--nodes must be at least 1 and --edges at least 0")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.pg"), "w") as f:
        f.write(SCHEMA)
    rng = random.Random(args.seed)
    paths = [os.path.join(args.out, n) for n in ("bench.jsonl", "person.csv", "knows.csv")]
    with open(paths[0], "w") as jsonl, open(paths[1], "w") as people, open(paths[2], "w") as knows:
        write_batched(
            (jsonl, people),
            (
                (
                    '{"type":"Person","data":{"uid":"%s","name":"%s","age":%d,"city":"%s"}}\n' % p,
                    "%s,%s,%d,%s\n" % p,
                )
                for p in map(person, range(args.nodes))
            ),
        )
        write_batched(
            (jsonl, knows),
            (
                (
                    '{"edge":"Knows","from":"p%d","to":"p%d","data":{"since":%d}}\n' % e,
                    "p%d,p%d,%d\n" % e,
                )
                for e in edges(args.edges, args.nodes, rng)
            ),
        )
    print(f"{args.nodes} nodes, {args.edges} edges -> {args.out}")


if __name__ == "__main__":
    main()
