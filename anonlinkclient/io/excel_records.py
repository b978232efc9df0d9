"""PII records in an Excel workbook (``.xlsx``), streamed row by row (openpyxl, read-only), as a record source.

The first sheet is read, or the one named. Its first row holds the column names; every
later row that is not empty is a record. Rows are numbered as Excel shows them (the
header is row 1). Typed cells (numbers, dates) become text by the rules of :mod:`.typed`.
A file that is not a workbook (another format renamed, a truncated file) is refused in
one line; so is a workbook whose parts would unpack to more than :data:`MAX_UNPACKED_BYTES`.
"""

import bisect
import zipfile
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import format_size, open_input
from anonlinkclient.io.records import Column, Location, Piece, PieceSize, RecordSource, Row
from anonlinkclient.io.typed import TypedPiece, check_columns, typed_rows

NOT_XLSX = "not an Excel .xlsx workbook"
#: The most the XML parts of a workbook may unpack to (a guard against ZIP bombs).
MAX_UNPACKED_BYTES = 8 << 30


class ExcelSource(RecordSource):
    """The records of one sheet of an ``.xlsx`` workbook.

    :param path: the workbook.
    :param sheet: the sheet's name (default: the first sheet).
    :raises InputFileError: if it is not a workbook, or has no such sheet.
    """

    def __init__(self, path: str, sheet: Optional[str] = None) -> None:
        self.path = path
        handle = open_input(path, "rb")
        try:
            self._workbook = _open_workbook(handle, path)
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        sheets = self._workbook.sheetnames
        if sheet is not None and sheet not in sheets:
            self.close()
            raise InputFileError(path, f"has no sheet {sheet} (its sheets: {', '.join(sheets)})")
        title = sheet if sheet is not None else sheets[0]
        self.name = f"{path}, sheet {title}"
        self._rows = self._workbook[title].iter_rows(values_only=True)
        header = next(self._rows, None)
        if header is None:
            self.close()
            raise InputFileError(self.name, "is empty; expected a header row")
        self._header = ["" if value is None else str(value).strip() for value in header]
        while self._header and self._header[-1] == "":
            self._header.pop()
        self.columns = list(self._header)
        self._requested = [Column(name) for name in self._header]
        # Empty rows are not records: where the numbering jumps, (record index, Excel row).
        self._jumps: List[Tuple[int, int]] = [(0, 2)]

    def select(self, requested: Sequence[Column]) -> None:
        """Read these columns (found by their names in the header row) with these text rules.

        :raises InputFileError: naming the required columns the sheet lacks.
        """
        check_columns(self.name, self._header, requested)
        self._requested = list(requested)
        self.columns = [column.name for column in requested]

    def location(self, index: int) -> Location:
        """The Excel row of record ``index`` (empty rows are skipped, not counted as records)."""
        at = bisect.bisect_right(self._jumps, (index, float("inf"))) - 1
        first_index, row = self._jumps[at]
        return Location(self.name, row + index - first_index)

    def rows(self) -> Iterator[Row]:
        """Every record as text (see :mod:`.typed`)."""
        return typed_rows(self)

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Runs of about ``size.rows`` records, parsed here, turned into text where they are read."""
        positions = [
            self._header.index(c.name) if c.required and c.name in self._header else None for c in self._requested
        ]
        labels = [column.name for column in self._requested]
        records, excel_row = 0, 1
        chunk: List[Tuple[Any, ...]] = []
        for values in self._read():
            excel_row += 1
            if all(value is None or value == "" for value in values):
                continue
            if self._jumps[-1][1] + records - self._jumps[-1][0] != excel_row:
                self._jumps.append((records, excel_row))
            chunk.append(values)
            records += 1
            if len(chunk) >= size.rows:
                yield self._piece(chunk, positions, labels)
                chunk = []
        if chunk:
            yield self._piece(chunk, positions, labels)

    def _read(self) -> Iterator[Tuple[Any, ...]]:
        try:
            yield from self._rows
        except Exception as exc:  # a corrupt sheet part, found while streaming it
            raise InputFileError(self.name, f"{NOT_XLSX} (a damaged sheet: {type(exc).__name__})") from None

    def _piece(self, chunk: List[Tuple[Any, ...]], positions: List[Optional[int]], labels: List[str]) -> TypedPiece:
        columns = [
            None if position is None else [row[position] if position < len(row) else None for row in chunk]
            for position in positions
        ]
        return TypedPiece(columns, self._requested, labels, len(chunk))

    def close(self) -> None:
        """Close the workbook."""
        self._workbook.close()
        self._handle.close()


def _open_workbook(handle: Any, path: str) -> Any:
    import openpyxl

    if not zipfile.is_zipfile(handle):
        raise InputFileError(path, f"{NOT_XLSX} (it is not a ZIP archive, as .xlsx files are)")
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputFileError(path, f"{NOT_XLSX} (a damaged ZIP archive)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise InputFileError(
            path, f"{NOT_XLSX} it can read: it would unpack to more than {format_size(MAX_UNPACKED_BYTES)}"
        )
    handle.seek(0)
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, BadZipFile, XML errors
        raise InputFileError(path, f"{NOT_XLSX} ({type(exc).__name__})") from None
