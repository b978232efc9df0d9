"""Local linkage speed and memory: ``anonlink find-similarity`` on two parties' data.

Usage: python benchmarks/linkage_benchmark.py [--unblocked] [RECORDS ...]   (default: 100000)

Two parties of RECORDS records each are made and hashed (see two_parties.py),
and blocked with lambda-fold on the CLKs. ``find-similarity`` then links them at
threshold 0.8 with blocking, and with --unblocked also without (every pair is
compared: RECORDS squared comparisons). Printed for each run: wall time, peak
memory of the process, the groups found, and precision and recall against the
people the two parties really share.
"""

import json
import os
import sys
import tempfile
from typing import Dict, List, Set, Tuple

from measure import measure
from two_parties import ANONLINK, CLK_BLOCKING_SCHEMA, make_parties, true_pairs

THRESHOLD = 0.8


def found_pairs(path: str) -> Set[Tuple[int, int]]:
    with open(path) as handle:
        groups = json.load(handle)["groups"]
    return {tuple(row for _party, row in sorted(group)) for group in groups}  # type: ignore[misc]


def main(sizes: List[int], unblocked: bool) -> None:
    print(f"cores: {os.cpu_count()}  threshold: {THRESHOLD}")
    print(f"{'records':>8} {'linkage':<10} {'seconds':>8} {'peak MiB':>9} {'groups':>8} {'precision':>9} {'recall':>7}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            paths: Dict[str, str] = make_parties(size, tmp)
            schema = os.path.join(tmp, "blocking.json")
            with open(schema, "w") as handle:
                json.dump(CLK_BLOCKING_SCHEMA, handle)
            for party in "ab":
                measure(ANONLINK + ["block", paths[f"clks_{party}"], schema, paths[f"clks_{party}"] + ".blocks"],
                        stderr=open(os.devnull, "w"))  # fmt: skip
            truth = true_pairs(paths)
            runs = {
                "blocked": ["--files", paths["clks_a"], paths["clks_a"] + ".blocks",
                            "--files", paths["clks_b"], paths["clks_b"] + ".blocks"],
                "unblocked": ["--clk", paths["clks_a"], "--clk", paths["clks_b"]],
            }  # fmt: skip
            for name, args in runs.items():
                if name == "unblocked" and not unblocked:
                    continue
                out = os.path.join(tmp, f"groups-{name}.json")
                command = ANONLINK + ["find-similarity", str(THRESHOLD), out, *args]
                seconds, peak = measure(command, stderr=open(os.devnull, "w"))
                found = found_pairs(out)
                correct = len(found & truth)
                print(
                    f"{size:>8} {name:<10} {seconds:>8.2f} {peak:>9.0f} {len(found):>8} "
                    f"{correct / max(len(found), 1):>9.4f} {correct / len(truth):>7.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main([int(a) for a in arguments if a != "--unblocked"] or [100_000], "--unblocked" in arguments)
