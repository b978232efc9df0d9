"""Which record source reads an input: chosen from the argument (its extension or URL scheme), or named.

========================  ===========  =========================================
argument                  format       source
========================  ===========  =========================================
``*.parquet``, ``*.pq``   ``parquet``  :class:`~.parquet_records.ParquetSource`
``*.xlsx``, ``*.xlsm``    ``xlsx``     :class:`~.excel_records.ExcelSource`
``dialect://...``         ``sql``      :class:`~.sql_records.SqlSource`
anything else             ``csv``      :class:`~.csv_records.CsvSource`
========================  ===========  =========================================

DataFrames are given to the library directly (:class:`~.frame_records.FrameSource`).
"""

import os
from dataclasses import dataclass
from typing import Optional

from anonlinkclient.errors import UsageError
from anonlinkclient.io.csv_records import CsvSource, open_text_input
from anonlinkclient.io.records import RecordSource
from anonlinkclient.io.sql_records import is_database_url

#: Every input format, as ``input_format`` names them.
FORMATS = ("csv", "parquet", "xlsx", "sql")
EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx"}


@dataclass(frozen=True)
class PiiOptions:
    """Where PII that is not a CSV is: its format (``None``: from the argument), table or query, sheet."""

    input_format: Optional[str] = None
    table: Optional[str] = None
    query: Optional[str] = None
    sheet: Optional[str] = None


def input_format(argument: str, given: Optional[str] = None) -> str:
    """The format of an input: ``given`` if there is one, else what the argument's URL scheme or extension says.

    :raises UsageError: for an unknown ``given`` format.
    """
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"unknown input format {given!r} (expected {', '.join(FORMATS)})", "input_format")
        return given
    if is_database_url(argument):
        return "sql"
    return EXTENSIONS.get(os.path.splitext(argument.lower())[1], "csv")


#: The package each format's reader needs (the single-file executable leaves them out).
READERS = {"parquet": "pyarrow", "xlsx": "openpyxl", "sql": "sqlalchemy"}


def _check_reader(kind: str) -> None:
    """Refuse a format whose reader is not installed, in one line that says what to install."""
    import importlib.util

    module = READERS.get(kind)
    if module is not None and importlib.util.find_spec(module) is None:
        raise UsageError(
            f"reading {kind} input needs the {module} package, which is not installed here "
            "(pip install anonlink-client installs it)",
            "input_format",
        )


def is_typed(argument: str, given: Optional[str] = None) -> bool:
    """Whether an input is read with types (by column name) rather than as CSV text."""
    return input_format(argument, given) != "csv"


def open_source(
    argument: str,
    given_format: Optional[str] = None,
    header: bool = True,
    width: Optional[int] = None,
    table: Optional[str] = None,
    query: Optional[str] = None,
    sheet: Optional[str] = None,
    count: bool = False,
) -> RecordSource:
    """Open the record source an argument names (see the table above).

    :param argument: a file path or a database URL.
    :param given_format: the format, instead of guessing it from the argument.
    :param header: a CSV's first row is a header (typed sources always name their columns).
    :param width: the number of columns every CSV record must have, if known.
    :param table: / :param query: the table to read, or the query to run (databases only).
    :param sheet: the workbook's sheet to read (default: the first; Excel only).
    :param count: count a CSV's lines first (for a progress bar).
    :raises UsageError: for options that do not fit the format.
    :raises InputFileError: if the source cannot be opened.
    """
    kind = input_format(argument, given_format)
    _check_reader(kind)
    if kind != "sql" and (table is not None or query is not None):
        raise UsageError(f"{argument} is not a database: a table or query cannot be read from it", "table")
    if kind != "xlsx" and sheet is not None:
        raise UsageError(f"{argument} is not an Excel workbook: it has no sheets", "sheet")
    if kind == "parquet":
        from anonlinkclient.io.parquet_records import ParquetSource

        return ParquetSource(argument)
    if kind == "xlsx":
        from anonlinkclient.io.excel_records import ExcelSource

        return ExcelSource(argument, sheet)
    if kind == "sql":
        from anonlinkclient.io.sql_records import SqlSource

        return SqlSource(argument, table, query)
    handle = open_text_input(argument)
    try:
        return CsvSource(handle, argument, header=header, width=width, count=count, owned=True)
    except BaseException:
        handle.close()
        raise
