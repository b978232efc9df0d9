"""The frequency alignment attack (Christen, Schnell, Vatsalan and Ranbaduge, PAKDD 2017).

"Efficient cryptanalysis of Bloom filters for privacy-preserving record linkage",
implemented from the paper's description:

1. Count identical CLKs and identical values of the list, and sort both by
   frequency. The CLK of rank ``i`` is aligned with the value of rank ``i`` where
   the ranks are unambiguous: both occur at least :attr:`FrequencySettings.min_count`
   times and neither frequency is tied with its neighbours' (a tie makes the order,
   and so the alignment, a guess).
2. Each aligned pair says something about every bit position ``p``: when the CLK has
   ``p`` set, one of the value's q-grams was hashed to ``p``; when ``p`` is clear,
   none of them was. So the q-grams that *can* be at ``p`` are those of values whose
   aligned CLK has ``p`` set, less those of values whose aligned CLK has ``p`` clear;
   equivalently, a q-gram can be at every position set in all aligned CLKs of values
   that hold it. Q-grams that occur in exactly the same aligned values cannot be told
   apart and are kept together as one group.
3. A position that only one group can be at is assigned to that group.
4. Re-identification: a CLK that is one of the aligned CLKs is re-identified as its
   aligned value. Every other CLK is compared, through the assigned positions, with
   the values of the list (:mod:`.reidentify`): it must have the groups whose
   positions it has all set and cannot have the others.
"""

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from anonlinkclient.audit.attacks.model import AttackResult, Encodings, Guess, Public, Reference
from anonlinkclient.audit.attacks.reidentify import candidates_by_signature

NAME = "frequency"


@dataclass(frozen=True)
class FrequencySettings:
    """How the frequency alignment attack chooses what to align.

    :ivar min_count: the least number of times a CLK (and its value) must occur to be aligned.
    :ivar max_aligned: the most pairs aligned.
    """

    min_count: int = 2
    max_aligned: int = 2000


def _unambiguous(sorted_counts: np.ndarray) -> np.ndarray:
    """Which ranks of counts sorted high to low differ from both neighbours."""
    count = len(sorted_counts)
    ok = np.ones(count, dtype=bool)
    if count > 1:
        tie = sorted_counts[1:] == sorted_counts[:-1]
        ok[1:] &= ~tie
        ok[:-1] &= ~tie
    return ok


def frequency_attack(
    encodings: Encodings, reference: Reference, public: Public, settings: FrequencySettings = FrequencySettings()
) -> AttackResult:
    """Align frequent CLKs with frequent values, assign positions, re-identify (see the module)."""
    first, inverse, counts = encodings.distinct
    clk_order = np.argsort(-counts, kind="stable")
    item_order = np.argsort(-reference.counts, kind="stable")
    clk_counts = counts[clk_order]
    item_counts = reference.counts[item_order]
    ranks = min(len(clk_counts), len(item_counts), settings.max_aligned)
    alignable = (
        _unambiguous(clk_counts)[:ranks]
        & _unambiguous(item_counts)[:ranks]
        & (clk_counts[:ranks] >= settings.min_count)
        & (item_counts[:ranks] >= settings.min_count)
    )
    aligned = np.flatnonzero(alignable)
    notes = [
        f"{len(counts)} distinct CLKs, {int((counts >= settings.min_count).sum())} of them "
        f"occurring at least {settings.min_count} times; {len(aligned)} aligned by frequency rank"
    ]
    aligned_clks = clk_order[aligned]  # distinct-CLK ids
    aligned_items = item_order[aligned]
    guesses = _assign_positions(encodings, first[aligned_clks], reference, aligned_items)
    notes.append(f"positions assigned to {len(guesses)} q-gram groups")

    signature_records, signature_items = candidates_by_signature(encodings.columns, reference, guesses, public)
    record_keys = signature_records + len(aligned)
    item_keys = signature_items + len(aligned)
    rank_of_clk = np.full(len(counts), -1, dtype=np.int64)
    rank_of_clk[aligned_clks] = np.arange(len(aligned))
    aligned_record = rank_of_clk[inverse]
    hit = aligned_record >= 0
    record_keys[hit] = aligned_record[hit]
    item_keys[aligned_items] = np.arange(len(aligned))
    return AttackResult(NAME, guesses, record_keys, item_keys, notes)


def _assign_positions(
    encodings: Encodings, clk_rows: np.ndarray, reference: Reference, items: np.ndarray
) -> List[Guess]:
    """Steps 2 and 3 of the attack for the aligned CLKs (record indices) and items."""
    if not len(items):
        return []
    bits = encodings.unpacked(clk_rows)  # (aligned, bits)
    pair_item, pair_token = reference.pairs(items)
    tokens = np.unique(pair_token)
    occurrence = np.zeros((len(tokens), len(items)), dtype=bool)
    occurrence[np.searchsorted(tokens, pair_token), pair_item] = True
    # Q-grams in exactly the same aligned values form one group.
    packed = np.packbits(occurrence, axis=1)
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, group_of_token = np.unique(keys, return_inverse=True)
    group_of_token = group_of_token.ravel()
    groups: Dict[int, List[int]] = {}
    for token, group in zip(tokens.tolist(), group_of_token.tolist()):
        groups.setdefault(group, []).append(token)
    ordered = sorted(groups)
    possible = np.zeros((len(ordered), encodings.bits), dtype=bool)
    support = np.zeros(len(ordered), dtype=np.int64)
    for index, group in enumerate(ordered):
        holders = occurrence[np.searchsorted(tokens, groups[group][0])]
        possible[index] = bits[holders].all(axis=0)
        support[index] = int(holders.sum())
    constant = np.isin(encodings.columns.counts(), (0, encodings.count))
    possible[:, constant] = False  # set (or clear) in every CLK: tells nothing
    only_one = possible.sum(axis=0) == 1
    guesses = []
    for index, group in enumerate(ordered):
        positions = np.flatnonzero(possible[index] & only_one)
        if len(positions):
            guesses.append(Guess(tuple(groups[group]), positions.astype(np.int64), int(support[index])))
    return guesses
