"""Bad input for the reports: one line naming the file (and pair or row), and nothing else read or written."""

import json
from pathlib import Path

import pytest

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.scores_file import read_scores
from anonlinkclient.io.truth_file import read_truth
from anonlinkclient.report.blocks import read_blocks
from anonlinkclient.report.threshold import threshold_report
from tests.helpers import random_clks, write_block_file, write_clk_file

HINT = (
    'expected similarity scores from "anonlink find-similarity" or the Entity Service: '
    '{"similarity_scores": [[[party, row], [party, row], similarity], ...]}'
)
SHAPE = "must be [[party, row], [party, row], similarity] or [row_a, row_b, similarity]"


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"similarity_scores": []}', "has no similarity scores (its list is empty), so there is nothing to report"),
        ("{}", f'has no "similarity_scores"; {HINT}'),
        ('{"groups": [[[0, 1], [1, 2]]]}', f'holds "groups" (a linkage result), not similarity scores; {HINT}'),
        ("[[[0, 1], [1, 2], 0.9]]", f"is not a JSON object; {HINT}"),
        ('{"similarity_scores": {"0": 1}}', f'"similarity_scores" is not a list; {HINT}'),
        ("", f"not valid JSON (parse error: premature EOF); {HINT}"),
        (
            '{"similarity_scores": [[[0, 1], [1, 2], 0.9], [[0, 2]',
            f"not valid JSON (parse error: premature EOF); {HINT}",
        ),
        ("hello", f"not valid JSON (lexical error: invalid char in json text.); {HINT}"),
    ],
)
def test_a_file_without_scores(tmp_path: Path, content: str, message: str):
    path = write(tmp_path / "scores.json", content)
    with pytest.raises(InputFileError) as error:
        read_scores(path)
    assert str(error.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("[[[0, 1], [1, 2]]]", f"pair 0: {SHAPE}"),
        (
            '[[[0, 1], [1, 2], 0.9], [[0, "2"], [1, 3], 0.5]]',
            f"pair 1: {SHAPE}, with whole numbers for parties and rows",
        ),
        ("[[[0, 1], [1, 2], 0.9], [[0, 2], [1, 3], 1.5]]", "pair 1: the similarity 1.5 is not a number from 0 to 1"),
        ('[[[0, 1], [1, 2], "high"]]', "pair 0: the similarity 'high' is not a number from 0 to 1"),
        ("[[[0, 1], [0, 2], 0.9]]", "pair 0: both records are of party 0; a pair links two different parties"),
        ("[[[0, -1], [1, 2], 0.9]]", "pair 0: row numbers must not be negative"),
        ("[[[-1, 1], [1, 2], 0.9]]", "pair 0: party numbers must not be negative"),
        ("[[1.5, 2, 0.9]]", f"pair 0: {SHAPE}"),
        (
            "[[[0, 1], [1, 2], 0.9], [[0, 2], [1, 3], 0.8], [[1, 2], [0, 1], 0.7]]",
            "pair 2: party 0 row 1 and party 1 row 2 are already paired in pair 0",
        ),
    ],
)
def test_a_bad_pair_is_named(tmp_path: Path, pairs: str, message: str):
    path = write(tmp_path / "scores.json", f'{{"similarity_scores": {pairs}}}')
    with pytest.raises(InputFileError) as error:
        read_scores(path)
    assert str(error.value) == f"{path}, {message}"


def test_both_forms_of_scores_are_read(tmp_path: Path):
    service = read_scores(
        write(tmp_path / "new.json", '{"similarity_scores": [[[1, 5], [0, 27], 1.0], [[0, 3], [1, 4], 0.5]]}')
    )
    old = read_scores(write(tmp_path / "old.json", '{"similarity_scores": [[27, 5, 1.0], [3, 4, 0.5]]}'))
    for scores in (service, old):
        assert scores.similarity.tolist() == [1.0, 0.5]
        assert scores.party_a.tolist() == [0, 0] and scores.party_b.tolist() == [1, 1]
        assert scores.row_a.tolist() == [27, 3] and scores.row_b.tolist() == [5, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty; expected a ground-truth CSV file with the header row_a,row_b"),
        ("a,b\n1,2\n", "row 1: the header is 'a,b', not row_a,row_b"),
        ("row_a,row_b\n", "lists no matching pairs, only its header"),
        ("row_a,row_b\n1,2\n3,x\n", "row 3: row_b 'x' is not a record number (a whole number from 0)"),
        ("row_a,row_b\n1.5,2\n", "row 2: row_a '1.5' is not a record number (a whole number from 0)"),
        ("row_a,row_b\n-1,2\n", "row 2: row_a -1 is negative; records are numbered from 0"),
        ("row_a,row_b\n1,2,3\n", "row 2: has 3 values, not 2 (row_a,row_b)"),
        ("row_a,row_b\n1,2\n\n4,5\n1,2\n", "row 5: repeats the pair 1,2 of row 2"),
    ],
)
def test_a_bad_ground_truth_is_named(tmp_path: Path, content: str, message: str):
    path = write(tmp_path / "truth.csv", content)
    with pytest.raises(InputFileError) as error:
        read_truth(path)
    separator = ", " if message.startswith("row ") else ": "
    assert str(error.value) == f"{path}{separator}{message}"


def test_a_ground_truth_row_beyond_the_records(tmp_path: Path):
    path = write(tmp_path / "truth.csv", "row_a,row_b\n0,1\n9,4\n3,5\n")
    assert len(read_truth(path, [10, 6], ["a.json", "b.json"])) == 3
    with pytest.raises(InputFileError) as error:
        read_truth(path, [10, 5], ["a.json", "b.json"])
    assert str(error.value) == f"{path}, row 4: row_b 5 does not exist: b.json has 5 records"
    with pytest.raises(InputFileError) as error:
        read_truth(path, [9, 6], ["a.json", "b.json"])
    assert str(error.value) == f"{path}, row 3: row_a 9 does not exist: a.json has 9 records"


def test_a_ground_truth_with_windows_line_ends_and_a_bom(tmp_path: Path):
    path = tmp_path / "truth.csv"
    path.write_bytes("\ufeffrow_a,row_b\r\n0,1\r\n2,3\r\n".encode("utf-8"))
    truth = read_truth(str(path))
    assert truth.row_a.tolist() == [0, 2] and truth.row_b.tolist() == [1, 3] and truth.lines.tolist() == [2, 3]


def scores_file(tmp_path: Path, pairs) -> str:
    return write(tmp_path / "scores.json", json.dumps({"similarity_scores": pairs}))


def test_a_ground_truth_needs_the_scores_of_parties_0_and_1(tmp_path: Path):
    truth = write(tmp_path / "truth.csv", "row_a,row_b\n1,2\n")
    output = tmp_path / "report.html"
    for pairs, parties in (
        ([[[0, 1], [1, 2], 0.9], [[1, 2], [2, 3], 0.8]], "0, 1 and 2"),
        ([[[0, 1], [2, 2], 0.9]], "0 and 2"),
    ):
        scores = scores_file(tmp_path, pairs)
        with pytest.raises(InputFileError) as error:
            threshold_report(scores, str(output), truth)
        assert str(error.value) == (
            f"{truth}: a ground truth pairs records of parties 0 and 1, but {scores} has scores of parties {parties}"
        )
        assert not output.exists()


def test_a_ground_truth_none_of_whose_pairs_is_scored(tmp_path: Path):
    truth = write(tmp_path / "truth.csv", "row_a,row_b\n1,3\n2,1\n7,7\n")
    scores = scores_file(tmp_path, [[[0, 1], [1, 2], 0.9], [[0, 2], [1, 3], 0.8]])
    with pytest.raises(InputFileError) as error:
        threshold_report(scores, str(tmp_path / "report.html"), truth)
    assert str(error.value) == (
        f"{truth}: none of its 3 matching pairs is among the 2 pairs of {scores}; "
        "is it the ground truth of these parties?"
    )


def test_rows_beyond_the_clk_files(tmp_path: Path):
    clks = [
        str(write_clk_file(tmp_path / name, random_clks(count, 16))) for name, count in (("a.json", 4), ("b.json", 3))
    ]
    output = tmp_path / "report.html"
    cases = [
        ([[[0, 1], [1, 2], 0.9], [[0, 3], [1, 3], 0.8]], "pair 1: party 1 row 3 does not exist: {b} has 3 records"),
        ([[[0, 1], [1, 2], 0.9], [[1, 0], [0, 4], 0.8]], "pair 1: party 0 row 4 does not exist: {a} has 4 records"),
        ([[[0, 1], [1, 2], 0.9], [[2, 0], [0, 1], 0.8]], "pair 1: names party 2, but there are only 2 parties"),
    ]
    for pairs, message in cases:
        scores = scores_file(tmp_path, pairs)
        with pytest.raises(InputFileError) as error:
            threshold_report(scores, str(output), clk_files=clks)
        assert str(error.value) == f"{scores}, " + message.format(a=clks[0], b=clks[1])
        assert not output.exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"blocks": {}, "meta": {"source": {"clk_count": [5]}}},
            "has no blocks (no record is in a block), so there is nothing to report",
        ),
        ({"blocks": {"0": [], "1": []}}, "has no blocks (no record is in a block), so there is nothing to report"),
        (
            {"blocks": {"0": ["x"], "7": ["x"]}, "meta": {"source": {"clk_count": [5]}}},
            "has blocks for record 7, but its meta says 5 records were blocked",
        ),
        (
            {"clks": []},
            'has no "blocks" object; expected a block file made by "anonlink block": {"blocks": {...}, "meta": {...}}',
        ),
    ],
)
def test_a_bad_block_file(tmp_path: Path, document, message: str):
    path = write(tmp_path / "blocks.json", json.dumps(document))
    with pytest.raises(InputFileError) as error:
        read_blocks(path)
    assert str(error.value) == f"{path}: {message}"


def test_block_counts(tmp_path: Path):
    path = str(write_block_file(tmp_path / "blocks.json", [["a", "b"], ["a"], [], ["b", "c", "c"], ["a"]], declared=7))
    stats = read_blocks(path)
    assert stats.records == 7 and stats.in_no_block == 3
    assert stats.sizes == {"a": 3, "b": 2, "c": 1}
    assert stats.memberships == {2: 2, 1: 2}
    assert stats.biggest(2) == [("a", 3), ("b", 2)]
