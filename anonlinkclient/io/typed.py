"""Typed values (Parquet, Excel, databases, DataFrames) as the text a CSV exported with care would hold.

The rules, the same for every typed source:

* NULL (``None``, a null in Arrow, an empty cell) is a missing value: the column's
  :attr:`Column.missing` text (the feature's ``missingValue`` sentinel, or ``""``);
* text is used as it is;
* integers are decimal text (``-42``); a float or decimal that holds a whole number is
  written as that integer (``3.0`` -> ``3``: what pandas makes of an integer column
  with NULLs); a number with a fractional part, ``NaN`` or an infinity is refused;
* dates and timestamps are formatted with the feature's date format
  (:attr:`Column.date_format`, the year always four digits), or as ISO 8601 text
  (``1990-01-02``, ``1990-01-02 13:45:00``) where the feature has none;
* a UUID is its usual text;
* anything else (bytes, true/false, times of day, durations, lists, structures) is
  refused: it has no text a schema could agree on.

A refused value is reported with its source, row and column, and never shown. Columns
are read by name (:class:`Column`); a column that need not exist (an ignored feature)
reads as ``""``. Conversion happens in :class:`TypedPiece.read`, so in the worker
processes when there are some.
"""

import datetime
import decimal
import math
import uuid
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.records import Column, Piece, PieceFailure, RecordSource, Row


def _format_date(value: datetime.date, date_format: Optional[str]) -> str:
    if date_format is None:
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    if "%Y" in date_format:  # four digits, as strptime reads them (the C library may write 999 for 0999)
        parts = date_format.split("%%")
        date_format = "%%".join(part.replace("%Y", f"{value.year:04d}") for part in parts)
    return value.strftime(date_format)


def _whole(value: Any) -> Optional[str]:
    """A float or decimal holding a whole number, as integer text; ``None`` otherwise."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return None
    if value != int(value):
        return None
    return str(int(value))


def text_of(value: Any, column: Column) -> Optional[str]:
    """The text of a typed value by the rules above, or ``None`` if it is refused (see :func:`why_refused`)."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return column.missing
    if kind is int:
        return str(value)
    if isinstance(value, (bool, bytes, bytearray, memoryview)):
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return _format_date(value, column.date_format)
    if isinstance(value, (float, decimal.Decimal)):
        return _whole(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "__index__"):  # NumPy's integers
        return str(value.__index__())
    return None


def why_refused(value: Any) -> str:
    """Why :func:`text_of` refused a value, in words that do not show it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "holds bytes, not text"
    if isinstance(value, bool):
        return "holds a true/false value, which has no agreed text; turn it into text first"
    if isinstance(value, (float, decimal.Decimal)):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            return "holds NaN or an infinite number"
        return "holds a number with a fractional part, which the schema's text cannot hold exactly"
    return f"holds a {type(value).__name__} value, which has no text the schema could read"


def _string_type(array: Any) -> bool:
    import pyarrow as pa

    kind = array.type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or str(kind) == "string_view")


def column_texts(values: Any, column: Column) -> Tuple[List[str], Optional[int], str]:
    """The texts of one column of a piece: ``(texts up to the first refused value, its index, why)``.

    :param values: a list of Python values, or an Arrow array.
    """
    if not isinstance(values, list):
        if _string_type(values):
            texts = values.to_pylist()
            if values.null_count:
                texts = [column.missing if text is None else text for text in texts]
            return texts, None, ""
        if str(values.type).startswith("dictionary"):
            values = values.dictionary_decode()
        values = values.to_pylist()
    texts = []
    for value in values:
        text = text_of(value, column)
        if text is None:
            return texts, len(texts), why_refused(value)
        texts.append(text)
    return texts, None, ""


class TypedPiece(Piece):
    """Typed records, column by column (lists of Python values or Arrow arrays), for a worker to turn into text.

    :param columns: one value list or array per requested column (``None``: the source lacks
        it, read as ``""``), all of ``length`` values.
    :param requested: what was asked of each column.
    :param labels: how messages name each column.
    """

    def __init__(self, columns: Sequence[Any], requested: Sequence[Column], labels: Sequence[str], length: int) -> None:
        self.columns = list(columns)
        self.requested = list(requested)
        self.labels = list(labels)
        self.length = length

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The records as text; the first refused value in record order ends them."""
        texts: List[List[str]] = []
        failure: Optional[PieceFailure] = None
        for values, column, label in zip(self.columns, self.requested, self.labels):
            if values is None:
                texts.append([""] * self.length)
                continue
            limit = self.length if failure is None else failure.offset + 1
            done, bad, reason = column_texts(values[:limit] if limit < self.length else values, column)
            texts.append(done)
            if bad is not None and (failure is None or bad < failure.offset):
                failure = PieceFailure(bad, label, reason)
        rows: List[Row] = list(zip(*texts)) if texts else [() for _ in range(self.length)]
        if failure is not None:
            return rows[: failure.offset], failure
        return rows, None


def typed_rows(source: RecordSource) -> Iterator[Row]:
    """Rows of a typed source read here, from its pieces (for :meth:`RecordSource.rows`)."""
    done = 0
    for piece in source.pieces():
        rows, failure = piece.read()
        yield from rows
        if failure is not None:
            raise source.error(done + failure.offset, failure.message, failure.column)
        done += len(rows)


def missing_columns(name: str, available: Sequence[str], requested: Sequence[Column]) -> InputFileError:
    """The error for requested columns the source lacks, listing the columns it has."""
    absent = [column.name for column in requested if column.required and column.name not in available]
    plural = "columns" if len(absent) > 1 else "column"
    listed = ", ".join(available) if available else "none"
    return InputFileError(name, f"has no {plural} {', '.join(absent)} (its columns: {listed})")


def check_columns(name: str, available: Sequence[str], requested: Sequence[Column]) -> None:
    """Raise :func:`missing_columns` if a required column is not among ``available``."""
    if any(column.required and column.name not in available for column in requested):
        raise missing_columns(name, available, requested)
