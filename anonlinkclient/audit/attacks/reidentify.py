"""From assigned bit positions to candidate values: the re-identification step both attacks share.

Once an attack has assigned bit positions to tokens, every CLK says, for every
assigned token group, whether it *must have* it (all its positions set) or *cannot
have* it (one of them clear). A value of the list is a candidate for the CLK when it
holds every must-have group and none of the cannot-have ones, that is, when the
two agree on every assigned group. So CLKs and values are both reduced to that
signature (one bit per group) and joined on it: one sort, whatever the number of
records.
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.audit.attacks.bitsets import BitColumns
from anonlinkclient.audit.attacks.model import Guess, Public, Reference


def item_signatures(reference: Reference, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """For each item, which token groups it holds whole: ``(items, bytes)`` ``uint8``, as
    :meth:`BitColumns.signatures` lays them out."""
    width = max(1, (len(groups) + 7) // 8)
    out = np.zeros((reference.items, width), dtype=np.uint8)
    if not groups:
        return out
    item_of_pair = np.repeat(np.arange(reference.items, dtype=np.int64), np.diff(reference.starts))
    order = np.argsort(reference.tokens, kind="stable")
    sorted_tokens = reference.tokens[order]
    bounds = np.searchsorted(sorted_tokens, np.arange(reference.token_count + 1))
    for index, group in enumerate(groups):
        holders: Optional[np.ndarray] = None
        for token in group:
            found = item_of_pair[order[bounds[token] : bounds[token + 1]]]
            holders = found if holders is None else np.intersect1d(holders, found, assume_unique=True)
        if holders is not None and len(holders):
            out[holders, index // 8] |= np.uint8(0x80 >> (index % 8))
    return out


def join_on_signatures(record_signatures: np.ndarray, item_signatures: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Keys that pair records with the items of the same signature: ``(record keys, item keys)``."""
    records = len(record_signatures)
    both = np.ascontiguousarray(np.concatenate([record_signatures, item_signatures]))
    keys = both.view(np.dtype((np.void, both.shape[1]))).ravel()
    _, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.astype(np.int64).ravel()
    return inverse[:records], inverse[records:]


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
    record_side = columns.signatures([guess.positions for guess in used])
    item_side = item_signatures(reference, [guess.tokens for guess in used])
    return join_on_signatures(record_side, item_side)
