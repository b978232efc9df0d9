"""Parquet CLK datasets: the CLKs :mod:`anonlinkclient.spark` writes, read in one streaming pass.

A dataset is a directory of Parquet part files as Spark writes them (``part-00000-....parquet``
and so on, Spark's ``_SUCCESS`` marker beside them), or a single Parquet file. Each file has:

* a binary column of CLKs, all of the length the metadata says;
* the id column the metadata names (``sorted_by``), any type Parquet can order;
* the metadata, as the text of a JSON object under the key :data:`META_KEY` of the CLK
  column's metadata, where Spark keeps a column's metadata (the file's key-value metadata
  ``org.apache.spark.sql.parquet.row.metadata``, Spark's schema as JSON): the fields of a
  CLK file's ``meta`` (:class:`~anonlinkclient.io.clk_file.ClkMeta`: ``tool``,
  ``tool_version``, ``clk_bits``, ``schema_fingerprint``, ``secret_check``) and
  ``sorted_by``. Every file of a dataset holds the same metadata.

**The CLKs' order** is the dataset's row order: the part files in the order of their names
with numbers compared as numbers (Spark's ``part-00002`` before ``part-00010``, as a PII
dataset's parts are read: :func:`~anonlinkclient.io.files.path_order`), each file's rows in
order. :mod:`anonlinkclient.spark` writes the rows sorted by the id column, so the i-th CLK
is the record with the i-th smallest id; the reader checks that the ids increase strictly
along that order (no id twice, no part file out of place).

Names starting with ``_`` or ``.`` (``_SUCCESS``, Spark's ``.crc`` checksums) are not part
files. A directory without ``_SUCCESS`` is refused: the job that wrote it did not finish,
so part files may be missing. A file that is not Parquet or is cut short, a missing or
unreadable metadata, a CLK column that is not binary, a NULL or a CLK of another length,
or ids out of order are refused in one line naming the part file (and its row, counting
from 1), before anything is done with the CLKs.
"""

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import path_order
from anonlinkclient.io.parquet_records import parquet_batches, parquet_file, parquet_reason

#: The first (and last) bytes of every Parquet file.
PARQUET_MAGIC = b"PAR1"
#: Where Spark keeps its schema (with each column's metadata) among a Parquet file's key-value metadata.
SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"
#: The key of the CLK column's metadata whose value is the JSON text of the dataset's metadata.
META_KEY = "anonlink.clk"
#: The file Spark writes into a dataset's directory when the job that wrote it has finished.
SUCCESS_MARKER = "_SUCCESS"
#: CLKs read at a time.
BATCH_ROWS = 4096
#: The longest metadata text read.
MAX_META_CHARS = 1 << 16
#: The most bytes of Spark's schema text read from a file's footer.
MAX_SPARK_SCHEMA_BYTES = 1 << 20


def is_clk_dataset(path: str) -> bool:
    """Whether ``path`` is a Parquet CLK dataset: a regular file starting with Parquet's magic bytes, or a
    directory holding Spark's ``_SUCCESS`` marker or ``.parquet`` files (other directories are not)."""
    if os.path.isdir(path):
        try:
            names = os.listdir(path)
        except OSError:
            return False
        return SUCCESS_MARKER in names or any(name.endswith(".parquet") for name in names)
    if path == "-" or not os.path.isfile(path):  # a pipe is read once, by its own reader
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    except OSError:
        return False


def part_files(path: str) -> List[str]:
    """The files of a dataset in its order: ``[path]`` for a file; a directory's part files by
    :func:`~anonlinkclient.io.files.path_order` (their numbers compared as numbers).

    :raises InputFileError: for a directory without ``_SUCCESS``, with a subdirectory, or without part files.
    """
    if not os.path.isdir(path):
        return [path]
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror})") from None
    if SUCCESS_MARKER not in names:
        raise InputFileError(
            path,
            f"has no {SUCCESS_MARKER} marker: the Spark job that wrote it did not finish (or it was copied "
            "without it), so part files may be missing",
        )
    parts = [name for name in names if not name.startswith(("_", "."))]
    for name in parts:
        if not os.path.isfile(os.path.join(path, name)):
            raise InputFileError(
                os.path.join(path, name), "is not a file; a CLK dataset is one directory of part files"
            )
    if not parts:
        raise InputFileError(path, "contains no CLKs (no part files)")
    return [os.path.join(path, name) for name in sorted(parts, key=path_order)]


def _metadata(path: str, parquet: Any) -> Tuple[str, Dict[str, Any]]:
    """``(the CLK column's name, the metadata)`` a part file holds.

    :raises InputFileError: if it holds none, or not a JSON object.
    """
    missing = (
        f"has no CLK metadata ({META_KEY!r} in a column's Spark metadata); write CLK datasets with "
        "anonlinkclient.spark, which records the CLKs' length, schema fingerprint and secret check"
    )
    raw = (parquet.schema_arrow.metadata or {}).get(SPARK_SCHEMA_KEY)
    if raw is None or len(raw) > MAX_SPARK_SCHEMA_BYTES:
        raise InputFileError(path, missing)
    try:
        fields = json.loads(raw)["fields"]
        found = [(f["name"], f.get("metadata", {}).get(META_KEY)) for f in fields]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InputFileError(path, "its Spark schema metadata is not what Spark writes") from None
    columns = [(name, text) for name, text in found if text is not None]
    if not columns:
        raise InputFileError(path, missing)
    if len(columns) > 1:
        raise InputFileError(path, f"has CLK metadata on more than one column ({', '.join(n for n, _ in columns)})")
    name, text = columns[0]
    if not isinstance(text, str) or len(text) > MAX_META_CHARS:
        raise InputFileError(path, "its CLK metadata is not the text of a JSON object")
    try:
        meta = json.loads(text)
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise InputFileError(path, "its CLK metadata is not the text of a JSON object")
    if not isinstance(meta.get("sorted_by"), str):
        raise InputFileError(path, "its CLK metadata does not name the id column the rows are sorted by (sorted_by)")
    return str(name), meta


def _is_binary(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind))


class ParquetClks:
    """A Parquet CLK dataset opened for one pass (see the module docstring).

    Opening reads every part file's footer: the metadata (the same in all), the columns'
    types and the number of rows. :attr:`clk_size` must be set (from the metadata's
    ``clk_bits``) before the CLKs are read.

    :ivar path: the dataset as the user named it.
    :ivar meta: the metadata, a JSON object (``sorted_by`` and the CLK file fields).
    :ivar count: the number of CLKs the footers record.
    :raises InputFileError: naming the part file at fault (or the dataset, without pyarrow).
    """

    def __init__(self, path: str) -> None:
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:  # the single-file executable leaves it out
            raise InputFileError(
                path,
                "is a Parquet CLK dataset; reading it needs the pyarrow package, which is not installed here "
                "(pip install anonlink-client installs it)",
            )
        self.path = path
        self.files = part_files(path)
        self.clk_size = 0
        self.count = 0
        self.meta: Dict[str, Any] = {}
        self.clk_column = ""
        id_type: Optional[Any] = None
        for file in self.files:
            with parquet_file(file, file) as parquet:
                column, meta = _metadata(file, parquet)
                schema = parquet.schema_arrow
                self.count += int(parquet.metadata.num_rows)
            if file == self.files[0]:
                self.meta, self.clk_column = meta, column
            elif (column, meta) != (self.clk_column, self.meta):
                raise InputFileError(file, f"holds other CLK metadata than {self.files[0]}")
            if column not in schema.names or not _is_binary(schema.field(column).type):
                kind = schema.field(column).type if column in schema.names else "missing"
                raise InputFileError(file, f"its CLK column {column} is not binary ({kind})")
            sorted_by = meta["sorted_by"]
            if sorted_by not in schema.names:
                raise InputFileError(file, f"has no column {sorted_by}, which its CLK metadata says it is sorted by")
            if id_type is None:
                id_type = schema.field(sorted_by).type
            elif schema.field(sorted_by).type != id_type:
                raise InputFileError(file, f"its column {sorted_by} is {schema.field(sorted_by).type}, not {id_type}")

    def _batches(self) -> Iterator[Tuple[str, int, Any, Any]]:
        """``(part file, 1-based row of the batch's first row, CLKs, ids)`` of every batch, in order."""
        columns = list(dict.fromkeys([self.clk_column, self.meta["sorted_by"]]))
        for file in self.files:
            with parquet_file(file, file) as parquet:
                done = 0
                for batch in parquet_batches(parquet, file, columns, BATCH_ROWS):
                    yield file, done + 1, batch.column(self.clk_column), batch.column(self.meta["sorted_by"])
                    done += batch.num_rows
                if done != parquet.metadata.num_rows:
                    raise InputFileError(file, f"has {done} rows, but its footer says {parquet.metadata.num_rows}")

    def _checked(self) -> Iterator[Any]:
        """The CLK arrays of every batch, each checked: no NULL, every CLK of :attr:`clk_size` bytes, ids in order."""
        import pyarrow.compute as pc

        last: Any = None
        sorted_by = self.meta["sorted_by"]
        for file, first_row, clks, ids in self._batches():
            if clks.null_count:
                bad = pc.index(pc.is_null(clks), True).as_py()
                raise InputFileError(file, "has no CLK (NULL)", row=first_row + bad, column=self.clk_column)
            lengths = pc.binary_length(clks)
            if len(clks) and pc.min_max(lengths).as_py() != {"min": self.clk_size, "max": self.clk_size}:
                bad = pc.index(pc.not_equal(lengths, self.clk_size), True).as_py()
                raise InputFileError(
                    file,
                    f"holds a CLK of {lengths[bad].as_py()} bytes, but the metadata says "
                    f"{self.meta.get('clk_bits')}-bit CLKs ({self.clk_size} bytes); all CLKs must have that length",
                    row=first_row + bad,
                    column=self.clk_column,
                )
            last = self._check_order(file, first_row, ids, last, sorted_by)
            yield clks

    def _check_order(self, file: str, first_row: int, ids: Any, last: Any, sorted_by: str) -> Any:
        """Check the ids are not NULL and increase strictly after ``last``; return the last id (an array of one)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(ids):
            return last
        if ids.null_count:
            bad = pc.index(pc.is_null(ids), True).as_py()
            raise InputFileError(file, "has a row without an id (NULL)", row=first_row + bad, column=sorted_by)
        try:
            previous = pa.concat_arrays([last, ids[:-1]]) if last is not None else ids[:-1]
            current = ids if last is not None else ids[1:]
            increasing = pc.greater(current, previous)
        except (pa.ArrowException, TypeError) as exc:
            raise InputFileError(file, f"its ids cannot be ordered ({parquet_reason(exc)})", column=sorted_by) from None
        if increasing.false_count:
            bad = pc.index(increasing, False).as_py() + (0 if last is not None else 1)
            raise InputFileError(
                file,
                f"its rows are not sorted by {sorted_by} (this id is not greater than the one before it), "
                "so the CLKs' order is not the dataset's; write it again with anonlinkclient.spark",
                row=first_row + bad,
                column=sorted_by,
            )
        return ids[len(ids) - 1 :]

    def __iter__(self) -> Iterator[bytes]:
        """Each CLK as bytes, in the dataset's order, checked."""
        for clks in self._checked():
            yield from clks.to_pylist()

    def blocks(self) -> Iterator[bytes]:
        """The CLKs concatenated (the service's binary format), a batch at a time, checked."""
        for clks in self._checked():
            yield b"".join(clks.to_pylist())
