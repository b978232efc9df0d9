"""Hashing where the data platform is: CLKs of a Spark DataFrame, made on the executors.

Install with ``pip install 'anonlink-client[spark]'`` (PySpark; the executors need
anonlink-client too, see the "Where your data lives" page)::

    from anonlinkclient.spark import hash_dataframe, write_clk_dataset, write_clk_file

    people = spark.read.table("registry.patients")
    clks = hash_dataframe(people, secret, "schema.json", id_column="person_id")
    write_clk_dataset(clks, "hdfs:///linkage/clks")       # Parquet, for ``anonlink upload``
    write_clk_file(clks, "clks.bin", clk_format="binary")  # or one CLK file, on the driver

:func:`hash_dataframe` hashes each row with the encoder ``anonlink hash`` uses
(``mapInArrow``: Arrow batches go to Python workers on the executors), so a row's CLK
is bit for bit the one ``anonlink hash`` makes of the same row. Columns are read by the
features' names (``columns`` maps others), and their Spark types become the text the
schema expects by the rules every typed source follows (:mod:`anonlinkclient.io.typed`;
timestamps in the session's time zone, as ``df.show()`` shows them). The result is a
DataFrame of two columns, the id column (the user's, untouched: it is how each CLK
finds its record again, through any shuffle) and the CLK as ``binary``; the CLK
column's metadata records what a CLK file records (CLK length, schema fingerprint,
secret check value), so the writers need neither the schema nor the secret.

**The secret** stays on the driver: the per-feature keys, and a hardened schema's step
keys, are derived there as ``anonlink hash`` derives them, and travel to the executors
only inside the serialised task (PySpark's pickled function, which Spark's plan, UI,
event log and logs do not show; the function is named ``HashClks``). Turn on
``spark.network.crypto.enabled`` (with ``spark.authenticate``) on a cluster so that tasks
travel encrypted.

**Order**: a Spark DataFrame has none of its own, so both writers put the CLKs in the
order of the id column (ascending; Spark's order), and refuse ids that are NULL or
appear twice: the i-th CLK belongs to the record with the i-th smallest id.

A row that cannot be hashed (a value of a type with no text, a value the schema's
format refuses) fails the Spark job; the writers raise an
:class:`~anonlinkclient.errors.ExecutorInputError` naming the row by its id and the
column (the Spark job's own error, raised by other actions on the DataFrame, ends
with the same line).
"""

import json
import re
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

from clkhash.schema import Schema

from anonlinkclient.encoding.encoder import ClkEncoder
from anonlinkclient.encoding.hashing import clk_file_meta
from anonlinkclient.encoding.parallel import Keys, derive_keys, derive_step_keys
from anonlinkclient.encoding.pii import ColumnMapping, schema_columns
from anonlinkclient.encoding.schema import load_linkage_schema
from anonlinkclient.errors import ExecutorInputError, InputFileError, RecordError, UsageError
from anonlinkclient.io import clk_file
from anonlinkclient.io.arrow_text import ArrowText
from anonlinkclient.io.clk_parquet import META_KEY
from anonlinkclient.io.output import check_outputs
from anonlinkclient.io.records import Column
from anonlinkclient.io.typed import check_columns

#: How messages name the DataFrame being hashed.
SOURCE_NAME = "Spark DataFrame"
#: The CLK column's name, unless told otherwise.
CLK_COLUMN = "clk"
#: Row groups of the Parquet files :func:`write_clk_dataset` writes (``upload`` reads one at a time).
ROW_GROUP_BYTES = 8 << 20
#: What an empty DataFrame gets (as ``anonlink hash`` says of empty input; nothing is written).
NO_RECORDS = "contains no records to hash"
#: The longest id text a message shows.
MAX_ID_CHARS = 40

_EXECUTOR_ERROR = re.compile(r"anonlinkclient\.errors\.InputFileError: ([^\n]*)")


class _Hidden:
    """A value that must not be shown: its ``repr`` is ``<hidden>`` wherever it is printed."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


# What the last task in this Python worker process prepared (the encoder and the text of Arrow columns, with
# their caches), kept for the next task of the same job.
_prepared: Dict[str, Tuple[ClkEncoder, ArrowText]] = {}


class HashClks:
    """What the executors run: Arrow batches of (id, feature columns) in, batches of (id, CLK) out.

    Each batch's columns become the schema's text by the rules of every typed source
    (:class:`~anonlinkclient.io.arrow_text.ArrowText`), then the encoder of ``anonlink hash`` hashes them.
    Pickled with its keys; its ``repr`` and name show neither.

    :param schema: the linkage schema.
    :param keys: the per-feature keys (derived from the secret on the driver).
    :param step_keys: the keys of the schema's hardening steps (derived there too, by
        :func:`~anonlinkclient.encoding.parallel.derive_step_keys`; none for an unhardened schema).
    :param columns: feature -> column, for columns not named as the features.
    :param id_column: / :param clk_column: the output's columns.
    :param validate: check every value against the schema's format first.
    """

    __name__ = "HashClks"

    def __init__(
        self,
        schema: Schema,
        keys: Keys,
        step_keys: Sequence[bytes],
        columns: ColumnMapping,
        id_column: str,
        clk_column: str,
        validate: bool,
    ) -> None:
        self.schema = schema
        self.keys = _Hidden((keys, tuple(step_keys)))
        self.columns = dict(columns)
        self.id_column = id_column
        self.clk_column = clk_column
        self.validate = validate
        self.token = uuid.uuid4().hex

    def __repr__(self) -> str:
        return f"HashClks(id_column={self.id_column!r})"

    def _prepare(self) -> Tuple[ClkEncoder, ArrowText]:
        prepared = _prepared.get(self.token)
        if prepared is None:
            _prepared.clear()
            requested = schema_columns(self.schema, self.columns)
            text = ArrowText(requested, [column.name for column in requested])
            keys, step_keys = self.keys.value
            prepared = _prepared[self.token] = (ClkEncoder(self.schema, keys, step_keys=step_keys), text)
        return prepared

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        """Hash every batch of a partition (on an executor).

        :raises InputFileError: for the first row that cannot be hashed, named by its id.
        """
        import pyarrow as pa

        encoder, text = self._prepare()
        for batch in batches:
            names = batch.schema.names
            ids = batch.column(names.index(self.id_column))
            if ids.null_count:
                raise InputFileError(SOURCE_NAME, "a row has no id (NULL); every row needs one", column=self.id_column)
            arrays = [
                batch.column(names.index(column.name)) if column.required and column.name in names else None
                for column in text.requested
            ]
            rows, failure = text.piece(arrays, batch.num_rows).read()
            if failure is not None:
                raise self._error(ids, failure.offset, failure.column, failure.message)
            try:
                clks = encoder.encode(rows, self.validate)[0]
            except RecordError as exc:
                column = None if exc.column is None else self.columns.get(exc.column, exc.column)
                raise self._error(ids, exc.record_index, column, f"Invalid entry: {exc.reason}") from None
            names = [self.id_column, self.clk_column]
            yield pa.RecordBatch.from_arrays([ids, pa.array(clks, pa.binary())], names=names)

    def _error(self, ids: Any, index: int, column: Optional[str], message: str) -> InputFileError:
        """The error for the row at ``index`` of a batch, named by its id."""
        shown = str(ids[index].as_py())
        if len(shown) > MAX_ID_CHARS:
            shown = shown[: MAX_ID_CHARS - 3] + "..."
        return InputFileError(f"{SOURCE_NAME}, row with {self.id_column} {shown}", message, column=column)


def _quoted(name: str) -> str:
    """A column name as Spark's ``col`` reads it literally (dots and spaces included)."""
    return "`" + name.replace("`", "``") + "`"


def hash_dataframe(
    frame: Any,
    secret: Union[str, bytes],
    schema_path: str,
    id_column: str,
    columns: Optional[ColumnMapping] = None,
    validate: bool = True,
    clk_column: str = CLK_COLUMN,
) -> Any:
    """Hash every row of a Spark DataFrame into a CLK, on the executors, as ``anonlink hash`` hashes the same row.

    Nothing is computed until the result is used (written, counted, collected).

    :param frame: a ``pyspark.sql.DataFrame``.
    :param secret: the secret the parties share (kept on the driver; see the module docstring).
    :param schema_path: the linkage schema file (its fingerprint goes into the CLKs' metadata).
    :param id_column: the column that identifies each row; it is passed through untouched.
    :param columns: feature -> column, e.g. ``{"dob": "birth_date"}``, for columns not named as the features.
    :param validate: check every value against the schema's format first.
    :param clk_column: the name of the CLK column of the result.
    :return: a DataFrame of ``id_column`` and ``clk_column`` (``binary``), whose CLK column's metadata
        records the CLK length, schema fingerprint and secret check value.
    :raises InputFileError: naming the columns the DataFrame lacks.
    :raises SchemaFileError: for an unusable schema file.
    :raises UsageError: for a ``frame`` that is not a Spark DataFrame, or an id column named as the CLK column.
    """
    from pyspark.sql import functions
    from pyspark.sql.types import BinaryType, StructField, StructType

    if not hasattr(frame, "mapInArrow") or not hasattr(frame, "schema"):
        raise UsageError(f"expected a Spark DataFrame, not {type(frame).__name__}", "frame")
    if not isinstance(schema_path, str):
        raise UsageError("give the linkage schema as its file (its fingerprint goes into the CLKs' metadata)", "schema")
    if id_column == clk_column:
        raise UsageError(f"the id column and the CLK column are both named {id_column!r}", "clk_column")
    schema = load_linkage_schema(schema_path)
    # The keys anonlink hash derives (hardening steps' too), here on the driver; the executors get them, not the secret.
    keys, step_keys = derive_keys(secret, schema), derive_step_keys(secret, schema)
    ClkEncoder(schema, keys, step_keys=step_keys)  # a schema it cannot hash is refused here, not on an executor
    meta = clk_file_meta(schema_path, schema, secret)
    requested = schema_columns(schema, columns)
    check_columns(SOURCE_NAME, list(frame.columns), [Column(id_column)] + requested)
    present = [column.name for column in requested if column.name in frame.columns]
    wanted = list(dict.fromkeys([id_column] + present))
    hashing = HashClks(schema, keys, step_keys, columns or {}, id_column, clk_column, validate)
    result_type = StructType([frame.schema[id_column], StructField(clk_column, BinaryType(), False)])
    hashed = frame.select(*[functions.col(_quoted(name)) for name in wanted]).mapInArrow(hashing, result_type)
    described = functions.col(_quoted(clk_column)).alias(clk_column, metadata={META_KEY: json.dumps(meta.to_json())})
    return hashed.select(functions.col(_quoted(id_column)), described)


def _described(clks: Any) -> Tuple[str, str, Dict[str, Any]]:
    """``(id column, CLK column, metadata)`` of a DataFrame :func:`hash_dataframe` made.

    :raises UsageError: for any other DataFrame.
    """
    fields = list(getattr(getattr(clks, "schema", None), "fields", None) or [])
    marked = [field for field in fields if META_KEY in (field.metadata or {})]
    if len(fields) != 2 or len(marked) != 1:
        raise UsageError("expected the DataFrame hash_dataframe returns: an id column and a CLK column", "clks")
    (clk_field,) = marked
    (id_field,) = [field for field in fields if field is not clk_field]
    return id_field.name, clk_field.name, dict(json.loads(clk_field.metadata[META_KEY]))


@contextmanager
def _executor_errors() -> Iterator[None]:
    """Turn a Spark job that failed on a row into the :class:`ExecutorInputError` its executor said."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, (InputFileError, UsageError)):
            raise
        found = _EXECUTOR_ERROR.findall(str(exc))
        if not found:
            raise
        raise ExecutorInputError(found[-1].strip()) from None


class PackClks:
    """What the executors run to send sorted CLKs to the driver: a batch of (id, CLK) becomes one row of
    (first id, last id, whether the ids increase strictly, the CLKs concatenated)."""

    __name__ = "PackClks"

    def __init__(self, id_column: str, clk_column: str) -> None:
        self.id_column = id_column
        self.clk_column = clk_column

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        """Pack every batch of a partition (on an executor)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        for batch in batches:
            if not batch.num_rows:
                continue
            ids = batch.column(batch.schema.get_field_index(self.id_column))
            clks = batch.column(batch.schema.get_field_index(self.clk_column))
            increasing = ids.null_count == 0 and pc.all(pc.greater(ids[1:], ids[:-1])).as_py() is not False
            packed = b"".join(clks.to_pylist())
            yield pa.RecordBatch.from_arrays(
                [ids[:1], ids[-1:], pa.array([increasing]), pa.array([packed], pa.binary())],
                names=["first", "last", "increasing", "clks"],
            )


def _sorted_clks(clks: Any, id_column: str, clk_column: str, size: int) -> Iterator[bytes]:
    """The CLKs in the order of the ids, streamed to the driver a batch at a time (ids checked unique).

    :raises UsageError: for a NULL id or an id that appears twice.
    """
    from pyspark.sql import functions
    from pyspark.sql.types import BinaryType, BooleanType, StructField, StructType

    id_field = clks.schema[id_column]
    packed_type = StructType(
        [
            StructField("first", id_field.dataType),
            StructField("last", id_field.dataType),
            StructField("increasing", BooleanType()),
            StructField("clks", BinaryType()),
        ]
    )
    ordered = clks.orderBy(functions.col(_quoted(id_column))).mapInArrow(PackClks(id_column, clk_column), packed_type)
    last: Any = None
    empty = True
    for row in ordered.toLocalIterator():
        empty = False
        if not row["increasing"] or (last is not None and not row["first"] > last):
            raise UsageError(_not_unique(id_column), "id_column")
        last = row["last"]
        data = row["clks"]
        for start in range(0, len(data), size):
            yield bytes(data[start : start + size])
    if empty:
        raise InputFileError(SOURCE_NAME, NO_RECORDS)


def _not_unique(id_column: str) -> str:
    return f"the ids of column {id_column} are not unique (or some are NULL), so a CLK could not be found again"


@contextmanager
def _persisted(clks: Any) -> Iterator[Any]:
    """The DataFrame kept on the executors' disks while it is sorted, so that its rows are hashed once
    (sorting reads them twice: once to sample the ids, once to move them)."""
    from pyspark import StorageLevel

    kept = clks.persist(StorageLevel.DISK_ONLY)
    try:
        yield kept
    finally:
        kept.unpersist()


def write_clk_file(clks: Any, path: str, clk_format: str = "binary") -> int:
    """Write the CLKs :func:`hash_dataframe` made to a CLK file on the driver, in the order of the ids.

    The CLKs stream to the driver a batch at a time; the file is the one ``anonlink hash``
    writes (with the same metadata), and appears only when the last CLK is written.

    :param clks: the DataFrame :func:`hash_dataframe` returned.
    :param path: the file (``-``: stdout, JSON only).
    :param clk_format: ``binary`` or ``json``.
    :return: the number of CLKs written.
    :raises ExecutorInputError: for a row that cannot be hashed.
    :raises InputFileError: for a DataFrame without rows (nothing is written then).
    :raises UsageError: for ids that are not unique, another DataFrame, or an unknown format.
    """
    id_column, clk_column, meta = _described(clks)
    check_outputs([path])
    clk_meta = clk_file.ClkMeta.from_json(meta, SOURCE_NAME)
    size = clk_file.clk_bytes(clk_meta.clk_bits or 0)
    with _executor_errors(), _persisted(clks) as kept:
        return clk_file.write_clk_file(path, _sorted_clks(kept, id_column, clk_column, size), clk_meta, clk_format)


def write_clk_dataset(clks: Any, path: str, mode: str = "errorifexists") -> None:
    """Write the CLKs :func:`hash_dataframe` made as a Parquet CLK dataset (``anonlink upload`` reads it).

    The executors write it (any path Spark writes to: local, HDFS, object stores), sorted
    by the id column, with the metadata in every part file (see
    :mod:`anonlinkclient.io.clk_parquet`).

    :param clks: the DataFrame :func:`hash_dataframe` returned.
    :param path: the dataset's directory.
    :param mode: Spark's save mode (``errorifexists``, ``overwrite``).
    :raises ExecutorInputError: for a row that cannot be hashed.
    :raises InputFileError: for a DataFrame without rows (nothing is written then).
    :raises UsageError: for ids that are not unique (nothing is written then), or another DataFrame.
    """
    from pyspark.sql import functions

    id_column, clk_column, meta = _described(clks)
    meta["sorted_by"] = id_column
    described = functions.col(_quoted(clk_column)).alias(clk_column, metadata={META_KEY: json.dumps(meta)})
    with _executor_errors(), _persisted(clks) as kept:
        counts = kept.groupBy(functions.col(_quoted(id_column))).count()
        ids, most = counts.agg(functions.count("*"), functions.max("count")).first() or (0, None)
        if not ids:
            raise InputFileError(SOURCE_NAME, NO_RECORDS)
        if (most or 0) > 1:
            raise UsageError(_not_unique(id_column), "id_column")
        ordered = kept.orderBy(functions.col(_quoted(id_column))).select(functions.col(_quoted(id_column)), described)
        ordered.write.mode(mode).option("parquet.block.size", ROW_GROUP_BYTES).parquet(path)
