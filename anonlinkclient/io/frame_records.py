"""PII records in a DataFrame (pandas, polars, or a pyarrow Table), through Arrow, as a record source.

Each requested column is taken as an Arrow array (pandas ``NaN`` and ``None`` are
nulls); a pandas column of mixed Python objects that Arrow cannot hold is taken value
by value. Typed values become text by the rules of :mod:`.typed`. Rows are named by
their 0-based position (``row index 4``), as ``iloc`` and polars count them.
"""

from typing import Any, Iterator, List, Optional

from anonlinkclient.errors import UsageError
from anonlinkclient.io.arrow_text import BATCH_PIECES, ArrowText
from anonlinkclient.io.records import Location, Piece, PieceSize
from anonlinkclient.io.typed import TypedSource


def frame_kind(frame: Any) -> Optional[str]:
    """``pandas``, ``polars`` or ``arrow`` for a DataFrame (or pyarrow Table) of that library, else ``None``."""
    module = type(frame).__module__.split(".")[0]
    if module in ("pandas", "polars") and hasattr(frame, "columns"):
        return module
    if module == "pyarrow" and hasattr(frame, "column_names"):
        return "arrow"
    return None


class FrameSource(TypedSource):
    """The rows of a DataFrame.

    :param frame: a pandas or polars DataFrame, or a pyarrow Table.
    :param name: how messages name it.
    :raises UsageError: for anything else.
    """

    # Forks would carry the program's memory, the DataFrame and all: the workers start fresh.
    fresh_workers = True

    def __init__(self, frame: Any, name: str = "DataFrame") -> None:
        self._kind = frame_kind(frame)
        if self._kind is None:
            raise UsageError(f"expected a pandas or polars DataFrame, not {type(frame).__name__}", "frame")
        self._frame = frame
        self.name = name
        names = frame.column_names if self._kind == "arrow" else frame.columns
        self._originals = {str(column): column for column in names}
        self.found(list(self._originals))

    def count(self) -> Optional[int]:
        """The number of rows."""
        return int(self._frame.num_rows if self._kind == "arrow" else len(self._frame))

    def location(self, index: int) -> Location:
        """Record ``index`` is the row at 0-based position ``index``."""
        return Location(self.name, index, "row index")

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
        """Slices of ``size.rows`` rows, turned into text here."""
        total = self.count() or 0
        arrays = {c.name: self._column(c.name) for c in self.requested if c.required and c.name in self._originals}
        columns: List[Any] = [arrays.get(c.name) if c.required else None for c in self.requested]
        text = ArrowText(self.requested, self.labels)
        batch = size.rows * BATCH_PIECES
        for start in range(0, total, batch):
            end = min(start + batch, total)
            yield from text.pieces(
                [None if values is None else values[start:end] for values in columns], end - start, size.rows
            )


def _is_null(value: Any) -> bool:
    """pandas' missing values in an object column: ``None``, ``NaN``, ``NaT``, ``pd.NA``."""
    try:
        return bool(value is None or value != value)
    except (TypeError, ValueError):  # pd.NA refuses to be a bool
        return True
