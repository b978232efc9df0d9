"""The threshold estimate in the threshold report: its line, its sentences, its curves and its chart.

:mod:`.estimate` finds the numbers (or why there are none); this module says and
draws them, always labelled as estimates: the line ``anonlink threshold-report``
prints, the fitted match and non-match curves over the histogram of the scores,
the chart of estimated precision, recall and F-measure with their uncertainty
bands and the estimated best threshold, and the table's columns. With a ground
truth the true curves are drawn beside the estimated ones.
"""

import math
from typing import List, Optional, Sequence

import numpy as np

from anonlinkclient.report import svg
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.estimate import BAND, BIN_WIDTH, BOOTSTRAP_REPLICATES, QUALITIES, EstimatedAt, ScoreEstimate

#: What every printed estimate ends with: it is not a measurement.
ESTIMATED = "estimated from the scores, no ground truth"
#: The estimate's quality -> (series name, label, colour role).
SERIES = {
    "precision": ("precision", "precision", "precision"),
    "recall": ("recall", "recall", "recall"),
    "f_measure": ("f-measure", "F-measure", "F-measure"),
}


def no_estimate(estimate: ScoreEstimate) -> str:
    """The sentence that says why there is no estimate."""
    return f"No estimate of the best threshold: {estimate.reason}."


def estimate_line(estimate: ScoreEstimate) -> str:
    """The one line ``threshold-report`` prints about the estimate: the estimated best threshold, or why there is none.

    Shaped, and its numbers written, like the line of the best threshold with a ground truth.
    """
    best = estimate.best
    if estimate.reason is not None or best is None:
        return no_estimate(estimate)
    precision = _precision(best)
    return (
        f"Estimated best threshold {best.threshold:g}: F-measure {best.f_measure:.3f}, precision {precision},"
        f" recall {best.recall:.3f} ({ESTIMATED})"
    )


def _precision(best: EstimatedAt) -> str:
    """The estimated precision at the best threshold, to 3 decimals (a dash where there is none)."""
    return "–" if best.precision is None else f"{best.precision:.3f}"


def _band(band: Sequence[float], digits: int = 3) -> str:
    return f"{band[0]:,.{digits}f} to {band[1]:,.{digits}f}"


def estimate_message(estimate: ScoreEstimate, truth_f_measure: Optional[float] = None) -> str:
    """The estimate in a sentence or two for the page (``truth_f_measure``: the true F-measure at its threshold)."""
    best = estimate.best
    if estimate.reason is not None or best is None:
        return no_estimate(estimate)
    precision = _precision(best)
    message = (
        f"Estimated best threshold: {best.threshold:g}, with an estimated F-measure of {best.f_measure:.3f} "
        f"({_band(best.bands['f_measure'])}), precision {precision} and recall {best.recall:.3f}, estimated from "
        f"the scores alone, without a ground truth. It gives {best.links:,} links, about {best.true_links:,.0f} of "
        f"them true; about {estimate.matches:,.0f} of the pairs are matches ({_band(estimate.matches_band, 0)})."
    )
    if truth_f_measure is not None:
        message += f" The ground truth gives that threshold an F-measure of {truth_f_measure:.3f}."
    return message


def estimate_notes(estimate: ScoreEstimate, sampled_above: Optional[float]) -> List[str]:
    """What the reader of an estimate should know about it."""
    if estimate.reason is not None:
        return []
    notes = [
        f"The estimate's band holds the middle {BAND:.0%} of {BOOTSTRAP_REPLICATES} bootstrap replicates of the "
        "scores: how much it depends on which pairs happened to be seen, not whether its model fits. Matches that "
        "score as low as the bulk of the non-matches cannot be told from them, so recall is of the matches the "
        "scores show."
    ]
    if sampled_above is not None:
        notes.append(
            f"The scores are a sample below {sampled_above:.4g}: the estimate is made from the pairs at or above it "
            "(all of them are in the file), as if the scores had been computed with that threshold."
        )
    return notes


def _shown(estimate: ScoreEstimate, low: float) -> np.ndarray:
    """Which of the estimate's thresholds a chart from ``low`` to 1 shows."""
    return estimate.thresholds >= low - 1e-9


def draw_fitted(chart: svg.Chart, estimate: ScoreEstimate, low: float, bin_width: float) -> None:
    """Draw the estimated matches and non-matches over a histogram of the scores in bins of ``bin_width``.

    Each curve passes through the middle of each of the estimate's bins at the
    number of pairs a histogram bin of ``bin_width`` would have there; on a log
    scale, bins without any are left out.
    """
    if estimate.reason is not None:
        return
    shown = _shown(estimate, low)
    centres = (estimate.thresholds + BIN_WIDTH / 2)[shown]
    false_links = np.diff(-np.append(estimate.false_links, 0.0))  # per bin
    links = np.diff(-np.append(estimate.links.astype(np.float64), 0.0))
    scale = bin_width / BIN_WIDTH
    for counts, role, series, label in (
        (estimate.non_matches, "estimated non-matches", "estimated-non-matches", "estimated non-matches"),
        (links - false_links, "estimated matches", "estimated-matches", "estimated matches"),
    ):
        values = np.asarray(counts, dtype=np.float64)[shown] * scale
        if chart.y_log:
            values = np.where(values >= chart.y_range[0], values, np.nan)
        chart.line(centres.tolist(), values.tolist(), COLOURS[role], series, label, "6 3", 2.4)


def mark_estimated_best(chart: svg.Chart, estimate: ScoreEstimate) -> None:
    """Mark the estimated best threshold."""
    best = estimate.best
    if estimate.reason is None and best is not None:
        chart.vline(
            best.threshold,
            COLOURS["estimated best threshold"],
            "estimated-best-threshold",
            f"estimated best {best.threshold:g}",
            f"estimated F-measure {best.f_measure:.3f}",
        )


def estimate_chart(
    estimate: ScoreEstimate,
    low: float,
    truth_thresholds: Optional[np.ndarray] = None,
    truth_curves: Optional[Sequence[np.ndarray]] = None,
) -> svg.Chart:
    """Estimated precision, recall and F-measure at every threshold, their bands and the estimated best threshold.

    :param truth_curves: the true precision, recall and F-measure at ``truth_thresholds``, drawn beside them.
    """
    best = estimate.best
    assert best is not None
    description = (
        f"Precision, recall and F-measure at each threshold, estimated from the scores alone, with the middle "
        f"{BAND:.0%} of {BOOTSTRAP_REPLICATES} bootstrap replicates shaded; the estimated best F-measure, "
        f"{best.f_measure:.3f}, is at threshold {best.threshold:g}."
    )
    chart = svg.Chart(
        "estimate-by-threshold",
        "How good would the links be? (estimated)",
        description,
        "threshold (keep pairs with at least this similarity)",
        "estimated precision, recall, F-measure",
        (low, 1.0),
        (0.0, 1.0),
        y_format="fraction",
        # room for a second row of the legend (the true curves)
        margin=(82, 24, 54, 76) if truth_curves is not None else (64, 24, 54, 76),
        height=398 if truth_curves is not None else 380,
    )
    shown = _shown(estimate, low)
    thresholds = estimate.thresholds[shown].tolist()
    curves = {"precision": estimate.precision, "recall": estimate.recall, "f_measure": estimate.f_measure}
    for name in QUALITIES:
        series, label, role = SERIES[name]
        band_low, band_high = estimate.bands[name]
        chart.band(
            thresholds,
            band_low[shown].tolist(),
            band_high[shown].tolist(),
            COLOURS[role],
            f"{series}-band",
            f"{label}: uncertainty band",
            legend=False,
        )
    for name in QUALITIES:
        series, label, role = SERIES[name]
        chart.line(
            thresholds,
            curves[name][shown].tolist(),
            COLOURS[role],
            f"estimated-{series}",
            f"estimated {label}",
            "6 3",
            3 if name == "f_measure" else 2.2,
        )
    if truth_thresholds is not None and truth_curves is not None:
        for name, values in zip(QUALITIES, truth_curves):
            series, label, role = SERIES[name]
            chart.line(
                truth_thresholds.tolist(),
                np.asarray(values).tolist(),
                COLOURS[role],
                f"true-{series}",
                f"true {label}",
                width=1.4,
            )
    mark_estimated_best(chart, estimate)
    return chart


def estimate_cells(estimate: ScoreEstimate, threshold: float) -> List[str]:
    """The table's estimated precision, recall and F-measure at ``threshold`` ("–" below the estimate's thresholds)."""
    if estimate.reason is not None:
        return []
    if threshold < float(estimate.thresholds[0]) - 1e-9:
        return ["–", "–", "–"]
    at = estimate.at(threshold)
    values = (at.precision, at.recall, at.f_measure)
    return ["–" if value is None or math.isnan(value) else f"{value:.3f}" for value in values]


ESTIMATE_HEADINGS = ["est. precision", "est. recall", "est. F\u2011measure"]
