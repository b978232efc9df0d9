"""Made-up similarity scores with a ground truth: two humps, as a real linkage gives them.

The matches' similarities spread around 0.86, the non-matches' fall off from the
lowest score kept (0.5), as they do above the threshold of a real
``find-similarity``; a few true matches are below 0.5 and so are not among the
scores.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

import numpy as np

Pair = Tuple[int, int]


@dataclass
class Linkage:
    """A scores file and a ground-truth file, and what they hold."""

    scores_path: Path
    truth_path: Path
    scores: List[Tuple[int, int, float]]  # (row of party 0, row of party 1, similarity), in file order
    truth: Set[Pair]
    records: Tuple[int, int]


def make_linkage(directory: Path, seed: int = 1, records: Tuple[int, int] = (400, 500), shared: int = 240) -> Linkage:
    """Write ``scores.json`` and ``truth.csv`` into ``directory``."""
    rng = np.random.default_rng(seed)
    n_a, n_b = records
    partners = rng.permutation(n_b)
    truth = {(row_a, int(partners[row_a])) for row_a in range(shared)}
    pairs: Dict[Pair, float] = {}
    for pair in sorted(truth):
        similarity = float(np.clip(rng.normal(0.86, 0.07), 0.0, 1.0))
        if similarity >= 0.5:
            pairs[pair] = round(similarity, 4)
    for row_a, row_b, similarity in zip(
        rng.integers(0, n_a, 8000).tolist(),
        rng.integers(0, n_b, 8000).tolist(),
        (0.5 + rng.exponential(0.045, 8000)).tolist(),
    ):
        if (row_a, row_b) not in pairs and similarity <= 1.0:
            pairs[(row_a, row_b)] = round(similarity, 4)
    ordered = sorted(pairs.items(), key=lambda item: -item[1])
    scores = [(row_a, row_b, similarity) for (row_a, row_b), similarity in ordered]
    scores_path = directory / "scores.json"
    # Half the pairs name party 1 first, as the Entity Service may.
    elements = [[[0, a], [1, b], s] if index % 2 else [[1, b], [0, a], s] for index, (a, b, s) in enumerate(scores)]
    scores_path.write_text(json.dumps({"similarity_scores": elements}), encoding="utf-8")
    truth_path = directory / "truth.csv"
    truth_path.write_text("row_a,row_b\n" + "".join(f"{a},{b}\n" for a, b in sorted(truth)), encoding="utf-8")
    return Linkage(scores_path, truth_path, scores, truth, records)


def brute_force(scores: List[Tuple[int, int, float]], truth: Set[Pair], threshold: float) -> Tuple[int, int, int]:
    """``(candidate pairs, links, true links)`` at ``threshold``, the slow and obvious way."""
    kept = sorted((pair for pair in scores if pair[2] >= threshold), key=lambda pair: -pair[2])
    taken_a: Set[int] = set()
    taken_b: Set[int] = set()
    links = []
    for row_a, row_b, _similarity in kept:
        if row_a not in taken_a and row_b not in taken_b:
            taken_a.add(row_a)
            taken_b.add(row_b)
            links.append((row_a, row_b))
    return len(kept), len(links), sum(1 for link in links if link in truth)


def best_by_brute_force(scores: List[Tuple[int, int, float]], truth: Set[Pair]) -> Tuple[float, float]:
    """``(F-measure, threshold)`` of the best threshold among the scores' similarities (highest on ties)."""
    best = (-1.0, 0.0)
    for threshold in sorted({pair[2] for pair in scores}, reverse=True):
        _pairs, links, true_links = brute_force(scores, truth, threshold)
        f_measure = 2 * true_links / (links + len(truth))
        if f_measure > best[0]:
            best = (f_measure, threshold)
    return best
