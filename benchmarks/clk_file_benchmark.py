"""Memory and time of reading large CLK files: ``describe`` and ``combine_clks_blocks``.

Usage: python benchmarks/clk_file_benchmark.py [CLKS]   (default: 1000000)

Writes a CLK file of random 1024-bit CLKs and a block file (each record in 5
blocks, as lambda-fold makes), then measures ``anonlink describe`` and
combining the two into the ``clknblocks`` upload form. Both stream, so peak
memory should not depend on the number of CLKs.
"""

import base64
import json
import os
import random
import sys
import tempfile

from measure import measure

COMBINE = """
import sys
from anonlinkclient.utils import combine_clks_blocks
with open(sys.argv[1], "rb") as c, open(sys.argv[2], "rb") as b:
    combined = combine_clks_blocks(c, b)
    size = combined.seek(0, 2)
print(size)
"""


def write_inputs(directory: str, count: int) -> tuple:
    rng = random.Random(0)
    clk_path, block_path = os.path.join(directory, "clks.json"), os.path.join(directory, "blocks.json")
    with open(clk_path, "w") as out:
        out.write('{"clks": [')
        for i in range(count):
            out.write((", " if i else "") + '"' + base64.b64encode(rng.randbytes(128)).decode() + '"')
        out.write("]}")
    with open(block_path, "w") as out:
        out.write('{"blocks": {')
        for i in range(count):
            blocks = [f"{g}_{rng.getrandbits(10):010b}" for g in range(5)]
            out.write((", " if i else "") + f'"{i}": ' + json.dumps(blocks))
        out.write('}, "meta": {"source": {"clk_count": [' + str(count) + "]}}}")
    return clk_path, block_path


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clk_path, block_path = write_inputs(tmp, count)
        print(
            f"{count} CLKs: CLK file {os.path.getsize(clk_path) / 2**20:.0f} MiB, "
            f"block file {os.path.getsize(block_path) / 2**20:.0f} MiB"
        )
        runs = {
            "anonlink describe": [sys.executable, "-m", "anonlinkclient", "describe", clk_path],
            "combine_clks_blocks": [sys.executable, "-c", COMBINE, clk_path, block_path],
        }
        for name, command in runs.items():
            seconds, peak = measure(command, stdout=open(os.devnull, "w"))
            print(f"{name:<22} {seconds:>7.1f} s  peak {peak:>6.0f} MiB", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
