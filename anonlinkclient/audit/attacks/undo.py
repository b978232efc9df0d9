"""What an attacker undoes of hardening before attacking, from the CLKs alone.

- A column (bit position) that is the same in every CLK tells nothing: it is dropped.
  (A randomised response seeded once for all records is such a fixed mask.)
- ``balance`` appends each filter's complement and permutes: every original column
  then has a partner that is its exact complement in every CLK. The pairs are found
  by comparing the columns, and of each pair the sparser column is kept (Bloom filter
  bits are mostly clear, so that is almost always the original, not the complement).

``permute`` needs no undoing: the attacks do not depend on the order of positions.
"""

from typing import Dict, List, Tuple

import numpy as np

from anonlinkclient.audit.attacks.model import Encodings


def _fingerprints(columns: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each row of ``columns`` (equal rows, equal fingerprints)."""
    out = np.zeros(len(columns), dtype=np.uint64)
    for start in range(0, len(columns), 64):
        block = columns[start : start + 64]
        with np.errstate(over="ignore"):
            out[start : start + 64] = (block * multipliers).sum(axis=1, dtype=np.uint64) ^ block.sum(
                axis=1, dtype=np.uint64
            )
    return out


def undo_hardening(encodings: Encodings) -> Tuple[Encodings, np.ndarray, List[str]]:
    """Drop constant columns and one of each complementary pair.

    :return: the CLKs cut down to the kept positions, those positions (in the given
        CLKs), and one line per step saying what was undone.
    """
    columns = encodings.columns()
    counts = columns.counts()
    constant = (counts == 0) | (counts == encodings.count)
    words = columns.columns
    generator = np.random.default_rng(0x5EED)
    multipliers = generator.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    direct = _fingerprints(words, multipliers)
    flipped = _fingerprints(~words & columns.all, multipliers)
    first: Dict[int, int] = {}
    for position in np.flatnonzero(~constant).tolist():
        first.setdefault(int(direct[position]), position)
    dropped = constant.copy()
    pairs = 0
    for position in np.flatnonzero(~constant).tolist():
        if dropped[position]:
            continue
        partner = first.get(int(flipped[position]))
        if partner is None or partner == position or dropped[partner]:
            continue
        if not np.array_equal(words[partner], ~words[position] & columns.all):
            continue
        pairs += 1
        dropped[position if counts[position] > counts[partner] else partner] = True
    kept = np.flatnonzero(~dropped).astype(np.int64)
    notes = []
    if constant.any():
        notes.append(f"dropped {int(constant.sum())} positions that are the same in every CLK")
    if pairs:
        notes.append(f"paired {pairs} positions with their complements (balance) and kept the sparser of each pair")
    if not notes:
        return encodings, kept, notes
    return encodings.select(kept), kept, notes
