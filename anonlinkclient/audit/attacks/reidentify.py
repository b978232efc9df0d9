"""From assigned bit positions to candidate values: the re-identification step both attacks share.

Once an attack has assigned bit positions to tokens, every CLK says, for every
assigned token group, whether it *must have* it (all its positions set) or *cannot
have* it (one of them clear). A value of the list is a candidate for the CLK when it
holds every must-have group and none of the cannot-have ones, that is, when the
two agree on every assigned group. So CLKs and values are both reduced to that
signature (one bit per group) and joined on it: one sort, whatever the number of
records.
"""

from typing import List, Sequence, Tuple

import numpy as np

from anonlinkclient.audit.attacks.bitsets import KEY, BitColumns, row_keys
from anonlinkclient.audit.attacks.model import CHUNK_ITEMS, Guess, Public, Reference


def item_signature_keys(reference: Reference, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """For each item, a key of which token groups it holds whole, as
    :meth:`~.bitsets.BitColumns.signature_keys` makes them for the CLKs."""
    keys = np.empty(reference.items, dtype=KEY)
    width = max(1, (len(groups) + 7) // 8)
    # Which groups each token is in (a token can be in more than one), as rows of (token, group).
    members = np.array([(token, index) for index, group in enumerate(groups) for token in group], dtype=np.int64)
    sizes = np.array([len(group) for group in groups], dtype=np.int64)
    if len(members):
        members = members[np.argsort(members[:, 0], kind="stable")]
    bounds = np.searchsorted(members[:, 0], np.arange(reference.token_count + 1)) if len(members) else None
    everything = np.arange(reference.items, dtype=np.int64)
    for first, local, tokens in reference.chunks(everything):
        chunk = min(CHUNK_ITEMS, len(everything) - first)
        signatures = np.zeros((chunk, width), dtype=np.uint8)
        if bounds is not None:
            starts = bounds[tokens]
            counts = bounds[tokens + 1] - starts
            item = np.repeat(local.astype(np.int64), counts)
            offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            group = members[np.repeat(starts, counts) + offsets, 1]
            pair, hits = np.unique(item * len(groups) + group, return_counts=True)
            whole = hits == sizes[pair % len(groups)]
            item, group = pair[whole] // len(groups), pair[whole] % len(groups)
            np.bitwise_or.at(signatures, (item, group // 8), (0x80 >> (group % 8)).astype(np.uint8))
        keys[first : first + chunk] = row_keys(signatures)
    return keys


def join_keys(record_keys: np.ndarray, item_keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Small integer keys that pair records with the items of the same signature key."""
    _, inverse = np.unique(np.concatenate([record_keys, item_keys]), return_inverse=True)
    inverse = inverse.astype(np.int64).ravel()
    return inverse[: len(record_keys)], inverse[len(record_keys) :]


#: The fewest positions a guess needs to take part in the signature (fewer are too often all set by chance).
SIGNATURE_POSITIONS = 3


def candidates_by_signature(
    columns: BitColumns, reference: Reference, guesses: List[Guess], public: Public
) -> Tuple[np.ndarray, np.ndarray]:
    """Record and item keys (see :class:`~.model.AttackResult`) from the guesses' positions.

    Only guesses with at least :data:`SIGNATURE_POSITIONS` positions (or all the
    positions their tokens have, if they have fewer) take part: a CLK has one or two
    given positions set by chance too often for them to say it must have a q-gram.
    """
    used = [
        guess
        for guess in guesses
        if len(guess.positions) >= min(SIGNATURE_POSITIONS, int(public.bits_per_token[list(guess.tokens)].max()))
    ]
    record_side = columns.signature_keys([guess.positions for guess in used])
    item_side = item_signature_keys(reference, [guess.tokens for guess in used])
    return join_keys(record_side, item_side)
