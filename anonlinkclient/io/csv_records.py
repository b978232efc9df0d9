"""Reading PII CSV files record by record, with errors that say where.

Files are decoded as UTF-8 (a leading byte order mark is dropped). A NUL byte
anywhere in a record is refused, naming the row (a CSV of text has none; a
binary file does), on every Python version: 3.10's csv module refuses them,
3.11's reads them. Row numbers in messages count CSV records from 1, the header
included, as a spreadsheet shows them.

:class:`CsvSource` is the CSV behind the record-source seam (:mod:`.records`); for
worker processes it hands out the CSV text itself, in pieces of whole records.
"""

import csv
import io
import itertools
from typing import Generator, Iterator, List, Optional, Sequence, TextIO, Tuple, cast

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import open_input
from anonlinkclient.io.records import Column, Location, Piece, PieceFailure, PieceSize, RecordSource, Row, RowsPiece
from anonlinkclient.io.typed import check_columns


def open_text_input(path: str) -> TextIO:
    """Open a CSV as UTF-8 text for reading, turning OS errors into one clear line.

    Undecodable bytes are kept (``surrogateescape``) so that :class:`CsvRecords`
    can name the row and column they are in.

    :raises InputFileError: if the file is missing, a directory or unreadable.
    """
    return cast(TextIO, open_input(path, "r", encoding="utf-8-sig", errors="surrogateescape", newline=""))


#: Why a record with a NUL byte is refused (on every Python version).
NUL_REASON = "contains a NUL byte; is this a binary file rather than a CSV?"


class CsvRecords:
    """The records of a PII CSV, checked for width, decoding and binary content.

    :param handle: an open text stream (a file or ``io.StringIO``).
    :param name: the name used in messages.
    :param header: ``True`` if the first record is a header.
    :param width: the number of columns every record must have, if known.
    """

    def __init__(self, handle: TextIO, name: str, header: bool, width: Optional[int] = None) -> None:
        self.name = name
        self.width = width
        #: what the width comes from, in messages
        self.width_source = "the schema describes"
        self.rows_read = 0
        self._reader = csv.reader(handle)
        self.header: Optional[List[str]] = None
        if header:
            first = self._next()
            if first is None:
                raise InputFileError(name, "the file is empty; expected a header row")
            self.header = first

    def _next(self) -> Optional[List[str]]:
        row_number = self.rows_read + 1
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            bad_byte = exc.object[exc.start : exc.start + 1].hex()
            raise InputFileError(self.name, f"not valid UTF-8 text (byte 0x{bad_byte})", row=row_number) from None
        except csv.Error as exc:
            reason = str(exc)
            if "NUL" in reason:  # Python 3.10's csv module refuses NUL bytes itself
                reason = NUL_REASON
            raise InputFileError(self.name, f"malformed CSV: {reason}", row=row_number) from None
        self.rows_read = row_number
        joined = "\x00".join(row)
        if row and joined.count("\x00") != len(row) - 1:  # Python 3.11 and later read NUL bytes: refuse them too
            raise InputFileError(self.name, f"malformed CSV: {NUL_REASON}", row=row_number)
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            self._undecodable(row)
        return row

    def _undecodable(self, row: List[str]) -> None:
        for number, value in enumerate(row, start=1):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad_byte = ord(value[exc.start]) - 0xDC00
                raise InputFileError(
                    self.name, f"not valid UTF-8 text (byte 0x{bad_byte:02x})", row=self.rows_read, column=str(number)
                ) from None

    def __iter__(self) -> Iterator[List[str]]:
        """Yield each data record, raising :class:`InputFileError` on the first bad one."""
        while (row := self._next()) is not None:
            if self.width is not None and len(row) != self.width:
                raise InputFileError(
                    self.name,
                    f"has {len(row)} columns but {self.width_source} {self.width}",
                    row=self.rows_read,
                )
            yield row


# --------------------------------------------------------------------------- the CSV record source
#
# With worker processes, the parent would spend more time reading the CSV than each worker
# spends hashing it. So the parent hands the workers the CSV text itself, in pieces of whole
# records (TextPiece), and each worker reads its piece with the same CsvRecords checks. A
# newline is a record boundary only outside quoted fields; the parent cuts only text that
# holds no quote character at all. From the first piece with one, it reads the rest of the
# file itself, record by record, and hands the workers pieces of records (RowsPiece).

LONGEST_LINE = 1 << 24


Projection = Optional[List[Optional[int]]]  # the columns chosen by name (None: "", not in the file)


def _project(rows: Iterator[List[str]], indices: Projection) -> Iterator[Row]:
    if indices is None:
        return rows
    return ([row[i] if i is not None else "" for i in indices] for row in rows)


class TextPiece(Piece):
    """CSV text of whole records (no quote character in it), for a worker to read with the CSV checks."""

    def __init__(self, text: str, width: Optional[int], indices: Projection = None, width_source: str = "") -> None:
        self.text = text
        self.width = width
        self.indices = indices
        self.width_source = width_source

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The piece's records; a record the CSV reader refuses ends them (see :class:`PieceFailure`)."""
        rows: List[Row] = []
        records = CsvRecords(io.StringIO(self.text, newline=""), "", header=False, width=self.width)
        if self.width_source:
            records.width_source = self.width_source
        try:
            rows.extend(_project(iter(records), self.indices))
        except InputFileError as exc:
            return rows, PieceFailure((exc.row or 1) - 1, exc.column, exc.message)
        return rows, None


class FailedRowsPiece(RowsPiece):
    """Records read here, then a record the reader refused (the piece's ``len(rows)``-th)."""

    def __init__(self, rows: List[Row], error: InputFileError) -> None:
        super().__init__(rows)
        self.failure = PieceFailure(len(rows), error.column, error.message)

    def read(self) -> Tuple[List[Row], Optional[PieceFailure]]:
        """The rows, and the failure after them."""
        return self.rows, self.failure


def _count_records(handle: TextIO) -> Optional[int]:
    """Lines in a seekable file (a cheap estimate of records for the progress bar)."""
    if not handle.seekable():
        return None
    start = handle.tell()
    count = sum(block.count("\n") for block in iter(lambda: handle.read(1 << 20), ""))
    handle.seek(start)
    return count


def _decodes_safely(handle: TextIO) -> bool:
    """Whether reading the text cannot fail (the CSV reader names the row of undecodable bytes)."""
    return isinstance(handle, io.StringIO) or getattr(handle, "errors", None) == "surrogateescape"


class CsvSource(RecordSource):
    """The records of a PII CSV (see :class:`CsvRecords` for the checks), as a :class:`RecordSource`.

    Rows count CSV records from 1, the header included, as a spreadsheet shows them.

    :param handle: the CSV as a text stream, at its start.
    :param name: the name used in messages.
    :param header: ``True`` if the first record is a header (its names are :attr:`columns`).
    :param width: the number of columns every record must have, if known.
    :param count: count the lines first (for a progress bar), if the stream can seek.
    :param owned: :meth:`close` closes the stream (it was opened for this source).
    :raises InputFileError: if a header is expected but the file is empty, or cannot be read.
    """

    def __init__(
        self,
        handle: TextIO,
        name: str,
        header: bool = True,
        width: Optional[int] = None,
        count: bool = False,
        owned: bool = False,
    ) -> None:
        self.handle = handle
        self._owned = owned
        self.name = name
        self.width = width
        lines = _count_records(handle) if count else None
        self._records = CsvRecords(handle, name, header=header, width=width)
        self.columns = self._records.header
        self._first_row = 2 if header else 1
        self._count = None if lines is None else lines - (1 if header else 0)
        self._indices: Projection = None

    def select(self, requested: Sequence[Column]) -> None:
        """Read only these columns, found by their names in the header.

        Every record must then have as many columns as the header.

        :raises InputFileError: if there is no header, or it lacks a required column.
        """
        header = [name.strip() for name in self.columns] if self.columns is not None else None
        if header is None:
            raise InputFileError(self.name, "is read without a header, so its columns cannot be chosen by name")
        check_columns(self.name, header, requested)
        self._indices = [header.index(column.name) if column.name in header else None for column in requested]
        self.width = self._records.width = len(header)
        self._records.width_source = "the header has"
        self.columns = [column.name for column in requested]

    def rows(self) -> Iterator[Row]:
        """Yield each data record, raising :class:`InputFileError` on the first bad one."""
        return _project(iter(self._records), self._indices)

    def location(self, index: int) -> Location:
        """Record ``index`` is CSV row ``index + 2`` after a header, ``index + 1`` without."""
        return Location(self.name, index + self._first_row)

    def count(self) -> Optional[int]:
        """The number of lines after the header, if counted (a record may span lines)."""
        return self._count

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """The records in pieces; for workers, text pieces while the text holds no quote (see above)."""
        if not size.workers or not _decodes_safely(self.handle):
            yield from super().pieces(size)
            return
        rest = yield from self._text_pieces(size.characters)
        if rest is None:
            return
        # Quotes ahead: the rest is read here, record by record.
        lines = itertools.chain(io.StringIO(rest, newline=""), self.handle)
        reader = CsvRecords(lines, self.name, header=False, width=self.width)  # type: ignore[arg-type]
        reader.width_source = self._records.width_source
        records = _project(iter(reader), self._indices)
        while True:
            chunk: List[Row] = []
            try:
                chunk.extend(itertools.islice(records, size.rows))
            except InputFileError as exc:
                yield FailedRowsPiece(chunk, exc)
                return
            if not chunk:
                return
            yield RowsPiece(chunk)

    def _text_pieces(self, characters: int) -> Generator[TextPiece, None, Optional[str]]:
        """Cut the stream into text pieces of whole records while it holds no quotes.

        :return: the text read but not handed out (ending at a line end), when a quote
            stops the cutting, for the caller to read record by record; else ``None``.
        """
        pending = ""
        while True:
            block = self.handle.read(characters)
            text = pending + block
            if not block:
                if text and '"' in text:
                    return text
                if text:
                    yield self._piece(text)
                return None
            cut = text.rfind("\n") + 1
            if '"' in text[:cut] or (cut == 0 and len(text) > LONGEST_LINE):
                return text + self.handle.readline()
            pending = text[cut:]
            if cut:
                yield self._piece(text[:cut])

    def _piece(self, text: str) -> TextPiece:
        selected = self._indices is not None
        return TextPiece(text, self.width, self._indices, self._records.width_source if selected else "")

    def close(self) -> None:
        """Close the stream if it was opened for this source."""
        if self._owned:
            self.handle.close()
