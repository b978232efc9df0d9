"""What each hardening step costs in ``anonlink hash`` time, against the unhardened schema, in one run.

Usage: python benchmarks/hardening_speed.py [ROWS] [--repeat N] [--write-docs]   (default 1000000 rows)

``anonlink generate ROWS`` records, with a year-of-birth column ``YOB`` added (for ``salt``),
are hashed with ``anonlink hash --workers 1`` (one process: no pool to share the machine
with) with the default linkage schema plus ``YOB``, and with each hardening step alone. The
commands run in turn, each ``--repeat`` times (default 2), interleaved, and the fastest run of
each counts. Reported: rows/s of the whole command (reading the CSV and writing the CLK file
included), its CPU seconds, and the ratio of CPU seconds to the unhardened schema's: on a
shared machine CPU time says more than wall time, and the ratio measured in one run is what
counts.

With ``--write-docs`` the table also goes to docs/hardening-speed.inc (docs/hardening.rst shows it).
"""

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hardening_benchmark import DEFAULT_SCHEMA, OPTIONS, YOB, add_year_of_birth, run, table
from measure import Measured, measure_all

ROOT = Path(__file__).resolve().parent.parent
ANONLINK = [sys.executable, "-m", "anonlinkclient"]
#: The single steps (and xorFolds): every option of the quality benchmark that is not a chain.
SINGLE = [(name, changes) for name, changes in OPTIONS if "+" not in name]


def main(rows: int, repeat: int, write_docs: bool) -> None:
    base: Dict[str, Any] = json.loads(DEFAULT_SCHEMA.read_text())
    base["features"].append(YOB)
    print(f"cores: {os.cpu_count()}; {rows:,} rows; hash --workers 1; best of {repeat}", flush=True)
    best: Dict[str, Measured] = {}
    with tempfile.TemporaryDirectory() as work:
        pii = os.path.join(work, "pii.csv")
        run("generate", str(rows), pii, "--seed", "1")
        add_year_of_birth(pii)
        schemas: List[Tuple[str, str]] = []
        for index, (name, changes) in enumerate(SINGLE):
            schema = copy.deepcopy(base)
            schema["clkConfig"].update(copy.deepcopy(changes))
            path = os.path.join(work, f"schema-{index}.json")
            with open(path, "w") as handle:
                json.dump(schema, handle)
            schemas.append((name, path))
        out = os.path.join(work, "clks.json")
        for _ in range(repeat):
            for name, path in schemas:
                with open(os.devnull, "w") as quiet:
                    measured = measure_all(
                        ANONLINK + ["hash", pii, "horse", path, out, "--workers", "1"], stderr=quiet, stdout=quiet
                    )
                if name not in best or measured.cpu_seconds < best[name].cpu_seconds:
                    best[name] = measured
                print(f"  {name:<40} {measured.seconds:7.1f} s wall  {measured.cpu_seconds:7.1f} s CPU", flush=True)
    reference = best["unhardened"]
    header = ["option", "rows/s", "CPU seconds", "CPU time vs unhardened"]
    lines = [header]
    for name, _ in SINGLE:
        measured = best[name]
        ratio = measured.cpu_seconds / reference.cpu_seconds
        lines.append([name, f"{rows / measured.seconds:,.0f}", f"{measured.cpu_seconds:.1f}", f"{ratio - 1:+.0%}"])
    text = table(lines)
    print()
    print(text)
    if write_docs:
        (ROOT / "docs" / "hardening-speed.inc").write_text(
            f"{rows:,} records, ``hash --workers 1``, best of {repeat} runs each, on a shared machine "
            f"({os.cpu_count()} cores).\n\n" + text
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    arguments = parser.parse_args()
    main(arguments.rows, arguments.repeat, arguments.write_docs)
