"""The chart primitives: ticks, number formats, and SVG that parses as XML and shows in a notebook."""

from pathlib import Path
from xml.etree import ElementTree

import pytest
from IPython.display import HTML, SVG

from anonlinkclient.io.scores_file import read_scores
from anonlinkclient.io.truth_file import read_truth
from anonlinkclient.report import svg
from anonlinkclient.report.analysis import ThresholdAnalysis
from anonlinkclient.report.blocks import BlockReport, read_blocks
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.threshold import ThresholdReport
from tests.helpers import write_block_file
from tests.report.made_up import Linkage


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.5, 1.0, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 11200.0, [0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0]),
        (0.0, 7.0, [0.0, 2.0, 4.0, 6.0]),
        (0.0, 3.0, [0.0, 1.0, 2.0, 3.0]),
        (0.0, 14.0, [0.0, 5.0, 10.0]),
        (0.0, 140.0, [0.0, 25.0, 50.0, 75.0, 100.0, 125.0]),
    ],
)
def test_linear_ticks_are_round(low, high, ticks):
    count = 10 if high == 1.0 and low == 0.5 else 6
    assert svg.linear_ticks(low, high, count, whole=high > 1) == ticks


def test_log_ticks():
    assert svg.log_ticks(0.7, 150) == [1, 2, 5, 10, 20, 50, 100]
    assert svg.log_ticks(0.7, 3000) == [1, 10, 100, 1000]
    assert svg.log_ticks(0.7, 2e6) == [1, 10, 100, 1000, 1e4, 1e5, 1e6]


@pytest.mark.parametrize(
    ("value", "largest", "text"),
    [
        (0, 1000, "0"),
        (950, 1000, "950"),
        (1000, 1000, "1,000"),
        (8000, 10000, "8k"),
        (10000, 10000, "10k"),
        (1500, 2e6, "1.5k"),
        (500000, 1.5e6, "500k"),
        (1.5e6, 1.5e6, "1.5M"),
        (1e3, 1e5, "1k"),
    ],
)
def test_axis_counts_read_alike(value, largest, text):
    assert svg.format_count(value, largest) == text


def test_text_is_escaped():
    chart = svg.Chart("c", 'a <b> & "c"', "d", "x", "y", (0, 1), (0, 1))
    chart.bars([0, 0.5, 1], [1, 2], COLOURS["links"], "s", "<label>", tips=["<1>", "2 & 3"])
    root = ElementTree.fromstring(chart.svg())
    assert root.find("{http://www.w3.org/2000/svg}title").text == 'a <b> & "c"'


def test_reports_are_well_formed_svg_and_show_in_a_notebook(linkage: Linkage, tmp_path: Path):
    threshold = ThresholdReport(
        ThresholdAnalysis(read_scores(str(linkage.scores_path)), read_truth(str(linkage.truth_path)))
    )
    blocks = BlockReport(read_blocks(str(write_block_file(tmp_path / "b.json", [["a"], ["a", "b"], []]))))
    for report in (threshold, blocks):
        figure = report.svg()
        assert figure.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
        root = ElementTree.fromstring(figure.encode("utf-8"))
        ids = [element.get("id") for element in root.iter() if element.get("id")]
        assert len(ids) == len(set(ids)), "element ids must be unique"
        for chart in report.charts:
            ElementTree.fromstring(chart.svg())
        assert SVG(data=figure).data.startswith("<svg")  # IPython parses it and keeps the <svg> element
        fragment = report._repr_html_()
        assert HTML(fragment).data == fragment and fragment.startswith('<div class="anonlink-report">')
        # the style sheet applies inside the report only, not to the notebook around it
        style = fragment.split("<style>")[1].split("</style>")[0]
        rules = [rule.split("{")[0].strip() for rule in style.split("}") if "{" in rule]
        assert all(all(part.strip().startswith(".anonlink-report") for part in rule.split(",")) for rule in rules), (
            rules
        )


@pytest.mark.parametrize("largest", [1, 3, 40, 90, 180, 200, 999, 3624, 7000, 200_000, 2_075_942])
def test_a_log_axis_ends_at_a_labelled_tick_above_the_tallest_bar(largest):
    low, high = svg.log_range(largest)
    assert low == 0.7 and high >= 1.15 * largest
    assert svg.log_ticks(low, high)[-1] == high
