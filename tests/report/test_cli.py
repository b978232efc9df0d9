"""The report commands, in-process (CliRunner) and as real subprocesses: outputs, messages, exit codes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List
from xml.etree import ElementTree

import pytest

from tests.helpers import noisy, random_clks, run_cli, write_block_file, write_clk_file
from tests.report.made_up import Linkage, best_by_brute_force, brute_force

ANONLINK = Path(sys.executable).parent / "anonlink"
SVG = "{http://www.w3.org/2000/svg}"


def files_in(directory: Path) -> List[str]:
    return sorted(path.name for path in directory.iterdir())


def assert_self_contained(page: str) -> None:
    """No script, nothing fetched: no src/href, no url(), no @import, no address but the SVG namespace."""
    assert page.startswith("<!DOCTYPE html>")
    lowered = page.lower()
    for forbidden in ("<script", " src=", " href=", "url(", "@import", "<link", "<iframe", "<img"):
        assert forbidden not in lowered, forbidden
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_threshold_report_with_a_ground_truth(linkage: Linkage, tmp_path: Path):
    output, figure = tmp_path / "report.html", tmp_path / "report.svg"
    result = run_cli("threshold-report", linkage.scores_path, output, "--truth", linkage.truth_path, "--svg", figure)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    f_measure, threshold = best_by_brute_force(linkage.scores, linkage.truth)
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"Read {len(linkage.scores):,} similarity scores of parties 0 and 1 from {linkage.scores_path} "
        f"(similarity 0.5 to {max(s for _a, _b, s in linkage.scores):.4g})"
    )
    found = re.fullmatch(
        r"Best threshold ([0-9.]+): F-measure ([0-9.]+), precision ([0-9.]+), recall ([0-9.]+) "
        r"\(([0-9,]+) links, ([0-9,]+) of them true\)",
        lines[1],
    )
    assert found, lines[1]
    printed = float(found.group(1))
    pairs, links, true_links = brute_force(linkage.scores, linkage.truth, printed)
    assert found.group(2) == f"{f_measure:.3f}" == f"{2 * true_links / (links + len(linkage.truth)):.3f}"
    assert found.group(3) == f"{true_links / links:.3f}" and found.group(4) == f"{true_links / len(linkage.truth):.3f}"
    assert (int(found.group(5).replace(",", "")), int(found.group(6).replace(",", ""))) == (links, true_links)
    # the printed threshold keeps exactly the pairs of the best similarity found by exhaustive search
    assert pairs == brute_force(linkage.scores, linkage.truth, threshold)[0]
    assert lines[2:] == [f"Report written to {output}", f"Charts written to {figure}"]

    page = output.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert f"Best threshold: {printed:g}, with F-measure {f_measure:.3f}" in page
    root = ElementTree.parse(figure).getroot()
    assert root.tag == f"{SVG}svg"
    charts = [group.get("data-chart") for group in root.iter(f"{SVG}g") if group.get("data-chart")]
    assert charts == ["scores-histogram", "links-by-threshold", "quality-by-threshold"]
    markers = [group for group in root.iter(f"{SVG}g") if group.get("data-role") == "best-threshold"]
    assert [float(marker.get("data-value")) for marker in markers] == [printed] * 3


def test_threshold_report_without_a_ground_truth_to_stdout(linkage: Linkage):
    result = run_cli("threshold-report", linkage.scores_path, "-")
    assert result.exit_code == 0, result.stderr
    assert_self_contained(result.stdout)
    assert "best threshold" not in result.stdout.lower()
    assert 'id="quality-by-threshold"' not in result.stdout
    assert result.stderr.splitlines()[-1] == "Report written to stdout"
    # the table's links agree with the brute-force count
    rows = re.findall(r"<tr><td>([0-9.]+)</td><td>([0-9,]+)</td><td>([0-9,]+)</td></tr>", result.stdout)
    assert len(rows) == 11
    for threshold, pairs, links in rows:
        expected_pairs, expected_links, _true = brute_force(linkage.scores, set(), float(threshold))
        assert (int(pairs.replace(",", "")), int(links.replace(",", ""))) == (expected_pairs, expected_links)


def test_block_report(tmp_path: Path):
    blocks = [["a", "b"], ["a"], [], ["b", "c"], ["a"]] * 20
    path = write_block_file(tmp_path / "blocks.json", blocks)
    output, figure = tmp_path / "blocks.html", tmp_path / "blocks.svg"
    result = run_cli("block-report", path, output, "--svg", figure)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "3 blocks of 100 records; the biggest holds 60 records (60.0%). 20 records (20.0%) are in no block: "
        "they are never compared, so their matches cannot be found.",
        f"Report written to {output}",
        f"Charts written to {figure}",
    ]
    page = output.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert '<td>1</td><td class="text">a</td><td>60</td><td>60.0%</td>' in page
    root = ElementTree.parse(figure).getroot()
    assert [group.get("data-chart") for group in root.iter(f"{SVG}g") if group.get("data-chart")] == [
        "block-sizes",
        "records-by-block-size",
        "blocks-per-record",
    ]


@pytest.mark.parametrize(
    ("scores", "truth", "message"),
    [
        (
            '{"similarity_scores": []}',
            None,
            "{scores}: has no similarity scores (its list is empty), so there is nothing to report",
        ),
        ("{not json", None, "{scores}: not valid JSON"),
        (
            '{"similarity_scores": [[[0, 1], [1, 2], 0.9]]}',
            "row_a,row_b\n1,2\n-3,4\n",
            "{truth}, row 3: row_a -3 is negative; records are numbered from 0",
        ),
        (
            '{"similarity_scores": [[[0, 1], [1, 2], 0.9]]}',
            "row_a,row_b\n1,two\n",
            "{truth}, row 2: row_b 'two' is not a record number (a whole number from 0)",
        ),
        (
            '{"similarity_scores": [[[0, 1], [1, 2], 0.9], [[2, 1], [1, 2], 0.8]]}',
            "row_a,row_b\n1,2\n",
            "{truth}: a ground truth pairs records of parties 0 and 1, but {scores} has scores of parties 0, 1 and 2",
        ),
    ],
)
def test_bad_input_gives_one_line_exit_3_and_no_report(tmp_path: Path, scores: str, truth, message: str):
    scores_path = tmp_path / "scores.json"
    scores_path.write_text(scores)
    args = ["threshold-report", scores_path, tmp_path / "report.html", "--svg", tmp_path / "report.svg"]
    truth_path = tmp_path / "truth.csv"
    if truth is not None:
        truth_path.write_text(truth)
        args += ["--truth", truth_path]
    before = files_in(tmp_path)
    result = run_cli(*args)
    assert result.exit_code == 3
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: " + message.format(scores=scores_path, truth=truth_path))
    assert files_in(tmp_path) == before


def test_a_failed_report_leaves_the_previous_one(linkage: Linkage, tmp_path: Path):
    output = tmp_path / "report.html"
    assert run_cli("threshold-report", linkage.scores_path, output).exit_code == 0
    previous = output.read_bytes()
    bad = tmp_path / "truth-bad.csv"
    bad.write_text("row_a,row_b\n1,2\n1,2\n")
    result = run_cli("threshold-report", linkage.scores_path, output, "--truth", bad)
    assert result.exit_code == 3
    assert result.stderr == f"Error: {bad}, row 3: repeats the pair 1,2 of row 2\n"
    assert output.read_bytes() == previous


def test_the_svg_needs_its_own_file(linkage: Linkage, tmp_path: Path):
    output = tmp_path / "report.html"
    result = run_cli("threshold-report", linkage.scores_path, output, "--svg", output)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: --svg needs a different file than OUTPUT"
    assert not output.exists()


def test_a_bad_block_file_gives_exit_3_and_no_report(tmp_path: Path):
    path = tmp_path / "blocks.json"
    path.write_text('{"blocks": {}, "meta": {"source": {"clk_count": [3]}}}')
    before = files_in(tmp_path)
    result = run_cli("block-report", path, tmp_path / "blocks.html")
    assert result.exit_code == 3
    assert result.stderr == f"Error: {path}: has no blocks (no record is in a block), so there is nothing to report\n"
    assert files_in(tmp_path) == before


def test_from_clks_to_the_best_threshold_with_the_installed_command(tmp_path: Path):
    """find-similarity --scores, then threshold-report, then find-similarity at the best threshold: as a user would."""
    base = random_clks(120, size=64, seed=11)
    a = write_clk_file(tmp_path / "a.json", base[:90] + random_clks(30, size=64, seed=12))
    b = write_clk_file(tmp_path / "b.json", noisy(base[30:], flips=70, seed=13) + random_clks(40, size=64, seed=14))
    truth = tmp_path / "truth.csv"
    truth.write_text("row_a,row_b\n" + "".join(f"{row},{row - 30}\n" for row in range(30, 120 - 30)))

    def anonlink(*args) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(ANONLINK), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
            env=dict(os.environ),
        )
        assert done.returncode == 0, done.stderr
        return done

    anonlink("find-similarity", "0.5", "groups.json", "--clk", a, "--clk", b, "--scores", "scores.json")
    done = anonlink(
        "threshold-report", "scores.json", "report.html", "--truth", truth, "--clk", a, "--clk", b, "--svg", "r.svg"
    )
    best = re.search(r"Best threshold ([0-9.]+): .*\(([0-9,]+) links, ([0-9,]+) of them true\)", done.stderr)
    assert best, done.stderr
    threshold, links, true_links = best.group(1), int(best.group(2)), int(best.group(3))
    assert true_links == 60 and links == 60  # these noisy copies are all found, and nothing else
    anonlink("find-similarity", threshold, "best.json", "--clk", a, "--clk", b)
    groups = json.loads((tmp_path / "best.json").read_text())["groups"]
    assert len(groups) == links
    assert sorted(sorted(map(tuple, group)) for group in groups) == [[(0, row), (1, row - 30)] for row in range(30, 90)]
    page = (tmp_path / "report.html").read_text()
    assert "<dt>Records of party 0</dt><dd>120 (" in page and "<dt>Records of party 1</dt><dd>130 (" in page
