"""Estimated precision, recall and F-measure at every threshold, from the similarity scores alone.

Without a ground truth nobody knows which links are true, but the scores of two
parties say a good deal about it. This module estimates, at every threshold,
how many of the links (after one-to-one matching, as ``find-similarity`` and
:class:`~anonlinkclient.report.threshold.ThresholdAnalysis` make them) are
false, and from that the precision, recall and F-measure, with an uncertainty
band; or it says in one plain sentence why the scores cannot support an
estimate. It never makes up a best threshold.

The model
---------

Pairs are taken most similar first; a pair becomes a link when neither of its
records is linked yet. A pair that is not a link (a *non-link*) had one of its
records taken by a more similar pair.

*Which non-matches become links.* Pairs of different people (non-matches) are
many, and their scores fall off towards 1. When the matching reaches the
non-matches with similarity ``s``, the links above ``s`` have taken ``L``
records of each party, mostly records whose match is more similar than ``s``.
If a non-match's records are like the other records of their parties, each is
still free with the chance ``f = 1 - L / n`` (``n`` records in the party), both
with the chance ``phi = f_a * f_b``: known at every ``s`` from the links alone.
A non-match with both records free becomes a false link; the others are the
non-links we see. So every non-link at ``s`` stands for ``1 / (1 - phi)``
non-matches at ``s``, of which ``phi / (1 - phi)`` became false links: the
candidates the records did *not* get show how many non-matches there are at
each similarity on this very data (a Horvitz-Thompson estimate, each non-match
being seen with probability ``1 - phi``). Below the top of the non-matches this
counts the false links directly, with no shape assumed for anything.

*The top of the non-matches.* Where the best threshold usually lies, the
non-links are few (and with few matches, each stands for several false links),
so the count is noisy. There the pairs are split as in a two-component mixture
(Belin and Rubin 1995 fit one to the weights of one-to-one matched pairs). In
each bin of ``BIN_WIDTH`` the non-matches number ``exp(a + b s)``: they fall off
exponentially (``b < 0``), the tail of a distribution in the Gumbel domain as
peaks-over-threshold models take it, and of them the share ``phi`` are links and
``1 - phi`` non-links. The matches are all links, in counts that never decrease
towards 1 (matches with more errors are rarer) over the bins where false links
are still expected, and as counted above them (where a spike of identical
records at 1, or a gap before it, does not matter). The non-links and links of
the bins from the ``TAIL_NON_LINKS``-th most similar non-link up are fitted by
maximum likelihood, as Poisson counts, with EM (a Poisson regression for ``a``
and ``b``, pool-adjacent-violators for the matches); then each bin's links are
split by the fitted odds of a false link. The non-links tie the non-matches to
what the records did not get; the links let the many false links of data with
few matches speak too.

*Everything else is counting.* True links are links minus false links (in each
bin, never fewer than none nor more than all). The matches are the true links
at the lowest threshold (at most the smaller party's records). Precision is
true links / links, recall true links / matches, F-measure ``2 * true links /
(links + matches)``, as :class:`~anonlinkclient.report.threshold.ThresholdAnalysis`
defines them with a ground truth. The estimated best threshold is the one with
the best estimated F-measure (the highest, if several tie). If even that is
below ``MIN_F_MEASURE``, no threshold separates matches from non-matches: scores
of non-matches alone (no second hump) can still make many links, whose most
similar few the model would take for matches, so there is no estimate then.

*The uncertainty band* is a bootstrap: ``BOOTSTRAP_REPLICATES`` times, the
counts of non-links and links in each bin are redrawn (Poisson), the top is
refitted, which of each bin's links are false is drawn from the fitted odds
(binomial), and the curves recomputed; the band holds the middle ``BAND`` of
them (and the estimate itself, where it sits at an edge such as a recall of 1
and the replicates all fall on one side of it). It shows how much the estimate
depends on which pairs happened to be seen, not whether the model fits.

What it cannot see
------------------

* Matches hidden among many non-matches: a match less similar than its
  records' best non-matches is never linked and looks like a non-link. The
  matches are counted from the links, so recall is overestimated when many
  matches score as low as the bulk of the non-matches.
* Matches below the threshold the scores were computed with are not in the
  scores: recall is of the matches among the scores.
* Pairs of different people that look like matches (twins, duplicates within a
  party, a ground truth that misses matches) are counted as matches.
* With few matches (around a hundred) the top of the non-matches is seen
  through a handful of pairs, and the estimated best threshold is off by a
  step or two of the bins more often.

Two parties only: with scores of more parties (the Entity Service's
``similarity_scores`` of a multi-party project, or ``find-similarity`` with
three or more parties) links are groups, not one-to-one pairs, and there is no
estimate; estimate each pair of parties from its own scores.
"""

import math
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.errors import UsageError
from anonlinkclient.io.scores_file import Scores
from anonlinkclient.report.analysis import ThresholdAnalysis, greedy_links

#: Width of the bins in which false links are counted; the thresholds are multiples of it.
BIN_WIDTH = 0.005
#: The fit of the top of the non-matches starts at the bin of this most similar non-link.
TAIL_NON_LINKS = 60
#: Fewest candidate pairs, and links, to estimate from.
MIN_PAIRS = 100
MIN_LINKS = 10
#: Fewest estimated matches (in every bootstrap replicate but a few) for an estimate.
MIN_MATCHES = 5.0
#: Below this best estimated F-measure the matches do not stand apart from the non-matches: no estimate.
MIN_F_MEASURE = 0.5
#: Bootstrap replicates of the uncertainty band, and the share of them the band holds.
BOOTSTRAP_REPLICATES = 200
BAND = 0.95
#: The bootstrap's random numbers, fixed so that a report is the same on every run.
SEED = 1995
#: The EM of the top stops after this many rounds, or when its false links move by less than ``EM_TOLERANCE`` in all.
EM_ROUNDS = 200
EM_TOLERANCE = 0.01
#: The matches are taken never to decrease towards 1 where at least this many false links are expected above.
MONOTONE_UNTIL = 0.5

Band = Tuple[float, float]
QUALITIES = ("precision", "recall", "f_measure")


@dataclass
class EstimatedAt:
    """What a threshold is estimated to give.

    :ivar threshold: keep pairs with a similarity of at least this.
    :ivar links: the links (counted, not estimated).
    :ivar true_links: the estimated true links.
    :ivar precision: estimated true links / links (``None`` without links).
    :ivar recall: estimated true links / estimated matches.
    :ivar f_measure: ``2 * true links / (links + matches)``, estimated.
    :ivar bands: the uncertainty band ``(low, high)`` of ``"precision"``, ``"recall"`` and ``"f_measure"``.
    """

    threshold: float
    links: int
    true_links: float
    precision: Optional[float]
    recall: float
    f_measure: float
    bands: Dict[str, Band]


@dataclass
class ScoreEstimate:
    """Estimated quality of the links at every threshold, or why there is none.

    The arrays are indexed by threshold, ascending (``thresholds``, multiples of
    :data:`BIN_WIDTH` from below the lowest score up); counts are of the pairs
    with a similarity of at least the threshold.

    :ivar reason: why the scores cannot support an estimate (``None`` if they can;
        then every other field is empty).
    :ivar parties: the parties of the scores.
    :ivar records: the number of records of each of the two parties.
    :ivar thresholds: the thresholds.
    :ivar links: the links at each threshold.
    :ivar false_links: the estimated false links at each threshold.
    :ivar matches: the estimated number of matches among the scores.
    :ivar matches_band: its uncertainty band.
    :ivar bands: the uncertainty band of ``"precision"``, ``"recall"`` and
        ``"f_measure"`` at each threshold: ``(low, high)`` arrays.
    :ivar best: the estimated best threshold.
    :ivar best_band: the middle of the thresholds the bootstrap replicates found best.
    :ivar false_share: for each bin ``[thresholds[k], thresholds[k] + BIN_WIDTH)``,
        the estimated share of its links that are false.
    :ivar non_matches: for each bin, the estimated non-matches among its pairs.
    """

    reason: Optional[str]
    parties: List[int]
    records: Tuple[int, int] = (0, 0)
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    false_links: np.ndarray = field(default_factory=lambda: np.zeros(0))
    matches: float = 0.0
    matches_band: Band = (math.nan, math.nan)
    bands: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    best: Optional[EstimatedAt] = None
    best_band: Band = (math.nan, math.nan)
    false_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    non_matches: np.ndarray = field(default_factory=lambda: np.zeros(0))
    similarity: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    cumulative_links: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64), repr=False)

    @property
    def true_links(self) -> np.ndarray:
        """The estimated true links at each threshold."""
        return self.links - self.false_links

    @property
    def precision(self) -> np.ndarray:
        """The estimated precision at each threshold (NaN where there are no links)."""
        return _precision(self.links, self.true_links)

    @property
    def recall(self) -> np.ndarray:
        """The estimated recall at each threshold."""
        return self.true_links / self.matches if self.matches > 0 else np.zeros(len(self.links))

    @property
    def f_measure(self) -> np.ndarray:
        """The estimated F-measure at each threshold."""
        return 2 * self.true_links / np.maximum(self.links + self.matches, 1e-12)

    def at(self, threshold: float) -> EstimatedAt:
        """The estimate at any ``threshold`` from the lowest one up.

        The links are counted exactly; each link is false with its bin's
        estimated share; the band is that of the bin's lower threshold.

        :raises UsageError: if there is no estimate.
        """
        if self.reason is not None:
            raise UsageError(f"there is no estimate: {self.reason}")
        kept = int(np.searchsorted(-self.similarity, -threshold, side="right"))
        index = int(np.clip(np.searchsorted(self.thresholds, threshold, side="right") - 1, 0, len(self.thresholds) - 1))
        links = int(self.cumulative_links[kept])
        above = index + 1 < len(self.thresholds)
        links_above = int(self.links[index + 1]) if above else 0
        false_above = float(self.false_links[index + 1]) if above else 0.0
        false_links = false_above + float(self.false_share[index]) * max(links - links_above, 0)
        return self._result(threshold, index, links, links - false_links)

    def _result(self, threshold: float, index: int, links: int, true_links: float) -> EstimatedAt:
        bands = {name: (float(low[index]), float(high[index])) for name, (low, high) in self.bands.items()}
        return EstimatedAt(
            threshold,
            links,
            true_links,
            true_links / links if links else None,
            true_links / self.matches if self.matches > 0 else 0.0,
            2 * true_links / (links + self.matches) if links + self.matches > 0 else 0.0,
            bands,
        )

    def match_share(self, similarity: np.ndarray) -> np.ndarray:
        """The estimated share of true links among links with each of these similarities."""
        index = np.clip(np.searchsorted(self.thresholds, similarity, side="right") - 1, 0, len(self.thresholds) - 1)
        return 1 - self.false_share[index]


def _precision(links: np.ndarray, true_links: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(links > 0, true_links / np.maximum(links, 1), np.nan)


def _parties(parties: Sequence[int]) -> str:
    names = [str(party) for party in parties]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def estimate_scores(scores: Scores, record_counts: Optional[Sequence[int]] = None) -> ScoreEstimate:
    """Estimate precision, recall and F-measure at every threshold from similarity scores.

    :param scores: the similarity scores, as :func:`~anonlinkclient.io.scores_file.read_scores` reads them.
    :param record_counts: the number of records of party 0, 1, ... if known
        (the parties' CLK files tell it); otherwise each party's highest row in
        the scores is taken as its last record.
    :returns: the estimate, or (``reason`` set) why there is none.
    """
    parties = scores.parties
    if len(parties) == 1:
        return ScoreEstimate(
            f"the scores are all of party {parties[0]}; the estimate needs the scores of two parties", parties
        )
    if len(parties) > 2:
        return ScoreEstimate(
            f"the scores are of parties {_parties(parties)}; the estimate is for the one-to-one links of two "
            "parties (estimate each pair of parties from its own scores)",
            parties,
        )
    order = np.argsort(-scores.similarity, kind="stable")
    seen = scores.records_seen()
    counts = [seen[party] if record_counts is None else int(record_counts[party]) for party in parties]
    links = greedy_links(scores.row_a[order], scores.row_b[order])
    return estimate_links(scores.similarity[order], links, (counts[0], counts[1]), parties)


def estimate_analysis(analysis: ThresholdAnalysis) -> ScoreEstimate:
    """The estimate of the scores a :class:`~anonlinkclient.report.analysis.ThresholdAnalysis` holds.

    Its sorted similarities and one-to-one links are used as they are (one
    matching pass for both). Of a sampled scores file only the pairs at or above
    the sample's cut are used: there the file holds every pair the linkage found,
    so the links are those of the linkage, and the estimate is that of scores
    computed with the cut as their threshold (below it, the links of a sample are
    not the linkage's). The parties' record counts are the analysis's, or each
    party's highest row in the whole file.
    """
    scores = analysis.scores
    parties = analysis.parties
    if analysis.links is None or len(parties) != 2:
        return estimate_scores(scores)  # says why there is no estimate
    similarity, links = analysis.similarity, analysis.links
    if scores.sampling is not None:
        kept = int(np.searchsorted(-similarity, -scores.sampling.above, side="right"))
        similarity, links = similarity[:kept], links[:kept]
    seen = scores.records_seen()
    counts = analysis.record_counts
    first, second = (counts[party] if counts is not None else seen[party] for party in parties)
    return estimate_links(similarity, links, (first, second), parties)


def estimate_links(
    similarity: np.ndarray, links: np.ndarray, records: Tuple[int, int], parties: Sequence[int] = (0, 1)
) -> ScoreEstimate:
    """Estimate precision, recall and F-measure at every threshold from pairs matched most similar first.

    :param similarity: the similarity of every candidate pair of two parties,
        in descending order (equal ones in the order the matching took them).
    :param links: for each pair, whether one-to-one greedy matching took it.
    :param records: the number of records of each party (at least those in the pairs).
    :param parties: the two parties, for the estimate's record.
    :returns: the estimate, or (``reason`` set) why there is none.
    :raises UsageError: if the similarities are not in descending order.
    """
    parties = list(parties)
    similarity = np.asarray(similarity, dtype=np.float64)
    links = np.asarray(links, dtype=bool)
    pairs = len(similarity)
    not_numbers = int(np.isnan(similarity).sum())
    if not_numbers:
        return ScoreEstimate(f"{not_numbers:,} of the {pairs:,} similarities are not numbers", parties)
    if pairs < MIN_PAIRS:
        return ScoreEstimate(
            f"there are only {pairs:,} candidate pairs, too few to tell matches from non-matches "
            f"(the estimate needs at least {MIN_PAIRS:,})",
            parties,
        )
    if similarity.min() == similarity.max():
        return ScoreEstimate(
            f"every pair has the same similarity ({similarity[0]:.4g}), so the scores cannot tell matches "
            "from non-matches",
            parties,
        )
    if np.any(np.diff(similarity) > 0):
        raise UsageError("the similarities must be in descending order", "similarity")
    link_count = int(links.sum())
    if link_count < MIN_LINKS:
        return ScoreEstimate(
            f"one-to-one matching makes only {link_count:,} links of the {pairs:,} pairs, too few to estimate from",
            parties,
        )
    if pairs - link_count < TAIL_NON_LINKS:
        return ScoreEstimate(
            f"only {pairs - link_count:,} of the {pairs:,} pairs are not links, too few to see the non-matches "
            f"(the estimate needs {TAIL_NON_LINKS}); were the scores computed with a threshold too high to keep "
            "the non-matches? A lower one keeps more of them",
            parties,
        )
    return _Fit(similarity, links, records, parties).estimate()


@dataclass
class _Top:
    """The fitted top: the non-matches ``exp(level + slope * x)`` per bin and the matches per bin."""

    level: float
    slope: float
    matches: np.ndarray


class _Fit:
    """The counts in bins, the fit of the top and the bootstrap of one estimate."""

    def __init__(self, similarity: np.ndarray, links: np.ndarray, records: Tuple[int, int], parties: List[int]) -> None:
        self.similarity = similarity
        self.parties = parties
        n_a, n_b = (max(int(count), 1) for count in records)
        self.records = (n_a, n_b)
        low = math.floor(round(float(similarity[-1]) / BIN_WIDTH, 6)) * BIN_WIDTH
        bins = max(1, int(round((1.0 - low) / BIN_WIDTH)))
        self.edges = np.round(low + BIN_WIDTH * np.arange(bins + 1), 10)
        index = np.clip(np.searchsorted(self.edges, similarity, side="right") - 1, 0, bins - 1)
        self.cumulative_links = np.concatenate([[0], np.cumsum(links, dtype=np.int64)])
        before = self.cumulative_links[:-1]  # the links made before each pair
        free = np.clip(1 - before / n_a, 0, 1) * np.clip(1 - before / n_b, 0, 1)
        not_link = ~links
        seen = free[not_link]
        self.links = np.bincount(index, weights=links, minlength=bins).astype(np.float64)
        self.non_links = np.bincount(index[not_link], minlength=bins).astype(np.float64)
        self.counted = np.bincount(index[not_link], weights=seen / np.maximum(1 - seen, 1e-12), minlength=bins)
        # the chance that a non-match of each bin has both records free, with half the bin's links made
        made = np.cumsum(self.links[::-1])[::-1] - self.links / 2
        self.phi = np.clip(1 - made / n_a, 0, 1) * np.clip(1 - made / n_b, 0, 1)
        self.start = int(index[np.flatnonzero(not_link)[TAIL_NON_LINKS - 1]])
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        self.x = centres[self.start :] - centres[self.start]

    def top(self, non_links: np.ndarray, links: np.ndarray, warm: Optional[_Top] = None) -> Optional[_Top]:
        """Fit the top (``None`` if the non-matches there do not fall off towards 1).

        :param warm: a fit of similar counts to start from.
        """
        start = self.start
        y, observed, phi = non_links[start:], links[start:], self.phi[start:]
        first = _poisson_fit(
            y, np.maximum(1 - phi, 1e-12) * BIN_WIDTH, self.x, None if warm is None else (warm.level, warm.slope)
        )
        if first is None:
            return None
        level, slope = first
        expected = np.exp(level + slope * self.x) * BIN_WIDTH * phi
        matches = _matches(observed - expected, expected) if warm is None else warm.matches
        for _ in range(EM_ROUNDS):
            false = observed * _share(expected, matches)
            fit = _poisson_fit(y + false, np.full(len(y), BIN_WIDTH), self.x, (level, slope))
            if fit is None:
                return _Top(first[0], first[1], _matches(observed - expected, expected))
            level, slope = fit
            matches = _matches(observed - false, expected)
            moved = np.exp(level + slope * self.x) * BIN_WIDTH * phi
            converged = float(np.abs(moved - expected).sum()) < EM_TOLERANCE
            expected = moved
            if converged:
                break
        return _Top(level, slope, matches)

    def false_links(self, counted: np.ndarray, top: _Top) -> np.ndarray:
        """The estimated false links of each bin: counted below the top, split by the fit in it."""
        start = self.start
        false = counted.copy()
        expected = np.exp(top.level + top.slope * self.x) * BIN_WIDTH * self.phi[start:]
        false[start:] = self.links[start:] * _share(expected, top.matches)
        return np.clip(false, 0, self.links)

    def matches(self, false_bins: np.ndarray) -> float:
        """The matches: the true links at the lowest threshold, at most the smaller party's records."""
        return float(min(self.links.sum() - false_bins.sum(), min(self.records)))

    def estimate(self) -> ScoreEstimate:
        """The estimate, or why there is none."""
        top = self.top(self.non_links, self.links)
        if top is None:
            return ScoreEstimate(
                "the non-matches' scores do not fall off towards 1, so the model cannot tell the matches from them",
                self.parties,
            )
        false_bins = self.false_links(self.counted, top)
        matches = self.matches(false_bins)
        links = np.cumsum(self.links[::-1])[::-1]
        false_links = np.cumsum(false_bins[::-1])[::-1]
        no_matches = (
            f"one-to-one matching makes {links[0]:,.0f} links, and the non-matches alone would make about as many "
            f"({false_links[0]:,.0f}): the scores show no matches"
        )
        if matches < MIN_MATCHES:
            return ScoreEstimate(no_matches, self.parties)
        with np.errstate(invalid="ignore", divide="ignore"):
            false_share = np.where(self.links > 0, false_bins / np.maximum(self.links, 1), 0.0)
        result = ScoreEstimate(
            None,
            self.parties,
            self.records,
            self.edges[:-1].copy(),
            links.astype(np.int64),
            false_links,
            matches,
            false_share=false_share,
            non_matches=false_bins + self.non_links,
            similarity=self.similarity,
            cumulative_links=self.cumulative_links,
        )
        replicate_matches = self._bootstrap(result, top)
        if np.percentile(replicate_matches, (1 - BAND) / 2 * 100) < MIN_MATCHES:
            return ScoreEstimate(no_matches, self.parties)
        f_measure = result.f_measure
        if f_measure.max() < MIN_F_MEASURE:
            return ScoreEstimate(
                f"the scores show no hump of matches apart from the non-matches: at every threshold most links "
                f"would be non-matches or most matches missed (the best estimated F-measure is {f_measure.max():.2f})",
                self.parties,
            )
        best = int(np.flatnonzero(f_measure >= f_measure.max() - 1e-12)[-1])
        chosen = float(result.thresholds[best])
        result.best_band = (min(result.best_band[0], chosen), max(result.best_band[1], chosen))
        result.best = result._result(chosen, best, int(links[best]), float(links[best] - false_links[best]))
        return result

    def _bootstrap(self, result: ScoreEstimate, fitted: _Top) -> np.ndarray:
        """Fill in the bands of ``result``; return the matches of every replicate."""
        rng = np.random.default_rng(SEED)
        links = result.links.astype(np.float64)
        samples = {name: np.empty((BOOTSTRAP_REPLICATES, len(links))) for name in QUALITIES}
        all_matches = np.empty(BOOTSTRAP_REPLICATES)
        bests = np.empty(BOOTSTRAP_REPLICATES)
        weight = np.divide(self.counted, self.non_links, out=np.zeros(len(self.links)), where=self.non_links > 0)
        start = self.start
        counts = self.links[start:].astype(np.int64)
        for replicate in range(BOOTSTRAP_REPLICATES):
            drawn = rng.poisson(self.non_links).astype(np.float64)
            top = self.top(drawn, rng.poisson(self.links).astype(np.float64), fitted) or fitted
            false_bins = self.false_links(weight * drawn, top)
            share = np.divide(false_bins[start:], self.links[start:], out=np.zeros(len(counts)), where=counts > 0)
            false_bins[start:] = rng.binomial(counts, np.clip(share, 0, 1))
            matches = max(self.matches(false_bins), 1e-12)
            true_links = links - np.cumsum(false_bins[::-1])[::-1]
            samples["precision"][replicate] = _precision(links, true_links)
            samples["recall"][replicate] = true_links / matches
            f_measure = 2 * true_links / (links + matches)
            samples["f_measure"][replicate] = f_measure
            all_matches[replicate] = matches
            bests[replicate] = result.thresholds[int(np.flatnonzero(f_measure >= f_measure.max() - 1e-12)[-1])]
        low, high = (1 - BAND) / 2 * 100, (1 + BAND) / 2 * 100
        estimates = {"precision": result.precision, "recall": result.recall, "f_measure": result.f_measure}
        for name in QUALITIES:
            # where the estimate sits at an edge (recall 1, say), the replicates fall on one side of it
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no links above a threshold: no precision there
                result.bands[name] = (
                    np.fmin(np.nanpercentile(samples[name], low, axis=0), estimates[name]),
                    np.fmax(np.nanpercentile(samples[name], high, axis=0), estimates[name]),
                )
        result.matches_band = (
            min(float(np.percentile(all_matches, low)), result.matches),
            max(float(np.percentile(all_matches, high)), result.matches),
        )
        result.best_band = (float(np.percentile(bests, low)), float(np.percentile(bests, high)))
        return all_matches


def _share(false: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``false / (false + true)``, 0 where both are 0."""
    total = false + true
    return np.divide(false, total, out=np.zeros_like(total), where=total > 0)


def _poisson_fit(
    y: np.ndarray, exposure: np.ndarray, x: np.ndarray, start: Optional[Tuple[float, float]] = None
) -> Optional[Tuple[float, float]]:
    """Maximum-likelihood ``(level, slope)`` of ``y ~ Poisson(exp(level + slope * x) * exposure)``.

    Newton's method, halving steps that lower the likelihood. ``None`` if there
    is nothing to fit or the counts do not fall off with ``x`` (``slope >= 0``).
    """
    total = float(y.sum())
    if total <= 0:
        return None
    if start is None:
        slope = -1.0 / max(float((y * x).sum()) / total, BIN_WIDTH / 2)
        level = math.log(total / float((np.exp(slope * x) * exposure).sum()))
    else:
        level, slope = start

    def likelihood(level: float, slope: float) -> Tuple[float, np.ndarray]:
        mu = np.exp(np.clip(level + slope * x, -700, 700)) * exposure
        return float((y * np.log(np.maximum(mu, 1e-300))).sum() - mu.sum()), mu

    current, mu = likelihood(level, slope)
    for _ in range(100):
        gradient = np.array([(y - mu).sum(), ((y - mu) * x).sum()])
        hessian = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        factor = 1.0
        while True:
            trial = likelihood(level + factor * float(step[0]), slope + factor * float(step[1]))
            if trial[0] >= current - 1e-9 or factor < 1e-4:
                break
            factor /= 2
        level, slope = level + factor * float(step[0]), slope + factor * float(step[1])
        current, mu = trial
        if not (math.isfinite(level) and math.isfinite(slope)):
            return None
        if factor * float(np.max(np.abs(step))) < 1e-9:
            break
    return (level, slope) if slope < 0 else None


def _matches(true: np.ndarray, false: np.ndarray) -> np.ndarray:
    """The matches of each bin of the top, given the links less the false ones (``true``) and the expected false links.

    They never decrease towards 1 over the bins with at least :data:`MONOTONE_UNTIL`
    false links expected above (the least-squares such fit, which for Poisson
    counts is also the maximum-likelihood one); above those, where the matches'
    own humps and gaps (say, a spike at 1) no longer matter, they are as counted.
    """
    expected_above = np.cumsum(false[::-1])[::-1]
    end = max(int(np.searchsorted(-expected_above, -MONOTONE_UNTIL, side="left")), 1)
    return np.concatenate([_increasing(true[:end]), np.maximum(true[end:], 0.0)])


def _increasing(values: np.ndarray) -> np.ndarray:
    """The least-squares fit to ``values`` that never decreases (pool adjacent violators), and is at least 0."""
    means: List[float] = []
    sizes: List[int] = []
    for value in values.tolist():
        mean, size = value, 1
        while means and means[-1] > mean:
            mean = (means[-1] * sizes[-1] + mean * size) / (sizes[-1] + size)
            size += sizes[-1]
            means.pop()
            sizes.pop()
        means.append(mean)
        sizes.append(size)
    return np.maximum(np.repeat(means, sizes), 0.0)
