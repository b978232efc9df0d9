"""Linkages with a ground truth to measure the threshold estimate on, made as a user makes them.

Demo data: ``anonlink generate N a.csv --linked b.csv --overlap X --truth t.csv
--seed S``, both parties hashed with the schema of ``generate-default-schema``
and linked with ``find-similarity --scores`` at a threshold below the top of the
non-matches. NCVR data: two parties of the tutorial's North Carolina voter
records (``docs/tutorial/data``, schema ``novt_schema.json``), hashed and linked
the same way; records with the same ``recid`` are the same person.
"""

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

from tests.helpers import TUTORIAL_DATA, run_cli

#: find-similarity keeps pairs at least this similar: the top of the non-matches and below.
SCORES_THRESHOLD = 0.7
SECRET = "a demo secret for the estimate"


@dataclass
class LinkedData:
    """A scores file with its ground truth and the parties' numbers of records."""

    name: str
    scores: Path
    truth: Path
    records: Tuple[int, int]


def _ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.stderr


def _link(directory: Path, a: Path, b: Path) -> Path:
    scores = directory / "scores.json"
    _ok(
        run_cli(
            "find-similarity",
            "--quiet",
            SCORES_THRESHOLD,
            directory / "groups.json",
            "--clk",
            a,
            "--clk",
            b,
            "--scores",
            scores,
        )
    )
    return scores


def demo_linkage(directory: Path, size: int, overlap: float, seed: int) -> LinkedData:
    """Generate, hash and link two demo parties of ``size`` records sharing ``overlap`` of their people."""
    directory.mkdir(parents=True, exist_ok=True)
    a_csv, b_csv, truth = directory / "a.csv", directory / "b.csv", directory / "truth.csv"
    _ok(run_cli("generate", size, a_csv, "--linked", b_csv, "--overlap", overlap, "--truth", truth, "--seed", seed))
    schema = directory / "schema.json"
    _ok(run_cli("generate-default-schema", schema))
    for csv_file in (a_csv, b_csv):
        _ok(run_cli("hash", "--quiet", csv_file, SECRET, schema, csv_file.with_suffix(".json")))
    scores = _link(directory, a_csv.with_suffix(".json"), b_csv.with_suffix(".json"))
    return LinkedData(f"demo {size} overlap {overlap} seed {seed}", scores, truth, (size, size))


def ncvr_file(corruption: int, party: int) -> Path:
    """One party of the tutorial's NCVR records (``corruption``: 0 or 20 percent of records changed)."""
    return TUTORIAL_DATA / f"ncvr_numrec_5000_modrec_2_ocp_{corruption}_myp_{party}_nump_10.csv"


def ncvr_linkage(directory: Path, corruption: int, parties: Tuple[int, int]) -> LinkedData:
    """Hash and link two parties of the NCVR data; the ground truth pairs the rows of equal ``recid``."""
    directory.mkdir(parents=True, exist_ok=True)
    clks = []
    rows = []
    for party in parties:
        source = ncvr_file(corruption, party)
        clk = directory / f"party{party}.json"
        # the uncorrupted files name their columns firstname/lastname, the schema givenname/surname
        _ok(
            run_cli(
                "hash", "--quiet", "--check-header", "false", source, SECRET, TUTORIAL_DATA / "novt_schema.json", clk
            )
        )
        clks.append(clk)
        with open(source, newline="", encoding="utf-8") as handle:
            rows.append([row["recid"] for row in csv.DictReader(handle)])
    scores = _link(directory, clks[0], clks[1])
    position = {recid: row for row, recid in enumerate(rows[1])}
    truth = directory / "truth.csv"
    truth.write_text(
        "row_a,row_b\n"
        + "".join(f"{row},{position[recid]}\n" for row, recid in enumerate(rows[0]) if recid in position),
        encoding="utf-8",
    )
    return LinkedData(
        f"NCVR {corruption}% corrupted, parties {parties[0]} and {parties[1]}",
        scores,
        truth,
        (len(rows[0]), len(rows[1])),
    )
