"""How close the threshold estimate (from the scores alone) comes to the truth, on linkages with a ground truth.

Usage: python benchmarks/estimate_accuracy.py [--quick] [TABLE_FILE]

Makes each linkage as a user would (``anonlink generate --linked --truth``,
``hash`` with the default schema, ``find-similarity --scores`` at 0.7; and
pairs of the tutorial's NCVR parties, whose ground truth is the shared
``recid``), estimates precision, recall and F-measure from the scores alone,
and compares with the truth the threshold report computes with ``--truth``
(same definitions). Prints one row per linkage: the estimated best threshold,
the true F-measure there, the best true F-measure (and its threshold), and the
estimated and true precision and recall at the estimated threshold. The table
in docs/threshold-estimate.rst is this script's output (``--quick``: only the
data sets the tests use). With TABLE_FILE the table is also written there, as
reStructuredText.
"""

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anonlinkclient.io.scores_file import read_scores  # noqa: E402
from anonlinkclient.io.truth_file import read_truth  # noqa: E402
from anonlinkclient.report.analysis import ThresholdAnalysis  # noqa: E402
from anonlinkclient.report.estimate import estimate_scores  # noqa: E402

ANONLINK = [sys.executable, "-m", "anonlinkclient"]
TUTORIAL_DATA = ROOT / "docs" / "tutorial" / "data"
SCORES_THRESHOLD = "0.7"
SECRET = "a demo secret for the estimate"

#: (records a party, overlap, seed) of the demo linkages; the first four are those of the tests.
DEMO_QUICK = [(2000, overlap, 1) for overlap in (0.1, 0.5, 0.9, 1.0)]
DEMO = (
    DEMO_QUICK
    + [(2000, overlap, seed) for seed in (2, 3) for overlap in (0.1, 0.5, 0.9, 1.0)]
    + [(1000, overlap, seed) for seed in (1, 2, 3) for overlap in (0.1, 0.5, 0.9, 1.0)]
    + [(1000, 0.1, seed) for seed in range(4, 10)]
    + [(10000, overlap, 1) for overlap in (0.1, 0.5, 0.9, 1.0)]
    + [(1000, 0.05, 1), (1000, 0.0, 1)]
)
NCVR_QUICK = [(20, (0, 1)), (20, (0, 2)), (20, (1, 2)), (0, (0, 1))]
NCVR = NCVR_QUICK + [(0, (0, 2)), (0, (1, 2))]


def anonlink(*args: object) -> None:
    """Run one anonlink command; stop with its message if it fails."""
    done = subprocess.run([*ANONLINK, *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"anonlink {' '.join(map(str, args))} failed: {done.stderr.strip()}")


def link(directory: Path, a: Path, b: Path) -> Path:
    scores = directory / "scores.json"
    anonlink("find-similarity", "--quiet", SCORES_THRESHOLD, directory / "groups.json", "--clk", a, "--clk", b,
             "--scores", scores)  # fmt: skip
    return scores


def demo(directory: Path, size: int, overlap: float, seed: int) -> Tuple[Path, Path, Tuple[int, int]]:
    a, b, truth, schema = (directory / name for name in ("a.csv", "b.csv", "truth.csv", "schema.json"))
    anonlink("generate", size, a, "--linked", b, "--overlap", overlap, "--truth", truth, "--seed", seed)
    anonlink("generate-default-schema", schema)
    for party in (a, b):
        anonlink("hash", "--quiet", party, SECRET, schema, party.with_suffix(".json"))
    return link(directory, a.with_suffix(".json"), b.with_suffix(".json")), truth, (size, size)


def ncvr(directory: Path, corruption: int, parties: Tuple[int, int]) -> Tuple[Path, Path, Tuple[int, int]]:
    clks, recids = [], []
    for party in parties:
        source = TUTORIAL_DATA / f"ncvr_numrec_5000_modrec_2_ocp_{corruption}_myp_{party}_nump_10.csv"
        clk = directory / f"party{party}.json"
        anonlink("hash", "--quiet", "--check-header", "false", source, SECRET, TUTORIAL_DATA / "novt_schema.json", clk)
        clks.append(clk)
        with open(source, newline="", encoding="utf-8") as handle:
            recids.append([row["recid"] for row in csv.DictReader(handle)])
    position = {recid: row for row, recid in enumerate(recids[1])}
    truth = directory / "truth.csv"
    pairs = [f"{row},{position[recid]}\n" for row, recid in enumerate(recids[0]) if recid in position]
    truth.write_text("row_a,row_b\n" + "".join(pairs), encoding="utf-8")
    return link(directory, clks[0], clks[1]), truth, (len(recids[0]), len(recids[1]))


def measure(name: str, scores_path: Path, truth_path: Path, records: Tuple[int, int]) -> List[str]:
    """One row of the table."""
    scores = read_scores(str(scores_path))
    started = time.perf_counter()
    found = estimate_scores(scores, records)
    seconds = time.perf_counter() - started
    truth = ThresholdAnalysis(scores, read_truth(str(truth_path)), records)
    best = truth.best()
    assert best is not None and best.result.f_measure is not None
    if found.best is None:
        return [name, f"{len(scores):,}", "none", "", "", f"{best.result.f_measure:.3f} at {best.threshold:g}",
                "", "", (found.reason or "").split(": ")[-1], f"{seconds:.1f}"]  # fmt: skip
    at = truth.at(found.best.threshold)
    assert at.f_measure is not None and at.precision is not None and at.recall is not None
    assert found.best.precision is not None
    miss = best.result.f_measure - at.f_measure
    off = found.best.precision - at.precision
    flag = "" if miss <= 0.02 and abs(off) <= 0.05 else " (!)"
    return [
        name,
        f"{len(scores):,}",
        f"{found.best.threshold:g}",
        f"{at.f_measure:.3f}",
        f"{miss:.3f}{flag}",
        f"{best.result.f_measure:.3f} at {best.threshold:g}",
        f"{found.best.precision:.3f} / {at.precision:.3f}",
        f"{found.best.recall:.3f} / {at.recall:.3f}",
        f"{found.best.f_measure:.3f} [{found.best.bands['f_measure'][0]:.3f}, {found.best.bands['f_measure'][1]:.3f}]",
        f"{seconds:.1f}",
    ]


HEADER = [
    "linkage",
    "pairs",
    "estimated best threshold",
    "true F there",
    "short of best",
    "best true F",
    "precision est. / true",
    "recall est. / true",
    "estimated F [band]",
    "seconds",
]


def rst_table(rows: List[List[str]]) -> str:
    """``rows`` as a reStructuredText grid table."""
    table = [HEADER, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(HEADER))]
    line = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    head = line.replace("-", "=")

    def cells(row: List[str]) -> str:
        return "|" + "|".join(f" {cell:<{width}} " for cell, width in zip(row, widths)) + "|"

    return "\n".join([line, cells(HEADER), head, *(cells(row) + "\n" + line for row in rows)]) + "\n"


def main(argv: List[str]) -> None:
    quick = "--quick" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    table_file: Optional[str] = paths[0] if paths else None
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size, overlap, seed in DEMO_QUICK if quick else DEMO:
            directory = Path(work) / f"demo-{size}-{overlap}-{seed}"
            directory.mkdir()
            name = f"demo {size:,} overlap {overlap:g} seed {seed}"
            scores, truth, records = demo(directory, size, overlap, seed)
            if overlap:
                rows.append(measure(name, scores, truth, records))
            else:  # no person in common (and no ground truth): the estimate must decline
                found = estimate_scores(read_scores(str(scores)), records)
                why = (found.reason or "").split(": ")[-1]
                rows.append([name, f"{len(read_scores(str(scores))):,}", "none", "", "", "", "", "", why, ""])
            print(" | ".join(rows[-1]), flush=True)
        for corruption, parties in NCVR_QUICK if quick else NCVR:
            directory = Path(work) / f"ncvr-{corruption}-{parties[0]}{parties[1]}"
            directory.mkdir()
            name = f"NCVR {corruption}% corrupted, parties {parties[0]}-{parties[1]}"
            rows.append(measure(name, *ncvr(directory, corruption, parties)))
            print(" | ".join(rows[-1]), flush=True)
    table = rst_table(rows)
    print(table)
    if table_file:
        Path(table_file).write_text(table, encoding="utf-8")
    print(f"(scores computed at {SCORES_THRESHOLD}; machine shared, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main(sys.argv[1:])
