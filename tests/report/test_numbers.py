"""The numbers of the threshold report, against the slow and obvious computation and against anonlink itself."""

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from bitarray import bitarray

from anonlinkclient.io.scores_file import Scores, read_scores
from anonlinkclient.io.truth_file import Truth, read_truth
from anonlinkclient.linkage.similarity import Party, find_candidates, solve
from anonlinkclient.report.analysis import ThresholdAnalysis, round_threshold, score_bins
from anonlinkclient.report.threshold import ThresholdReport
from tests.helpers import noisy, random_clks
from tests.report.made_up import Linkage, brute_force, make_linkage


def scores_of(pairs):
    """Scores of party 0 and 1 from ``(row_a, row_b, similarity)`` triples."""
    count = len(pairs)
    return Scores(
        "scores.json",
        np.array([pair[2] for pair in pairs], dtype=np.float64),
        np.zeros(count, dtype=np.int32),
        np.array([pair[0] for pair in pairs], dtype=np.int32),
        np.ones(count, dtype=np.int32),
        np.array([pair[1] for pair in pairs], dtype=np.int32),
    )


def truth_of(pairs):
    ordered = sorted(pairs)
    return Truth(
        "truth.csv",
        np.array([a for a, _b in ordered], dtype=np.int64),
        np.array([b for _a, b in ordered], dtype=np.int64),
        np.arange(2, len(ordered) + 2),
    )


def test_pairs_links_and_true_links_at_each_threshold(linkage: Linkage):
    analysis = ThresholdAnalysis(read_scores(str(linkage.scores_path)), read_truth(str(linkage.truth_path)))
    similarities = sorted({pair[2] for pair in linkage.scores})
    thresholds = [round(0.5 + 0.025 * step, 3) for step in range(21)] + random.Random(4).sample(similarities, 15)
    for threshold in thresholds:
        result = analysis.at(threshold)
        pairs, links, true_links = brute_force(linkage.scores, linkage.truth, threshold)
        assert (result.pairs, result.links, result.true_links) == (pairs, links, true_links), threshold
        assert result.precision == pytest.approx(true_links / links)
        assert result.recall == pytest.approx(true_links / len(linkage.truth))
        precision, recall = true_links / links, true_links / len(linkage.truth)
        assert result.f_measure == pytest.approx(2 * precision * recall / (precision + recall))


def test_the_best_threshold_beats_every_other(linkage: Linkage):
    analysis = ThresholdAnalysis(read_scores(str(linkage.scores_path)), read_truth(str(linkage.truth_path)))
    best = analysis.best()
    assert best is not None
    _pairs, links, true_links = brute_force(linkage.scores, linkage.truth, best.threshold)
    assert best.result.f_measure == pytest.approx(2 * true_links / (links + len(linkage.truth)))
    for threshold in sorted({pair[2] for pair in linkage.scores})[::40]:
        _pairs, links, true_links = brute_force(linkage.scores, linkage.truth, threshold)
        assert 2 * true_links / (links + len(linkage.truth)) <= best.result.f_measure + 1e-12


@pytest.mark.parametrize("seed", range(60))
def test_best_threshold_of_small_linkages_by_exhaustive_search(seed: int):
    rng = random.Random(seed)
    rows_a, rows_b = rng.randint(1, 9), rng.randint(1, 9)
    everything = [(a, b) for a in range(rows_a) for b in range(rows_b)]
    levels = rng.choice([3, 10, 1000])  # few levels: many ties
    pairs = [
        (a, b, rng.randint(0, levels) / levels) for a, b in rng.sample(everything, rng.randint(1, len(everything)))
    ]
    truth = {rng.choice(pairs)[:2]} | set(rng.sample(everything, rng.randint(0, min(4, len(everything)))))
    analysis = ThresholdAnalysis(scores_of(pairs), truth_of(truth))
    best = analysis.best()
    assert best is not None
    f_measures = {}
    for threshold in {s for _a, _b, s in pairs}:
        _pairs, links, true_links = brute_force(pairs, truth, threshold)
        f_measures[threshold] = 2 * true_links / (links + len(truth))
    top = max(f_measures.values())
    assert best.result.f_measure == pytest.approx(top)
    # the highest threshold of those with the best F-measure, and the round one keeps the same pairs
    assert best.up_to == max(t for t, f in f_measures.items() if f == pytest.approx(top))
    assert analysis.pairs_at_least(best.threshold) == analysis.pairs_at_least(best.up_to)
    assert best.above < best.threshold <= best.up_to


def test_links_are_the_groups_find_similarity_makes():
    base = random_clks(120, size=64, seed=3)
    party_a = base[:90] + random_clks(30, size=64, seed=4)
    party_b = noisy(base[30:], flips=60, seed=5) + random_clks(40, size=64, seed=6)

    def party(clks):
        bits = []
        for clk in clks:
            array = bitarray()
            array.frombytes(clk)
            bits.append(array)
        return Party("clks.json", bits)

    parties = [party(party_a), party(party_b)]
    similarities, (parties_0, parties_1), (rows_0, rows_1) = find_candidates(parties, 0.4)
    count = len(similarities)
    scores = Scores(
        "scores.json",
        np.array(similarities, dtype=np.float64),
        np.array(parties_0, dtype=np.int32),
        np.array(rows_0, dtype=np.int32),
        np.array(parties_1, dtype=np.int32),
        np.array(rows_1, dtype=np.int32),
    )
    assert count > 1000
    analysis = ThresholdAnalysis(scores)
    for threshold in (0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9):
        groups = solve(find_candidates(parties, threshold))
        assert analysis.at(threshold).links == len(groups), threshold
        assert analysis.at(threshold).pairs == len(find_candidates(parties, threshold)[0])


@pytest.mark.parametrize(
    ("above", "up_to", "expected"),
    [(0.78, 0.8123, 0.8), (0.8, 0.8123, 0.81), (0.811, 0.8123, 0.812), (0.739, 0.7393, 0.7393), (0.5, 1.0, 1.0)],
)
def test_the_round_threshold_is_the_shortest_number_in_the_range(above, up_to, expected):
    assert round_threshold(above, up_to) == expected


@pytest.mark.parametrize(
    ("lowest", "first", "width", "bins"),
    [
        (0.5, 0.5, 0.01, 50),
        (0.537, 0.53, 0.01, 47),
        (0.0, 0.0, 0.02, 50),
        (0.93, 0.93, 0.001, 70),
        (1.0, 0.999, 0.001, 1),
    ],
)
def test_score_bins_have_round_edges_up_to_one(lowest, first, width, bins):
    edges = score_bins(lowest)
    assert edges[0] == pytest.approx(first) and edges[-1] == 1.0
    assert len(edges) == bins + 1
    assert np.allclose(np.diff(edges), width)


def test_histogram_bars_count_every_pair_once(linkage: Linkage):
    report = ThresholdReport(
        ThresholdAnalysis(read_scores(str(linkage.scores_path)), read_truth(str(linkage.truth_path)))
    )
    chart = report.charts[0]
    edges = report.edges
    matches = [s for a, b, s in linkage.scores if (a, b) in linkage.truth]
    non_matches = [s for a, b, s in linkage.scores if (a, b) not in linkage.truth]

    def by_hand(values):
        """Bin i holds edges[i] <= s < edges[i+1]; the last bin also 1.0."""
        counts = [0] * (len(edges) - 1)
        for value in values:
            index = next(i for i in range(len(edges) - 1) if value < edges[i + 1] or i == len(edges) - 2)
            counts[index] += 1
        return counts

    svg = chart.svg()
    for series, values in (("matches", matches), ("non-matches", non_matches)):
        group = svg.split(f'data-series="{series}"')[1].split("</g>")[0]
        drawn = [int(count) for count in re.findall(r'data-count="(\d+)"', group)]
        assert drawn == [count for count in by_hand(values) if count]


def test_more_than_two_parties_have_pairs_but_no_links(tmp_path: Path):
    pairs = [[[0, 1], [1, 2], 0.9], [[1, 2], [2, 3], 0.8], [[0, 1], [2, 3], 0.7], [[2, 4], [0, 5], 0.95]]
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"similarity_scores": pairs}))
    analysis = ThresholdAnalysis(read_scores(str(path)))
    assert analysis.parties == [0, 1, 2]
    assert [analysis.at(t).pairs for t in (0.7, 0.8, 0.9, 0.95, 1.0)] == [4, 3, 2, 1, 0]
    assert analysis.at(0.7).links is None and analysis.best() is None
    report = ThresholdReport(analysis)
    assert [chart.chart_id for chart in report.charts] == ["scores-histogram", "links-by-threshold"]
    assert report.table().headings == ["threshold", "candidate pairs"]


def test_make_linkage_is_reproducible(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert make_linkage(tmp_path / "a").scores == make_linkage(tmp_path / "b").scores


def test_the_analysis_is_numbers_alone():
    """report/analysis.py computes; it draws nothing and reads no file (so an estimator can stand beside it)."""
    import ast

    from tests.helpers import ROOT

    tree = ast.parse((ROOT / "anonlinkclient" / "report" / "analysis.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {
        "math",
        "dataclasses",
        "typing",
        "numpy",
        "anonlinkclient.errors",
        "anonlinkclient.io.scores_file",
        "anonlinkclient.io.truth_file",
    }
