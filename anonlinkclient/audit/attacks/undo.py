"""What an attacker undoes of hardening before attacking, from the CLKs alone.

- A column (bit position) that is the same in every CLK tells nothing: the attacks
  leave it aside, and it is dropped when the CLKs are cut down anyway. (A randomised
  response seeded once for all records is such a fixed mask.)
- ``balance`` appends each filter's complement and permutes: every original column
  then has a partner that is its exact complement in every CLK. The pairs are found
  by comparing the columns, and of each pair the sparser column is kept (Bloom filter
  bits are mostly clear, so that is almost always the original, not the complement).

``permute`` needs no undoing: the attacks do not depend on the order of positions.
"""

from typing import Dict, List, Tuple

import numpy as np

from anonlinkclient.audit.attacks.bitsets import fingerprints
from anonlinkclient.audit.attacks.model import Encodings


def undo_hardening(encodings: Encodings) -> Tuple[Encodings, np.ndarray, List[str]]:
    """Drop one of each complementary pair (and then the constant columns too).

    :return: the CLKs cut down to the kept positions (the same CLKs if there is no
        pair), those positions (in the given CLKs), and one line per step saying what
        was undone.
    """
    columns = encodings.columns
    counts = columns.counts()
    constant = (counts == 0) | (counts == encodings.count)
    words = columns.columns
    direct = fingerprints(words)
    flipped = fingerprints(words, complement_within=columns.all)
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
    notes = []
    if constant.any():
        notes.append(f"{int(constant.sum())} positions are the same in every CLK: the attacks leave them aside")
    if not pairs:
        return encodings, np.arange(encodings.bits, dtype=np.int64), notes
    notes.append(
        f"paired {pairs} {'position' if pairs == 1 else 'positions'} with their complements (balance) "
        "and kept the sparser of each pair"
    )
    kept = np.flatnonzero(~dropped).astype(np.int64)
    return encodings.select(kept), kept, notes
