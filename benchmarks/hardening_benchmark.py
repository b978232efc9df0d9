"""The price of each hardening option in linkage quality, measured on the demo data.

Usage: python benchmarks/hardening_benchmark.py [--seed N] [--records N] [--write-docs]

Two parties are made with ``anonlink generate N a.csv --linked b.csv --overlap 0.5 --truth
t.csv --seed SEED`` (10,000 records each by default); a year-of-birth column ``YOB`` is added
to both, taken from each record's date of birth (so the linked party's errors in dates are
errors in the salt too). The linkage schema is the default one (``generate-default-schema``)
plus ``YOB``, hashed with one bit per token. For the unhardened schema, every hardening step
alone and three recommended chains, each party is hashed (``anonlink hash``) and the two are
linked (``anonlink find-similarity --scores``, from a candidate threshold above 99.95% of the
scores of random pairs); ``anonlink threshold-report --truth`` then gives the best threshold
and the precision, recall and F-measure there.

Prints the table; with ``--write-docs`` also writes it to docs/hardening-quality.inc (the
table docs/hardening.rst shows).
"""

import argparse
import copy
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from anonlinkclient.io.clk_file import iter_clks

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = ROOT / "anonlinkclient" / "synthetic" / "data" / "default-linkage-schema.json"
ANONLINK = [sys.executable, "-m", "anonlinkclient"]
NAME, DOB = "NAME freetext", "DOB YYYY/MM/DD"
YOB = {
    "identifier": "YOB",
    "format": {"type": "integer", "minimum": 0, "maximum": 9999},
    "hashing": {
        "comparison": {"type": "exact"},
        "strategy": {"bitsPerToken": 1},
        "hash": {"type": "doubleHash"},
        "missingValue": {"sentinel": ""},
    },
}
SALT = {"type": "salt", "saltFeature": "YOB", "features": [NAME]}
RANDOMIZED = {"type": "randomizedResponse", "probability": 0.05, "seedFeatures": [NAME, DOB]}

#: (name, clkConfig changes): the unhardened schema, each step alone, three recommended chains.
OPTIONS: List[Tuple[str, Dict[str, Any]]] = [
    ("unhardened", {}),
    ("xorFolds: 1", {"xorFolds": 1}),
    ("salt (NAME by YOB)", {"hardening": [SALT]}),
    ("permute", {"hardening": [{"type": "permute"}]}),
    ("balance", {"hardening": [{"type": "balance"}]}),
    ("xorFold (folds 1)", {"hardening": [{"type": "xorFold", "folds": 1}]}),
    ("rule90 (1 iteration)", {"hardening": [{"type": "rule90"}]}),
    ("rehash (window 8, step 4, bits 2)", {"hardening": [{"type": "rehash", "window": 8, "step": 4, "bits": 2}]}),
    ("randomizedResponse (p 0.05)", {"hardening": [RANDOMIZED]}),
    ("salt + balance", {"hardening": [SALT, {"type": "balance"}]}),
    ("rule90 + xorFold", {"hardening": [{"type": "rule90"}, {"type": "xorFold", "folds": 1}]}),
    ("randomizedResponse (p 0.05) + permute", {"hardening": [RANDOMIZED, {"type": "permute"}]}),
]

BEST = re.compile(
    r"Best threshold ([0-9.]+): F-measure ([0-9.]+), precision ([0-9.]+), recall ([0-9.]+) \(([0-9,]+) links"
)


def run(*arguments: str) -> str:
    """Run ``anonlink`` with ``arguments``; its stdout, then its stderr (raises if it fails)."""
    done = subprocess.run(ANONLINK + list(arguments), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"anonlink {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done.stdout + done.stderr


def add_year_of_birth(path: str) -> None:
    """Add a ``YOB`` column: the year of the record's date of birth (empty if it has none)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0] + ["YOB"])
        at = rows[0].index(DOB)
        for row in rows[1:]:
            writer.writerow(row + [row[at][:4] if row[at][:4].isdigit() else ""])


def bit_rows(path: str) -> np.ndarray:
    """The CLKs of a file as rows of bits."""
    clks = list(iter_clks(path))
    data = np.frombuffer(b"".join(clks), dtype=np.uint8).reshape(len(clks), -1)
    return np.unpackbits(data, axis=1)


def candidate_threshold(a: str, b: str, seed: int) -> float:
    """A threshold above 99.95% of the Dice scores of random pairs (so the scores stay few)."""
    rng = np.random.default_rng(seed)
    first, second = bit_rows(a), bit_rows(b)
    i, j = rng.integers(0, len(first), 200_000), rng.integers(0, len(second), 200_000)
    x, y = first[i].astype(np.int32), second[j].astype(np.int32)
    total = x.sum(axis=1) + y.sum(axis=1)
    dice = np.where(total > 0, 2 * (x & y).sum(axis=1) / np.maximum(total, 1), 0.0)
    return float(np.floor(np.quantile(dice, 0.9995) * 1000) / 1000)


def measure_option(work: str, schema: Dict[str, Any], seed: int) -> Tuple[int, float, str]:
    """Hash both parties with ``schema``, link them, and read the best threshold: (CLK bits, threshold, best line)."""
    schema_path = os.path.join(work, "schema.json")
    with open(schema_path, "w") as handle:
        json.dump(schema, handle)
    for party in ("a", "b"):
        run("hash", os.path.join(work, f"{party}.csv"), "horse", schema_path, os.path.join(work, f"{party}.json"))
    a, b = os.path.join(work, "a.json"), os.path.join(work, "b.json")
    bits = bit_rows(a).shape[1]
    threshold = candidate_threshold(a, b, seed)
    scores = os.path.join(work, "scores.json")
    run(
        "find-similarity",
        str(threshold),
        os.path.join(work, "groups.json"),
        "--clk",
        a,
        "--clk",
        b,
        "--scores",
        scores,
        "-q",
    )
    report = run(
        "threshold-report", scores, os.path.join(work, "report.html"), "--truth", os.path.join(work, "truth.csv")
    )
    return bits, threshold, report


def table(rows: List[List[str]]) -> str:
    """An RST simple table."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths)).rstrip(), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows[1:]]
    return "\n".join(lines + [rule]) + "\n"


def main(seed: int, records: int, write_docs: bool) -> None:
    base = json.loads(DEFAULT_SCHEMA.read_text())
    base["features"].append(YOB)
    header = ["option", "CLK bits", "best threshold", "precision", "recall", "F-measure"]
    rows = [header]
    with tempfile.TemporaryDirectory() as work:
        run(
            "generate",
            str(records),
            os.path.join(work, "a.csv"),
            "--linked",
            os.path.join(work, "b.csv"),
            "--overlap",
            "0.5",
            "--truth",
            os.path.join(work, "truth.csv"),
            "--seed",
            str(seed),
        )
        for party in ("a", "b"):
            add_year_of_birth(os.path.join(work, f"{party}.csv"))
        print(f"{records} records a party, seed {seed}; candidates above 99.95% of random pairs' scores", flush=True)
        for name, changes in OPTIONS:
            schema = copy.deepcopy(base)
            schema["clkConfig"].update(copy.deepcopy(changes))
            bits, candidates, report = measure_option(work, schema, seed)
            found: Optional[re.Match[str]] = BEST.search(report)
            if found is None:
                raise RuntimeError(f"{name}: no best threshold in {report!r}")
            threshold, f_measure, precision, recall = (float(found.group(i)) for i in range(1, 5))
            rows.append([name, str(bits), f"{threshold:.3f}", f"{precision:.3f}", f"{recall:.3f}", f"{f_measure:.3f}"])
            print(f"  {name:<40} {bits:>5} bits  candidates >= {candidates:.3f}  {found.group(0)}", flush=True)
    text = table(rows)
    print()
    print(text)
    if write_docs:
        (ROOT / "docs" / "hardening-quality.inc").write_text(
            f"{records:,} records a party (``--seed {seed}``), secret ``horse``.\n\n" + text
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--write-docs", action="store_true")
    arguments = parser.parse_args()
    main(arguments.seed, arguments.records, arguments.write_docs)
