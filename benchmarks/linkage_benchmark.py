"""Local linkage on every core: comparisons per second and memory, against anonlink in one process.

Usage: python benchmarks/linkage_benchmark.py [--unblocked RECORDS] [--blocked RECORDS]
                                               [--workers N] [--data DIR]

Two parties are made and hashed (see two_parties.py): RECORDS each, linked
without blocking (default 2 x 50,000: 2.5 billion comparisons) and with
lambda-fold blocking on the CLKs (default 2 x 500,000). For each, on the same
CLKs, in one run:

* **anonlink**: ``anonlink.candidate_generation.find_candidate_pairs`` with
  ``anonlink.similarities.dice_coefficient``, in this process (the CLKs and blocks
  loaded first, the candidate generation alone timed);
* ``find-similarity --workers 1`` and ``--workers N`` (default: one per core), each
  as a command, measured by measure.py: wall time, peak summed RSS of the process
  tree, CPU time; its ``-v`` line gives the comparisons and their time, and each
  worker's CPU time.

Printed: comparisons per second of each, the speed ratio of ``--workers N`` to
anonlink (the target on 2 cores: at least 1.8), the ratio of their peak memory
(at most 1.3), the comparisons per CPU second of each (which a busy machine does
not change much), whether both commands wrote the same groups, and the load
average. On a machine shared with other work the wall-clock ratios understate
what the workers do; the CPU columns show it.
"""

import argparse
import json
import os
import re
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Tuple

from measure import Measured, measure_all
from two_parties import ANONLINK, CLK_BLOCKING_SCHEMA, make_parties

THRESHOLD = 0.8
COMPARED = re.compile(r"Compared ([\d,]+) pairs of records in ([\d.]+) seconds .*CPU seconds[a-z ]*: ([\d., ]+)\)")


def anonlinks_own(paths: Dict[str, str], blocked: bool) -> Tuple[int, float, float]:
    """anonlink's candidate generation in this process: (comparisons, wall seconds, CPU seconds)."""
    from anonlinkclient.linkage.similarity import comparison_count, load_party

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import anonlink

    parties = [load_party(paths[f"clks_{p}"], paths[f"clks_{p}"] + ".blocks" if blocked else None) for p in "ab"]
    blocking_f = None
    if blocked:

        def blocking_f(party: int, row: int, _clk: object) -> List[str]:
            return parties[party].blocks[row]  # type: ignore[index]

    wall, cpu = time.perf_counter(), time.process_time()
    anonlink.candidate_generation.find_candidate_pairs(
        [party.clks for party in parties], anonlink.similarities.dice_coefficient, THRESHOLD, blocking_f=blocking_f
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return comparison_count(parties), wall, cpu


def command(paths: Dict[str, str], blocked: bool, workers: Optional[int], out: str) -> Tuple[Measured, str]:
    """Run find-similarity; return what measure.py measured and its stderr."""
    parties = []
    for p in "ab":
        parties += (
            ["--files", paths[f"clks_{p}"], paths[f"clks_{p}"] + ".blocks"]
            if blocked
            else ["--clk", paths[f"clks_{p}"]]
        )
    args = ANONLINK + ["find-similarity", str(THRESHOLD), out, *parties, "-v", "-q"]
    if workers is not None:
        args += ["--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as stderr:
        measured = measure_all(args, stderr=stderr)
        stderr.seek(0)
        return measured, stderr.read()


def compared(stderr: str) -> Tuple[int, float, List[float]]:
    """(comparisons, seconds, CPU seconds of each worker or of the one process) from find-similarity's -v line."""
    found = COMPARED.search(stderr)
    assert found, stderr
    cpu = [float(value) for value in found.group(3).split(",")]
    return int(found.group(1).replace(",", "")), float(found.group(2)), cpu


def run(size: int, blocked: bool, workers: Optional[int], directory: str) -> None:
    paths = make_parties(size, directory)
    if blocked:
        schema = os.path.join(directory, "clk-blocking.json")
        with open(schema, "w") as handle:
            json.dump(CLK_BLOCKING_SCHEMA, handle)
        for p in "ab":
            if not os.path.exists(paths[f"clks_{p}"] + ".blocks"):
                measure_all(ANONLINK + ["block", paths[f"clks_{p}"], schema, paths[f"clks_{p}"] + ".blocks"],
                            stderr=open(os.devnull, "w"))  # fmt: skip
    name = f"2 x {size:,} {'lambda-fold' if blocked else 'unblocked'}"
    load = os.getloadavg()[0]
    comparisons, own_wall, own_cpu = anonlinks_own(paths, blocked)
    one, one_err = command(paths, blocked, 1, os.path.join(directory, "groups-1.json"))
    many, many_err = command(paths, blocked, workers, os.path.join(directory, "groups-n.json"))
    load = max(load, os.getloadavg()[0])
    one_n, one_seconds, (one_cpu,) = compared(one_err)
    many_n, many_seconds, worker_cpu = compared(many_err)
    assert one_n == many_n == comparisons, (one_n, many_n, comparisons)
    with (
        open(os.path.join(directory, "groups-1.json"), "rb") as a,
        open(os.path.join(directory, "groups-n.json"), "rb") as b,
    ):
        same = a.read() == b.read()
    own_rate, one_rate, many_rate = (comparisons / seconds / 1e6 for seconds in (own_wall, one_seconds, many_seconds))
    print(f"\n{name}: {comparisons:,} comparisons at threshold {THRESHOLD}; load average up to {load:.1f}")
    print(f"  {'':<28} {'M comparisons/s':>15} {'CPU s':>8} {'M/CPU s':>8} {'wall s':>8} {'peak MiB':>9}")
    print(f"  {'anonlink, one process':<28} {own_rate:>15.1f} {own_cpu:>8.1f} {comparisons / own_cpu / 1e6:>8.1f}")
    for label, rate, measured, cpu in (
        ("find-similarity --workers 1", one_rate, one, one_cpu),
        (f"find-similarity, {len(worker_cpu)} workers", many_rate, many, sum(worker_cpu)),
    ):
        print(f"  {label:<28} {rate:>15.1f} {cpu:>8.1f} {comparisons / cpu / 1e6:>8.1f} "
              f"{measured.seconds:>8.1f} {measured.peak_mib:>9.0f}")  # fmt: skip
    print(f"  workers' CPU seconds: {', '.join(f'{s:.1f}' for s in worker_cpu)}; "
          f"parent's: {many.parent_cpu_seconds:.1f} (all processes: {many.cpu_seconds:.1f})")  # fmt: skip
    print(f"  speed ratio, workers / anonlink: {many_rate / own_rate:.2f} (target on 2 cores: >= 1.8)")
    print(f"  memory ratio, workers / one process (summed RSS): {many.peak_mib / one.peak_mib:.2f} (target: <= 1.3)")
    print(f"  same groups, byte for byte: {'yes' if same else 'NO'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unblocked", type=int, default=50_000, help="records a party, unblocked (0: skip)")
    parser.add_argument("--blocked", type=int, default=500_000, help="records a party, blocked (0: skip)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--data", help="keep the generated data here and use it again")
    options = parser.parse_args()
    print(f"cores: {os.cpu_count()}  threshold: {THRESHOLD}")
    for size, blocked in ((options.unblocked, False), (options.blocked, True)):
        if not size:
            continue
        if options.data:
            directory = os.path.join(options.data, str(size))
            os.makedirs(directory, exist_ok=True)
            run(size, blocked, options.workers, directory)
        else:
            with tempfile.TemporaryDirectory() as directory:
                run(size, blocked, options.workers, directory)


if __name__ == "__main__":
    main()
