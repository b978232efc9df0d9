"""Streaming, parallel CLK encoding of PII records.

:func:`encode_records` takes records lazily, hashes them in chunks on a pool of
worker processes (or in this process with ``workers=1``), and yields the CLKs in
input order as raw bytes. At most ``2 * workers`` chunks are in flight, so memory
does not grow with the input. The encodings are exactly clkhash's: each chunk is
hashed by our :class:`~anonlinkclient.encoding.encoder.ClkEncoder` (bit-identical
to :func:`clkhash.clk.hash_chunk`, with the same validation) with keys from
:func:`clkhash.key_derivation.generate_key_lists`.
"""

import io
import itertools
import signal
from collections import deque
from typing import (
    Callable,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    Union,
)

from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema

from anonlinkclient.encoding.encoder import DEFAULT_CACHE_BYTES, ClkEncoder, schema_problem
from anonlinkclient.errors import InputFileError, RecordError, UnhashableSchema
from anonlinkclient.io.csv_records import CsvRecords
from anonlinkclient.io.processes import default_workers, exit_with_parent

CHUNK_ROWS = 1000

Keys = Sequence[Sequence[bytes]]
Chunk = Tuple[int, List[Sequence[str]]]
# A hashed chunk: (CLKs as bytes, popcounts), or the failure (row index, column, message).
ChunkResult = Union[Tuple[List[bytes], List[int]], "EntryFailure"]
ProgressCallback = Callable[[int, Sequence[int]], None]


class EntryFailure(NamedTuple):
    """A record that failed validation in a worker (exceptions lose fields when pickled)."""

    record_index: int
    column: Optional[str]
    reason: str


def derive_keys(secret: Union[str, bytes], schema: Schema) -> Keys:
    """Derive the per-feature HMAC keys from ``secret`` as the schema's KDF says.

    :raises UnhashableSchema: if the schema cannot be hashed (for example, it has more
        features than its KDF can derive keys for).
    """
    problem = schema_problem(schema)
    if problem is not None:
        raise UnhashableSchema(*problem)
    return generate_key_lists(
        secret,
        len(schema.fields),
        key_size=schema.kdf_key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
        kdf=schema.kdf_type,
        hash_algo=schema.kdf_hash,
    )


def _hash(encoder: ClkEncoder, validate: bool, chunk: Chunk) -> ChunkResult:
    first_index, rows = chunk
    try:
        return encoder.encode(rows, validate, first_index)
    except RecordError as exc:
        return EntryFailure(exc.record_index, exc.column, exc.reason)


_worker_state: Optional[Tuple[ClkEncoder, bool]] = None

# Cache memory of all worker processes together (each gets its share, at least 8 MiB):
# it bounds memory whatever the number of rows, and hardly grows with the number of cores.
CACHE_BYTES_ALL_WORKERS = 2 * DEFAULT_CACHE_BYTES
MIN_CACHE_BYTES_PER_WORKER = 8 * 2**20


def _init_worker(keys: Keys, schema: Schema, validate: bool, cache_bytes: int) -> None:
    # Ctrl-C goes to the whole process group; only the parent handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()  # kill -9 of the parent ends the workers too
    global _worker_state
    _worker_state = (ClkEncoder(schema, keys, cache_bytes), validate)


def _hash_in_worker(chunk: Chunk) -> ChunkResult:
    assert _worker_state is not None, "worker not initialised"
    return _hash(*_worker_state, chunk)


class _Stop(NamedTuple):
    """The record reader failed: hash the records read before it, then raise ``error``.

    So the first problem in file order is reported, whether a value or a record."""

    error: InputFileError


def _until_error(records: Iterable[Sequence[str]], errors: List[InputFileError]) -> Iterator[Sequence[str]]:
    """The records, ending early (the error kept in ``errors``) where the reader fails."""
    try:
        yield from records
    except InputFileError as exc:
        errors.append(exc)


def _chunks(records: Iterable[Sequence[str]]) -> Iterator[Union[Chunk, _Stop]]:
    errors: List[InputFileError] = []
    iterator = _until_error(records, errors)
    first_index = 0
    while rows := list(itertools.islice(iterator, CHUNK_ROWS)):
        yield first_index, rows
        first_index += len(rows)
    if errors:
        yield _Stop(errors[0])


def _unpack(result: ChunkResult, on_chunk: Optional[ProgressCallback]) -> List[bytes]:
    if isinstance(result, EntryFailure):
        raise RecordError(*result)
    clks, popcounts = result
    if on_chunk is not None:
        on_chunk(len(clks), popcounts)
    return clks


def encode_records(
    records: Iterable[Sequence[str]],
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    workers: Optional[int] = None,
    on_chunk: Optional[ProgressCallback] = None,
) -> Iterator[bytes]:
    """Yield the CLK of each record, in order, as the bytes of its Bloom filter.

    :param records: the PII records (sequences of strings, one per schema field).
    :param secret: the secret shared by the data providers.
    :param schema: the clkhash linkage schema.
    :param validate: check each value against the schema's format first.
    :param workers: worker processes; ``None`` uses every core, ``1`` hashes in
        this process without starting any subprocess.
    :param on_chunk: called with (number of CLKs, their popcounts) per chunk.
    :raises RecordError: on the first record that fails validation or cannot be hashed.
    :raises UnhashableSchema: if the schema cannot be hashed at all.
    """
    keys = derive_keys(secret, schema)
    encoder = ClkEncoder(schema, keys)  # refuses keys it cannot use here, not in a worker
    chunks = _chunks(records)
    first_two = list(itertools.islice(chunks, 2))
    workers = workers or default_workers()
    if workers == 1 or len(first_two) < 2:
        for chunk in itertools.chain(first_two, chunks):
            if isinstance(chunk, _Stop):
                raise chunk.error
            yield from _unpack(_hash(encoder, validate, chunk), on_chunk)
        return

    from concurrent.futures import Future, ProcessPoolExecutor

    cache_bytes = max(MIN_CACHE_BYTES_PER_WORKER, CACHE_BYTES_ALL_WORKERS // workers)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(keys, schema, validate, cache_bytes))
    try:
        in_flight: deque[Future[ChunkResult]] = deque()
        for chunk in itertools.chain(first_two, chunks):
            if isinstance(chunk, _Stop):
                while in_flight:
                    yield from _unpack(in_flight.popleft().result(), on_chunk)
                raise chunk.error
            in_flight.append(pool.submit(_hash_in_worker, chunk))
            if len(in_flight) >= 2 * workers:
                yield from _unpack(in_flight.popleft().result(), on_chunk)
        while in_flight:
            yield from _unpack(in_flight.popleft().result(), on_chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- CSV text to the workers
#
# With a pool, the parent would spend more time reading the CSV than each worker spends
# hashing it. So the parent hands the workers the CSV text itself, in pieces of whole
# records, and each worker reads its piece with the same CsvRecords checks. A newline is a
# record boundary only outside quoted fields; the parent cuts only text that holds no
# quote character at all. From the first piece with one, it reads the rest of the file
# itself, record by record, and hands the workers chunks of records (encode_records).

PIECE_CHARACTERS = 1 << 15  # about a thousand records of a few columns
LONGEST_LINE = 1 << 24


class TextPiece(NamedTuple):
    """CSV text of whole records (no quote character in it), for a worker to read and hash."""

    text: str


class CsvFailure(NamedTuple):
    """A record of a text piece the CSV reader refused (row counts from 1 within the piece)."""

    row: Optional[int]
    column: Optional[str]
    message: str


PieceResult = Union[Tuple[List[bytes], List[int]], EntryFailure, CsvFailure]


def _hash_piece(encoder: ClkEncoder, validate: bool, piece: TextPiece) -> PieceResult:
    """Read a piece as CsvRecords does and hash its records (indices count from 0 within it).

    The first problem in file order is reported: a bad value before a malformed record wins.
    """
    rows: List[Sequence[str]] = []
    failure: Optional[CsvFailure] = None
    try:
        rows.extend(CsvRecords(io.StringIO(piece.text, newline=""), "", header=False, width=encoder.field_count))
    except InputFileError as exc:
        failure = CsvFailure(exc.row, exc.column, exc.message)
    result = _hash(encoder, validate, (0, rows))
    if failure is not None and not isinstance(result, EntryFailure):
        return failure
    return result


def _hash_piece_in_worker(piece: TextPiece) -> PieceResult:
    assert _worker_state is not None, "worker not initialised"
    return _hash_piece(*_worker_state, piece)


class _Pieces:
    """Cuts the rest of a CSV stream into text pieces of whole records, while it holds no quotes.

    When it stops early, :attr:`rest` holds the text read but not handed out, ending at a
    line end, for the caller to read record by record.
    """

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.rest: Optional[str] = None

    def __iter__(self) -> Iterator[TextPiece]:
        pending = ""
        while True:
            block = self.handle.read(PIECE_CHARACTERS)
            text = pending + block
            if not block:
                if text and '"' in text:
                    self.rest = text
                elif text:
                    yield TextPiece(text)
                return
            cut = text.rfind("\n") + 1
            if '"' in text[:cut] or (cut == 0 and len(text) > LONGEST_LINE):
                self.rest = text + self.handle.readline()
                return
            pending = text[cut:]
            if cut:
                yield TextPiece(text[:cut])


def _decodes_safely(handle: TextIO) -> bool:
    """Whether reading the text cannot fail (the CSV reader names the row of undecodable bytes)."""
    return isinstance(handle, io.StringIO) or getattr(handle, "errors", None) == "surrogateescape"


def encode_csv(
    records: CsvRecords,
    handle: TextIO,
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    workers: Optional[int] = None,
    on_chunk: Optional[ProgressCallback] = None,
) -> Iterator[bytes]:
    """Yield the CLK of every record still to come in a CSV, in order, as bytes.

    ``records`` reads ``handle`` (its header, if any, already read). With one worker (or a
    stream whose decoding can fail) this is :func:`encode_records` over ``records``; with
    more, the workers also read the CSV (see above), which gives the same CLKs and errors.

    :raises RecordError: on the first record that fails validation or cannot be hashed.
    :raises InputFileError: on the first record the CSV reader refuses.
    """
    workers = workers or default_workers()
    if workers == 1 or not _decodes_safely(handle):
        yield from encode_records(records, secret, schema, validate, workers, on_chunk)
        return
    keys = derive_keys(secret, schema)
    encoder = ClkEncoder(schema, keys)
    pieces = _Pieces(handle)
    jobs = iter(pieces)
    first_two = list(itertools.islice(jobs, 2))
    done = _Done(records)
    if len(first_two) < 2:  # small: not worth starting processes
        for piece in first_two:
            yield from done.unpack(_hash_piece(encoder, validate, piece), on_chunk)
    else:
        from concurrent.futures import Future, ProcessPoolExecutor

        cache_bytes = max(MIN_CACHE_BYTES_PER_WORKER, CACHE_BYTES_ALL_WORKERS // workers)
        pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(keys, schema, validate, cache_bytes))
        try:
            in_flight: deque[Future[PieceResult]] = deque()
            for piece in itertools.chain(first_two, jobs):
                in_flight.append(pool.submit(_hash_piece_in_worker, piece))
                if len(in_flight) >= 2 * workers:
                    yield from done.unpack(in_flight.popleft().result(), on_chunk)
            while in_flight:
                yield from done.unpack(in_flight.popleft().result(), on_chunk)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if pieces.rest is None:
        return
    # Quotes ahead: the rest is read here, record by record, and hashed by encode_records.
    lines = itertools.chain(io.StringIO(pieces.rest, newline=""), handle)
    rest = CsvRecords(lines, records.name, header=False, width=records.width)  # type: ignore[arg-type]
    rest.rows_read = done.rows
    try:
        yield from encode_records(rest, secret, schema, validate, workers, on_chunk)
    except RecordError as exc:
        raise RecordError(done.records + exc.record_index, exc.column, exc.reason) from None


class _Done:
    """Counts the records and CSV rows of the pieces hashed so far, to place their errors."""

    def __init__(self, records: CsvRecords) -> None:
        self.name = records.name
        self.rows = records.rows_read
        self.records = 0

    def unpack(self, result: PieceResult, on_chunk: Optional[ProgressCallback]) -> List[bytes]:
        if isinstance(result, CsvFailure):
            row = None if result.row is None else self.rows + result.row
            raise InputFileError(self.name, result.message, row=row, column=result.column)
        if isinstance(result, EntryFailure):
            raise RecordError(self.records + result.record_index, result.column, result.reason)
        clks, popcounts = result
        self.records += len(clks)
        self.rows += len(clks)
        if on_chunk is not None:
            on_chunk(len(clks), popcounts)
        return clks
