"""Hashing PII records into CLKs: what ``anonlink hash`` and ``generate_clk_from_csv`` do.

:func:`hash_source` joins the pieces: a record source (:mod:`anonlinkclient.io.records`),
the streaming parallel encoder (:mod:`.parallel`) and the optional progress bar. It
turns a record that fails the schema into an
:class:`~anonlinkclient.errors.InputFileError` naming the source, row and column.
:func:`hash_csv` does it for a CSV, with the header check.
"""

import contextlib
import dataclasses
import time
from typing import Any, Generator, Iterable, Iterator, List, Optional, Sequence, TextIO, Union

from bitarray import bitarray
from clkhash.schema import Schema
from clkhash.stats import OnlineMeanVariance

from anonlinkclient import __version__
from anonlinkclient.encoding.parallel import ProgressCallback, encode_records, encode_source
from anonlinkclient.encoding.pii import ColumnMapping, HeaderMode, check_header, open_pii
from anonlinkclient.encoding.schema import (
    linkage_schema,
    load_linkage_schema,
    load_schema_document,
    schema_meta,
    warn_about_folds,
)
from anonlinkclient.encoding.secrets import secret_check_value
from anonlinkclient.errors import InputFileError, RecordError
from anonlinkclient.io.bits import to_bitarray
from anonlinkclient.io.clk_file import ClkMeta, write_clk_file
from anonlinkclient.io.csv_records import CsvSource
from anonlinkclient.io.output import check_outputs
from anonlinkclient.io.records import RecordSource


@contextlib.contextmanager
def progress_bar(total: Optional[int], enabled: bool) -> Iterator[Optional[ProgressCallback]]:
    """A tqdm bar on stderr showing CLKs/s and the running popcount mean and std."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    stats = OnlineMeanVariance()
    with tqdm(desc="generating CLKs", total=total, unit="clk", unit_scale=True) as bar:

        def update(count: int, popcounts: Sequence[int]) -> None:
            stats.update(popcounts)
            bar.set_postfix(mean=stats.mean(), std=stats.std(), refresh=False)
            bar.update(count)

        yield update


def hash_source(
    source: RecordSource,
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    workers: Optional[int] = None,
    progress: bool = False,
) -> Generator[bytes, None, None]:
    """Yield the CLK (as bytes) of every record of a record source, in order.

    :param source: the records, one value per schema field in the schema's order.
    :param validate: check every value against the schema's format first.
    :param workers: worker processes (default: one per core; ``1`` starts none).
    :param progress: show a progress bar on stderr.
    :raises InputFileError: naming source, row and column of the first bad record.
    """
    total = source.count() if progress else None
    with progress_bar(total, progress) as on_chunk:
        try:
            yield from encode_source(source, secret, schema, validate, workers, on_chunk)
        except RecordError as exc:
            # "Invalid entry", as 0.1.5 said, which scripts look for
            raise source.error(exc.record_index, f"Invalid entry: {exc.reason}", exc.column) from None


def hash_csv(
    handle: TextIO,
    name: str,
    secret: Union[str, bytes],
    schema: Schema,
    header: HeaderMode = True,
    validate: bool = True,
    workers: Optional[int] = None,
    progress: bool = False,
) -> Iterator[bytes]:
    """Yield the CLK (as bytes) of every record of a PII CSV, in order.

    :param handle: the CSV as a text stream.
    :param name: the file name used in error messages.
    :param header: ``True`` to check the header against the schema,
        ``"ignore"`` to skip it unchecked, ``False`` if there is none.
    :param progress: show a progress bar on stderr.
    :raises InputFileError: naming file, row and column of the first bad record.
    """
    if header not in (True, False, "ignore"):
        raise ValueError(f"header must be True, False or 'ignore', not {header!r}")
    source = CsvSource(handle, name, header=bool(header), width=len(schema.fields), count=progress)
    if header is True:
        check_header(source, schema)
    yield from hash_source(source, secret, schema, validate, workers, progress)


def hash_csv_file(
    pii_path: str,
    secret: str,
    schema_path: str,
    clk_path: str,
    header: HeaderMode = True,
    validate: bool = True,
    workers: Optional[int] = None,
    progress: bool = False,
    clk_format: str = "json",
    input_format: Optional[str] = None,
    table: Optional[str] = None,
    query: Optional[str] = None,
    sheet: Optional[str] = None,
    columns: Optional[ColumnMapping] = None,
) -> int:
    """Hash the PII at ``pii_path`` (a CSV, a Parquet file, an Excel workbook or a database URL) into the CLK
    file ``clk_path`` (``-``: stdout).

    The file records how it was made (see :func:`clk_file_meta`). The output
    appears only when every record has been hashed.

    :param clk_format: ``json`` or ``binary`` (see :mod:`anonlinkclient.io.clk_file`).
    :param input_format: / :param table: / :param query: / :param sheet: / :param columns:
        which source and which of its columns (see :func:`~anonlinkclient.encoding.pii.open_pii`).
    :return: the number of CLKs written.
    :raises InputFileError: for bad PII, or none.
    :raises SchemaFileError: for a bad schema.
    :raises UsageError: for an unknown format, binary output to a pipe, or options that do not fit the source.
    """
    check_outputs([clk_path], [pii_path, schema_path])
    document = load_schema_document(schema_path)
    schema = linkage_schema(document)
    warn_about_folds(document)
    meta = clk_file_meta(schema_path, schema, secret)
    with open_pii(pii_path, schema, header, input_format, table, query, sheet, columns, progress) as source:
        # closed here, so that an interruption while writing stops the workers before the error is told
        with contextlib.closing(hash_source(source, secret, schema, validate, workers, progress)) as clks:
            count = write_clk_file(clk_path, _some(clks, source.name), meta, clk_format)
    return count


def hash_dataframe(
    frame: Any,
    secret: Union[str, bytes],
    schema: Union[str, Schema],
    columns: Optional[ColumnMapping] = None,
    validate: bool = True,
    workers: Optional[int] = None,
    progress: bool = False,
) -> List[bytes]:
    """Hash every row of a DataFrame into a CLK, in row order, as :command:`anonlink hash` hashes the same rows.

    Each feature reads the column of its name (or the one ``columns`` maps it to); typed
    values become the text the feature expects (see :mod:`anonlinkclient.io.typed`).

    :param frame: a pandas or polars DataFrame (or a pyarrow Table).
    :param schema: the linkage schema, as a file path or a :class:`clkhash.schema.Schema`.
    :param columns: feature -> column, e.g. ``{"dob": "birth_date"}``.
    :param workers: worker processes (default: one per core; ``1`` starts none).
    :return: the CLKs as bytes (write them with :func:`save_clks`).
    :raises anonlinkclient.errors.InputFileError: naming the row index and column of the first value that
        cannot be hashed, or a column the DataFrame lacks.
    """
    if isinstance(schema, str):
        schema = load_linkage_schema(schema)
    with open_pii(frame, schema, columns=columns) as source:
        return list(hash_source(source, secret, schema, validate, workers, progress))


def save_clks(
    path: str, clks: Iterable[bytes], schema_path: str, secret: Union[str, bytes], clk_format: str = "json"
) -> int:
    """Write CLKs to a CLK file as :command:`anonlink hash` does, with what it records (schema fingerprint,
    secret check value); ``-`` writes to stdout.

    :param clk_format: ``json`` or ``binary``.
    :return: the number of CLKs written.
    """
    schema = load_linkage_schema(schema_path)
    return write_clk_file(path, clks, clk_file_meta(schema_path, schema, secret), clk_format)


def clk_file_meta(schema_path: str, schema: Schema, secret: Union[str, bytes]) -> ClkMeta:
    """What a CLK file hashed with this schema and secret records: this tool and its version, the CLK
    length (after the hardening steps), the schema's fingerprint, the secret's check value, and the
    XOR folds and hardening steps applied (when there are any; see :func:`~.schema.schema_meta`)."""
    return dataclasses.replace(
        schema_meta(load_schema_document(schema_path)),
        tool="anonlink-client",
        tool_version=__version__,
        secret_check=secret_check_value(secret),
    )


def _some(clks: Iterable[bytes], name: str) -> Iterator[bytes]:
    """The CLKs, failing at the end if there were none (so that no output is written)."""
    count = 0
    for clk in clks:
        count += 1
        yield clk
    if count == 0:
        raise InputFileError(name, "contains no records to hash")


def generate_clk_from_csv(
    input_f: TextIO,
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    header: HeaderMode = True,
    progress_bar: bool = True,
    max_workers: Optional[int] = None,
) -> List[bitarray]:
    """Hash every record of a PII CSV into a CLK, exactly as clkhash does.

    :param input_f: the CSV as a text stream (an open file or ``io.StringIO``).
    :param secret: the secret the data providers share.
    :param schema: a :class:`clkhash.schema.Schema` (for example from
        :func:`clkhash.schema.from_json_file`).
    :param validate: check every value against the schema's format first.
    :param header: ``True`` if the first row is a header to check against the
        schema, ``"ignore"`` to skip it unchecked, ``False`` if there is none.
    :param progress_bar: show a tqdm progress bar on stderr.
    :param max_workers: worker processes (default: one per core; ``1`` starts none).
    :return: one :class:`bitarray.bitarray` per record, in input order.
    :raises anonlinkclient.errors.InputFileError: naming the row and column of
        the first record that does not fit the schema.
    """
    name = getattr(input_f, "name", "<input>")
    clks = hash_csv(input_f, str(name), secret, schema, header, validate, max_workers, progress_bar)
    return [to_bitarray(clk) for clk in clks]


def benchmark_hashing(count: int = 10_000, workers: Optional[int] = None, progress: bool = True) -> float:
    """Hash ``count`` generated records with the default schema; return the seconds taken."""
    from clkhash.randomnames import NameList

    people = NameList(count)
    start = time.perf_counter()
    with progress_bar(count, progress) as on_chunk:
        for _ in encode_records(people.names, "secret", people.SCHEMA, workers=workers, on_chunk=on_chunk):
            pass
    return time.perf_counter() - start
