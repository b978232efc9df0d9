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
are read by name (:class:`Column`); a column that need not be read (an ignored feature,
which hashes nothing) reads as ``""``. Python values (databases, Excel) are turned into
text by :class:`TypedPiece` (in the worker processes, or where they are read); Arrow
columns (Parquet, DataFrames) are turned into text where they are read, inside Arrow, by
:class:`~.arrow_text.ArrowText`, so that the workers need no pyarrow.
"""

import abc
import datetime
import decimal
import math
import uuid
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.records import Column, Location, Piece, PieceFailure, PieceSize, RecordSource, Row


def format_date(value: datetime.date, date_format: Optional[str]) -> str:
    """A date or timestamp as text: in ``date_format`` (the year always four digits), or ISO 8601 without one."""
    if date_format is None:
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    if "%Y" in date_format and value.year < 1000:  # four digits, as strptime reads them (C may write 999 for 0999)
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
        return format_date(value, column.date_format)
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


def column_texts(values: List[Any], column: Column) -> Tuple[List[str], Optional[int], str]:
    """The texts of one column of a piece: ``(texts up to the first refused value, its index, why)``.

    :param values: the column's values, as Python objects.
    """
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:  # text, perhaps with NULLs: the common case, at list speed
        return [column.missing if value is None else value for value in values], None, ""
    if kinds <= {datetime.date, type(None)}:
        cache = _DATE_TEXTS.setdefault((column.date_format, column.missing), {})
        if len(cache) > DATE_CACHE_ENTRIES:
            cache.clear()
        texts = []
        for value in values:
            text = cache.get(value)
            if text is None:
                text = cache[value] = text_of(value, column)
            texts.append(text)
        return texts, None, ""
    texts = []
    for value in values:
        text = text_of(value, column)
        if text is None:
            return texts, len(texts), why_refused(value)
        texts.append(text)
    return texts, None, ""


#: Texts of dates already formatted in this process, by (date format, missing text).
_DATE_TEXTS: dict = {}


class TypedPiece(Piece):
    """Typed records, column by column (lists of Python values), for a worker to turn into text.

    :param columns: one value list per requested column (``None``: the source lacks
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
        return self.as_text().read()

    def as_text(self) -> "TextColumnsPiece":
        """The same records turned into text here (a worker then only puts the columns together)."""
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
        return TextColumnsPiece(texts, self.length, failure)


#: Joins a column's texts for the trip to a worker process, which splits them again: a string travels (is
#: pickled and unpickled) faster than a list of strings, and splitting it costs the worker no more than the list.
SEPARATOR = "\x00"
#: A column's texts: a list, or one string of them joined by SEPARATOR, which none of them holds.
ColumnText = Union[str, List[str]]


class TextColumnsPiece(Piece):
    """Records already turned into text, column by column, for a worker to put together.

    :param columns: one :data:`ColumnText` per column (cut short at the failure, if any).
    :param length: the number of records.
    :param failure: the first value that has no text, if any.
    """

    def __init__(self, columns: Sequence[ColumnText], length: int, failure: Optional[PieceFailure] = None) -> None:
        self._columns = list(columns)
        self.length = length
        self.failure = failure

    @property
    def columns(self) -> List[List[str]]:
        """The texts of each column, as lists."""
        return [column.split(SEPARATOR) if isinstance(column, str) else column for column in self._columns]

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The records, up to the failure."""
        columns = self.columns
        rows: List[Row] = list(zip(*columns)) if columns else [() for _ in range(self.length)]
        if self.failure is not None:
            return rows[: self.failure.offset], self.failure
        return rows, None


#: The most distinct dates a column's text cache keeps (a day per entry: about 718 years).
DATE_CACHE_ENTRIES = 1 << 18


class TypedSource(RecordSource):
    """A source of typed values, read by column name, whose pieces turn them into text by the rules above.

    A subclass sets :attr:`name` and :attr:`columns` (:meth:`found`), and implements
    :meth:`pieces` (for the requested columns, :attr:`requested`) and, unless its rows
    count records from 1, :meth:`location`.
    """

    requested: List[Column]

    def found(self, names: Sequence[str]) -> None:
        """The source has these columns (until :meth:`select` chooses some)."""
        self.columns = list(names)
        self.requested = [Column(name) for name in names]

    @property
    def labels(self) -> List[str]:
        """How messages name the requested columns."""
        return [column.name for column in self.requested]

    def select(self, requested: Sequence[Column]) -> None:
        """Read these columns, in this order, with these text rules.

        :raises InputFileError: naming the required columns the source lacks.
        """
        check_columns(self.name, self.columns or [], requested)
        self.requested = list(requested)
        self.columns = [column.name for column in requested]

    def location(self, index: int) -> Location:
        """Record ``index`` is row ``index + 1``."""
        return Location(self.name, index + 1)

    @abc.abstractmethod
    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """The records in pieces of about ``size.rows``, in order (see :meth:`RecordSource.pieces`)."""

    def rows(self) -> Iterator[Row]:
        """Every record as text, read here from the pieces."""
        done = 0
        for piece in self.pieces():
            rows, failure = piece.read()
            yield from rows
            if failure is not None:
                raise self.error(done + failure.offset, failure.message, failure.column)
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
