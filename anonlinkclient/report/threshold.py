"""The threshold report: what each similarity threshold would give, to help choose one.

From the similarity scores alone the report shows:

* the distribution of the scores (with a ground truth: of the matches and the
  non-matches, the two humps);
* for every threshold, the number of candidate pairs and of links;
* with a ground truth: precision, recall and F-measure of the links at every
  threshold, and the threshold with the best F-measure.

The numbers are :class:`~anonlinkclient.report.analysis.ThresholdAnalysis`'s
(how links, precision and recall are counted is said there); this module draws
them, and reads and writes the files.
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.io.clknblocks import count_clks
from anonlinkclient.io.scores_file import check_record_counts, read_scores
from anonlinkclient.io.truth_file import read_truth
from anonlinkclient.report import svg
from anonlinkclient.report.analysis import ThresholdAnalysis, party_list, score_bins, table_thresholds
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.page import Page, Report, Table, check_report_outputs

CURVE_POINTS = 400


# -- the page ---------------------------------------------------------------------------------------------


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(value: Optional[int]) -> str:
    return "–" if value is None else f"{value:,}"


def _log_scale(largest: float, smallest: float) -> bool:
    return smallest > 0 and largest / smallest >= 50


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
                COLOURS["best threshold"],
                "best-threshold",
                f"best threshold {self.best.threshold:g}",
                f"F-measure {self.best.result.f_measure:.3f}",
            )

    def histogram_chart(self) -> svg.Chart:
        """The distribution of the similarity scores (of matches and non-matches, with a ground truth)."""
        analysis = self.analysis
        edges = self.edges
        everything, matches = analysis.histogram(edges)
        if matches is not None:
            series = [
                ("non-matches", everything - matches, COLOURS["non-match"], "non-matches"),
                ("matches", matches, COLOURS["match"], "matches"),
            ]
        else:
            series = [("pairs", everything, COLOURS["unlabelled pairs"], "candidate pairs")]
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
            chart.line(
                thresholds.tolist(), pairs.tolist(), COLOURS["candidate pairs"], "pairs", "candidate pairs", width=2
            )
        if links is not None:
            chart.line(thresholds.tolist(), links.tolist(), COLOURS["links"], "links", "links (one-to-one)", width=2.8)
        if true_links is not None and links is not None:
            chart.line(
                thresholds.tolist(), true_links.tolist(), COLOURS["true links"], "true-links", "true links", width=2.2
            )
            chart.line(
                thresholds.tolist(),
                (links - true_links).tolist(),
                COLOURS["false links"],
                "false-links",
                "false links",
                "6 3",
                2.2,
            )
        if analysis.true_matches:
            chart.hline(
                analysis.true_matches,
                COLOURS["true matches"],
                "true-matches",
                f"true matches: {analysis.true_matches:,}",
            )
        if analysis.record_counts is not None and len(analysis.record_counts) == 2 and links is not None:
            smaller = min(analysis.record_counts)
            if smaller <= top * 1.1:
                chart.hline(smaller, COLOURS["record count"], "records", f"records of the smaller party: {smaller:,}")
        self._best_marker(chart)
        return chart

    def quality_chart(self) -> svg.Chart:
        """Precision, recall and F-measure at every threshold."""
        analysis = self.analysis
        thresholds = self.thresholds
        precision, recall, f_measure = analysis.quality_curves(thresholds)
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
        chart.line(thresholds.tolist(), precision.tolist(), COLOURS["precision"], "precision", "precision", width=2.2)
        chart.line(thresholds.tolist(), recall.tolist(), COLOURS["recall"], "recall", "recall", width=2.2)
        chart.line(thresholds.tolist(), f_measure.tolist(), COLOURS["F-measure"], "f-measure", "F-measure", width=3)
        self._best_marker(chart)
        return chart

    # tables and text

    def table(self) -> Table:
        """Candidate pairs, links and quality at round thresholds (and the best one)."""
        analysis = self.analysis
        thresholds = table_thresholds(self.low)
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
            ("Parties", party_list(analysis.parties)),
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
    check_report_outputs(output, svg_output, [scores_path, truth_path, *clk_files])
    record_counts = count_records(clk_files) if clk_files else None
    scores = read_scores(scores_path)
    if record_counts is not None:
        check_record_counts(scores, record_counts, clk_files)
    truth = None
    if truth_path is not None:
        truth = read_truth(truth_path, record_counts[:2] if record_counts else None, clk_files[:2])
    report = ThresholdReport(ThresholdAnalysis(scores, truth, record_counts))
    report.write(output, svg_output)
    return report


def format_summary(report: ThresholdReport) -> List[str]:
    """What ``anonlink threshold-report`` says about a report, one line per item."""
    analysis = report.analysis
    lines = [
        f"Read {len(analysis.scores):,} similarity scores of parties {party_list(analysis.parties)} from "
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
