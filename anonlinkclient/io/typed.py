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
text in :meth:`TypedPiece.read`, so in the worker processes when there are some; Arrow
columns (Parquet, DataFrames) are turned into text where they are read, by
:class:`ArrowText`, mostly inside Arrow, so that the workers need no pyarrow.
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


class TextColumnsPiece(Piece):
    """Records already turned into text, column by column, for a worker to put together.

    :param columns: one list of texts per column (cut short at the failure, if any).
    :param length: the number of records.
    :param failure: the first value that has no text, if any.
    """

    def __init__(self, columns: List[List[str]], length: int, failure: Optional[PieceFailure] = None) -> None:
        self.columns = columns
        self.length = length
        self.failure = failure

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The records, up to the failure."""
        rows: List[Row] = list(zip(*self.columns)) if self.columns else [() for _ in range(self.length)]
        if self.failure is not None:
            return rows[: self.failure.offset], self.failure
        return rows, None


#: The most distinct dates a column's text cache keeps (a day per entry: about 27 years per 10,000).
DATE_CACHE_ENTRIES = 1 << 18
_EPOCH = datetime.date(1970, 1, 1).toordinal()


class ArrowText:
    """Turns Arrow columns into text by the rules above: text, integers and dates inside Arrow or through a cache;
    other types value by value.

    :param requested: the columns, in order (``required=False``: not read, ``""``).
    :param labels: how messages name them.
    """

    def __init__(self, requested: Sequence[Column], labels: Sequence[str]) -> None:
        self.requested = list(requested)
        self.labels = list(labels)
        self._dates: List[dict] = [{} for _ in self.requested]

    def piece(self, arrays: Sequence[Any], length: int) -> TextColumnsPiece:
        """The piece of ``length`` records whose columns are ``arrays`` (``None``: a column not read)."""
        texts: List[List[str]] = []
        failure: Optional[PieceFailure] = None
        for at, (array, column, label) in enumerate(zip(arrays, self.requested, self.labels)):
            if array is None:
                texts.append([""] * length)
                continue
            done, bad, reason = self._texts(at, array, column)
            texts.append(done)
            if bad is not None and (failure is None or bad < failure.offset):
                failure = PieceFailure(bad, label, reason)
        return TextColumnsPiece(texts, length, failure)

    def _texts(self, at: int, array: Any, column: Column) -> Tuple[List[str], Optional[int], str]:
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = array.type
        if pa.types.is_dictionary(kind):
            array = array.dictionary_decode()
            kind = array.type
        if pa.types.is_null(kind):
            return [column.missing] * len(array), None, ""
        if pa.types.is_integer(kind):
            array = pc.cast(array, pa.string())
        elif pa.types.is_date32(kind):
            return self._date_texts(self._dates[at], array, column), None, ""
        if _string_type(array):
            texts = array.to_pylist()
            if array.null_count:
                texts = [column.missing if text is None else text for text in texts]
            return texts, None, ""
        return column_texts(array.to_pylist(), column)

    @staticmethod
    def _date_texts(cache: dict, array: Any, column: Column) -> List[str]:
        import pyarrow as pa

        texts = []
        for day in array.cast(pa.int32()).to_pylist():
            text = cache.get(day)
            if text is None:
                if day is None:
                    text = column.missing
                else:
                    text = _format_date(datetime.date.fromordinal(_EPOCH + day), column.date_format)
                    if len(cache) < DATE_CACHE_ENTRIES:
                        cache[day] = text
            texts.append(text)
        return texts


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
