"""Reading PII CSV files record by record, with errors that say where.

Files are decoded as UTF-8 (a leading byte order mark is dropped). A NUL byte
anywhere in a record is refused, naming the row (a CSV of text has none; a
binary file does), on every Python version: 3.10's csv module refuses them,
3.11's reads them. Row numbers in messages count CSV records from 1, the header
included, as a spreadsheet shows them.
"""

import csv
from typing import Iterator, List, Optional, TextIO, cast

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import open_input


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
                    f"has {len(row)} columns but the schema describes {self.width}",
                    row=self.rows_read,
                )
            yield row
