"""The threshold estimate as a user meets it: ``anonlink threshold-report``'s line, page and charts.

The scores are made as a user makes them (``generate``, ``hash``,
``find-similarity --scores`` in each of its formats); the line printed, the
page and the SVG are checked as written, in-process (CliRunner) and as a real
program; every refusal is one plain sentence, printed and on the page, with
exit code 0.
"""

import json
import re
from pathlib import Path
from typing import Dict, List
from xml.etree import ElementTree

import pytest

from anonlinkclient.io.scores_file import read_scores
from anonlinkclient.report.estimate import estimate_scores
from tests.helpers import run_anonlink, run_cli

SVG = "{http://www.w3.org/2000/svg}"
LINE = re.compile(
    r"Estimated best threshold (0\.[0-9]+|1): F-measure ([01]\.[0-9]{3}), precision ([01]\.[0-9]{3}), "
    r"recall ([01]\.[0-9]{3}) \(estimated from the scores, no ground truth\)"
)
THRESHOLD = 0.6


def ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """1,000 demo records a party, half of the people in both, hashed and linked at 0.6 with scores in every format."""
    directory = tmp_path_factory.mktemp("estimate-cli")
    files = {name: directory / name for name in ("a.csv", "b.csv", "truth.csv", "schema.json", "a.json", "b.json")}
    ok(
        run_cli(
            "generate", 1000, files["a.csv"], "--linked", files["b.csv"], "--truth", files["truth.csv"], "--seed", 42
        )
    )
    ok(run_cli("generate-default-schema", files["schema.json"]))
    for party in "ab":
        ok(run_cli("hash", "--quiet", files[f"{party}.csv"], "secret", files["schema.json"], files[f"{party}.json"]))
    for name, options in {
        "scores.json": [],
        "scores.bin": ["--scores-format", "binary"],
        "sampled.json": ["--scores-sample", "0.05"],
        "sampled.bin": ["--scores-sample", "0.05", "--scores-format", "binary"],
    }.items():
        files[name] = directory / name
        link = ["find-similarity", "--quiet", THRESHOLD, directory / "groups.json", "--clk", files["a.json"]]
        ok(run_cli(*link, "--clk", files["b.json"], "--scores", files[name], *options))
    return files


def expected_line(scores: Path) -> str:
    """The estimated line, from the library's estimate of the scores."""
    best = estimate_scores(read_scores(str(scores))).best
    assert best is not None and best.precision is not None
    return (
        f"Estimated best threshold {best.threshold:g}: F-measure {best.f_measure:.3f}, precision {best.precision:.3f}, "
        f"recall {best.recall:.3f} (estimated from the scores, no ground truth)"
    )


def read_line(scores: Path, pairs: int, low: float, high: float, parties: str = "0 and 1") -> str:
    return f"Read {pairs:,} similarity scores of parties {parties} from {scores} (similarity {low:.4g} to {high:.4g})"


def charts(svg_file: Path) -> Dict[str, ElementTree.Element]:
    """The charts of a report's SVG, by id."""
    root = ElementTree.parse(svg_file).getroot()
    return {group.get("data-chart", ""): group for group in root.iter(f"{SVG}g") if group.get("data-chart")}


def series(chart: ElementTree.Element) -> Dict[str, ElementTree.Element]:
    return {group.get("data-series", ""): group for group in chart.iter(f"{SVG}g") if group.get("data-series")}


def markers(chart: ElementTree.Element, role: str) -> List[float]:
    return [float(group.get("data-value", "nan")) for group in chart.iter(f"{SVG}g") if group.get("data-role") == role]


def test_the_estimate_is_printed_in_one_line_and_drawn(demo: Dict[str, Path], tmp_path: Path) -> None:
    page, figure = tmp_path / "report.html", tmp_path / "report.svg"
    result = run_cli("threshold-report", demo["scores.json"], page, "--svg", figure)
    ok(result)
    scores = read_scores(str(demo["scores.json"]))
    line = expected_line(demo["scores.json"])
    assert result.stderr.splitlines() == [
        read_line(demo["scores.json"], len(scores), scores.similarity.min(), scores.similarity.max()),
        line,
        f"Report written to {page}",
        f"Charts written to {figure}",
    ]
    found = LINE.fullmatch(line)
    assert found, line
    threshold = float(found.group(1))
    # this demo's estimate, pinned: a change to the estimator shows here first
    assert line == (
        "Estimated best threshold 0.8: F-measure 0.966, precision 0.988, recall 0.945 "
        "(estimated from the scores, no ground truth)"
    )

    html = page.read_text(encoding="utf-8")
    assert f"Estimated best threshold: {threshold:g}, with an estimated F-measure of {found.group(2)}" in html
    assert "estimated from the scores alone, without a ground truth" in html
    assert "<h2>Estimated precision and recall at each threshold</h2>" in html
    assert "est. F\u2011measure" in html
    drawn = charts(figure)
    assert list(drawn) == ["scores-histogram", "links-by-threshold", "estimate-by-threshold"]
    # the fitted curves over the histogram, dashed, in their roles' colours
    histogram = series(drawn["scores-histogram"])
    for name in ("estimated-matches", "estimated-non-matches"):
        assert histogram[name].get("stroke-dasharray") == "6 3"
        assert histogram[name].findall(f"{SVG}polyline"), name
    assert markers(drawn["scores-histogram"], "estimated-best-threshold") == [threshold]
    # the estimated quality: three dashed curves, each with its band, and the estimated best marked
    estimate = series(drawn["estimate-by-threshold"])
    assert sorted(estimate) == [
        "estimated-f-measure",
        "estimated-precision",
        "estimated-recall",
        "f-measure-band",
        "precision-band",
        "recall-band",
    ]
    for name in ("f-measure", "precision", "recall"):
        assert len(estimate[f"{name}-band"].findall(f"{SVG}polygon")) == 1
        assert estimate[f"{name}-band"].findtext(f"{SVG}title").endswith(": uncertainty band")
    assert markers(drawn["estimate-by-threshold"], "estimated-best-threshold") == [threshold]
    assert markers(drawn["estimate-by-threshold"], "best-threshold") == []  # no truth, no true best


def test_as_a_real_program(demo: Dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    done = run_anonlink("threshold-report", demo["scores.json"], page)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[1:] == [expected_line(demo["scores.json"]), f"Report written to {page}"]
    assert 'id="estimate-by-threshold"' in page.read_text(encoding="utf-8")


def test_beside_the_ground_truth(demo: Dict[str, Path], tmp_path: Path) -> None:
    page, figure = tmp_path / "report.html", tmp_path / "report.svg"
    result = run_cli("threshold-report", demo["scores.json"], page, "--truth", demo["truth.csv"], "--svg", figure)
    ok(result)
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        r"Best threshold [0-9.]+: F-measure [0-9.]{5}, precision [0-9.]{5}, recall [0-9.]{5} "
        r"\([0-9,]+ links, [0-9,]+ of them true\)",
        lines[1],
    )
    assert lines[2] == expected_line(demo["scores.json"])  # the same estimate as without the truth
    assert lines[3:] == [f"Report written to {page}", f"Charts written to {figure}"]
    html = page.read_text(encoding="utf-8")
    assert html.count('<p class="key">') == 1 and html.count('<p class="key estimate">') == 1
    assert "The ground truth gives that threshold an F-measure of 0.948." in html
    headings = re.search(r"<thead><tr>(.*?)</tr></thead>", html, re.S)
    assert headings is not None
    assert re.findall(r"<th[^>]*>([^<]*)</th>", headings.group(1))[-6:] == [
        "precision",
        "recall",
        "F\u2011measure",
        "est. precision",
        "est. recall",
        "est. F\u2011measure",
    ]
    drawn = charts(figure)
    assert list(drawn) == ["scores-histogram", "links-by-threshold", "quality-by-threshold", "estimate-by-threshold"]
    estimate = series(drawn["estimate-by-threshold"])
    assert {"true-precision", "true-recall", "true-f-measure"} <= set(estimate)
    assert estimate["true-f-measure"].get("stroke-dasharray") is None  # the truth solid, the estimate dashed
    assert estimate["estimated-f-measure"].get("stroke-dasharray") == "6 3"
    for chart in ("scores-histogram", "estimate-by-threshold"):
        assert len(markers(drawn[chart], "best-threshold")) == 1
        assert len(markers(drawn[chart], "estimated-best-threshold")) == 1


def test_binary_scores_give_the_same_estimate(demo: Dict[str, Path], tmp_path: Path) -> None:
    result = run_cli("threshold-report", demo["scores.bin"], tmp_path / "report.html")
    ok(result)
    assert result.stderr.splitlines()[1] == expected_line(demo["scores.json"])


@pytest.mark.parametrize("name", ["sampled.json", "sampled.bin"])
def test_sampled_scores_are_estimated_from_the_pairs_above_the_cut(
    demo: Dict[str, Path], tmp_path: Path, name: str
) -> None:
    sampled = read_scores(str(demo[name]))
    assert sampled.sampling is not None
    cut = sampled.sampling.above
    # the same as scores computed with the cut as their threshold: every pair at or above it
    whole = json.loads(demo["scores.json"].read_text())["similarity_scores"]
    above = tmp_path / "above.json"
    above.write_text(json.dumps({"similarity_scores": [pair for pair in whole if pair[2] >= cut]}))
    page = tmp_path / "report.html"
    result = run_cli("threshold-report", demo[name], page, "--clk", demo["a.json"], "--clk", demo["b.json"])
    ok(result)
    assert result.stderr.splitlines()[1] == expected_line(above)
    html = page.read_text(encoding="utf-8")
    assert f"The scores are a sample below {cut:.4g}: the estimate is made from the pairs at or above it" in html


NOT_LINKS = "were the scores computed with a threshold too high to keep the non-matches? A lower one keeps more of them"


def pairs_of(count: int, similarity, parties=(0, 1)) -> list:  # type: ignore[no-untyped-def]
    return [[[parties[0], i], [parties[1], i], similarity(i)] for i in range(count)]


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        (
            pairs_of(50, lambda i: 0.5 + i / 100),
            "there are only 50 candidate pairs, too few to tell matches from non-matches (the estimate needs at "
            "least 100)",
        ),
        (
            [[[0, i % 30], [1, i // 30], 0.8] for i in range(300)],
            "every pair has the same similarity (0.8), so the scores cannot tell matches from non-matches",
        ),
        (
            # only matches: the scores were computed with a threshold above the non-matches
            pairs_of(300, lambda i: 0.9 + (i % 97) / 1000) + [[[0, i], [1, i + 1], 0.85] for i in range(20)],
            f"only 20 of the 320 pairs are not links, too few to see the non-matches (the estimate needs 60); "
            f"{NOT_LINKS}",
        ),
        (
            [[[0, i], [1 + i % 2, i], 0.5 + (i % 50) / 100] for i in range(300)],
            "the scores are of parties 0, 1 and 2; the estimate is for the one-to-one links of two parties "
            "(estimate each pair of parties from its own scores)",
        ),
    ],
    ids=["too-few-pairs", "all-equal", "cut-too-high", "three-parties"],
)
def test_scores_that_cannot_support_an_estimate_say_why(tmp_path: Path, pairs: list, reason: str) -> None:
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"similarity_scores": pairs}))
    page = tmp_path / "report.html"
    result = run_cli("threshold-report", scores, page)
    assert result.exit_code == 0, result.stderr  # the report is still useful
    sentence = f"No estimate of the best threshold: {reason}."
    lines = result.stderr.splitlines()
    assert lines[1:] == [sentence, f"Report written to {page}"]
    assert "--" not in sentence  # the library names no option
    html = page.read_text(encoding="utf-8")
    assert html.count(sentence) == 2  # in the key message, and where the estimate's chart would be
    assert 'id="estimate-by-threshold"' not in html and "estimated-best-threshold" not in html


def test_non_matches_alone_give_no_estimate(tmp_path: Path) -> None:
    # two parties with nobody in common, linked at a low threshold: many links, no hump of matches
    a, b, schema = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "schema.json"
    ok(run_cli("generate", 500, a, "--linked", b, "--overlap", 0, "--seed", 3))
    ok(run_cli("generate-default-schema", schema))
    for csv_file in (a, b):
        ok(run_cli("hash", "--quiet", csv_file, "secret", schema, csv_file.with_suffix(".json")))
    scores = tmp_path / "scores.json"
    link = ["find-similarity", "--quiet", 0.5, tmp_path / "groups.json", "--clk", a.with_suffix(".json")]
    ok(run_cli(*link, "--clk", b.with_suffix(".json"), "--scores", scores))
    result = run_cli("threshold-report", scores, tmp_path / "report.html")
    ok(result)
    line = result.stderr.splitlines()[1]
    assert line.startswith("No estimate of the best threshold: "), line
    assert not LINE.fullmatch(line)


def test_three_parties_of_find_similarity_get_no_estimate(demo: Dict[str, Path], tmp_path: Path) -> None:
    scores = tmp_path / "scores.json"
    link = ["find-similarity", "--quiet", 0.8, tmp_path / "groups.json", "--clk", demo["a.json"]]
    ok(run_cli(*link, "--clk", demo["b.json"], "--clk", demo["a.json"], "--scores", scores))
    page = tmp_path / "report.html"
    result = run_cli("threshold-report", scores, page)
    ok(result)
    sentence = (
        "No estimate of the best threshold: the scores are of parties 0, 1 and 2; the estimate is for the one-to-one "
        "links of two parties (estimate each pair of parties from its own scores)."
    )
    assert result.stderr.splitlines()[1:] == [sentence, f"Report written to {page}"]
    assert sentence in page.read_text(encoding="utf-8")


def test_with_a_ground_truth_and_no_estimate_both_are_said(tmp_path: Path) -> None:
    scores, truth = tmp_path / "scores.json", tmp_path / "truth.csv"
    scores.write_text(json.dumps({"similarity_scores": pairs_of(50, lambda i: 0.5 + i / 100)}))
    truth.write_text("row_a,row_b\n" + "".join(f"{i},{i}\n" for i in range(25, 50)))
    page = tmp_path / "report.html"
    result = run_cli("threshold-report", scores, page, "--truth", truth)
    ok(result)
    sentence = (
        "No estimate of the best threshold: there are only 50 candidate pairs, too few to tell matches from "
        "non-matches (the estimate needs at least 100)."
    )
    assert result.stderr.splitlines()[1:] == [
        "Best threshold 0.75: F-measure 1.000, precision 1.000, recall 1.000 (25 links, 25 of them true)",
        sentence,
        f"Report written to {page}",
    ]
    html = page.read_text(encoding="utf-8")
    assert f'<p class="key estimate">{sentence}</p>' in html
    assert 'id="quality-by-threshold"' in html and 'id="estimate-by-threshold"' not in html
