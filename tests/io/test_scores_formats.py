"""Similarity scores in binary and sampled: written by find-similarity, read by threshold-report.

Demo data (600 people, 480 of them in both files, as the manual makes them) is
linked at a low threshold, and its scores written as JSON, binary, sampled JSON and
sampled binary. The report must read every form as it reads the JSON (the same
page, byte for byte, for the binary file), and a damaged file is one line naming
it.
"""

import json
import os
import struct
import threading
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from anonlinkclient.io.scores_file import HEADER, MAGIC, read_scores
from tests.helpers import run_anonlink, run_cli

THRESHOLD = "0.55"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The demo data hashed, and its scores written in every form."""
    directory = tmp_path_factory.mktemp("demo")
    paths = {name: directory / name for name in ("alice.csv", "bob.csv", "truth.csv", "schema.json")}
    made = run_cli("generate", 600, paths["alice.csv"], "--linked", paths["bob.csv"], "--truth",
                   paths["truth.csv"], "--seed", 42, "-s", paths["schema.json"])  # fmt: skip
    assert made.exit_code == 0, made.stderr
    for name in ("alice", "bob"):
        paths[name] = directory / f"{name}.json"
        assert run_cli("hash", paths[f"{name}.csv"], "secret", paths["schema.json"], paths[name]).exit_code == 0
    forms = {
        "json": [],
        "binary": ["--scores-format", "binary"],
        "sampled-json": ["--scores-sample", "0.1"],
        "sampled-binary": ["--scores-format", "binary", "--scores-sample", "0.1"],
    }
    for form, options in forms.items():
        (directory / form).mkdir()
        paths[form] = directory / form / "scores"
        linked = run_cli("find-similarity", THRESHOLD, directory / form / "groups.json", "--clk", paths["alice"],
                         "--clk", paths["bob"], "--scores", paths[form], *options)  # fmt: skip
        assert linked.exit_code == 0, linked.stderr
    return paths


def test_binary_scores_are_the_json_scores(demo: Dict[str, Path]) -> None:
    text, binary = read_scores(str(demo["json"])), read_scores(str(demo["binary"]))
    for column in ("similarity", "party_a", "row_a", "party_b", "row_b"):
        assert getattr(binary, column).tolist() == getattr(text, column).tolist()
    assert binary.sampling is None and text.sampling is None
    pairs = len(text)
    assert pairs > 20_000
    assert demo["binary"].stat().st_size == 64 + 20 * pairs
    assert demo["binary"].read_bytes()[:8] == b"\x89SCR\r\n\x1a\n"
    assert demo["json"].stat().st_size > 2 * demo["binary"].stat().st_size


def test_a_sample_keeps_every_pair_above_its_cut_and_a_tenth_below(demo: Dict[str, Path]) -> None:
    full = read_scores(str(demo["json"]))
    for form in ("sampled-json", "sampled-binary"):
        sample = read_scores(str(demo[form]))
        sampling = sample.sampling
        assert sampling is not None
        # The default cut: the similarity of the 1,200th most similar pair (the records of both parties).
        assert sampling.above == np.sort(full.similarity)[-1200]
        assert (sampling.rate, sampling.seed, sampling.pairs) == (0.1, 0, len(full))
        assert sampling.pairs_below == np.count_nonzero(full.similarity < sampling.above)
        above = full.similarity >= sampling.above
        kept = set(zip(sample.row_a.tolist(), sample.row_b.tolist()))
        assert set(zip(full.row_a[above].tolist(), full.row_b[above].tolist())) <= kept
        below = len(sample) - int(np.count_nonzero(above))
        assert abs(below - 0.1 * sampling.pairs_below) < 4 * (0.1 * 0.9 * sampling.pairs_below) ** 0.5
        assert sample.weights().sum() == pytest.approx(len(full))
        assert sample.similarity.tolist() == sorted(sample.similarity.tolist(), reverse=True)
    sampled_json, sampled_binary = read_scores(str(demo["sampled-json"])), read_scores(str(demo["sampled-binary"]))
    assert sampled_json.similarity.tolist() == sampled_binary.similarity.tolist()
    assert sampled_json.row_a.tolist() == sampled_binary.row_a.tolist()
    assert sampled_json.sampling == sampled_binary.sampling


def test_the_sampled_json_says_how_it_was_sampled_first(demo: Dict[str, Path]) -> None:
    document = json.loads(demo["sampled-json"].read_text())
    assert list(document) == ["sampling", "similarity_scores"]
    assert list(document["sampling"]) == ["above", "rate", "seed", "pairs", "pairs_below"]


def test_a_seed_gives_the_same_sample_and_another_seed_another(demo: Dict[str, Path], tmp_path: Path) -> None:
    common = ["find-similarity", THRESHOLD, tmp_path / "g.json", "--clk", demo["alice"], "--clk", demo["bob"]]
    for name, seed, workers in (("again", "0", "2"), ("other", "7", "1")):
        args = [*common, "--scores", tmp_path / name, "--scores-sample", "0.1", "--workers", workers]
        assert run_cli(*args, "--scores-seed", seed).exit_code == 0
    assert (tmp_path / "again").read_bytes() == demo["sampled-json"].read_bytes()
    other = read_scores(str(tmp_path / "other"))
    assert other.sampling is not None and other.sampling.seed == 7
    assert (tmp_path / "other").read_bytes() != demo["sampled-json"].read_bytes()


def test_a_cut_keeps_every_pair_at_or_above_it(demo: Dict[str, Path], tmp_path: Path) -> None:
    args = ["find-similarity", THRESHOLD, tmp_path / "g.json", "--clk", demo["alice"], "--clk", demo["bob"],
            "--scores", tmp_path / "s", "--scores-sample", "0.01", "--scores-sample-above", "0.7"]  # fmt: skip
    assert run_cli(*args).exit_code == 0
    sample, full = read_scores(str(tmp_path / "s")), read_scores(str(demo["json"]))
    assert sample.sampling is not None and sample.sampling.above == 0.7
    assert np.count_nonzero(sample.similarity >= 0.7) == np.count_nonzero(full.similarity >= 0.7)


@pytest.mark.parametrize("form", ["json", "binary", "sampled-json", "sampled-binary"])
def test_the_threshold_report_reads_every_form(demo: Dict[str, Path], form: str, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(demo[form].parent)
    result = run_cli("threshold-report", "scores", tmp_path / "report.html", "--truth", demo["truth.csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Read {len(read_scores(str(demo[form]))):,} similarity scores of parties 0 and 1")
    assert lines[1].startswith("Best threshold 0.")
    assert lines[-1] == f"Report written to {tmp_path / 'report.html'}"


def test_the_report_of_a_binary_file_is_that_of_the_json_file(demo: Dict[str, Path], monkeypatch, tmp_path) -> None:
    pages = []
    for form in ("json", "binary"):
        monkeypatch.chdir(demo[form].parent)
        out = tmp_path / f"{form}.html"
        assert run_cli("threshold-report", "scores", out, "--truth", demo["truth.csv"]).exit_code == 0
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]


def test_the_number_of_pairs_is_said_before_they_are_written(demo: Dict[str, Path], tmp_path: Path) -> None:
    pairs = len(read_scores(str(demo["json"])))
    common = ["find-similarity", THRESHOLD, tmp_path / "g.json", "--clk", demo["alice"], "--clk", demo["bob"]]
    shown = run_anonlink(*common, "--scores", tmp_path / "s.bin", "--scores-format", "binary")
    assert shown.returncode == 0, shown.stderr
    size = 64 + 20 * pairs
    assert shown.stderr.splitlines()[0] == f"Writing {pairs:,} similarity scores to {tmp_path / 's.bin'} " + (
        f"({size / 1e6:.1f} MB)"
    )


def test_the_size_of_json_scores_is_estimated_and_a_sample_says_how_it_was_made(
    demo: Dict[str, Path], tmp_path: Path
) -> None:
    pairs = len(read_scores(str(demo["json"])))
    common = ["find-similarity", THRESHOLD, tmp_path / "g.json", "--clk", demo["alice"], "--clk", demo["bob"]]
    whole = run_cli(*common, "--scores", tmp_path / "s.json")
    part = run_cli(*common, "--scores", tmp_path / "s", "--scores-sample", "0.1")
    assert (whole.exit_code, part.exit_code) == (0, 0)
    estimate, sampled = whole.stderr.splitlines()[0], part.stderr.splitlines()[0]
    assert estimate.startswith(f"Writing {pairs:,} similarity scores to {tmp_path / 's.json'} (about ")
    written = (tmp_path / "s.json").stat().st_size / 1e6
    assert abs(float(estimate.split("(about ")[1].split(" MB")[0]) - written) < 0.05 * written
    sample = read_scores(str(tmp_path / "s"))
    assert sample.sampling is not None
    assert sampled.startswith(f"Writing {len(sample):,} of {pairs:,} similarity scores to {tmp_path / 's'} (about ")
    assert sampled.endswith(
        f": all {pairs - sample.sampling.pairs_below:,} with similarity of at least {sample.sampling.above:.6g} "
        "and a random sample of 0.1 of the others (seed 0)"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scores-format", "binary"], "--scores-format needs --scores"),
        (["--scores-sample", "0.1"], "--scores-sample needs --scores"),
        (["--scores", "s", "--scores-sample-above", "0.5"], "--scores-sample-above needs --scores-sample"),
        (["--scores", "s", "--scores-seed", "3"], "--scores-seed needs --scores-sample"),
        (
            ["--scores", "s", "--scores-sample", "0"],
            "Invalid value for '--scores-sample': 0.0 is not in the range 0.0<x<=1.0.",
        ),
        (["--workers", "0"], "Invalid value for '--workers': 0 is not in the range x>=1."),
    ],
)
def test_scores_options_that_cannot_work(tmp_path: Path, args: List[str], message: str) -> None:
    result = run_cli("find-similarity", "0.5", tmp_path / "g.json", "--clk", "a.json", "--clk", "b.json", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged binary files


def binary_file(path: Path, length: int = 2, **fields: object) -> Path:
    """A binary scores file of ``length`` good pairs, its header fields replaced by ``fields``."""
    header = dict(magic=MAGIC, version=1, flags=0, reserved=0, count=length, pairs=length, below=0,
                  above=0.0, rate=1.0, seed=0)  # fmt: skip
    header.update(fields)
    columns = [
        np.linspace(0.9, 0.5, length).astype("<f8"),
        np.zeros(length, "<u2"),
        np.ones(length, "<u2"),
        np.arange(length, dtype="<u4"),
        np.arange(length, dtype="<u4"),
    ]
    path.write_bytes(HEADER.pack(*header.values()) + b"".join(column.tobytes() for column in columns))
    return path


def report_error(path: Path, tmp_path: Path) -> str:
    result = run_cli("threshold-report", path, tmp_path / "report.html")
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "report.html").exists()
    (line,) = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"count": 3}, "is truncated: its header says 3 pairs (60 bytes), but 40 bytes follow the header"),
        ({"count": 1}, "its header says 1 pairs (20 bytes), but 40 bytes follow the header"),
        ({"count": 2**62}, f"is truncated: its header says {2**62} pairs ({20 * 2**62} bytes), but 40 bytes follow"),
        ({"version": 2}, "is a binary scores file of layout version 2; this tool reads version 1"),
        ({"flags": 4}, "its binary scores header has flags or reserved bytes this tool does not know"),
        ({"reserved": 1}, "its binary scores header has flags or reserved bytes this tool does not know"),
        ({"pairs": 5}, "its binary scores header has sampling numbers but is not marked as sampled"),
        ({"flags": 1, "rate": 0.0, "pairs": 2}, "its binary scores header's sampling: rate is 0.0, not a chance"),
        ({"flags": 1, "above": float("nan")}, "its binary scores header's sampling: above is nan, not a similarity"),
        ({"flags": 1, "pairs": 1}, "its binary scores header's sampling: pairs is 1, fewer than the 2 it holds"),
        ({"flags": 1, "pairs": 4, "below": 5}, "its binary scores header's sampling: pairs_below is 5, but pairs is 4"),
        (
            {"flags": 1, "above": 0.6, "rate": 0.5, "pairs": 10, "below": 7},
            "its sampling says the linkage found 3 pairs with a similarity of at least 0.6, but it holds 1",
        ),
    ],
)
def test_a_damaged_binary_header_is_one_line(tmp_path: Path, fields: Dict[str, object], message: str) -> None:
    path = binary_file(tmp_path / "scores.bin", **fields)
    assert report_error(path, tmp_path).startswith(f"Error: {path}: {message}")


def test_a_cut_binary_file_and_wrong_magic(tmp_path: Path) -> None:
    path = binary_file(tmp_path / "scores.bin", 4)
    whole = path.read_bytes()
    path.write_bytes(whole[:30])
    assert report_error(path, tmp_path) == f"Error: {path}: is truncated: its binary scores header is incomplete"
    path.write_bytes(whole[:-3])
    assert report_error(path, tmp_path) == (
        f"Error: {path}: is truncated: its header says 4 pairs (80 bytes), but 77 bytes follow the header"
    )
    path.write_bytes(b"\x89SCX" + whole[4:])
    assert report_error(path, tmp_path).startswith(f"Error: {path}: not valid JSON (")
    path.write_bytes(whole[:64])
    assert report_error(path, tmp_path) == (
        f"Error: {path}: is truncated: its header says 4 pairs (80 bytes), but 0 bytes follow the header"
    )
    binary_file(path, 0)
    assert report_error(path, tmp_path) == (
        f"Error: {path}: has no similarity scores (its count is 0), so there is nothing to report"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c[0].__setitem__(1, np.nan), "pair 1: the similarity nan is not a number from 0 to 1"),
        (lambda c: c[0].__setitem__(2, 1.5), "pair 2: the similarity 1.5 is not a number from 0 to 1"),
        (lambda c: c[2].__setitem__(1, 0), "pair 1: both records are of party 0; a pair links two different parties"),
        (lambda c: c[3].__setitem__(0, 2**31), "pair 0: a party or row number is too large"),
        (
            lambda c: c[3].__setitem__(2, 1) or c[4].__setitem__(2, 1),
            "pair 2: party 0 row 1 and party 1 row 1 are already paired in pair 1",
        ),
    ],
)
def test_a_bad_pair_of_a_binary_file_is_named(tmp_path: Path, change, message: str) -> None:
    columns = [np.array([0.9, 0.8, 0.7], "<f8"), np.zeros(3, "<u2"), np.ones(3, "<u2"), np.arange(3, dtype="<u4"),
               np.arange(3, dtype="<u4")]  # fmt: skip
    change(columns)
    path = tmp_path / "scores.bin"
    header = HEADER.pack(MAGIC, 1, 0, 0, 3, 3, 0, 0.0, 1.0, 0)
    path.write_bytes(header + b"".join(column.tobytes() for column in columns))
    assert report_error(path, tmp_path) == f"Error: {path}, {message}"


@pytest.mark.parametrize(
    "sampling, message",
    [
        ("[]", '"sampling" must be an object of above, rate, seed, pairs, pairs_below'),
        ('{"above": 0.5}', '"sampling" must be an object of above, rate, seed, pairs, pairs_below'),
        ('{"above": "x", "rate": 0.1, "seed": 0, "pairs": 2, "pairs_below": 0}', '"sampling": above and rate must be'),
        ('{"above": 0.5, "rate": 0.1, "seed": 0.5, "pairs": 2, "pairs_below": 0}', '"sampling": seed, pairs and'),
        ('{"above": 0.5, "rate": 2, "seed": 0, "pairs": 2, "pairs_below": 0}', '"sampling": rate is 2.0, not a chance'),
        ('{"above": 0.5, "rate": 0.1, "seed": -1, "pairs": 2, "pairs_below": 0}', '"sampling": seed is -1, not a'),
        (
            '{"above": 0.5, "rate": 0.1, "seed": 0, "pairs": 9, "pairs_below": 0}',
            "its sampling says the linkage found 9 pairs with a similarity of at least 0.5, but it holds 2",
        ),
        (
            '{"above": 0.85, "rate": 0.1, "seed": 0, "pairs": 1, "pairs_below": 0}',
            "its sampling says the linkage found 0 pairs below 0.85, but it holds 1",
        ),
    ],
)
def test_a_bad_sampling_of_a_json_file_is_one_line(tmp_path: Path, sampling: str, message: str) -> None:
    path = tmp_path / "scores.json"
    path.write_text(f'{{"sampling": {sampling}, "similarity_scores": [[[0, 1], [1, 2], 0.9], [[0, 2], [1, 3], 0.8]]}}')
    assert report_error(path, tmp_path).startswith(f"Error: {path}: {message}")


def test_a_json_file_cut_in_its_sampling(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    path.write_text('{"sampling": {"above": 0.5, "rate"')
    assert report_error(path, tmp_path).startswith(f"Error: {path}: not valid JSON (parse error: premature EOF)")


def test_a_header_packs_into_64_bytes() -> None:
    assert HEADER.size == 64 and struct.calcsize("<8sHHIQQQddQ") == 64


@pytest.mark.parametrize("form", ["sampled-json", "binary"])
def test_scores_are_read_from_a_pipe(demo: Dict[str, Path], form: str, tmp_path: Path) -> None:
    """A FIFO (or ``<(zcat scores.gz)``) can be read once only: the reader opens it once."""
    fifo = tmp_path / "scores"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(demo[form].read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    result = run_cli("threshold-report", fifo, tmp_path / "report.html")
    writer.join(30)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"Read {len(read_scores(str(demo[form]))):,} similarity scores")
