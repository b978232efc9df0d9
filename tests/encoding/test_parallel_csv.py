"""With worker processes the workers read the CSV text too: same CLKs, same errors as one process.

The parent cuts the text into pieces of whole records while it holds no quote character,
then reads the rest itself. Pieces are made tiny here so that small files give many.
"""

import io
import json
from pathlib import Path
from typing import Any, List, Tuple, Union

import pytest
from clkhash import schema as clkhash_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.encoding import parallel
from anonlinkclient.encoding.hashing import hash_csv
from anonlinkclient.errors import InputFileError
from tests.helpers import run_cli

SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
    "features": [
        {"identifier": "id", "ignored": True},
        {
            "identifier": "name",
            "format": {"type": "string", "maxLength": 12},
            "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 8}},
        },
        {
            "identifier": "dob",
            "format": {"type": "date", "format": "%Y/%m/%d"},
            "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": True}, "strategy": {"bitsPerToken": 8}},
        },
    ],
}
HEADER = "id,name,dob"
Outcome = Union[List[bytes], Tuple[str, ...]]


def outcome(text: str, workers: int, header: bool = True) -> Outcome:
    schema = clkhash_schema.from_json_dict(json.loads(json.dumps(SCHEMA)))
    try:
        return list(hash_csv(io.StringIO(text, newline=""), "pii.csv", "secret", schema, header, True, workers))
    except InputFileError as exc:
        return ("error", str(exc))


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PIECE_CHARACTERS", 64)


NAMES = st.sampled_from(["Ann Lee", "Bo", "Zoë Ng", "", "O'Neil", "李小龍", "x" * 13, "Mary-Jo"])
DATES = st.sampled_from(["1990/01/02", "2001/12/31", "0999/01/01", "1990/02/30", "1990-01-01", ""])
ODD_ROWS = st.sampled_from(
    ['7,"Smith, Jo",1990/01/02', '8,"two\nlines",1990/01/02', "9,too,many,fields", "", "10,\x00,1"]
)


@st.composite
def csv_text(draw: Any) -> str:
    rows = [f"{i},{draw(NAMES)},{draw(DATES)}" for i in range(draw(st.integers(0, 40)))]
    for _ in range(draw(st.integers(0, 2))):
        rows.insert(draw(st.integers(0, len(rows))), draw(ODD_ROWS))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join([HEADER, *rows])
    return text + (newline if draw(st.booleans()) else "")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_text())
def test_workers_read_the_csv_as_one_process_does(tiny_pieces: None, text: str) -> None:
    assert outcome(text, 2) == outcome(text, 1)


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "\n" + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)),
        HEADER + "\r\n" + "".join(f"{i},Ann Lee,1990/01/02\r\n" for i in range(60)),
        HEADER + "\n" + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)) + '61,"Lee, Ann",1990/01/02\n',
        HEADER + "\n" + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)) + "61,Ann Lee,1990/02/30\n",
        HEADER + "\n" + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)) + "61,Ann,1990/01/02,x\n",
        HEADER + "\n" + '0,"multi\nline",1990/01/02\n' + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)),
        "\ufeff" + HEADER + "\n" + "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(60)),
        HEADER + "\r" + "".join(f"{i},Ann Lee,1990/01/02\r" for i in range(60)),  # old Mac line ends
    ],
)
def test_quotes_line_ends_and_errors(tiny_pieces: None, text: str) -> None:
    one = outcome(text, 1)
    assert outcome(text, 2) == one
    assert outcome(text, 3) == one


def test_a_bad_value_before_a_malformed_record_is_the_one_reported(tiny_pieces: None) -> None:
    rows = "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(40))
    text = f"{HEADER}\n{rows}40,Ann,1990/02/30\n{rows}41,Ann\n"
    expected = (
        "error",
        "pii.csv, row 42, column dob: Invalid entry: Validation error for date type: day is out of range for month",
    )
    assert outcome(text, 1) == outcome(text, 2) == expected


def test_without_header(tiny_pieces: None) -> None:
    text = "".join(f"{i},Ann Lee,1990/01/02\n" for i in range(50)) + "50,Ann,1990-01-01\n"
    assert outcome(text, 2, header=False) == outcome(text, 1, header=False)
    assert outcome(text, 2, header=False)[1].startswith("pii.csv, row 51, column dob: ")


def test_cli_with_workers_writes_the_same_file(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    pii = tmp_path / "pii.csv"
    run_cli("generate", 5000, pii)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert run_cli("hash", pii, "s", schema, one, "--workers", 1).exit_code == 0
    assert run_cli("hash", pii, "s", schema, two, "--workers", 2).exit_code == 0
    assert one.read_bytes() == two.read_bytes()
