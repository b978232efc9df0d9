"""The computation of a run, done for real with the ``anonlink`` library.

Records are compared only when they share a block (a record in no block is
never compared); pairs with a Dice coefficient of at least the threshold are the
candidates, which are then solved into the result of the project's type.
"""

import random
from collections import defaultdict
from typing import Any, Dict, Hashable, List, Sequence, Tuple

import anonlink
from bitarray import bitarray

from tests.entity_service.state import BlockId

CandidatePairs = Tuple[Any, Tuple[Any, Any], Tuple[Any, Any]]


def to_bitarrays(clks: Sequence[bytes]) -> List[bitarray]:
    """Turn raw CLK bytes into bitarrays, the form anonlink compares."""
    result = []
    for clk in clks:
        bits = bitarray()
        bits.frombytes(clk)
        result.append(bits)
    return result


def comparison_count(blocks: Sequence[Sequence[Sequence[BlockId]]]) -> int:
    """How many record pairs the blocks make anonlink compare (the stage 2 progress total)."""
    sizes: Dict[Hashable, List[int]] = defaultdict(lambda: [0] * len(blocks))
    for party, party_blocks in enumerate(blocks):
        for record_blocks in party_blocks:
            for block in set(record_blocks):
                sizes[block][party] += 1
    total = 0
    for counts in sizes.values():
        for i in range(len(counts)):
            for j in range(i + 1, len(counts)):
                total += counts[i] * counts[j]
    return total


def find_candidates(
    datasets: Sequence[Sequence[bytes]],
    blocks: Sequence[Sequence[Sequence[BlockId]]],
    threshold: float,
) -> CandidatePairs:
    """Candidate pairs of records of different parties sharing a block, with Dice >= threshold.

    :param datasets: each party's CLKs (raw bytes, all of one size).
    :param blocks: each party's per-record block ids.
    :param threshold: the run's similarity threshold.
    """
    hashes = [to_bitarrays(clks) for clks in datasets]

    def blocking(dataset: int, record: int, _hash: Any) -> Sequence[BlockId]:
        return blocks[dataset][record]

    return anonlink.candidate_generation.find_candidate_pairs(
        hashes, anonlink.similarities.dice_coefficient, threshold, blocking_f=blocking
    )


def groups_result(candidates: CandidatePairs) -> Dict[str, Any]:
    """``{"groups": [[[party, row], ...], ...]}``, solved with anonlink's probabilistic greedy solver."""
    groups = anonlink.solving.probabilistic_greedy_solve(candidates)
    as_lists = sorted(sorted([int(party), int(row)] for party, row in group) for group in groups)
    return {"groups": as_lists}


def similarity_scores_result(candidates: CandidatePairs) -> Dict[str, Any]:
    """``{"similarity_scores": [[[party, row], [party, row], score], ...]}``, best first."""
    sims, (dset0, dset1), (rec0, rec1) = candidates
    scores = [
        [[int(d0), int(r0)], [int(d1), int(r1)], float(sim)]
        for sim, d0, d1, r0, r1 in zip(sims, dset0, dset1, rec0, rec1)
    ]
    return {"similarity_scores": scores}


def permutations_result(candidates: CandidatePairs, sizes: Sequence[int], seed: int) -> Dict[str, Any]:
    """The mask and both parties' permutations, as the real service makes them.

    Matched pairs (greedy solver) get the same, random new row; the mask marks
    those rows 1. Unmatched records fill the remaining rows. ``rows`` is the
    larger dataset's size.

    :return: ``{"mask": [0|1, ...], "permutations": [perm_a, perm_b], "rows": n}``
        (the service hands ``{"mask"}`` to the result token and
        ``{"permutation", "rows"}`` to each party's receipt token).
    """
    rows = max(sizes)
    mapping = dict(anonlink.solving.pairs_from_groups(anonlink.solving.greedy_solve(candidates)))
    new_rows = list(range(rows))
    random.Random(seed).shuffle(new_rows)
    mask = [0] * rows
    perm_a: Dict[int, int] = {}
    perm_b: Dict[int, int] = {}
    for (a_row, b_row), new_row in zip(sorted(mapping.items()), new_rows):
        perm_a[a_row] = perm_b[b_row] = new_row
        mask[new_row] = 1
    for perm, size in ((perm_a, sizes[0]), (perm_b, sizes[1])):
        free = iter(row for row in new_rows[len(mapping) :])
        for row in range(size):
            if row not in perm:
                perm[row] = next(free)
    return {
        "mask": mask,
        "permutations": [[perm_a[i] for i in range(sizes[0])], [perm_b[i] for i in range(sizes[1])]],
        "rows": rows,
    }
