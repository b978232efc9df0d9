"""Hashing speed and memory: ``anonlink hash`` (our encoder) against ``clkhash.clk.hash_chunk``.

Usage: python benchmarks/hash_benchmark.py [ROWS ...]   (default: 100000 1000000)

Two kinds of data, each hashed with the default schema (``anonlink generate-default-schema``):

(a) ``anonlink generate`` output: names and ages drawn from census distributions, so names
    repeat (caches help);
(b) unique perturbed records, made here from (a): every name gets two random edits and
    every date of birth is drawn from a 2000-year range, so almost no value repeats and
    caches cannot carry the result.

For each size and kind it prints, all measured in this one run on this machine:

* ``hash --workers 1``: rows/s of the whole command in one process (reading the CSV and
  writing the CLK file included);
* ``hash_chunk``: rows/s of ``clkhash.clk.hash_chunk`` in one process, on the same records
  in chunks of 1000 (hashing only: no CSV, no output), and the ratio of the two;
* ``ClkEncoder``: rows/s of our encoder alone in that same process, and its ratio;
* ``hash`` with the default workers (one per core): rows/s, the peak memory of the whole
  process tree (summed RSS of the parent and its workers, see measure.py), and the CPU
  time of the parent and of all processes, from which the rate on idle cores follows
  (the larger of the parent's time and the total over the cores): on a busy machine the
  measured rate of several processes says little;
* whether all CLKs are identical to clkhash's.
"""

import csv
import json
import os
import random
import sys
import tempfile
from datetime import date
from typing import List, Optional, Tuple

from measure import measure, measure_all

ANONLINK = [sys.executable, "-m", "anonlinkclient"]

# Times clkhash.clk.hash_chunk and our encoder on the same records, in one process, and
# writes clkhash's CLK file. Prints "<hash_chunk rows/s> <ClkEncoder rows/s>".
REFERENCE = """
import base64, csv, gc, json, sys, time
from clkhash import bloomfilter, schema as clkhash_schema
from clkhash.clk import hash_chunk
from anonlinkclient.encoding.encoder import ClkEncoder
from anonlinkclient.encoding.parallel import derive_keys

pii, schema_path, out = sys.argv[1:4]
with open(schema_path) as handle:
    schema = clkhash_schema.from_json_dict(json.load(handle))
with open(pii, newline="") as handle:
    rows = list(csv.reader(handle))[1:]
keys = derive_keys("secret", schema)
gc.collect()
gc.freeze()  # the records stay: garbage collections should not walk them again and again

start = time.perf_counter()
clks = []
for i in range(0, len(rows), 1000):
    clks += [clk.tobytes() for clk in hash_chunk(rows[i : i + 1000], keys, schema, True, i)[0]]
theirs = len(rows) / (time.perf_counter() - start)
for cached in vars(bloomfilter).values():  # clkhash's token caches are not ours: out of the way
    if hasattr(cached, "cache_clear"):
        cached.cache_clear()
gc.collect()
gc.freeze()

encoder = ClkEncoder(schema, keys)
start = time.perf_counter()
ours = []
for i in range(0, len(rows), 1000):
    ours += encoder.encode(rows[i : i + 1000], True, i)[0]
mine = len(rows) / (time.perf_counter() - start)
assert ours == clks, "ClkEncoder differs from clkhash"

with open(out, "w") as handle:
    json.dump({"clks": [base64.b64encode(clk).decode("ascii") for clk in clks]}, handle)
print(f"{theirs} {mine}")
"""


def perturb(source: str, target: str, seed: int = 0) -> None:
    """Write unique perturbed records: two random edits per name, dates from a 2000-year range."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    first, last = date(1000, 1, 1).toordinal(), date(2999, 12, 31).toordinal()
    with open(source, newline="") as handle, open(target, "w", newline="") as out:
        reader, writer = csv.reader(handle), csv.writer(out)
        writer.writerow(next(reader))
        for index, (_, name, _, _) in enumerate(reader):
            chars: List[str] = list(name)
            for _ in range(2):
                at = rng.randrange(len(chars))
                edit = rng.randrange(3)
                if edit == 0:
                    chars[at] = rng.choice(letters)
                elif edit == 1:
                    chars.insert(at, rng.choice(letters))
                elif len(chars) > 4:
                    del chars[at]
            dob = date.fromordinal(rng.randint(first, last)).strftime("%Y/%m/%d")
            writer.writerow([index, "".join(chars), dob, rng.choice("MF")])


def write_inputs(folder: str, rows: int, seed: Optional[int] = None) -> Tuple[str, str]:
    """Write ``rows`` records of ``anonlink generate`` and their perturbed copies into ``folder``: both paths."""
    generated = os.path.join(folder, f"generated-{rows}.csv")
    perturbed = os.path.join(folder, f"perturbed-{rows}.csv")
    measure(ANONLINK + ["generate", str(rows), generated] + ([] if seed is None else ["--seed", str(seed)]))
    perturb(generated, perturbed)
    return generated, perturbed


def clk_list(path: str) -> List[str]:
    """The CLKs of a JSON CLK file (ours also hold metadata)."""
    with open(path) as handle:
        clks: List[str] = json.load(handle)["clks"]
    return clks


def distinct(path: str) -> str:
    """The share of distinct values in the name and date columns."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    names, dobs = len({r[1] for r in rows}), len({r[2] for r in rows})
    return f"distinct names {names / len(rows):.0%}, dates {dobs / len(rows):.0%}"


def main(sizes: List[int]) -> None:
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        schema = os.path.join(tmp, "schema.json")
        measure(ANONLINK + ["generate-default-schema", schema])
        for rows in sizes:
            generated, perturbed = write_inputs(tmp, rows)
            for kind, pii in (("(a) generated", generated), ("(b) perturbed", perturbed)):
                print(f"\n{rows} rows, {kind}: {distinct(pii)}", flush=True)
                out = {name: os.path.join(tmp, f"{name}.json") for name in ("one", "all", "clkhash")}
                quiet = {"stderr": open(os.devnull, "w")}
                one, one_peak = measure(
                    ANONLINK + ["hash", pii, "secret", schema, out["one"], "--workers", "1"], **quiet
                )
                pool = measure_all(ANONLINK + ["hash", pii, "secret", schema, out["all"]], **quiet)
                with tempfile.TemporaryFile("w+") as result:
                    measure([sys.executable, "-c", REFERENCE, pii, schema, out["clkhash"]], stdout=result, **quiet)
                    result.seek(0)
                    theirs, mine = (float(x) for x in result.read().split())
                rate = rows / one
                workers = f"hash ({os.cpu_count()} workers)"
                print(f"  {'hash --workers 1':<20} {rate:>9.0f} rows/s  peak {one_peak:>4.0f} MiB (summed RSS)")
                print(f"  {'hash_chunk':<20} {theirs:>9.0f} rows/s  hash --workers 1 is {rate / theirs:.1f}x as fast")
                print(f"  {'ClkEncoder':<20} {mine:>9.0f} rows/s  ClkEncoder alone is {mine / theirs:.1f}x")
                print(
                    f"  {workers:<20} {rows / pool.seconds:>9.0f} rows/s  peak {pool.peak_mib:>4.0f} MiB (summed RSS)"
                )
                cores = os.cpu_count() or 1
                idle = max(pool.parent_cpu_seconds, pool.cpu_seconds / cores)
                print(
                    f"  {'':<20} CPU: {pool.parent_cpu_seconds:.1f} s parent, {pool.cpu_seconds:.1f} s in all; "
                    f"on {cores} idle cores about {rows / idle:.0f} rows/s"
                )
                lists = [clk_list(path) for path in out.values()]
                print(f"  identical CLKs: {lists[0] == lists[1] == lists[2]}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
