"""PII records in a Parquet file or dataset, streamed a batch at a time (pyarrow), as a record source.

A dataset is a directory of Parquet part files, as Spark, Dask or pandas write them. Its
part files are read one after the other, in the order of their paths below the
directory with numbers compared as numbers (``part.2`` before ``part.10``, as Dask numbers
them; Spark's ``part-00002`` sorts the same either way). Files and directories whose
names begin with ``.`` or ``_`` are not data and are skipped (Spark's ``_SUCCESS`` and
``.crc`` files, Dask's ``_metadata``). A directory named ``key=value`` (Hive partitioning:
Spark's ``partitionBy``, pandas' ``partition_cols``) gives the records below it a column
``key`` holding the text ``value`` (percent-decoded; Hive's ``__HIVE_DEFAULT_PARTITION__``
is NULL). Every part must have the same columns, of the same types.

Only the requested columns are read; typed values become text by the rules of
:mod:`.typed`, inside Arrow (:mod:`.arrow_text`), as each batch is read. Rows count the
records of each file from 1, and messages name the part file. A file that is not
Parquet, is truncated or has corrupt pages is refused in one line naming it (and the row
where reading stopped); so are an empty directory and parts whose columns differ.
"""

import bisect
import contextlib
import os
import urllib.parse
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.arrow_text import BATCH_PIECES, ArrowText
from anonlinkclient.io.files import first_line, open_input, path_order
from anonlinkclient.io.records import Location, Piece, PieceSize
from anonlinkclient.io.typed import TypedSource

NOT_PARQUET = "not a Parquet file, or a truncated or corrupt one"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


class Part(NamedTuple):
    """One Parquet file of a source: its path (and how messages name it), rows, columns' types, partition keys."""

    path: str
    shown: str
    rows: int
    types: Dict[str, str]
    keys: Dict[str, Optional[str]]


class ParquetSource(TypedSource):
    """The records of a Parquet file, or of a directory of Parquet part files (see the module docstring).

    :param path: the file or directory.
    :param name: how messages name it (default: the path).
    :raises InputFileError: if a file cannot be opened or is not Parquet, the directory holds
        no part files, or the parts' columns differ.
    """

    def __init__(self, path: str, name: Optional[str] = None) -> None:
        self.name = name or path
        if os.path.isdir(path):
            paths = part_files(path)
            if not paths:
                raise InputFileError(
                    self.name, "is a directory with no Parquet files in it (names beginning with . or _ are skipped)"
                )
            self._parts = [_part(part, self.name, os.path.relpath(part, path)) for part in paths]
        else:
            self._parts = [_part(path, self.name)]
        first = self._parts[0]
        for part in self._parts[1:]:
            _check_same_columns(first, part)
        self._starts = [0]
        for part in self._parts:
            self._starts.append(self._starts[-1] + part.rows)
        self.found(list(_columns(first)))

    def count(self) -> Optional[int]:
        """The number of rows the files' footers record."""
        return self._starts[-1]

    def location(self, index: int) -> Location:
        """Record ``index`` is a row of a part file, counting from 1."""
        at = bisect.bisect_right(self._starts, index) - 1
        at = min(at, len(self._parts) - 1)
        return Location(self._parts[at].shown, index - self._starts[at] + 1)

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Batches of about ``size.rows`` records, decoded and turned into text here (the workers need no pyarrow)."""
        text = ArrowText(self.requested, self.labels)
        wanted = list(dict.fromkeys(c.name for c in self.requested if c.required))
        for part in self._parts:
            for length, by_name in _batches(part, [n for n in wanted if n in part.types], size.rows * BATCH_PIECES):
                for key, value in part.keys.items():
                    by_name.setdefault(key, _constant(value, length))
                arrays = [by_name.get(c.name) if c.required else None for c in self.requested]
                yield from text.pieces(arrays, length, size.rows)


def part_files(directory: str) -> List[str]:
    """The Parquet part files below a directory, in the order they are read (see the module docstring)."""
    found: List[str] = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = [name for name in subfolders if not name.startswith((".", "_"))]
        found.extend(os.path.join(folder, name) for name in files if not name.startswith((".", "_")))
    return sorted(found, key=lambda path: path_order(os.path.relpath(path, directory)))


def _part(path: str, name: str, relative: Optional[str] = None) -> Part:
    """A part file's rows and columns (its footer, read and closed), and its partition keys."""
    shown = path if relative is not None else name
    with parquet_file(path, shown) as parquet:
        rows = int(parquet.metadata.num_rows)
        types = {field.name: str(field.type) for field in parquet.schema_arrow}
    keys: Dict[str, Optional[str]] = {}
    for folder in os.path.dirname(relative or "").split(os.sep):
        key, equals, value = folder.partition("=")
        if equals and key:
            value = urllib.parse.unquote(value)
            keys[key] = None if value == HIVE_NULL else value
    return Part(path, shown, rows, types, keys)


@contextlib.contextmanager
def parquet_file(path: str, shown: str) -> Iterator[Any]:
    """A Parquet file open for reading (``shown``: how messages name it)."""
    import pyarrow.parquet as pq

    with open_input(path, "rb", error=lambda _path, reason: InputFileError(shown, reason)) as handle:
        try:
            # pre-buffering keeps what it read: memory would grow with the file
            parquet = pq.ParquetFile(handle, pre_buffer=False, buffer_size=1 << 20)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError or others for a bad footer
            raise InputFileError(shown, f"{NOT_PARQUET} ({parquet_reason(exc)})") from None
        yield parquet


def _columns(part: Part) -> Dict[str, str]:
    """A part's columns and their types (a partition key's: ``a partition key``)."""
    return {**dict.fromkeys(part.keys, "a partition key"), **part.types}


def _check_same_columns(first: Part, part: Part) -> None:
    """Refuse a part whose columns, or their types, differ from the first part's."""
    ours, theirs = _columns(first), _columns(part)
    if ours == theirs:
        return
    column = next(column for column in [*ours, *theirs] if ours.get(column) != theirs.get(column))
    if column not in theirs:
        reason = f"it lacks the column {column}"
    elif column not in ours:
        reason = f"it has a column {column} that the first lacks"
    else:
        reason = f"its column {column} is {theirs[column]}, the first's {ours[column]}"
    raise InputFileError(part.shown, f"its columns differ from the first part's ({first.shown}): {reason}")


def _batches(part: Part, columns: List[str], rows: int) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """A part file's batches of ``rows`` records, as (length, column name -> Arrow array)."""
    with parquet_file(part.path, part.shown) as parquet:
        for batch in parquet_batches(parquet, part.shown, columns, rows):
            yield batch.num_rows, {name: batch.column(i) for i, name in enumerate(batch.schema.names)}


def parquet_batches(parquet: Any, shown: str, columns: List[str], rows: int) -> Iterator[Any]:
    """The record batches of ``rows`` rows of an open Parquet file's ``columns``.

    :raises InputFileError: naming ``shown`` and the row where a page cannot be read (corrupt, truncated).
    """
    done = 0
    batches = parquet.iter_batches(batch_size=rows, columns=columns, use_threads=False)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # corrupt pages, a truncated file
            raise InputFileError(shown, f"{NOT_PARQUET} ({parquet_reason(exc)})", row=done + 1) from None
        yield batch
        done += batch.num_rows


def _constant(value: Optional[str], length: int) -> Any:
    """A partition key's column: ``value`` (NULL for ``None``) ``length`` times."""
    import pyarrow as pa

    return pa.nulls(length, pa.string()) if value is None else pa.array([value] * length, pa.string())


def parquet_reason(exc: BaseException) -> str:
    """A short reason from pyarrow's message (it names no values, only the file's structure)."""
    return first_line(exc)[:160]
