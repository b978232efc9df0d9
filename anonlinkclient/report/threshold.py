"""The threshold report: what each similarity threshold would give, to help choose one.

A linkage keeps the pairs of records whose similarity is at least the threshold,
and then matches records one to one, most similar pairs first (anonlink's
greedy solver, as ``anonlink find-similarity`` and the Entity Service's
``groups`` result do). From the similarity scores alone the report shows:

* the distribution of the scores (with a ground truth: of the matches and the
  non-matches, the two humps);
* for every threshold, the number of candidate pairs and of links;
* with a ground truth: precision, recall and F-measure of the links at every
  threshold, and the threshold with the best F-measure.

Because the greedy matching takes pairs in order of similarity, the links a
threshold gives are exactly the links of a single greedy pass over all pairs
that have at least that similarity; one pass over the sorted scores therefore
gives the links of every threshold. Pairs of equal similarity are taken in file
order (the order the solver saw them in for ``find-similarity`` output).

Precision is the share of links that are true matches; recall the share of the
ground truth's matches that are linked, counting the matches that are not among
the scores at all (their similarity was below the threshold the scores were
computed with, or they were in no common block); F-measure is their harmonic
mean, ``2 * true links / (links + true matches)``.
"""

import contextlib
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.clknblocks import count_clks
from anonlinkclient.io.output import atomic_output, check_outputs
from anonlinkclient.io.scores_file import Scores, check_record_counts, read_scores
from anonlinkclient.io.truth_file import Truth, read_truth
from anonlinkclient.report import svg
from anonlinkclient.report.page import Page, Report, Table

CURVE_POINTS = 400
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


def _parties(parties: Sequence[int]) -> str:
    """``0 and 1``, ``0, 1 and 2``."""
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
                f"{_parties(self.parties)}",
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


# -- the page ---------------------------------------------------------------------------------------------


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


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(value: Optional[int]) -> str:
    return "–" if value is None else f"{value:,}"


def _log_scale(largest: float, smallest: float) -> bool:
    return smallest > 0 and largest / smallest >= 50


def _table_thresholds(low: float) -> List[float]:
    span = 1.0 - low
    step = 0.05 if span > 0.3 else 0.02 if span > 0.12 else 0.01
    first = math.ceil(round(low / step, 6)) * step
    values = []
    value = first
    while value <= 1.0 + 1e-9:
        values.append(round(value, 4))
        value += step
    return values


@dataclass
class ThresholdReport(Report):
    """The threshold report of a set of scores: the charts, a table and the HTML page.

    :ivar analysis: the numbers the report shows.
    """

    analysis: ThresholdAnalysis
    svg_id = "threshold-report"
    title: str = "Choosing a similarity threshold"
    charts: List[svg.Chart] = field(default_factory=list)

    def __post_init__(self) -> None:
        analysis = self.analysis
        self.best = analysis.best()
        self.edges = score_bins(float(analysis.similarity[-1]))
        self.low = float(self.edges[0])
        self.thresholds = np.linspace(self.low, 1.0, CURVE_POINTS + 1)
        self.charts = [self.histogram_chart(), self.links_chart()]
        if analysis.has_truth:
            self.charts.append(self.quality_chart())

    # charts

    def _best_marker(self, chart: svg.Chart) -> None:
        if self.best is not None:
            chart.vline(
                self.best.threshold,
                svg.BLACK,
                "best-threshold",
                f"best threshold {self.best.threshold:g}",
                f"F-measure {self.best.result.f_measure:.3f}",
            )

    def histogram_chart(self) -> svg.Chart:
        """The distribution of the similarity scores (of matches and non-matches, with a ground truth)."""
        analysis = self.analysis
        edges = self.edges
        everything = np.histogram(analysis.similarity, bins=edges)[0]
        if analysis.match is not None:
            matches = np.histogram(analysis.similarity[analysis.match], bins=edges)[0]
            non_matches = everything - matches
            series = [
                ("non-matches", non_matches, svg.ORANGE, "non-matches"),
                ("matches", matches, svg.BLUE, "matches"),
            ]
        else:
            series = [("pairs", everything, svg.SKY, "candidate pairs")]
        heights = np.concatenate([counts[counts > 0] for _name, counts, _colour, _label in series])
        log = _log_scale(float(heights.max()), float(heights.min()))
        top = float(heights.max())
        y_range = svg.log_range(top) if log else (0.0, top * 1.12)
        width = edges[1] - edges[0]
        description = (
            f"Histogram of {len(analysis.similarity):,} similarity scores from {edges[0]:g} to 1 in bins of {width:g}"
            + (
                f": {int(analysis.match.sum()):,} pairs are true matches, {int((~analysis.match).sum()):,} are not."
                if analysis.match is not None
                else "."
            )
        )
        chart = svg.Chart(
            "scores-histogram",
            "How similar are the pairs?",
            description,
            "similarity of the pair",
            "number of pairs" + (" (log scale)" if log else ""),
            (self.low, 1.0),
            y_range,
            y_log=log,
        )
        for name, counts, colour, label in series:
            opacity = 0.75 if analysis.match is not None else 0.9
            chart.bars(
                edges.tolist(), counts.tolist(), colour, name, label, opacity, tooltip="{low}–{high}: {count} " + label
            )
        self._best_marker(chart)
        return chart

    def links_chart(self) -> svg.Chart:
        """Links (and, with a ground truth, true and false links) at every threshold.

        For more than two parties, where links are not counted, the candidate pairs.
        The candidate pairs of two parties are drawn too when they stay within
        three times the most links, so that the links remain readable.
        """
        analysis = self.analysis
        thresholds = self.thresholds
        pairs, links, true_links = analysis.curves(thresholds)
        show_pairs = links is None or pairs.max() <= 3 * max(int(links.max()), 1)
        tops = [float(pairs.max()) if show_pairs else float(links.max() if links is not None else 1)]
        if analysis.true_matches:
            tops.append(float(analysis.true_matches))
        if analysis.record_counts is not None and len(analysis.record_counts) == 2 and links is not None:
            smaller = min(analysis.record_counts)
            if smaller <= 1.5 * max(tops):
                tops.append(float(smaller))
        top = max(max(tops), 1.0)
        if links is not None:
            description = (
                f"Links after one-to-one matching at each threshold: {links.max():,} at {self.low:g}, "
                f"{links.min():,} at 1"
            )
            if true_links is not None:
                description += f"; true matches in the ground truth: {analysis.true_matches:,}"
        else:
            description = f"Candidate pairs at each threshold: {pairs.max():,} at {self.low:g}, {pairs.min():,} at 1"
        chart = svg.Chart(
            "links-by-threshold",
            "How many links would each threshold give?"
            if links is not None
            else "How many pairs would each threshold keep?",
            description + ".",
            "threshold (keep pairs with at least this similarity)",
            "number of links" if links is not None else "number of pairs",
            (self.low, 1.0),
            (0.0, top * 1.1),
        )
        if show_pairs:
            chart.line(thresholds.tolist(), pairs.tolist(), svg.GREY, "pairs", "candidate pairs", width=2)
        if links is not None:
            chart.line(thresholds.tolist(), links.tolist(), svg.BLUE, "links", "links (one-to-one)", width=2.8)
        if true_links is not None and links is not None:
            chart.line(thresholds.tolist(), true_links.tolist(), svg.GREEN, "true-links", "true links", width=2.2)
            chart.line(
                thresholds.tolist(),
                (links - true_links).tolist(),
                svg.VERMILION,
                "false-links",
                "false links",
                "6 3",
                2.2,
            )
        if analysis.true_matches:
            chart.hline(analysis.true_matches, svg.GREEN, "true-matches", f"true matches: {analysis.true_matches:,}")
        if analysis.record_counts is not None and len(analysis.record_counts) == 2 and links is not None:
            smaller = min(analysis.record_counts)
            if smaller <= top * 1.1:
                chart.hline(smaller, svg.MUTED, "records", f"records of the smaller party: {smaller:,}")
        self._best_marker(chart)
        return chart

    def quality_chart(self) -> svg.Chart:
        """Precision, recall and F-measure at every threshold."""
        analysis = self.analysis
        thresholds = self.thresholds
        _pairs, links, true_links = analysis.curves(thresholds)
        assert links is not None and true_links is not None and analysis.true_matches
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(links > 0, true_links / np.maximum(links, 1), np.nan)
        recall = true_links / analysis.true_matches
        f_measure = 2 * true_links / (links + analysis.true_matches)
        best = self.best
        description = "Precision, recall and F-measure of the links at each threshold" + (
            f"; the best F-measure, {best.result.f_measure:.3f}, is at threshold {best.threshold:g}"
            f" (precision {best.result.precision:.3f}, recall {best.result.recall:.3f})."
            if best is not None
            and best.result.f_measure is not None
            and best.result.precision is not None
            and best.result.recall is not None
            else "."
        )
        chart = svg.Chart(
            "quality-by-threshold",
            "How good would the links be?",
            description,
            "threshold (keep pairs with at least this similarity)",
            "precision, recall, F-measure",
            (self.low, 1.0),
            (0.0, 1.0),
            y_format="fraction",
        )
        chart.line(thresholds.tolist(), precision.tolist(), svg.BLUE, "precision", "precision", width=2.2)
        chart.line(thresholds.tolist(), recall.tolist(), svg.VERMILION, "recall", "recall", width=2.2)
        chart.line(thresholds.tolist(), f_measure.tolist(), svg.BLACK, "f-measure", "F-measure", width=3)
        self._best_marker(chart)
        return chart

    # tables and text

    def table(self) -> Table:
        """Candidate pairs, links and quality at round thresholds (and the best one)."""
        analysis = self.analysis
        thresholds = _table_thresholds(self.low)
        best = self.best
        if best is not None:
            # The best, and the round thresholds either side of it.
            near = {best.threshold, math.floor(best.threshold * 100) / 100, math.ceil(best.threshold * 100) / 100}
            thresholds = sorted(set(thresholds) | {round(value, 4) for value in near if self.low <= value <= 1.0})
        two_party = analysis.links is not None
        headings = ["threshold", "candidate pairs"] + (["links"] if two_party else [])
        if analysis.has_truth:
            headings += ["true links", "false links", "missed matches", "precision", "recall", "F\u2011measure"]
        rows = []
        highlight = []
        for index, threshold in enumerate(thresholds):
            result = analysis.at(threshold)
            row = [f"{threshold:g}", _count(result.pairs)] + ([_count(result.links)] if two_party else [])
            if analysis.has_truth:
                assert result.true_links is not None and result.links is not None and analysis.true_matches
                row += [
                    _count(result.true_links),
                    _count(result.links - result.true_links),
                    _count(analysis.true_matches - result.true_links),
                    _fmt(result.precision),
                    _fmt(result.recall),
                    _fmt(result.f_measure),
                ]
            if best is not None and threshold == best.threshold:
                highlight.append(index)
            rows.append(row)
        return Table(
            "What each threshold gives" + (" (best F-measure highlighted)" if best is not None else ""),
            headings,
            rows,
            highlight=highlight,
            table_id="thresholds",
        )

    def summary(self) -> List[Tuple[str, str]]:
        """The facts about the input, as ``(name, value)`` pairs."""
        analysis = self.analysis
        scores = analysis.scores
        seen = scores.records_seen()
        facts = [
            ("Similarity scores", f"{len(scores):,} pairs from {scores.path}"),
            ("Parties", _parties(analysis.parties)),
            ("Similarity", f"from {analysis.similarity[-1]:.4g} to {analysis.similarity[0]:.4g}"),
        ]
        for party in analysis.parties:
            if analysis.record_counts is not None:
                count = analysis.record_counts[party]
                facts.append((f"Records of party {party}", f"{count:,} ({seen[party]:,} appear in some pair)"))
            else:
                facts.append((f"Records of party {party}", f"at least {seen[party]:,} (the highest row in a pair + 1)"))
        if analysis.truth is not None and analysis.true_matches:
            facts.append(("Ground truth", f"{analysis.true_matches:,} true matches from {analysis.truth.path}"))
            facts.append(("True matches among the pairs", f"{analysis.truth_in_scores:,}"))
        return facts

    def key_message(self) -> str:
        """The main finding in one or two sentences."""
        best = self.best
        analysis = self.analysis
        if best is not None:
            result = best.result
            assert result.f_measure is not None and result.precision is not None and result.recall is not None
            assert result.links is not None and result.true_links is not None
            if best.above > -math.inf:
                exact = f" (any threshold above {best.above:.6g} and up to {best.up_to:.6g} gives the same links)"
            else:
                exact = (
                    " (the lowest similarity in the file: a lower threshold might do better, but the scores do not "
                    "go lower)"
                )
            return (
                f"Best threshold: {best.threshold:g}, with F-measure {result.f_measure:.3f}{exact}. "
                f"It gives {result.links:,} links, {result.true_links:,} of them true matches "
                f"(precision {result.precision:.3f}), and finds {result.true_links:,} of the "
                f"{analysis.true_matches:,} true matches (recall {result.recall:.3f})."
            )
        if analysis.links is not None:
            return (
                "Without a ground truth, look at the first chart for two humps: the many non-matches at low "
                "similarity and the matches near 1. A threshold in the dip between them keeps most matches and "
                "few non-matches; the second chart shows how many links it gives."
            )
        return (
            "These scores are of more than two parties, so the links are not counted (one-to-one matching applies "
            "to two parties); the charts show the candidate pairs."
        )

    def warnings(self) -> List[str]:
        """Things the analyst should know about the input."""
        analysis = self.analysis
        notes = []
        if analysis.truth is not None and analysis.true_matches:
            missing = analysis.true_matches - analysis.truth_in_scores
            if missing:
                notes.append(
                    f"{missing:,} of the {analysis.true_matches:,} true matches ({missing / analysis.true_matches:.1%})"
                    f" are not among the scores: their similarity is below the threshold the scores were computed "
                    f"with, or their records share no block. No threshold links them, so recall is at most "
                    f"{analysis.truth_in_scores / analysis.true_matches:.3f}."
                )
        notes.append(
            f"The scores hold only pairs with similarity of at least {analysis.similarity[-1]:.4g} (the lowest "
            "score in the file), so lower thresholds are not shown."
        )
        return notes

    def page(self) -> Page:
        """The report as a page."""
        analysis = self.analysis
        page = Page(self.title, f"Similarity scores: {analysis.scores.path}")
        page.paragraph(self.key_message(), "key")
        page.facts(self.summary(), "summary")
        for note in self.warnings():
            page.paragraph(note, "warning")
        captions = [
            "Each bar counts the pairs whose similarity falls in its range"
            + (
                ": in blue the true matches, in orange the non-matches; where they overlap the colours mix."
                if analysis.has_truth
                else ". Matches usually form a hump near 1, non-matches a larger one at lower similarity."
            ),
            (
                "Raising the threshold removes links. Links are what remains of the pairs with at least the threshold "
                "after one-to-one matching (each record in at most one link, most similar pairs first), as "
                "find-similarity and the Entity Service's groups result give them."
                if analysis.links is not None
                else "Raising the threshold removes pairs: each point counts the pairs with at least that similarity."
            ),
            "Precision: the share of links that are true matches. Recall: the share of true matches that are linked."
            " F-measure: their harmonic mean.",
        ]
        page.heading("Distribution of similarity scores")
        page.figure(self.charts[0].svg(), captions[0])
        page.heading("Links at each threshold")
        page.figure(self.charts[1].svg(), captions[1])
        if len(self.charts) > 2:
            page.heading("Precision and recall at each threshold")
            page.figure(self.charts[2].svg(), captions[2])
        page.heading("Thresholds")
        page.table(self.table())
        return page


# -- reading and writing ---------------------------------------------------------------------------------


def count_records(clk_files: Sequence[str]) -> List[int]:
    """The number of CLKs in each party's CLK file (streamed).

    :raises InputFileError: if a file is not a CLK file or has no CLKs.
    """
    return [count_clks(path)[0] for path in clk_files]


def threshold_report(
    scores_path: str,
    output: str,
    truth_path: Optional[str] = None,
    clk_files: Sequence[str] = (),
    svg_output: Optional[str] = None,
) -> ThresholdReport:
    """Read similarity scores (and a ground truth) and write the threshold report.

    :param scores_path: the similarity scores (``find-similarity`` scores output or
        an Entity Service ``similarity_scores`` result).
    :param output: the HTML page (``-``: stdout); written only if everything succeeds.
    :param truth_path: a ground-truth CSV file (``row_a,row_b``), if there is one.
    :param clk_files: each party's CLK file, in party order, if known: then every
        row of the scores and of the ground truth must exist.
    :param svg_output: also write the charts as one standalone SVG file here.
    :raises InputFileError: for a bad or empty scores file, a bad ground truth, or
        scores and ground truth that do not fit each other or the CLK files;
        nothing is written then.
    :raises UsageError: if ``output`` and ``svg_output`` are the same file.
    """
    if svg_output is not None and svg_output == output:
        raise UsageError("the HTML report and the SVG need different outputs", "svg_output")
    check_outputs([output, svg_output], [scores_path, truth_path, *clk_files])
    record_counts = count_records(clk_files) if clk_files else None
    scores = read_scores(scores_path)
    if record_counts is not None:
        check_record_counts(scores, record_counts, clk_files)
    truth = None
    if truth_path is not None:
        truth = read_truth(truth_path, record_counts[:2] if record_counts else None, clk_files[:2])
    report = ThresholdReport(ThresholdAnalysis(scores, truth, record_counts))
    page = report.html()
    figure = report.svg() if svg_output is not None else ""
    with contextlib.ExitStack() as stack:
        html_out = stack.enter_context(atomic_output(output))
        if svg_output is not None:
            stack.enter_context(atomic_output(svg_output)).write(figure)
        html_out.write(page)
    return report


def format_summary(report: ThresholdReport) -> List[str]:
    """What ``anonlink threshold-report`` says about a report, one line per item."""
    analysis = report.analysis
    lines = [
        f"Read {len(analysis.scores):,} similarity scores of parties {_parties(analysis.parties)} from "
        f"{analysis.scores.path} (similarity {analysis.similarity[-1]:.4g} to {analysis.similarity[0]:.4g})"
    ]
    best = report.best
    if best is not None:
        result = best.result
        assert result.f_measure is not None and result.precision is not None and result.recall is not None
        lines.append(
            f"Best threshold {best.threshold:g}: F-measure {result.f_measure:.3f}, precision {result.precision:.3f},"
            f" recall {result.recall:.3f} ({result.links:,} links, {result.true_links:,} of them true)"
        )
    return lines
