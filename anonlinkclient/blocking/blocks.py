"""Blocking: what ``anonlink block`` and :func:`generate_candidate_blocks_from_csv` do.

The input is a PII CSV (``p-sig``, and ``lambda-fold`` with ``"input-clks":
false``) or a CLK file made by ``anonlink hash`` (``lambda-fold`` with
``"input-clks": true``); which one is expected follows from the blocking
schema, and a file of the other kind is refused with a message that says which
was expected. blocklib computes the blocks and their statistics. The result is
written as the block file the Entity Service accepts::

    {"blocks": {"0": [block id, ...], "1": [...], ...},
     "meta": {"state": {...}, "config": {...}, "source": {"clk_count": [n]}, "stats": {...}}}

keyed by the record's 0-based row (CSV records after the header, or CLKs in
order), in ascending order. A record that falls in no block has no entry; such
records are counted (``meta.stats.num_of_records_in_no_block``) and reported.

CSV values are stripped of surrounding spaces before blocking, as are the
header's column names. blocklib needs every record in memory at once (a list
of CSV rows, or of the CLKs' base64 strings); the CLK file itself is read a CLK
at a time and the block file is written record by record.
"""

import base64
import contextlib
import io
import json
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import IO, Any, Dict, Iterator, List, Optional, TextIO, Tuple, Union, cast

from anonlinkclient.blocking.schema import SchemaSource, load_blocking_schema, signature_specs
from anonlinkclient.errors import InputFileError, SchemaFileError, WrongInputKind
from anonlinkclient.io.block_file import BlockId, write_block_file
from anonlinkclient.io.clk_file import MAGIC, iter_clks
from anonlinkclient.io.csv_records import CsvSource
from anonlinkclient.io.files import Source, first_line, open_input, source_name
from anonlinkclient.io.output import atomic_output, check_outputs
from anonlinkclient.io.progress import NoBar, bar
from anonlinkclient.io.records import RecordSource
from anonlinkclient.io.sources import PiiOptions, is_typed, open_source
from anonlinkclient.io.sql_records import display_url, is_database_url

CLK_FILE_FORM = 'a CLK file made by "anonlink hash" (JSON {"clks": [...]} or binary)'
SNIFF_BYTES = 4096

Records = Union[List[Tuple[str, ...]], List[str]]  # CSV rows, or base64 CLKs


@dataclass
class BlockingResult:
    """The blocks of one data set, with what ``anonlink block`` reports about them.

    :ivar schema: the blocking schema used (older ``feature-idx`` written as ``feature``).
    :ivar record_blocks: the block ids of each record, in record order (``[]``: in no block).
    :ivar stats: blocklib's block statistics, plus ``num_of_records`` and
        ``num_of_records_in_no_block``.
    :ivar state: the settings of blocklib's blocking object, as JSON values.
    :ivar seconds: the time blocklib took.
    """

    schema: Dict[str, Any]
    record_blocks: List[List[BlockId]]
    stats: Dict[str, Any]
    state: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def record_count(self) -> int:
        """The number of records blocked."""
        return len(self.record_blocks)

    @property
    def unblocked_count(self) -> int:
        """The number of records that are in no block (and so can never be matched)."""
        return sum(1 for blocks in self.record_blocks if not blocks)

    def meta(self) -> Dict[str, Any]:
        """The ``meta`` object of the block file."""
        return {
            "state": self.state,
            "config": self.schema,
            "source": {"clk_count": [self.record_count]},
            "stats": self.stats,
        }

    def entries(self) -> Iterator[Tuple[str, List[BlockId]]]:
        """Yield ``(record key, block ids)`` for every record in a block, in record order."""
        for index, blocks in enumerate(self.record_blocks):
            if blocks:
                yield str(index), blocks

    def to_dict(self) -> Dict[str, Any]:
        """The block file's content: ``{"blocks": {...}, "meta": {...}}``."""
        return {"blocks": dict(self.entries()), "meta": self.meta()}


# ---------------------------------------------------------------------------
# Reading the input
# ---------------------------------------------------------------------------


def looks_like_json(head: Union[str, bytes]) -> bool:
    """True if the start of a file is the start of a JSON object or list (so it is no CSV)."""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    return text.lstrip("\ufeff \t\r\n").startswith(("{", "["))


def expects_clks(schema: Dict[str, Any]) -> bool:
    """True if a (valid) blocking schema blocks CLKs rather than PII."""
    return schema["type"] == "lambda-fold" and bool(schema["config"]["input-clks"])


def read_pii(
    handle: TextIO, name: str, header: bool = True, counter: Any = NoBar()
) -> Tuple[Optional[List[str]], List[Tuple[str, ...]]]:
    """Read every record of a PII CSV, values stripped of surrounding spaces (see :func:`read_records`).

    :param header: ``True`` if the first row is a header (its names are returned).
    :return: ``(column names or None, records)``.
    :raises InputFileError: for a malformed CSV, a row of the wrong width, or no records.
    """
    return read_records(CsvSource(handle, name, header=header), counter)


def read_records(source: RecordSource, counter: Any = NoBar()) -> Tuple[Optional[List[str]], List[Tuple[str, ...]]]:
    """Read every record of a record source, values stripped of surrounding spaces.

    :return: ``(column names or None, records)``.
    :raises InputFileError: for a record that cannot be read, a row of the wrong width, or no records.
    """
    names = [column.strip() for column in source.columns] if source.columns is not None else None
    width = len(names) if names is not None else None
    rows: List[Tuple[str, ...]] = []
    for index, row in enumerate(source.rows()):
        counter.update(1)
        if width is None:
            width = len(row)
        elif len(row) != width:
            expected = "the header has" if names is not None else "the first row has"
            raise source.error(index, f"has {len(row)} columns but {expected} {width}")
        rows.append(tuple(value.strip() for value in row))
    if not rows:
        raise InputFileError(source.name, "contains no records to block")
    return names, rows


def read_clks(source: Source, counter: Any = NoBar(), raw_size: Optional[int] = None) -> Tuple[List[str], int]:
    """Read a CLK file (JSON or binary), checking every CLK; return its CLKs as base64 strings and their size.

    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: for a file that is not a CLK file, a bad CLK, or no CLKs.
    """
    clks: List[str] = []
    size = 0
    for clk in iter_clks(source, raw_size):
        counter.update(1)
        size = len(clk)
        clks.append(base64.b64encode(clk).decode("ascii"))
    if not clks:
        raise InputFileError(source_name(source), "contains no CLKs")
    return clks, size


def _wrong_kind(name: str, schema: Dict[str, Any], is_json: bool, kind: str = "a JSON file") -> WrongInputKind:
    if not is_json:
        return WrongInputKind(
            name, f'is not a CLK file: the blocking schema has "input-clks": true, so {CLK_FILE_FORM} was expected'
        )
    if schema["type"] == "p-sig":
        return WrongInputKind(name, f"is {kind}, but p-sig blocking needs the PII CSV (it cannot block CLKs)")
    return WrongInputKind(
        name,
        f'is {kind}, but the blocking schema has "input-clks": false, so a PII CSV was expected '
        '(set "input-clks": true to block CLKs)',
    )


def read_input(
    source: Union[str, IO[str], IO[bytes]],
    schema: Dict[str, Any],
    header: bool = True,
    counter: Any = NoBar(),
    raw_size: Optional[int] = None,
    where: Optional[PiiOptions] = None,
) -> Tuple[str, Optional[List[str]], Records, int]:
    """Read the data a blocking schema asks for: the PII CSV or the CLK file, in one pass.

    A path or binary file is opened once: its first bytes are peeked at to tell a
    CLK file from a CSV, then the same handle is read as the one or the other. A
    text stream (``io.StringIO``) is read whole. A Parquet file, an Excel workbook or a
    database (by extension, URL scheme or ``where.input_format``) is PII, read through its
    record source with every column (typed values become text by
    :mod:`anonlinkclient.io.typed`, dates as ISO 8601).

    :param source: a path, a database URL, or a file opened for reading.
    :param raw_size: the CLK file is headerless binary with CLKs of this many bytes.
    :param where: which source and where in it (format, table or query, sheet).
    :return: ``(name, column names or None, records, bytes per CLK or 0)``.
    :raises InputFileError: for a missing or malformed file, or one of the other kind.
    """
    where = where or PiiOptions()
    if isinstance(source, str) and is_typed(source, where.input_format):
        if expects_clks(schema):
            raise _wrong_kind(source if not is_database_url(source) else display_url(source), schema, False)
        with open_source(source, where.input_format, table=where.table, query=where.query, sheet=where.sheet) as pii:
            names, rows = read_records(pii, counter)
        return pii.name, names, rows, 0
    name = source_name(source)
    if isinstance(source, io.TextIOBase):
        content = cast(str, source.read())
        binary = io.BytesIO(content.encode("utf-8", "surrogateescape"))
        binary.name = name
        return _read_binary(binary, name, schema, header, counter, raw_size)
    if isinstance(source, str):
        with open_input(source, "rb") as handle:
            return _read_binary(handle, name, schema, header, counter, raw_size)
    return _read_binary(cast(IO[bytes], source), name, schema, header, counter, raw_size)


def _read_binary(
    handle: IO[bytes], name: str, schema: Dict[str, Any], header: bool, counter: Any, raw_size: Optional[int] = None
) -> Tuple[str, Optional[List[str]], Records, int]:
    peekable = handle if isinstance(handle, io.BufferedReader) else io.BufferedReader(cast(Any, handle))
    head = peekable.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    binary = head.startswith(MAGIC) or raw_size is not None
    is_json = binary or looks_like_json(head)  # a CLK file
    if is_json != expects_clks(schema):
        raise _wrong_kind(name, schema, is_json, "a binary CLK file" if binary else "a JSON file")
    if is_json:
        clks, size = read_clks(peekable, counter, raw_size)
        return name, None, clks, size
    text = io.TextIOWrapper(peekable, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        names, rows = read_pii(text, name, header, counter)
    finally:
        text.detach()
    return name, names, rows, 0


def check_columns(
    schema: Dict[str, Any], schema_name: str, names: Optional[List[str]], width: int, data_name: str
) -> None:
    """Check that every column a schema uses exists in the CSV (by number, or by name in the header).

    :raises SchemaFileError: naming the place in the schema and the columns there are.
    """
    used = [(f"config.blocking-features[{i}]", c) for i, c in enumerate(schema["config"]["blocking-features"])]
    used += [(f"{place}.feature", spec["feature"]) for place, spec in signature_specs(schema)]
    for place, column in used:
        if isinstance(column, int):
            if column >= width:
                raise SchemaFileError(
                    schema_name, f"{place}: there is no column {column}; {data_name} has {width} (0 to {width - 1})"
                )
        elif names is None:
            raise SchemaFileError(
                schema_name,
                f"{place}: names the column {json.dumps(column)}, but {data_name} is read without a header "
                "(--no-header); use column numbers",
            )
        elif column not in names:
            raise SchemaFileError(
                schema_name,
                f"{place}: {data_name} has no column {json.dumps(column)} (its header: {', '.join(names)})",
            )


def _check_clk_bits(schema: Dict[str, Any], schema_name: str, clk_bytes: int, data_name: str) -> None:
    k = schema["config"]["K"]
    if k > clk_bytes * 8:
        raise SchemaFileError(
            schema_name, f"config.K: {k} bits cannot be sampled from the {clk_bytes * 8}-bit CLKs of {data_name}"
        )


# ---------------------------------------------------------------------------
# Blocking
# ---------------------------------------------------------------------------


def _not_from_blocklib(record: logging.LogRecord) -> bool:
    """A logger filter: drop what blocklib logs (it goes through the root logger)."""
    return "blocklib" not in record.pathname.replace("\\", "/").split("/")


@contextlib.contextmanager
def _contained_blocklib() -> Iterator[None]:
    # blocklib warns about incomplete coverage on the root logger, in words that
    # do not fit (format_statistics reports the coverage instead); a filter on the
    # root logger itself keeps that from every handler (a notebook's, or a script's
    # basicConfig, too). lambda-fold reseeds Python's global random generator:
    # keep that to blocklib as well.
    root = logging.getLogger()
    root.addFilter(_not_from_blocklib)
    random_state = random.getstate()
    try:
        yield
    finally:
        random.setstate(random_state)
        root.removeFilter(_not_from_blocklib)


def block_records(
    records: Records,
    schema: Dict[str, Any],
    names: Optional[List[str]] = None,
    schema_name: str = "<blocking schema>",
) -> BlockingResult:
    """Block records with blocklib.

    :param records: CSV rows (tuples of strings) or base64 CLKs, as the schema expects.
    :param schema: a blocking schema as :func:`~anonlinkclient.blocking.schema.load_blocking_schema` returns it.
    :param names: the CSV's column names, if it has a header.
    :param schema_name: the schema's file name, for messages.
    :raises SchemaFileError: if blocklib cannot use the schema on these records.
    """
    from blocklib import generate_candidate_blocks

    start = time.perf_counter()
    try:
        with _contained_blocklib():
            candidate = generate_candidate_blocks(records, schema, header=names)
    except ValueError as exc:
        if "filtered out" in str(exc):
            raise SchemaFileError(
                schema_name,
                "config.filter drops every block, so no record is in any block; raise the filter's max "
                "or use signatures that make smaller blocks",
            ) from exc
        raise SchemaFileError(schema_name, f"blocklib cannot use this schema: {first_line(exc)}") from exc
    except (AssertionError, IndexError, KeyError, TypeError, NotImplementedError) as exc:
        raise SchemaFileError(schema_name, f"blocklib cannot use this schema: {first_line(exc)}") from exc
    seconds = time.perf_counter() - start

    record_blocks: List[List[BlockId]] = [[] for _ in records]
    for block_id, members in candidate.blocks.items():
        for record in members:
            blocks = record_blocks[record]
            if not blocks or blocks[-1] != block_id:  # a record may be listed twice in one block
                blocks.append(block_id)
    stats = _jsonable(candidate.stats)
    stats["num_of_records"] = len(records)
    stats["num_of_records_in_no_block"] = sum(1 for blocks in record_blocks if not blocks)
    state = {k: _jsonable(v) for k, v in vars(candidate.state).items() if k != "config" and not k.startswith("_")}
    return BlockingResult(schema, record_blocks, stats, state, seconds)


def block_data(
    source: Union[str, IO[str], IO[bytes]],
    schema_source: SchemaSource,
    header: bool = True,
    progress: bool = False,
    raw_clk_size: Optional[int] = None,
    where: Optional[PiiOptions] = None,
) -> BlockingResult:
    """Load a blocking schema, read the data it asks for, and block it.

    The schema is checked before any data is read.

    :param source: the PII CSV or CLK file: a path, or a file opened for reading.
    :param schema_source: the blocking schema: a path, or a file opened for reading.
    :param header: ``True`` if the CSV's first row is a header (not used for CLK files).
    :param progress: show a progress bar on stderr while the records are read.
    :param raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.
    :param where: for PII that is not a CSV: its format, table or query, sheet.
    :raises SchemaFileError: for a bad schema, or one that does not fit the data.
    :raises InputFileError: for bad data, or data of the other kind.
    """
    schema = load_blocking_schema(schema_source)
    schema_name = source_name(schema_source)
    unit = "CLK" if expects_clks(schema) else "record"
    with bar(progress, f"reading {unit}s for {schema['type']} blocking", unit=unit) as counter:
        name, names, records, clk_bytes = read_input(source, schema, header, counter, raw_clk_size, where)
    if clk_bytes:
        _check_clk_bits(schema, schema_name, clk_bytes, name)
    else:
        check_columns(schema, schema_name, names, len(records[0]), name)
    return block_records(records, schema, names, schema_name)


def block_file(
    input_path: str,
    schema_path: str,
    output_path: str,
    header: bool = True,
    progress: bool = False,
    raw_clk_size: Optional[int] = None,
    where: Optional[PiiOptions] = None,
) -> BlockingResult:
    """Block PII (a CSV, Parquet, Excel or a database) or a CLK file (JSON or binary) into the block file
    ``output_path`` (``-``: stdout).

    The output appears only when blocking succeeded.

    :param progress: show a progress bar on stderr while the records are read.
    :param raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.

    :raises SchemaFileError: for a bad schema, or one that does not fit the data.
    :raises InputFileError: for bad data, or data of the other kind.
    """
    check_outputs([output_path], [input_path, schema_path])
    result = block_data(input_path, schema_path, header, progress, raw_clk_size, where)
    with atomic_output(output_path) as out:
        write_block_file(out, result.entries(), result.meta())
    return result


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def _size_lines(stats: Dict[str, Any], indent: str = "    ") -> List[str]:
    rows = [
        ("Number of Blocks:", stats["num_of_blocks"]),
        ("Minimum Block Size:", stats["min_size"]),
        ("Maximum Block Size:", stats["max_size"]),
        ("Average Block Size:", stats["avg_size"]),
        ("Median Block Size:", stats["med_size"]),
    ]
    lines = [f"{indent}{label:<21}{value}" for label, value in rows]
    lines.append(f"{indent}Standard Deviation of Block Size:  {stats['std_size']}")
    return lines


def format_statistics(result: BlockingResult, verbose: bool = False) -> List[str]:
    """The block statistics as ``anonlink block`` prints them, one line per item.

    :param verbose: add the detailed statistics: records, blocks per record,
        each p-sig strategy's blocks and the time taken.
    """
    stats = result.stats
    lines = []
    if "coverage" in stats:
        lines.append(f"P-Sig: {round(stats['coverage'] * 100, 2)}% records are covered in blocks")
    lines.append("Statistics for the generated blocks:")
    lines += _size_lines(stats)
    if verbose:
        per_record = [len(blocks) for blocks in result.record_blocks]
        lines.append(f"Records: {result.record_count}, in no block: {result.unblocked_count}")
        lines.append(
            f"Blocks per record: minimum {min(per_record)}, maximum {max(per_record)}, "
            f"average {sum(per_record) / len(per_record):.2f}"
        )
        strategies = stats.get("statistics_per_strategy", [])
        if strategies:
            lines.append("Individual statistics for each strategy:")
        for strategy in strategies:
            lines.append(f"Strategy: {strategy['strategy_idx']}")
            lines += _size_lines(strategy)
            lines.append(f"    {'Coverage:':<21}{round(strategy['coverage'] * 100, 2)}%")
        lines.append(f"Blocking took {result.seconds:.2f} seconds")
    if result.unblocked_count:
        advice = "; loosen config.filter or add signatures that cover them" if result.schema["type"] == "p-sig" else ""
        lines.append(
            f"Warning: {result.unblocked_count} of {result.record_count} records are in no block, "
            f"so they cannot be matched{advice}"
        )
    return lines


# ---------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------


def generate_candidate_blocks_from_csv(
    input_f: Union[str, IO[str], IO[bytes]],
    schema_f: SchemaSource,
    header: Union[bool, str] = True,
    verbose: bool = False,
) -> Dict[str, Any]:
    """Generate candidate blocks from a PII CSV (or a CLK file), as ``anonlink block`` does.

    :param input_f: the data, as a path or a file opened for reading: the PII
        CSV, or for a ``lambda-fold`` schema with ``"input-clks": true`` the
        CLK JSON file made by ``anonlink hash``.
    :param schema_f: the blocking schema, as a path or a file opened for reading.
    :param header: ``True`` (or ``"ignore"``) if the CSV's first row is a
        header, which is skipped; ``False`` if there is none.
    :param verbose: print the detailed block statistics to stderr.
    :return: the block file's content, ``{"blocks": {record: [block ids]},
        "meta": {"state": ..., "config": ..., "source": {"clk_count": [n]},
        "stats": ...}}``, with record keys as strings, as in the file.
    :raises anonlinkclient.errors.SchemaFileError: for a bad blocking schema.
    :raises anonlinkclient.errors.InputFileError: for bad data (a :class:`ValueError`).
    :raises anonlinkclient.errors.WrongInputKind: for a CLK file where the schema
        expects a CSV, or the reverse (an ``InputFileError`` and a :class:`TypeError`, as in 0.1.5).
    """
    if header not in (True, False, "ignore"):
        raise ValueError(f"header must be True, False or 'ignore', not {header!r}")
    result = block_data(input_f, schema_f, header=bool(header))
    if verbose:
        for line in format_statistics(result, verbose=True):
            print(line, file=sys.stderr)
    return result.to_dict()


def _jsonable(value: Any) -> Any:
    """``value`` as JSON types: pydantic models as dicts (by alias), enums as their values."""
    if hasattr(value, "dict") and callable(value.dict) and not isinstance(value, dict):
        return _jsonable(value.dict(by_alias=True))
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


__all__ = [
    "BlockingResult",
    "block_data",
    "block_file",
    "block_records",
    "format_statistics",
    "generate_candidate_blocks_from_csv",
]
