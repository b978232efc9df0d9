"""Hashing speed and memory: ``anonlink hash`` against ``clkhash.clk.generate_clk_from_csv``.

Usage: python benchmarks/hash_benchmark.py [ROWS ...]   (default: 100000 1000000)

The data comes from ``anonlink generate`` (names and ages drawn from census
distributions), not copies of a few rows, since clkhash caches tokens and
repeated rows would flatter any encoder. Both encoders use every core and write
a CLK JSON file. Peak memory is the sum over all processes of each run.
"""

import os
import sys
import tempfile

from measure import measure

CLKHASH_SCRIPT = """
import json, sys
from clkhash import clk, schema
with open(sys.argv[2]) as f:
    s = schema.from_json_file(f)
with open(sys.argv[1]) as f:
    clks = clk.generate_clk_from_csv(f, "secret", s, progress_bar=False)
from clkhash.serialization import serialize_bitarray
with open(sys.argv[3], "w") as out:
    json.dump({"clks": [serialize_bitarray(c) for c in clks]}, out)
"""


def main(sizes: list) -> None:
    anonlink = [sys.executable, "-m", "anonlinkclient"]
    print(f"cores: {os.cpu_count()}")
    print(f"{'rows':>9} {'encoder':<28} {'seconds':>8} {'rows/s':>8} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        schema = os.path.join(tmp, "schema.json")
        measure(anonlink + ["generate-default-schema", schema])
        for rows in sizes:
            pii = os.path.join(tmp, f"pii-{rows}.csv")
            measure(anonlink + ["generate", str(rows), pii])
            runs = {
                "anonlink hash": anonlink + ["hash", pii, "secret", schema, os.path.join(tmp, "a.json")],
                "clkhash generate_clk_from_csv": [
                    sys.executable,
                    "-c",
                    CLKHASH_SCRIPT,
                    pii,
                    schema,
                    os.path.join(tmp, "b.json"),
                ],
            }
            for name, command in runs.items():
                seconds, peak = measure(command, stderr=open(os.devnull, "w"))
                print(f"{rows:>9} {name:<28} {seconds:>8.1f} {rows / seconds:>8.0f} {peak:>9.0f}", flush=True)
            same = open(os.path.join(tmp, "a.json")).read() == open(os.path.join(tmp, "b.json")).read()
            print(f"{'':>9} identical output: {same}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
