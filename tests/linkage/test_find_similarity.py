"""``anonlink find-similarity``: local linkage of two or more parties, with and without blocking.

The CLKs here are made by hand (64 bits each) so that every similarity is known:

* ``A0 = ff00ff00ff00ff00`` and ``B1`` (``A0`` less two bits): Dice 60/62
* ``A1 = 0f0f0f0f0f0f0f0f`` and ``B0 = A1``: Dice 1.0
* every other pair of different parties: Dice 0.5 or less
"""

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import anonlink
import pytest
from bitarray import bitarray

from anonlinkclient.io.clk_file import ClkMeta, write_clks
from anonlinkclient.linkage.similarity import find_similarity
from tests.helpers import run_anonlink, run_cli

A0 = bytes.fromhex("ff00ff00ff00ff00")
A1 = bytes.fromhex("0f0f0f0f0f0f0f0f")
A2 = bytes.fromhex("aaaaaaaaaaaaaaaa")
B0 = A1
B1 = bytes.fromhex("fc00ff00ff00ff00")
B2 = bytes.fromhex("5555555555555555")
C0 = A0
C1 = bytes.fromhex("3c3c3c3c3c3c3c3c")


#: What the parties' files record, as "anonlink hash" writes it (one schema, one secret).
META = ClkMeta("anonlink-client", "0.2.0", 64, "sha256:" + "5c" * 32, "a1b2")


def clk_file(path: Path, clks: List[bytes], meta: Optional[ClkMeta] = META) -> Path:
    """A JSON CLK file with metadata, as ``anonlink hash`` writes it (``meta=None``: as older tools did)."""
    with open(path, "w") as handle:
        write_clks(handle, clks, meta)
    return path


def block_file(path: Path, blocks: Dict[int, List[str]], count: Optional[int]) -> Path:
    document: Dict[str, Any] = {"blocks": {str(k): v for k, v in blocks.items()}}
    if count is not None:
        document["meta"] = {"source": {"clk_count": [count]}}
    path.write_text(json.dumps(document))
    return path


def group_sets(groups: List[List[List[int]]]) -> Set[frozenset]:
    return {frozenset(tuple(record) for record in group) for group in groups}


def anonlink_scores(parties: List[List[bytes]], threshold: float) -> List[list]:
    """The candidate pairs anonlink itself finds, in the service's similarity_scores shape."""

    def bits(clk: bytes) -> bitarray:
        b = bitarray()
        b.frombytes(clk)
        return b

    sims, (d0, d1), (r0, r1) = anonlink.candidate_generation.find_candidate_pairs(
        [[bits(c) for c in party] for party in parties], anonlink.similarities.dice_coefficient, threshold
    )
    return [[[a, x], [b, y], s] for s, a, b, x, y in zip(sims, d0, d1, r0, r1)]


@pytest.fixture
def parties(tmp_path: Path) -> Tuple[Path, Path, Path]:
    return (
        clk_file(tmp_path / "a.json", [A0, A1, A2]),
        clk_file(tmp_path / "b.json", [B0, B1, B2]),
        clk_file(tmp_path / "c.json", [C0, C1]),
    )


def test_two_parties_without_blocking(tmp_path, parties):
    a, b, _ = parties
    out, scores = tmp_path / "groups.json", tmp_path / "scores.json"

    result = run_cli("find-similarity", 0.9, out, "--clk", a, "--clk", b, "--scores", scores)

    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == {"groups": [[[0, 0], [1, 1]], [[0, 1], [1, 0]]]}
    assert json.loads(scores.read_text()) == {"similarity_scores": [[[0, 1], [1, 0], 1.0], [[0, 0], [1, 1], 60 / 62]]}
    assert json.loads(scores.read_text())["similarity_scores"] == anonlink_scores([[A0, A1, A2], [B0, B1, B2]], 0.9)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Writing 2 similarity scores to {scores} (about 97 bytes)",
        "Found 2 candidate pairs with similarity of at least 0.9",
        "Solved into 2 groups linking 4 records of 2 parties",
        f"Groups written to {out}",
        f"Similarity scores written to {scores}",
    ]


def test_groups_span_three_parties(tmp_path, parties):
    a, b, c = parties
    out = tmp_path / "groups.json"

    result = run_cli("find-similarity", 0.9, out, "--clk", a, "--clk", b, "--clk", c)

    assert result.exit_code == 0, result.stderr
    groups = json.loads(out.read_text())["groups"]
    assert group_sets(groups) == {frozenset({(0, 0), (1, 1), (2, 0)}), frozenset({(0, 1), (1, 0)})}
    assert "Solved into 2 groups linking 5 records of 3 parties" in result.stderr


def test_with_blocking_only_records_sharing_a_block_are_compared(tmp_path, parties):
    a, b, _ = parties
    # A1 and B0 are identical but share no block; A2 is in no block.
    a_blocks = block_file(tmp_path / "a-blocks.json", {0: ["x"], 1: ["y"]}, 3)
    b_blocks = block_file(tmp_path / "b-blocks.json", {0: ["z"], 1: ["x", "z"], 2: ["y"]}, 3)
    out, scores = tmp_path / "groups.json", tmp_path / "scores.json"

    result = run_cli(
        "find-similarity", 0.4, out, "--files", a, a_blocks, "--files", b, b_blocks, "--scores", scores, "-v"
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == {"groups": [[[0, 0], [1, 1]], [[0, 1], [1, 2]]]}
    # Only pairs sharing block x or y are compared: A1-B0 (1.0) and A0-B2 (0.5) are not.
    assert json.loads(scores.read_text()) == {"similarity_scores": [[[0, 0], [1, 1], 60 / 62], [[0, 1], [1, 2], 0.5]]}
    lines = result.stderr.splitlines()
    assert lines == [
        f"Writing 2 similarity scores to {scores} (about 97 bytes)",
        f"Party 0: 3 CLKs from {a}, blocks from {a_blocks}",
        f"Party 1: 3 CLKs from {b}, blocks from {b_blocks}",
        f"Warning: 1 of 3 records of party 0 ({a_blocks}) are in no block, so they are not compared",
        "Found 2 candidate pairs with similarity of at least 0.4",
        "Solved into 2 groups linking 4 records of 2 parties",
        "    groups of 2 records: 2",
        lines[7],
        lines[8],
        f"Groups written to {out}",
        f"Similarity scores written to {scores}",
    ]
    # Two pairs share a block (A0-B1 in x, A1-B2 in y); too few to start worker processes.
    assert re.fullmatch(
        r"Compared 2 pairs of records in \d+\.\d\d seconds with one process "
        r"\([\d,]+\.\d million a second; CPU seconds: \d+\.\d\d\)",
        lines[7],
    )
    assert lines[8].startswith("Linkage took ")


def test_block_files_from_anonlink_block_are_read(tmp_path, parties):
    a, b, _ = parties
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "lambda-fold",
                "version": 1,
                "config": {
                    "blocking-features": [0],
                    "Lambda": 2,
                    "bf-len": 64,
                    "num-hash-funcs": 2,
                    "K": 2,
                    "input-clks": True,
                    "random_state": 0,
                },
            }
        )
    )
    for party in (a, b):
        assert run_cli("block", party, schema, party.with_suffix(".blocks")).exit_code == 0

    blocked = run_cli(
        "find-similarity", 0.9, tmp_path / "g1.json", "--files", a, a.with_suffix(".blocks"), "--files", b,
        b.with_suffix(".blocks"),
    )  # fmt: skip
    unblocked = run_cli("find-similarity", 0.9, tmp_path / "g2.json", "--clk", a, "--clk", b)

    assert blocked.exit_code == 0 and unblocked.exit_code == 0, blocked.stderr
    blocked_groups = group_sets(json.loads((tmp_path / "g1.json").read_text())["groups"])
    # Blocking can only lose matches, never add them.
    assert blocked_groups <= group_sets(json.loads((tmp_path / "g2.json").read_text())["groups"])


def test_groups_to_stdout(parties):
    a, b, _ = parties

    result = run_cli("find-similarity", 1.0, "-", "--clk", a, "--clk", b)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"groups": [[[0, 1], [1, 0]]]}'
    assert result.stderr.splitlines()[-1] == "Groups written to stdout"


def test_threshold_zero_keeps_every_pair(tmp_path, parties):
    a, b, _ = parties
    scores = tmp_path / "scores.json"

    result = run_cli("find-similarity", 0, tmp_path / "groups.json", "--clk", a, "--clk", b, "--scores", scores)

    assert result.exit_code == 0, result.stderr
    assert len(json.loads(scores.read_text())["similarity_scores"]) == 9
    assert json.loads(scores.read_text())["similarity_scores"] == anonlink_scores([[A0, A1, A2], [B0, B1, B2]], 0.0)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--clk", "{a}"],
            "give at least two parties: --clk CLK_JSON (or --files CLK_JSON BLOCK_JSON) once for each party",
        ),
        ([], "give at least two parties: --clk CLK_JSON (or --files CLK_JSON BLOCK_JSON) once for each party"),
        (
            ["--clk", "{a}", "--files", "{b}", "{b}"],
            "give the parties with --clk (no blocking) or with --files (blocking), not both",
        ),
        (["--clk", "{a}", "--clk", "{b}", "--scores", "{out}"], "--scores needs a different file than OUTPUT"),
    ],
    ids=["one party", "no party", "both forms", "same output"],
)
def test_usage_errors(tmp_path, parties, args, message):
    a, b, _ = parties
    out = tmp_path / "groups.json"
    filled = [arg.format(a=a, b=b, out=out) for arg in args]

    result = run_cli("find-similarity", 0.9, out, *filled)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert not out.exists()


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "high"])
def test_threshold_must_be_between_0_and_1(tmp_path, parties, threshold):
    a, b, _ = parties

    result = run_cli("find-similarity", "--clk", a, "--clk", b, "--", threshold, tmp_path / "groups.json")

    assert result.exit_code == 2
    assert "Invalid value for 'THRESHOLD'" in result.stderr
    assert not (tmp_path / "groups.json").exists()


def test_bad_files_are_named_and_nothing_is_written(tmp_path, parties):
    a, b, _ = parties
    wide = clk_file(tmp_path / "wide.json", [A0 + A0, A1 + A1], meta=None)
    csv_file = tmp_path / "pii.csv"
    csv_file.write_text("name,dob\nann,2000\n")
    empty = clk_file(tmp_path / "empty.json", [])
    short_blocks = block_file(tmp_path / "short.json", {0: ["x"]}, 2)
    far_blocks = block_file(tmp_path / "far.json", {7: ["x"]}, None)
    good_blocks = block_file(tmp_path / "good.json", {0: ["x"]}, 3)
    out, scores = tmp_path / "groups.json", tmp_path / "scores.json"
    out.write_text("previous")
    cases = [
        (["--clk", a, "--clk", wide], f"{wide}: has 128-bit CLKs but {a} has 64-bit CLKs; every party must hash with "
         "the same linkage schema"),
        (["--clk", a, "--clk", csv_file], f"{csv_file}: not valid JSON"),
        (["--clk", a, "--clk", empty], f"{empty}: contains no CLKs"),
        (["--clk", a, "--clk", tmp_path / "missing.json"], f"{tmp_path / 'missing.json'}: no such file"),
        (["--files", a, good_blocks, "--files", b, short_blocks], f"{short_blocks}: was made for 2 records but {b} "
         "has 3 CLKs"),
        (["--files", a, good_blocks, "--files", b, far_blocks], f"{far_blocks}: has blocks for record 7, but there "
         "are only 3 CLKs"),
    ]  # fmt: skip
    for args, message in cases:
        result = run_cli("find-similarity", 0.9, out, *args, "--scores", scores)

        assert result.exit_code == 3, result.stderr
        assert result.stderr.startswith(f"Error: {message}")
        assert len(result.stderr.splitlines()) == 1
        assert out.read_text() == "previous"
        assert not scores.exists()


def test_library_refuses_blocks_for_only_some_parties(tmp_path, parties):
    a, b, _ = parties
    blocks = block_file(tmp_path / "blocks.json", {0: ["x"]}, 3)

    with pytest.raises(ValueError, match="every party or for none"):
        find_similarity(0.9, [(str(a), str(blocks)), (str(b), None)], str(tmp_path / "out.json"))


def test_find_similarity_as_a_subprocess(tmp_path, parties):
    a, b, c = parties
    out = tmp_path / "groups.json"

    good = run_anonlink("find-similarity", 0.9, out, "--clk", a, "--clk", b, "--clk", c)
    bad = run_anonlink("find-similarity", 0.9, tmp_path / "bad.json", "--clk", a, "--clk", tmp_path)

    assert good.returncode == 0, good.stderr
    assert group_sets(json.loads(out.read_text())["groups"]) == {
        frozenset({(0, 0), (1, 1), (2, 0)}),
        frozenset({(0, 1), (1, 0)}),
    }
    assert bad.returncode == 3
    assert bad.stderr == f"Error: {tmp_path}: is a directory, not a file\n"
    assert not (tmp_path / "bad.json").exists()
