"""The report pages in a real browser (Debian's chromium, headless): the charts are drawn, legible and right.

Each page is opened with a probe script added to a copy (the report has none);
after layout the probe measures every chart: the boxes of its texts, bars and
markers, and the colours of its pixels as the browser paints them.
"""

import math
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from anonlinkclient.report.blocks import block_report
from anonlinkclient.report.threshold import threshold_report
from tests.helpers import write_block_file
from tests.report.browser import render, screenshot
from tests.report.made_up import Linkage, best_by_brute_force, brute_force

WHITE_MIX = 0.25  # bars are drawn at 75% opacity over white


def blend(colour: str, opacity: float) -> Tuple[int, int, int]:
    """The colour ``colour`` drawn at ``opacity`` over white."""
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(opacity * value + (1 - opacity) * 255) for value in channels)  # type: ignore[return-value]


def pixels_near(pixels: Dict[str, int], colour: Tuple[int, int, int], tolerance: int = 3) -> int:
    """How many pixels are within ``tolerance`` of ``colour`` in every channel."""
    total = 0
    for key, count in pixels.items():
        value = int(key, 16)
        rgb = (value >> 16, (value >> 8) & 255, value & 255)
        if all(abs(a - b) <= tolerance for a, b in zip(rgb, colour)):
            total += count
    return total


def x_of(chart: Dict[str, Any], value: float) -> float:
    """Where ``value`` is on the x axis, from the positions of the first and last tick labels as laid out."""
    ticks = [text for text in chart["texts"] if text["tick"] == "x"]
    first, last = ticks[0], ticks[-1]
    x0, x1 = (first["box"][0] + first["box"][2]) / 2, (last["box"][0] + last["box"][2]) / 2
    v0, v1 = float(first["text"]), float(last["text"])
    return x0 + (value - v0) * (x1 - x0) / (v1 - v0)


def assert_legible(measured: Dict[str, Any], ids: List[str]) -> None:
    assert list(measured["charts"]) == ids
    assert measured["page"]["width"] <= 1200, "the page scrolls sideways"
    for chart_id, chart in measured["charts"].items():
        left, top, right, bottom = chart["box"]
        assert right - left >= 700 and bottom - top >= 300, chart_id
        assert chart["overlaps"] == [], chart_id
        assert chart["outside"] == [], chart_id
        assert chart["pixels"] != "error", chart_id


def assert_heights_follow_counts(bars: List[Dict[str, Any]], log: bool) -> None:
    """Bar heights are proportional to the counts (to their logarithm above 0.7 on a log axis), within a pixel."""
    scale = [
        (bar["box"][3] - bar["box"][1]) / (math.log10(bar["count"] / 0.7) if log else bar["count"]) for bar in bars
    ]
    reference = max(scale)  # the tallest bars are the least affected by rounding
    for bar in bars:
        expected = reference * (math.log10(bar["count"] / 0.7) if log else bar["count"])
        assert abs(bar["box"][3] - bar["box"][1] - expected) <= 1.5, bar


@pytest.fixture
def truth_page(linkage: Linkage, tmp_path: Path) -> Tuple[Path, Any]:
    page = tmp_path / "report.html"
    report = threshold_report(str(linkage.scores_path), str(page), str(linkage.truth_path))
    return page, report


def test_the_threshold_page_with_a_ground_truth(chromium: str, truth_page, linkage: Linkage, tmp_path: Path):
    page, report = truth_page
    measured = render(chromium, page, tmp_path)
    assert_legible(measured, ["scores-histogram", "links-by-threshold", "quality-by-threshold"])
    histogram = measured["charts"]["scores-histogram"]

    # the two humps: every pair in one bar of its series, heights to the (log) scale
    matches = [bar for bar in histogram["bars"] if bar["series"] == "matches"]
    non_matches = [bar for bar in histogram["bars"] if bar["series"] == "non-matches"]
    in_scores = {(a, b) for a, b, _s in linkage.scores} & linkage.truth
    assert sum(bar["count"] for bar in matches) == len(in_scores)
    assert sum(bar["count"] for bar in non_matches) == len(linkage.scores) - len(in_scores)
    for bar in matches[:5] + non_matches[:5]:
        truth = linkage.truth if bar["series"] == "matches" else None
        expected = sum(
            1
            for a, b, s in linkage.scores
            if bar["low"] <= s < bar["high"] + (1e-9 if bar["high"] == 1.0 else 0)
            and ((a, b) in linkage.truth) == bool(truth)
        )
        assert bar["count"] == expected
    assert "(log scale)" in [text["text"] for text in histogram["texts"] if text["role"] == "y-label"][0]
    assert_heights_follow_counts(matches + non_matches, log=True)
    # the browser painted them: orange non-matches, blue matches, and the mix where they overlap
    orange, blue = blend("#E69F00", 0.75), blend("#0072B2", 0.75)
    assert pixels_near(histogram["pixels"], orange) > 5000
    assert pixels_near(histogram["pixels"], blue) > 1000

    # the best threshold: marked at its place on the axis of every chart, labelled with its F-measure
    f_measure, _similarity = best_by_brute_force(linkage.scores, linkage.truth)
    best = report.best
    assert best.result.f_measure == pytest.approx(f_measure)
    for chart_id, chart in measured["charts"].items():
        (marker,) = [marker for marker in chart["markers"] if marker["role"] == "best-threshold"]
        assert marker["value"] == best.threshold
        assert marker["label"] == f"best threshold {best.threshold:g}F-measure {f_measure:.3f}"
        assert abs(marker["line"][0] - x_of(chart, best.threshold)) <= 1.5, chart_id

    # the curves: 401 points each, and the true-matches line at its count
    quality = measured["charts"]["quality-by-threshold"]
    assert sorted((line["series"], line["points"]) for line in quality["lines"]) == [
        ("f-measure", 401),
        ("precision", 401),
        ("recall", 401),
    ]
    links = measured["charts"]["links-by-threshold"]
    assert {line["series"] for line in links["lines"]} == {"links", "true-links", "false-links"}
    (true_matches,) = [marker for marker in links["markers"] if marker["role"] == "true-matches"]
    assert true_matches["value"] == len(linkage.truth)
    assert true_matches["label"] == f"true matches: {len(linkage.truth):,}"
    # the links line starts (at threshold 0.5) at the height of the brute-force count
    _pairs, links_at_half, _true = brute_force(linkage.scores, linkage.truth, 0.5)
    y_ticks = [text for text in links["texts"] if text["tick"] == "y"]
    (zero,) = [tick for tick in y_ticks if tick["text"] == "0"]
    top_tick = y_ticks[-1]
    pixels_per_link = ((zero["box"][1] + zero["box"][3]) / 2 - (top_tick["box"][1] + top_tick["box"][3]) / 2) / float(
        top_tick["text"].replace(",", "")
    )
    (links_line,) = [line for line in links["lines"] if line["series"] == "links"]
    assert abs(((zero["box"][1] + zero["box"][3]) / 2 - links_line["box"][1]) - links_at_half * pixels_per_link) <= 2


def test_the_threshold_page_without_a_ground_truth(chromium: str, linkage: Linkage, tmp_path: Path):
    page = tmp_path / "report.html"
    threshold_report(str(linkage.scores_path), str(page))
    measured = render(chromium, page, tmp_path)
    assert_legible(measured, ["scores-histogram", "links-by-threshold"])
    histogram = measured["charts"]["scores-histogram"]
    assert {bar["series"] for bar in histogram["bars"]} == {"pairs"}
    assert sum(bar["count"] for bar in histogram["bars"]) == len(linkage.scores)
    assert all(
        not chart["markers"] or chart["markers"][0]["role"] != "best-threshold" for chart in measured["charts"].values()
    )
    assert pixels_near(histogram["pixels"], blend("#56B4E9", 0.9)) > 5000


def test_the_block_page(chromium: str, tmp_path: Path):
    # block sizes from 1 to 3,000: the size bins double, and their labels are turned to fit
    blocks: List[List[str]] = []
    for size, count in ((1, 40), (2, 10), (5, 6), (40, 3), (300, 2), (3000, 1)):
        for block in range(count):
            blocks += [[f"{size}-{block}"]] * size
    blocks += [[]] * 150
    path = write_block_file(tmp_path / "blocks.json", blocks)
    page = tmp_path / "blocks.html"
    report = block_report(str(path), str(page))
    measured = render(chromium, page, tmp_path)
    assert_legible(measured, ["block-sizes", "records-by-block-size", "blocks-per-record"])
    sizes = measured["charts"]["block-sizes"]
    assert [(bar["key"], bar["count"]) for bar in sizes["bars"]] == [
        ("1", 40),
        ("2–3", 10),
        ("4–7", 6),
        ("32–63", 3),
        ("256–511", 2),
        ("2,048–4,095", 1),
    ]
    assert_heights_follow_counts(sizes["bars"], log=False)
    records = measured["charts"]["records-by-block-size"]
    assert [(bar["key"], bar["count"]) for bar in records["bars"]] == [
        ("1", 40),
        ("2–3", 20),
        ("4–7", 30),
        ("32–63", 120),
        ("256–511", 600),
        ("2,048–4,095", 3000),
    ]
    assert_heights_follow_counts(records["bars"], log=True)
    per_record = measured["charts"]["blocks-per-record"]
    assert [(bar["series"], bar["key"], bar["count"]) for bar in per_record["bars"]] == [
        ("records", "1", len(blocks) - 150),
        ("no-block", "0", 150),
    ]
    assert pixels_near(per_record["pixels"], blend("#D55E00", 0.9)) > 500
    assert report.stats.in_no_block == 150


def test_screenshots_of_the_three_reports(chromium: str, linkage: Linkage, tmp_path: Path):
    pages = {
        "truth.html": lambda page: threshold_report(str(linkage.scores_path), page, str(linkage.truth_path)),
        "scores.html": lambda page: threshold_report(str(linkage.scores_path), page),
        "blocks.html": lambda page: block_report(
            str(write_block_file(tmp_path / "b.json", [["a"], ["a", "b"], []] * 30)), page
        ),
    }
    for name, make in pages.items():
        page = tmp_path / name
        make(str(page))
        png = tmp_path / f"{name}.png"
        assert screenshot(chromium, page, png, (1000, 2400)) == (1000, 2400)
        assert png.stat().st_size > 60_000, f"{name}: the screenshot looks empty"


def test_the_probe_sees_overlapping_and_clipped_text(chromium: str, tmp_path: Path):
    """The legibility checks above are not vacuous: a page with bad labels fails them."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<svg xmlns="http://www.w3.org/2000/svg" id="bad" width="400" height="200" viewBox="0 0 400 200">'
        "<title>t</title>"
        '<text x="10" y="50" font-size="12">first label</text><text x="40" y="52" font-size="12">second label</text>'
        '<text transform="translate(200,100) rotate(-40)" font-size="12">turned one</text>'
        '<text transform="translate(215,100) rotate(-40)" font-size="12">turned two</text>'
        '<text transform="translate(300,100) rotate(-40)" font-size="12">apart</text>'
        '<text x="380" y="150" font-size="12">cut off at the edge</text>'
        "</svg></body></html>",
        encoding="utf-8",
    )
    chart = render(chromium, page, tmp_path)["charts"]["bad"]
    assert chart["overlaps"] == [["first label", "second label"], ["turned one", "turned two"]]
    assert chart["outside"] == ["cut off at the edge"]
