"""The record-source seam: a new kind of input is one subclass, and hashing and blocking read only through it."""

import io
import json
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest
from clkhash import schema as clkhash_schema

from anonlinkclient.blocking.blocks import read_records
from anonlinkclient.encoding.hashing import hash_csv, hash_source
from anonlinkclient.errors import InputFileError
from anonlinkclient.io.csv_records import CsvSource
from anonlinkclient.io.records import (
    IterableRecords,
    Location,
    Piece,
    PieceFailure,
    PieceSize,
    RecordSource,
    Row,
    RowsPiece,
)

SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
    "features": [
        {"identifier": "id", "ignored": True},
        {
            "identifier": "name",
            "format": {"type": "string"},
            "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 8}},
        },
        {
            "identifier": "dob",
            "format": {"type": "date", "format": "%Y/%m/%d"},
            "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": True}, "strategy": {"bitsPerToken": 8}},
        },
    ],
}
ROWS = [[str(i), f"Person {i}", f"19{i % 90 + 10:02d}/01/02"] for i in range(2500)]


def schema() -> clkhash_schema.Schema:
    return clkhash_schema.from_json_dict(json.loads(json.dumps(SCHEMA)))


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    return "id,name,dob\n" + "".join(",".join(row) + "\n" for row in rows)


class Table(RecordSource):
    """A source of the kind a database gives: a table whose rows count from 1, no header row."""

    def __init__(self, rows: List[List[str]], broken_at: Optional[int] = None) -> None:
        self.name = "db://host/people, table people"
        self.columns = ["id", "name", "dob"]
        self._rows = rows
        self._broken_at = broken_at

    def rows(self) -> Iterator[Row]:
        for index, row in enumerate(self._rows):
            if index == self._broken_at:
                raise self.error(index, "the connection to the database was lost")
            yield row

    def location(self, index: int) -> Location:
        return Location(self.name, index + 1)


class FailingPiece(Piece):
    """A piece a worker reads, whose third record cannot be read."""

    def __init__(self, rows: List[Row]) -> None:
        self.rows = rows

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        return self.rows[:2], PieceFailure(2, "dob", "holds bytes, not text")


class WorkerRead(Table):
    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        yield RowsPiece(self._rows[:1000])
        yield RowsPiece(self._rows[1000:2000])
        yield FailingPiece(self._rows[2000:])


def csv_clks(rows: Sequence[Sequence[str]]) -> List[bytes]:
    return list(hash_csv(io.StringIO(csv_text(rows), newline=""), "pii.csv", "secret", schema(), workers=1))


def test_a_new_source_is_one_subclass_and_hashes_as_the_csv_does() -> None:
    assert list(hash_source(Table(ROWS), "secret", schema(), workers=1)) == csv_clks(ROWS)


def test_errors_name_the_sources_own_place() -> None:
    bad = [list(row) for row in ROWS]
    bad[1500][2] = "1990/02/30"
    with pytest.raises(InputFileError) as caught:
        list(hash_source(Table(bad), "secret", schema(), workers=1))
    assert str(caught.value) == (
        "db://host/people, table people, row 1501, column dob: "
        "Invalid entry: Validation error for date type: day is out of range for month"
    )
    with pytest.raises(InputFileError) as caught:
        list(hash_source(Table(ROWS, broken_at=1200), "secret", schema(), workers=1))
    assert str(caught.value) == "db://host/people, table people, row 1201: the connection to the database was lost"


def test_a_bad_value_before_the_readers_failure_is_the_one_reported() -> None:
    bad = [list(row) for row in ROWS]
    bad[1100][2] = "1990-01-01"
    with pytest.raises(InputFileError, match=r"row 1101, column dob: Invalid entry"):
        list(hash_source(Table(bad, broken_at=1200), "secret", schema(), workers=1))


def test_a_piece_a_worker_cannot_read_is_placed_by_the_source() -> None:
    for workers in (1, 2):
        with pytest.raises(InputFileError) as caught:
            list(hash_source(WorkerRead(ROWS), "secret", schema(), workers=workers))
        assert str(caught.value) == "db://host/people, table people, row 2003, column dob: holds bytes, not text"


def test_csv_pieces_for_workers_hold_the_same_records() -> None:
    text = csv_text(ROWS[:50]) + '50,"Lee, Ann",1990/01/02\n' + "".join(",".join(r) + "\n" for r in ROWS[51:300])
    expected = list(CsvSource(io.StringIO(text, newline=""), "pii.csv").rows())
    source = CsvSource(io.StringIO(text, newline=""), "pii.csv", width=3)
    read = [row for piece in source.pieces(PieceSize(rows=40, characters=100, workers=True)) for row in piece.read()[0]]
    assert read == expected and len(read) == 300
    assert source.location(0) == Location("pii.csv", 2)


def test_blocking_reads_any_source() -> None:
    names, rows = read_records(IterableRecords([[" a ", "b"], ["c", " d"]], "people", ["x ", "y"]))
    assert (names, rows) == (["x", "y"], [("a", "b"), ("c", "d")])
    with pytest.raises(InputFileError) as caught:
        read_records(IterableRecords([["a", "b"], ["c"]], "people", ["x", "y"]))
    assert str(caught.value) == "people, row 2: has 1 columns but the header has 2"
