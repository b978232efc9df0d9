"""PII records in a DataFrame (pandas, polars, or a pyarrow Table), through Arrow, as a record source.

Each requested column is taken as an Arrow array (pandas ``NaN`` and ``None`` are
nulls); a pandas column of mixed Python objects that Arrow cannot hold is taken value
by value. Typed values become text by the rules of :mod:`.typed`. Rows are named by
their 0-based position (``row index 4``), as ``iloc`` and polars count them.
"""

from typing import Any, Iterator, List, Optional, Sequence

from anonlinkclient.errors import UsageError
from anonlinkclient.io.records import Column, Location, Piece, PieceSize, RecordSource, Row
from anonlinkclient.io.typed import ArrowText, TypedPiece, check_columns, typed_rows


def frame_kind(frame: Any) -> Optional[str]:
    """``pandas``, ``polars`` or ``arrow`` for a DataFrame (or pyarrow Table) of that library, else ``None``."""
    module = type(frame).__module__.split(".")[0]
    if module in ("pandas", "polars") and hasattr(frame, "columns"):
        return module
    if module == "pyarrow" and hasattr(frame, "column_names"):
        return "arrow"
    return None


class FrameSource(RecordSource):
    """The rows of a DataFrame.

    :param frame: a pandas or polars DataFrame, or a pyarrow Table.
    :param name: how messages name it.
    :raises UsageError: for anything else.
    """

    fresh_workers = True  # the workers need none of the reader's libraries

    def __init__(self, frame: Any, name: str = "DataFrame") -> None:
        self._kind = frame_kind(frame)
        if self._kind is None:
            raise UsageError(f"expected a pandas or polars DataFrame, not {type(frame).__name__}", "frame")
        self._frame = frame
        self.name = name
        names = frame.column_names if self._kind == "arrow" else frame.columns
        self.columns = [str(column) for column in names]
        self._originals = {str(column): column for column in names}
        self._requested = [Column(column) for column in self.columns]

    def select(self, requested: Sequence[Column]) -> None:
        """Read these columns, with these text rules.

        :raises InputFileError: naming the required columns the DataFrame lacks.
        """
        check_columns(self.name, self.columns or [], requested)
        self._requested = list(requested)
        self.columns = [column.name for column in requested]

    def count(self) -> Optional[int]:
        """The number of rows."""
        return int(self._frame.num_rows if self._kind == "arrow" else len(self._frame))

    def location(self, index: int) -> Location:
        """Record ``index`` is the row at 0-based position ``index``."""
        return Location(self.name, index, "row index")

    def rows(self) -> Iterator[Row]:
        """Every record as text (see :mod:`.typed`)."""
        return typed_rows(self)

    def _column(self, name: str) -> Any:
        import pyarrow as pa

        original = self._originals[name]
        if self._kind == "arrow":
            return self._frame.column(original).combine_chunks()
        if self._kind == "polars":
            return self._frame.get_column(original).to_arrow()
        series = self._frame[original]
        try:
            return pa.array(series, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):  # mixed Python objects: taken one by one
            return [None if _is_null(value) else value for value in series.tolist()]

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Slices of ``size.rows`` rows, turned into text where they are read."""
        total = self.count() or 0
        arrays = {c.name: self._column(c.name) for c in self._requested if c.required and c.name in self._originals}
        columns: List[Any] = [arrays.get(c.name) if c.required else None for c in self._requested]
        labels = [column.name for column in self._requested]
        text = ArrowText(self._requested, labels)
        for start in range(0, total, size.rows):
            end = min(start + size.rows, total)
            sliced = [None if values is None else values[start:end] for values in columns]
            if any(isinstance(values, list) for values in sliced):  # Python objects: turned into text by the worker
                yield TypedPiece(sliced, self._requested, labels, end - start)
            else:
                yield text.piece(sliced, end - start)


def _is_null(value: Any) -> bool:
    """pandas' missing values in an object column: ``None``, ``NaN``, ``NaT``, ``pd.NA``."""
    try:
        return bool(value is None or value != value)
    except (TypeError, ValueError):  # pd.NA refuses to be a bool
        return True
