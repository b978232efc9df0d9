"""PII records in a Parquet file, streamed a batch at a time (pyarrow), as a record source.

Only the requested columns are read; typed values become text by the rules of
:mod:`.typed` as each batch is read. Rows count records from 1. A file that is not
Parquet, is truncated or has corrupt pages is refused in one line naming it (and the
row where reading stopped).
"""

from typing import Any, Iterator, List, Optional, Sequence

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import first_line, open_input
from anonlinkclient.io.records import Location, Piece, PieceSize, RecordSource, Row
from anonlinkclient.io.typed import ArrowText, Column, check_columns, typed_rows

NOT_PARQUET = "not a Parquet file, or a truncated or corrupt one"


class ParquetSource(RecordSource):
    """The records of a Parquet file.

    :param path: the file.
    :param name: how messages name it (default: the path).
    :raises InputFileError: if it cannot be opened or is not Parquet.
    """

    fresh_workers = True  # the workers need none of the reader's libraries

    def __init__(self, path: str, name: Optional[str] = None) -> None:
        import pyarrow.parquet as pq

        self.name = name or path
        handle = open_input(path, "rb")
        try:
            # pre-buffering keeps what it read: memory would grow with the file
            self._file = pq.ParquetFile(handle, pre_buffer=False, buffer_size=1 << 20)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError or others for a bad footer
            handle.close()
            raise InputFileError(self.name, f"{NOT_PARQUET} ({_reason(exc)})") from None
        self._handle = handle
        self.columns = list(self._file.schema_arrow.names)
        self._requested: List[Column] = [Column(name) for name in self.columns]

    def select(self, requested: Sequence[Column]) -> None:
        """Read these columns, in this order, with these text rules.

        :raises InputFileError: naming the required columns the file lacks.
        """
        check_columns(self.name, self.columns or [], requested)
        self._requested = list(requested)
        self.columns = [column.name for column in requested]

    def count(self) -> Optional[int]:
        """The number of rows the file's footer records."""
        return int(self._file.metadata.num_rows)

    def location(self, index: int) -> Location:
        """Record ``index`` is row ``index + 1``."""
        return Location(self.name, index + 1)

    def rows(self) -> Iterator[Row]:
        """Every record as text (see :mod:`.typed`)."""
        return typed_rows(self)

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Batches of about ``size.rows`` records, decoded here, turned into text where they are read."""
        names = self._file.schema_arrow.names
        wanted = list(dict.fromkeys(c.name for c in self._requested if c.required and c.name in names))
        text = ArrowText(self._requested, [column.name for column in self._requested])
        done = 0
        batches = self._file.iter_batches(batch_size=size.rows, columns=wanted, use_threads=False)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:  # corrupt pages, a truncated file
                raise InputFileError(self.name, f"{NOT_PARQUET} ({_reason(exc)})", row=done + 1) from None
            by_name = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
            columns: List[Any] = [by_name.get(c.name) if c.required else None for c in self._requested]
            yield text.piece(columns, batch.num_rows)
            done += batch.num_rows

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _reason(exc: BaseException) -> str:
    """A short reason from pyarrow's message (it names no values, only the file's structure)."""
    return first_line(exc)[:160]
