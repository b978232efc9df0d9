"""Hardened CLKs (issue 18's steps, made by the encoder with their keys), audited.

What an attacker can undo is undone (``permute`` needs nothing; ``balance``'s complements
are paired), and then the audit finds exactly what it finds unhardened: the same guesses,
the same re-identifications, and the same position figures, scored through the step's
keyed permutation. Where a step leaves a q-gram no positions of its own, the position
figures are not scored, and the audit says so.
"""

from typing import Dict, List, Optional

import numpy as np
import pytest

from anonlinkclient.audit.page import AuditReport
from anonlinkclient.audit.scoring import position_map
from anonlinkclient.encoding.parallel import derive_step_keys
from anonlinkclient.encoding.post_steps import plan
from anonlinkclient.encoding.schema_checks import hash_bits
from tests.audit import planted
from tests.audit.planted import figures

YEAR = {
    "identifier": "year",
    "format": {"type": "integer", "minimum": 1900, "maximum": 2100},
    "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 1}, "hash": {"type": "doubleHash"}},
}


def _audit(hardening: Optional[List[Dict]], records: int = 12_000) -> planted.AuditResult:
    schema = planted.schema(planted.feature("first name"), YEAR, hardening=hardening)
    names = planted.first_names(records)
    rows = [[name, str(1950 + i % 40)] for i, name in enumerate(names)]
    return planted.audit(schema, rows)


@pytest.fixture(scope="module")
def unhardened() -> planted.AuditResult:
    return _audit(None)


@pytest.mark.parametrize(
    "steps", [[{"type": "permute"}], [{"type": "balance"}], [{"type": "permute"}, {"type": "balance"}]]
)
def test_permute_and_balance_after_undoing_audit_as_unhardened(unhardened: planted.AuditResult, steps: List) -> None:
    hardened = _audit(steps)
    assert hardened.figures == unhardened.figures
    mined = figures(hardened, "pattern-mining", "first name")
    assert mined.qgrams_identified >= 10 and mined.position_precision is not None and mined.position_precision >= 0.95
    undone = [line for attack, _, line in hardened.notes if attack == "all"]
    if any(step["type"] == "balance" for step in steps):
        assert hardened.clk_bits == 2048
        assert any(line.startswith("paired ") and "(balance)" in line for line in undone)
    assert not [line for line in undone if "not scored" in line]


def test_after_rule90_the_positions_are_not_scored_and_the_report_says_why() -> None:
    result = _audit([{"type": "rule90"}])
    rows = AuditReport(result).figures_table().rows
    unscored = [row for row in rows if row[2] != "0"]
    assert unscored and all(row[3:5] == ["not scored", "not scored"] for row in unscored)
    assert all(f.position_precision is None and f.position_recall is None for f in result.figures)
    assert (
        "all",
        "all",
        "position precision and recall are not scored: after rule90 a q-gram has no bit "
        "positions of its own in the CLK",
    ) in result.notes
    assert result.census.progressions == 0


def test_a_salted_feature_is_not_scored_by_position_and_gives_less_away(unhardened: planted.AuditResult) -> None:
    result = _audit([{"type": "salt", "saltFeature": "year", "features": ["first name"]}])
    assert (
        "all",
        "all",
        "position precision and recall are not scored: it is salted: its q-grams set other "
        "bit positions under every salt",
    ) in result.notes
    mined, plain = figures(result, "pattern-mining", "first name"), figures(unhardened, "pattern-mining", "first name")
    assert plain.correct > 0.1 * result.records and mined.correct < 0.1 * plain.correct
    assert figures(result, "frequency", "first name").correct == 0


def test_the_true_positions_follow_each_step_as_the_encoder_moves_the_bits() -> None:
    """position_map against the encoder: every position of the hashed filter is found where the map says
    (after folding, with the value folding gives it; after balance, uncomplemented)."""
    unigrams = planted.feature("letter", n=1, k=20)
    (clean,) = planted.encode(planted.schema(unigrams, l=256), [["q"]]).unpacked()
    folded = clean[:128] ^ clean[128:]
    for steps, filtered in (
        ([{"type": "permute"}], clean),
        ([{"type": "randomizedResponse", "probability": 0.01, "seedFeatures": ["letter"]}, {"type": "permute"}], None),
        ([{"type": "xorFold", "folds": 1}, {"type": "balance"}], np.concatenate([folded, folded])),
    ):
        hardened = planted.schema(unigrams, l=256, hardening=steps)
        where, scattered_by = position_map(
            plan(hardened, derive_step_keys(planted.SECRET, hardened)), hash_bits(hardened)
        )
        assert where is not None and scattered_by is None
        (bits,) = planted.encode(hardened, [["q"]]).unpacked()
        if filtered is None:  # noise: most positions keep their value
            assert (bits[where] == clean).mean() > 0.95
        else:
            assert np.array_equal(bits[where], filtered)
    rule90 = planted.schema(unigrams, l=256, hardening=[{"type": "rule90"}])
    assert position_map(plan(rule90, derive_step_keys(planted.SECRET, rule90)), 256) == (None, "rule90")
