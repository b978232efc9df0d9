"""What each similarity threshold gives: the numbers behind the threshold report, in NumPy alone.

A linkage keeps the pairs of records whose similarity is at least the threshold,
and then matches records one to one, most similar pairs first (anonlink's
greedy solver, as ``anonlink find-similarity`` and the Entity Service's
``groups`` result do). Because the greedy matching takes pairs in order of
similarity, the links a threshold gives are exactly the links of a single
greedy pass over all pairs that have at least that similarity; one pass over
the sorted scores (:func:`greedy_links`) therefore gives the links of every
threshold. Pairs of equal similarity are taken in file order (the order the
solver saw them in for ``find-similarity`` output).

Precision is the share of links that are true matches; recall the share of the
ground truth's matches that are linked, counting the matches that are not among
the scores at all (their similarity was below the threshold the scores were
computed with, or they were in no common block); F-measure is their harmonic
mean, ``2 * true links / (links + true matches)``.

:class:`ThresholdAnalysis` holds all of it; :mod:`.threshold` draws it. Nothing
here reads files or writes HTML or SVG.
"""

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.scores_file import Scores
from anonlinkclient.io.truth_file import Truth

CHUNK = 1 << 16
MAX_BINS = 80
BIN_WIDTHS = (0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05)


@dataclass
class AtThreshold:
    """What one threshold gives.

    :ivar threshold: keep pairs with similarity of at least this.
    :ivar pairs: candidate pairs kept.
    :ivar links: links after one-to-one matching (``None`` for more than two parties).
    :ivar true_links: links that are true matches (``None`` without a ground truth).
    :ivar true_matches: the ground truth's matching pairs (``None`` without one).
    """

    threshold: float
    pairs: int
    links: Optional[int]
    true_links: Optional[int] = None
    true_matches: Optional[int] = None

    @property
    def precision(self) -> Optional[float]:
        """True links / links (``None`` without ground truth or without links)."""
        if self.true_links is None or not self.links:
            return None
        return self.true_links / self.links

    @property
    def recall(self) -> Optional[float]:
        """True links / true matches (``None`` without ground truth)."""
        if self.true_links is None or not self.true_matches:
            return None
        return self.true_links / self.true_matches

    @property
    def f_measure(self) -> Optional[float]:
        """The harmonic mean of precision and recall: ``2 * true links / (links + true matches)``."""
        if self.true_links is None or self.links is None or not self.true_matches:
            return None
        return 2 * self.true_links / (self.links + self.true_matches)


@dataclass
class Best:
    """The threshold with the best F-measure.

    Every threshold above ``above`` and up to ``up_to`` gives the same links;
    ``threshold`` is the roundest number in that range.
    """

    threshold: float
    above: float
    up_to: float
    result: AtThreshold


def greedy_links(row_a: np.ndarray, row_b: np.ndarray) -> np.ndarray:
    """Which pairs (in the given order, most similar first) one-to-one greedy matching takes.

    A pair is taken if neither of its records is in a pair taken before.
    """
    taken_a = bytearray(int(row_a.max()) + 1 if len(row_a) else 0)
    taken_b = bytearray(int(row_b.max()) + 1 if len(row_b) else 0)
    taken = np.zeros(len(row_a), dtype=np.bool_)
    for start in range(0, len(row_a), CHUNK):  # in chunks, so that the Python ints stay few
        chunk_taken = bytearray(min(CHUNK, len(row_a) - start))
        for index, (a, b) in enumerate(
            zip(row_a[start : start + CHUNK].tolist(), row_b[start : start + CHUNK].tolist())
        ):
            if not taken_a[a] and not taken_b[b]:
                taken_a[a] = taken_b[b] = chunk_taken[index] = 1
        taken[start : start + len(chunk_taken)] = np.frombuffer(bytes(chunk_taken), dtype=np.bool_)
    return taken


def round_threshold(above: float, up_to: float) -> float:
    """The number with the fewest decimals that is greater than ``above`` and at most ``up_to``."""
    for decimals in range(1, 8):
        scale = 10**decimals
        candidate = math.floor(round(up_to * scale, 6)) / scale
        if above < candidate <= up_to:
            return candidate
    return up_to


def party_list(parties: Sequence[int]) -> str:
    """The parties as a sentence names them: ``0 and 1``, ``0, 1 and 2``."""
    names = [str(party) for party in parties]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class ThresholdAnalysis:
    """Candidate pairs, links and (with a ground truth) their quality at every threshold.

    :param scores: the similarity scores.
    :param truth: the ground truth, if there is one (two parties: 0 and 1).
    :param record_counts: each party's number of records, if known.
    :raises InputFileError: if the ground truth does not fit the scores.
    """

    def __init__(
        self, scores: Scores, truth: Optional[Truth] = None, record_counts: Optional[Sequence[int]] = None
    ) -> None:
        self.scores = scores
        self.truth = truth
        self.record_counts = list(record_counts) if record_counts is not None else None
        self.parties = scores.parties
        two_party = len(self.parties) == 2
        if truth is not None and self.parties != [0, 1]:
            raise InputFileError(
                truth.path,
                f"a ground truth pairs records of parties 0 and 1, but {scores.path} has scores of parties "
                f"{party_list(self.parties)}",
            )
        order = np.argsort(-scores.similarity, kind="stable")
        self.similarity = scores.similarity[order]
        self._descending = -self.similarity  # ascending, for searchsorted
        row_a, row_b = scores.row_a[order], scores.row_b[order]
        self.links: Optional[np.ndarray] = None
        self.cum_links: Optional[np.ndarray] = None
        if two_party:
            self.links = greedy_links(row_a, row_b)
            self.cum_links = np.concatenate([[0], np.cumsum(self.links, dtype=np.int64)])
        self.match: Optional[np.ndarray] = None
        self.cum_true_links: Optional[np.ndarray] = None
        self.truth_in_scores = 0
        self.true_matches = len(truth) if truth is not None else None
        if truth is not None:
            width = int(max(row_b.max(), truth.row_b.max())) + 1
            pair_keys = row_a.astype(np.int64) * width + row_b
            truth_keys = truth.row_a * width + truth.row_b
            self.match = np.isin(pair_keys, truth_keys)
            found = int(self.match.sum())
            if found == 0:
                raise InputFileError(
                    truth.path,
                    f"none of its {len(truth)} matching pairs is among the {len(scores)} pairs of {scores.path}; "
                    "is it the ground truth of these parties?",
                )
            self.truth_in_scores = found
            assert self.links is not None
            self.cum_true_links = np.concatenate([[0], np.cumsum(self.links & self.match, dtype=np.int64)])

    @property
    def has_truth(self) -> bool:
        """Whether precision and recall are known."""
        return self.truth is not None

    def pairs_at_least(self, threshold: float) -> int:
        """The number of pairs with similarity of at least ``threshold``."""
        return int(np.searchsorted(self._descending, -threshold, side="right"))

    def _result(self, threshold: float, kept: int) -> AtThreshold:
        links = int(self.cum_links[kept]) if self.cum_links is not None else None
        true_links = int(self.cum_true_links[kept]) if self.cum_true_links is not None else None
        return AtThreshold(threshold, kept, links, true_links, self.true_matches)

    def at(self, threshold: float) -> AtThreshold:
        """What ``threshold`` gives."""
        return self._result(threshold, self.pairs_at_least(threshold))

    def curves(self, thresholds: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """Pairs, links and true links at each of ``thresholds`` (links: ``None`` for more than two parties)."""
        kept = np.searchsorted(self._descending, -thresholds, side="right")
        links = self.cum_links[kept] if self.cum_links is not None else None
        true_links = self.cum_true_links[kept] if self.cum_true_links is not None else None
        return kept, links, true_links

    def quality_curves(self, thresholds: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Precision, recall and F-measure at each of ``thresholds`` (precision NaN where there are no links).

        :raises ValueError: without a ground truth (see :attr:`has_truth`).
        """
        _pairs, links, true_links = self.curves(thresholds)
        if links is None or true_links is None or not self.true_matches:
            raise ValueError("precision and recall need a ground truth with matches")
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(links > 0, true_links / np.maximum(links, 1), np.nan)
        recall = true_links / self.true_matches
        f_measure = 2 * true_links / (links + self.true_matches)
        return precision, recall, f_measure

    def histogram(self, edges: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """How many pairs have a similarity in each bin of ``edges``: all, and the true matches (``None`` without a
        ground truth)."""
        everything = np.histogram(self.similarity, bins=edges)[0]
        if self.match is None:
            return everything, None
        return everything, np.histogram(self.similarity[self.match], bins=edges)[0]

    def best(self) -> Optional[Best]:
        """The threshold with the best F-measure (the highest such threshold if several tie), if there is a truth."""
        if self.cum_true_links is None or self.cum_links is None or not self.true_matches:
            return None
        sims = self.similarity
        # Thresholds worth trying: each distinct similarity, keeping every pair at least as similar.
        ends = np.flatnonzero(np.concatenate([sims[1:] != sims[:-1], [True]])) + 1
        f_measure = 2 * self.cum_true_links[ends] / (self.cum_links[ends] + self.true_matches)
        choice = int(np.argmax(f_measure))
        kept = int(ends[choice])
        up_to = float(sims[kept - 1])
        if kept < len(sims):
            above = float(sims[kept])
            threshold = round_threshold(above, up_to)
        else:  # every pair: lower thresholds may add pairs that are not in the file
            above, threshold = -math.inf, up_to
        return Best(threshold, above, up_to, self._result(threshold, kept))


# -- the thresholds and bins worth showing ------------------------------------------------------------


def _bin_width(low: float) -> float:
    span = 1.0 - low
    for width in BIN_WIDTHS:
        if span / width <= MAX_BINS:
            return width
    return BIN_WIDTHS[-1]


def score_bins(lowest: float) -> np.ndarray:
    """Histogram bin edges of equal, round width from below ``lowest`` up to 1."""
    width = _bin_width(lowest)
    start = min(math.floor(round(lowest / width, 6)) * width, 1.0 - width)
    count = max(1, int(round((1.0 - start) / width)))
    return np.round(start + width * np.arange(count + 1), 10)


def table_thresholds(low: float) -> List[float]:
    """Round thresholds from ``low`` to 1 in steps of 0.05, 0.02 or 0.01 (finer for a narrower range)."""
    span = 1.0 - low
    step = 0.05 if span > 0.3 else 0.02 if span > 0.12 else 0.01
    first = math.ceil(round(low / step, 6)) * step
    values = []
    value = first
    while value <= 1.0 + 1e-9:
        values.append(round(value, 4))
        value += step
    return values
