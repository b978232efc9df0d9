"""Hashing speed of this checkout against another one (e.g. main before a change), alternating.

Usage: python benchmarks/hash_ab.py OTHER_CHECKOUT [ROWS ...] [--rounds N]   (default: 100000 1000000, 2 rounds)

OTHER_CHECKOUT is a directory holding another version's ``anonlinkclient`` package (for
example ``git worktree add --detach /tmp/old main``); it runs with this environment's
dependencies, put first on ``PYTHONPATH``. For each size and the two kinds of data of
``hash_benchmark.py`` (generated records, and unique perturbed ones), the two versions run
in turns, in the order A B B A per round, so that a machine whose load drifts favours neither:

* ``hash --workers 1``: the whole command in one process; rows/s by wall time and by CPU
  time (user + system, the better figure on a shared machine);
* ``ClkEncoder``: the encoder alone on the records in chunks of 1000, in one process, rows/s
  by wall time and by CPU time.

It prints the median and the range of each, the ratio of the medians (this checkout over
the other) and whether both wrote the same CLKs.
"""

import os
import statistics
import sys
import tempfile
from typing import Dict, List, Tuple

from hash_benchmark import ANONLINK, clk_list, write_inputs
from measure import measure, measure_all

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Times our encoder alone; prints "<rows/s by wall time> <rows/s by CPU time>".
ENCODER = """
import csv, gc, json, sys, time
from clkhash import schema as clkhash_schema
from anonlinkclient.encoding.encoder import ClkEncoder
from anonlinkclient.encoding.parallel import derive_keys

pii, schema_path = sys.argv[1:3]
with open(schema_path) as handle:
    schema = clkhash_schema.from_json_dict(json.load(handle))
with open(pii, newline="") as handle:
    rows = list(csv.reader(handle))[1:]
encoder = ClkEncoder(schema, derive_keys("secret", schema))
gc.collect()
gc.freeze()
wall, cpu = time.perf_counter(), time.process_time()
for i in range(0, len(rows), 1000):
    encoder.encode(rows[i : i + 1000], True, i)
print(len(rows) / (time.perf_counter() - wall), len(rows) / (time.process_time() - cpu))
"""


def run_side(checkout: str, pii: str, schema: str, out: str) -> Tuple[float, float, float, float]:
    """rows/s of ``hash --workers 1`` (wall, CPU) and of the encoder alone (wall, CPU), from ``checkout``."""
    env = dict(os.environ, PYTHONPATH=checkout)
    # Run where no anonlinkclient package lies: "python -m" puts the working directory before PYTHONPATH.
    quiet = {"stderr": open(os.devnull, "w"), "env": env, "cwd": os.path.dirname(out)}
    rows = sum(1 for _ in open(pii)) - 1
    command = measure_all(ANONLINK + ["hash", pii, "secret", schema, out, "--workers", "1"], **quiet)
    with tempfile.TemporaryFile("w+") as result:
        measure([sys.executable, "-c", ENCODER, pii, schema], stdout=result, **quiet)
        result.seek(0)
        encoder_wall, encoder_cpu = (float(x) for x in result.read().split())
    return rows / command.seconds, rows / command.cpu_seconds, encoder_wall, encoder_cpu


def summary(name: str, ours: List[float], theirs: List[float]) -> str:
    """One line: both medians with their ranges, and the ratio of the medians."""
    a, b = statistics.median(ours), statistics.median(theirs)
    return (
        f"  {name:<26} this {a:>8.0f} ({min(ours):.0f}-{max(ours):.0f})  "
        f"other {b:>8.0f} ({min(theirs):.0f}-{max(theirs):.0f})  ratio {a / b:.3f}"
    )


def main(other: str, sizes: List[int], rounds: int) -> None:
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; this: {HERE}, other: {other}")
    with tempfile.TemporaryDirectory() as tmp:
        schema = os.path.join(tmp, "schema.json")
        measure(ANONLINK + ["generate-default-schema", schema])
        for rows in sizes:
            generated, perturbed = write_inputs(tmp, rows, seed=1)
            for kind, pii in (("(a) generated", generated), ("(b) perturbed", perturbed)):
                figures: Dict[str, List[Tuple[float, float, float, float]]] = {"this": [], "other": []}
                outs = {"this": os.path.join(tmp, "this.json"), "other": os.path.join(tmp, "other.json")}
                for _ in range(rounds):
                    for side in ("this", "other", "other", "this"):
                        checkout = HERE if side == "this" else other
                        figures[side].append(run_side(checkout, pii, schema, outs[side]))
                print(f"\n{rows} rows, {kind}: rows/s, median (range) of {2 * rounds} runs each", flush=True)
                names = ["hash --workers 1 (wall)", "hash --workers 1 (CPU)", "ClkEncoder (wall)", "ClkEncoder (CPU)"]
                for i, name in enumerate(names):
                    print(summary(name, [f[i] for f in figures["this"]], [f[i] for f in figures["other"]]))
                print(f"  identical CLKs: {clk_list(outs['this']) == clk_list(outs['other'])}", flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = 2
    if "--rounds" in arguments:
        at = arguments.index("--rounds")
        count = int(arguments[at + 1])
        del arguments[at : at + 2]
    if not arguments:
        sys.exit(__doc__)
    main(arguments[0], [int(a) for a in arguments[1:]] or [100_000, 1_000_000], count)
