"""Arrow columns (Parquet, DataFrames) turned into text by the rules of :mod:`.typed`, whole columns at a time.

The process that reads the columns turns them into text inside Arrow, without a Python
object per value: text is used as it is, integers are cast to decimal text, NULLs
become the column's missing text, and a date column takes its texts from a table of
the days it spans (each day formatted once, in Python, by the same rule as a Python
date). Each column of a piece then travels to the worker as one string, its texts
joined by :data:`~.typed.SEPARATOR` (a worker splits it at C speed and needs no pyarrow).
Columns of other types (floats, decimals, timestamps, ...) are taken value by value,
by :func:`~.typed.column_texts`.
"""

import datetime
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from anonlinkclient.io.records import Column, PieceFailure
from anonlinkclient.io.typed import (
    DATE_CACHE_ENTRIES,
    SEPARATOR,
    ColumnText,
    TextColumnsPiece,
    column_texts,
    format_date,
)

_EPOCH = datetime.date(1970, 1, 1).toordinal()  # Arrow's date32 counts days from 1970-01-01
FIRST_DAY, LAST_DAY = datetime.date.min.toordinal() - _EPOCH, datetime.date.max.toordinal() - _EPOCH
OUT_OF_RANGE = "holds a date or time outside the years 1 to 9999"
NOT_UTF8 = "not valid UTF-8 text"
#: How many pieces' records are turned into text at a time (fewer, larger calls into Arrow).
BATCH_PIECES = 10


class ArrowText:
    """Turns Arrow columns into pieces of text (see the module docstring).

    :param requested: the columns, in order (``required=False``: not read, ``""``).
    :param labels: how messages name them.
    """

    def __init__(self, requested: Sequence[Column], labels: Sequence[str]) -> None:
        self.requested = list(requested)
        self.labels = list(labels)
        self._days = [DayTexts(column) for column in self.requested]

    def pieces(self, arrays: Sequence[Any], length: int, rows: int) -> Iterator[TextColumnsPiece]:
        """The ``length`` records whose columns are ``arrays`` in pieces of ``rows`` records, in order; the piece
        with the first refused value is the last.

        :param arrays: per column, an Arrow array, a list of Python values (taken value by value), or
            ``None`` (a column not read: ``""``).
        """
        bounds = [*range(0, length, rows), length] if length else [0, 0]
        columns: List[List[ColumnText]] = []
        failure: Optional[Tuple[int, str, str]] = None  # (record index, column label, why)
        for array, column, label, days in zip(arrays, self.requested, self.labels, self._days):
            if array is None:
                columns.append([[""] * (end - start) for start, end in zip(bounds, bounds[1:])])
                continue
            texts, bad, reason = column_texts(array, column) if isinstance(array, list) else _texts(array, column, days)
            columns.append(_cut(texts, bounds))
            if bad is not None and (failure is None or bad < failure[0]):
                failure = (bad, label, reason)
        for at, (start, end) in enumerate(zip(bounds, bounds[1:])):
            texts_here = [pieces[at] for pieces in columns]
            if failure is not None and failure[0] < end:
                yield TextColumnsPiece(texts_here, end - start, PieceFailure(failure[0] - start, *failure[1:]))
                return
            yield TextColumnsPiece(texts_here, end - start)

    def piece(self, arrays: Sequence[Any], length: int) -> TextColumnsPiece:
        """The ``length`` records whose columns are ``arrays`` (see :meth:`pieces`) as one piece."""
        return next(self.pieces(arrays, length, max(length, 1)))


def _texts(array: Any, column: Column, days: "DayTexts") -> Tuple[Any, Optional[int], str]:
    """The texts of one Arrow array, ``(texts up to the first refused value, its index, why)``: a string array
    without NULLs, or a list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):  # pandas' categoricals
        array = array.dictionary_decode()
        kind = array.type
    texts = None
    if pa.types.is_null(kind):
        return [column.missing] * len(array), None, ""
    if pa.types.is_integer(kind):
        texts = array.cast(pa.string())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or str(kind) == "string_view":
        texts = array.cast(pa.string())
        try:
            texts.validate(full=True)  # Parquet's strings are not checked for UTF-8 when they are read
        except pa.ArrowInvalid:
            return _by_value(array, column)
    elif pa.types.is_date32(kind):
        texts = days.of(array)
    if texts is None:
        return _by_value(array, column)
    return (pc.fill_null(texts, column.missing) if texts.null_count else texts), None, ""


def _cut(texts: Any, bounds: List[int]) -> List[ColumnText]:
    """A column's texts (a string array without NULLs, or a list) cut at ``bounds``: per piece, its texts joined
    by the separator, or a list (where a text holds the separator, or the column's texts are a list)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(texts, list):
        return [texts[start:end] for start, end in zip(bounds, bounds[1:])]
    ends = bounds[1:]
    whole = pa.ListArray.from_arrays(pa.array([0, *ends], pa.int32()), texts)
    pieces: List[ColumnText] = []
    for start, end, joined in zip([0, *ends], ends, pc.binary_join(whole, SEPARATOR).to_pylist()):
        if end == start:
            pieces.append([])
        elif joined.count(SEPARATOR) != end - start - 1:  # a text holds the separator
            pieces.append(texts.slice(start, end - start).to_pylist())
        else:
            pieces.append(joined)
    return pieces


def _by_value(array: Any, column: Column) -> Tuple[List[str], Optional[int], str]:
    """The texts of an array's values as Python objects (:func:`~.typed.column_texts`), up to the first value
    that Python cannot hold (undecodable text, a date past the year 9999)."""
    try:
        return column_texts(array.to_pylist(), column)
    except (UnicodeDecodeError, OverflowError, ValueError):
        values = []
        for index in range(len(array)):
            try:
                values.append(array[index].as_py())
            except UnicodeDecodeError:
                return column_texts(values, column)[0], index, NOT_UTF8
            except (OverflowError, ValueError):
                return column_texts(values, column)[0], index, OUT_OF_RANGE
        raise  # pragma: no cover (to_pylist failed, so one value does)


class DayTexts:
    """The texts of the days of a date column, kept as an Arrow string array over the span of days seen.

    Each day is formatted once, in Python, by the rules of :mod:`.typed` (so the texts
    are those of Python dates); a column's texts are then taken from the array by day
    number, inside Arrow. A span wider than :data:`~.typed.DATE_CACHE_ENTRIES` days is
    not kept (the column is then taken value by value, through a cache).

    :param column: the column, whose date format and missing text apply.
    """

    def __init__(self, column: Column) -> None:
        self.column = column
        self.first = 0  # the day of self.texts[0], counted from 1970-01-01
        self.texts: Any = None

    def of(self, dates: Any) -> Any:
        """The texts of a date32 array (NULLs stay null); ``None`` if its span of days is too wide to keep,
        or holds a day that Python's dates cannot."""
        import pyarrow as pa
        import pyarrow.compute as pc

        days = dates.cast(pa.int32())
        low, high = (value.as_py() for value in pc.min_max(days).values())
        if low is None:  # nothing but NULLs
            return pa.nulls(len(days), pa.string())
        if low < FIRST_DAY or high > LAST_DAY or not self._cover(low, high):
            return None
        return self.texts.take(pc.subtract(days, self.first))

    def _cover(self, low: int, high: int) -> bool:
        """Make the texts span the days ``low`` to ``high``; ``False`` if that is too many to keep."""
        import pyarrow as pa

        if self.texts is None:
            first, last = low, high
        else:
            first, last = min(low, self.first), max(high, self.first + len(self.texts) - 1)
            if (first, last) == (self.first, self.first + len(self.texts) - 1):
                return True
        if last - first + 1 > DATE_CACHE_ENTRIES:
            return False
        if self.texts is None:
            self.texts = self._format(first, last)
        else:
            before = self._format(first, self.first - 1)
            after = self._format(self.first + len(self.texts), last)
            self.texts = pa.concat_arrays([before, self.texts, after])
        self.first = first
        return True

    def _format(self, first: int, last: int) -> Any:
        import pyarrow as pa

        date_format = self.column.date_format
        return pa.array(
            [format_date(datetime.date.fromordinal(_EPOCH + day), date_format) for day in range(first, last + 1)],
            pa.string(),
        )
