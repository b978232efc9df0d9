"""What the JSON limits cost: ``describe`` of a large CLK file, and reading its block file, with and without them.

Usage: python benchmarks/json_guard_benchmark.py [CLKS]   (default: 1000000)

Writes a CLK file of random 1024-bit CLKs and a block file (5 blocks per
record), then times, in this one process and alternately, what ``anonlink
describe`` does (every CLK read, decoded and counted) and a full read of the
block file: once as shipped (every chunk scanned by the JSON guard before ijson
sees it) and once with the guard taken out. Runs alternate, five of each; the
ratio of the medians (guarded / unguarded) is the guard's cost.
"""

import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

from clk_file_benchmark import write_inputs

import anonlinkclient.io.block_file as block_file
import anonlinkclient.io.clk_file as clk_file
from anonlinkclient.io.files import guarded
from anonlinkclient.report.describe import describe_clks

RUNS = 5


def unguarded(handle: Any) -> Any:
    return handle


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clk_path, block_path = write_inputs(tmp, count)
        print(
            f"{count} CLKs: CLK file {os.path.getsize(clk_path) / 2**20:.0f} MiB, "
            f"block file {os.path.getsize(block_path) / 2**20:.0f} MiB"
        )
        tasks: Dict[str, Callable[[], Any]] = {
            "describe (CLK file)": lambda: describe_clks(clk_file.iter_clks(clk_path), clk_path),
            "read the block file": lambda: sum(1 for _ in block_file.iter_block_entries(block_path)),
        }
        for name, task in tasks.items():
            seconds: Dict[str, List[float]] = {"guarded": [], "unguarded": []}
            for _ in range(RUNS):
                for label, wrapper in (("guarded", guarded), ("unguarded", unguarded)):
                    clk_file.guarded = block_file.guarded = wrapper  # type: ignore[assignment]
                    seconds[label].append(timed(task))
            clk_file.guarded = block_file.guarded = guarded  # type: ignore[assignment]
            with_guard, without = statistics.median(seconds["guarded"]), statistics.median(seconds["unguarded"])
            print(
                f"{name:<22} guarded {with_guard:6.2f} s  unguarded {without:6.2f} s  ratio {with_guard / without:.3f}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
