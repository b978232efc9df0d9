"""The record-source seam: PII records from wherever they live, as rows of strings that say where they are.

Every command and helper that reads personal data (``hash``, ``block``, the library
helpers, the audit) reads it through one :class:`RecordSource`:

* :attr:`RecordSource.name` names the source in messages: a file name, or a database
  URL (never with its password) and table;
* :attr:`RecordSource.columns` are the column names (``None`` when there are none, a
  CSV read with ``--no-header``); :meth:`RecordSource.select` reads only some columns,
  by name (:class:`Column`, which also says how typed values become text);
* :meth:`RecordSource.rows` yields every record as a sequence of strings, in order;
* :meth:`RecordSource.location` says where the record with a 0-based index is (file
  or table, and row), and :meth:`RecordSource.error` builds the
  :class:`~anonlinkclient.errors.InputFileError` that says so.

A reader's own failure (a malformed record, a value that has no text) is raised from
:meth:`~RecordSource.rows` as an ``InputFileError`` naming the source, row and column.

:meth:`RecordSource.pieces` hands the same records out in :class:`Piece` s, small
picklable jobs that a worker process turns into rows (:meth:`Piece.read`), for the
parallel encoder. The default cuts :meth:`~RecordSource.rows` into chunks read here;
a source may do better (the CSV source hands its workers text to read, so that the
parent does not limit the rate). A new source is one new module: a subclass that
implements :meth:`~RecordSource.rows` and :meth:`~RecordSource.location` (and
``close`` if it holds a file or connection).
"""

import abc
import itertools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from anonlinkclient.errors import InputFileError, UsageError

Row = Sequence[str]


class Location(NamedTuple):
    """Where a record is, as messages name it: ``source``, ``row_label`` ``row``.

    :ivar source: the file name, or a database URL without its password and the table.
    :ivar row: the row as the user would find it (a CSV's or a sheet's row counting the
        header, a table's row counting from 1, a DataFrame's 0-based position).
    :ivar row_label: the word for it (``row``, ``row index``).
    """

    source: str
    row: int
    row_label: str = "row"


@dataclass(frozen=True)
class Column:
    """A column to read, by name, and how its typed values become text (see :mod:`.typed`).

    :ivar name: the column's name in the source.
    :ivar date_format: the ``strftime`` format for dates and timestamps (``None``: ISO 8601).
    :ivar missing: the text of a NULL.
    :ivar required: ``False`` if the source may lack the column (its values are then ``""``).
    """

    name: str
    date_format: Optional[str] = None
    missing: str = ""
    required: bool = True


class PieceFailure(NamedTuple):
    """A worker could not read a record of its piece: the ``offset``-th (0-based) record of the piece.

    The records before it were read and are hashed first, so that the first problem in
    record order is the one reported.
    """

    offset: int
    column: Optional[str]
    message: str


class Piece(abc.ABC):
    """A run of consecutive records that a worker process reads (it is pickled to get there)."""

    @abc.abstractmethod
    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The piece's records, and the failure that ended them early (``None``: every record was read)."""


class RowsPiece(Piece):
    """Records already read into rows of strings."""

    def __init__(self, rows: List[Row]) -> None:
        self.rows = rows

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The rows as they are."""
        return self.rows, None


class PieceSize(NamedTuple):
    """How a consumer of :meth:`RecordSource.pieces` wants its pieces.

    :ivar rows: about this many records to a piece.
    :ivar characters: about this many characters of text to a piece, for a source that
        can cut its text at record boundaries without reading the records.
    :ivar workers: whether the pieces go to worker processes (otherwise cutting text
        only costs a copy).
    """

    rows: int = 1000
    characters: int = 1 << 15
    workers: bool = False


class RecordSource(abc.ABC):
    """PII records: column names, rows of strings, and where each row is (see the module docstring).

    A source is read once, front to back. Use it as a context manager (or call
    :meth:`close`) to release its file or connection.

    :ivar name: the source as messages name it (never with a password).
    :ivar columns: the column names, in the order of the values of each row, or ``None``.
    """

    name: str
    columns: Optional[List[str]] = None
    #: feature -> the column that holds it, where they differ (so that messages name the column)
    renamed: Mapping[str, str] = MappingProxyType({})
    #: Worker processes should start fresh rather than as forks of this process: a source whose reader
    #: loads a large library the workers do not need (pyarrow) sets it, so that the workers do not carry
    #: that memory too (starting them costs about a second).
    fresh_workers: bool = False

    @abc.abstractmethod
    def rows(self) -> Iterator[Row]:
        """Yield every record, in order, as a sequence of strings (one per column).

        :raises InputFileError: naming the source, row and column of the first record
            that cannot be read.
        """

    @abc.abstractmethod
    def location(self, index: int) -> Location:
        """Where the record with the 0-based ``index`` (counting records only) is."""

    def select(self, requested: Sequence[Column]) -> None:
        """Read only these columns, by name, in this order (before reading any row).

        After it, :attr:`columns` are the requested names and each row has one value per
        requested column; typed sources also apply each column's text rules.

        :raises InputFileError: naming the required columns the source lacks (and the ones it has).
        """
        raise UsageError(f"{self.name} is read by column position; it cannot select columns by name", "columns")

    def error(self, index: int, message: str, column: Optional[str] = None) -> InputFileError:
        """The error to raise for the record with the 0-based ``index``: source, row (and column), ``message``."""
        where = self.location(index)
        if column is not None:
            column = self.renamed.get(column, column)
        return InputFileError(where.source, message, row=where.row, column=column, row_label=where.row_label)

    def count(self) -> Optional[int]:
        """How many records there are, if the source knows it cheaply (for progress bars); else ``None``."""
        return None

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Yield the records in consecutive pieces of about ``size.rows`` records, in order.

        The records of a piece are read in this process; if the reader fails, the piece of
        the records read before it comes first, then the error is raised.

        :raises InputFileError: as :meth:`rows` does.
        """
        errors: List[InputFileError] = []
        records = _until_error(self.rows(), errors)
        while chunk := list(itertools.islice(records, size.rows)):
            yield RowsPiece(chunk)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Release what the source holds open (nothing, unless a subclass says otherwise)."""
        return None

    def __enter__(self) -> "RecordSource":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def _until_error(rows: Iterator[Row], errors: List[InputFileError]) -> Iterator[Row]:
    """The rows, ending early (the error kept in ``errors``) where the reader fails."""
    try:
        yield from rows
    except InputFileError as exc:
        errors.append(exc)


class IterableRecords(RecordSource):
    """Records a program already has (rows of strings), numbered from 1 in messages.

    :param records: the rows, read lazily once.
    :param name: the name used in messages.
    :param columns: their column names, if any.
    """

    def __init__(self, records: Any, name: str = "<records>", columns: Optional[List[str]] = None) -> None:
        self._records = records
        self.name = name
        self.columns = columns

    def rows(self) -> Iterator[Row]:
        """The records as they were given."""
        return iter(self._records)

    def location(self, index: int) -> Location:
        """Record ``index`` is row ``index + 1``."""
        return Location(self.name, index + 1)
