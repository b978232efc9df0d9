"""Streaming, parallel CLK encoding of PII records.

:func:`encode_source` takes the records of a record source (:mod:`anonlinkclient.io.records`)
lazily, in the pieces the source hands out, has a pool of worker processes read and hash
them (or this process with ``workers=1``), and yields the CLKs in input order as raw bytes;
:func:`encode_records` does the same for an iterable of records. At most ``2 * workers``
pieces are in flight, so memory does not grow with the input. The encodings are exactly clkhash's: each chunk is
hashed by our :class:`~anonlinkclient.encoding.encoder.ClkEncoder` (bit-identical
to :func:`clkhash.clk.hash_chunk`, with the same validation) with keys from
:func:`clkhash.key_derivation.generate_key_lists`.
"""

import itertools
import signal
from collections import deque
from typing import (
    Any,
    Callable,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema

from anonlinkclient.encoding.encoder import DEFAULT_CACHE_BYTES, ClkEncoder, schema_problem
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.encoding.keyed import step_key
from anonlinkclient.errors import InputFileError, RecordError, UnhashableSchema
from anonlinkclient.io.processes import default_workers, exit_with_parent
from anonlinkclient.io.records import IterableRecords, Piece, PieceFailure, PieceSize, RecordSource

CHUNK_ROWS = 1000
# Text pieces for the workers of a CSV (see anonlinkclient.io.csv_records): about a thousand records of a few columns.
PIECE_CHARACTERS = 1 << 15

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


def derive_step_keys(secret: Union[str, bytes], schema: Schema) -> Tuple[bytes, ...]:
    """The key of each entry of the schema's ``clkConfig.hardening``, in order (none for an unhardened schema).

    HKDF from ``secret`` with the schema's KDF hash and salt, under labels of their own
    (:func:`~anonlinkclient.encoding.keyed.step_key`), so that they are never CLK keys.
    """
    return tuple(
        step_key(secret, step.type, step.index, schema.kdf_hash, schema.kdf_salt, schema.kdf_info)
        for step in hardening_of(schema).steps
    )


def new_encoder(secret: Union[str, bytes], schema: Schema, cache_bytes: int = DEFAULT_CACHE_BYTES) -> ClkEncoder:
    """A :class:`ClkEncoder` for ``schema`` with every key derived from ``secret`` (hardening keys too)."""
    return ClkEncoder(schema, derive_keys(secret, schema), cache_bytes, derive_step_keys(secret, schema))


def _hash(encoder: ClkEncoder, validate: bool, chunk: Chunk) -> ChunkResult:
    first_index, rows = chunk
    try:
        return encoder.encode(rows, validate, first_index)
    except RecordError as exc:
        return EntryFailure(exc.record_index, exc.column, exc.reason)


PieceResult = Union[Tuple[List[bytes], List[int]], EntryFailure, PieceFailure]


def _hash_piece(encoder: ClkEncoder, validate: bool, piece: Piece) -> PieceResult:
    """Read a piece (in a worker, for most pieces) and hash its records (indices count from 0 within it).

    The first problem in record order is reported: a bad value before a record the
    reader refused wins.
    """
    rows, failure = piece.read()
    result = _hash(encoder, validate, (0, rows))
    if failure is not None and not isinstance(result, EntryFailure):
        return failure
    return result


_worker_state: Optional[Tuple[ClkEncoder, bool]] = None

# Cache memory of all worker processes together (each gets its share, at least 8 MiB):
# it bounds memory whatever the number of rows, and hardly grows with the number of cores.
CACHE_BYTES_ALL_WORKERS = 2 * DEFAULT_CACHE_BYTES
MIN_CACHE_BYTES_PER_WORKER = 8 * 2**20


def _init_worker(keys: Keys, step_keys: Sequence[bytes], schema: Schema, validate: bool, cache_bytes: int) -> None:
    # Ctrl-C goes to the whole process group; only the parent handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()  # kill -9 of the parent ends the workers too
    global _worker_state
    _worker_state = (ClkEncoder(schema, keys, cache_bytes, step_keys), validate)


def _hash_piece_in_worker(piece: Piece) -> PieceResult:
    assert _worker_state is not None, "worker not initialised"
    return _hash_piece(*_worker_state, piece)


class _Stop(NamedTuple):
    """The record reader failed: hash the pieces read before it, then raise ``error``.

    So the first problem in record order is reported, whether a value or a record."""

    error: InputFileError


def _until_error(pieces: Iterator[Piece]) -> Iterator[Union[Piece, _Stop]]:
    """The pieces, then a :class:`_Stop` if the reader failed."""
    try:
        yield from pieces
    except InputFileError as exc:
        yield _Stop(exc)


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
    :raises InputFileError: as the iterable of records raises it.
    """
    yield from encode_source(IterableRecords(records), secret, schema, validate, workers, on_chunk)


def encode_source(
    source: RecordSource,
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    workers: Optional[int] = None,
    on_chunk: Optional[ProgressCallback] = None,
) -> Iterator[bytes]:
    """Yield the CLK of every record still to come in a record source, in order, as bytes.

    The source hands out its records in pieces (:meth:`RecordSource.pieces`); with more than
    one worker and more than two pieces, worker processes read and hash them, at most
    ``2 * workers`` pieces in flight, so that memory does not grow with the input.

    :param source: the records (one value per schema field).
    :param workers: worker processes; ``None`` uses every core, ``1`` hashes in this process.
    :raises RecordError: on the first record that fails validation or cannot be hashed
        (its ``record_index`` counts the records this call hashed).
    :raises InputFileError: on the first record the source cannot read.
    :raises UnhashableSchema: if the schema cannot be hashed at all.
    """
    keys, step_keys = derive_keys(secret, schema), derive_step_keys(secret, schema)
    encoder = ClkEncoder(schema, keys, step_keys=step_keys)  # refuses keys it cannot use here, not in a worker
    workers = workers or default_workers()
    pieces = _until_error(source.pieces(PieceSize(CHUNK_ROWS, PIECE_CHARACTERS, workers > 1)))
    first_two = list(itertools.islice(pieces, 2))
    done = _Done(source)
    if workers == 1 or len(first_two) < 2:  # small: not worth starting processes
        for piece in itertools.chain(first_two, pieces):
            if isinstance(piece, _Stop):
                raise piece.error
            yield from done.unpack(_hash_piece(encoder, validate, piece), on_chunk)
        return

    from concurrent.futures import Future, ProcessPoolExecutor

    cache_bytes = max(MIN_CACHE_BYTES_PER_WORKER, CACHE_BYTES_ALL_WORKERS // workers)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=_fresh_context() if source.fresh_workers else None,
        initializer=_init_worker,
        initargs=(keys, step_keys, schema, validate, cache_bytes),
    )
    try:
        in_flight: deque[Future[PieceResult]] = deque()
        for piece in itertools.chain(first_two, pieces):
            if isinstance(piece, _Stop):
                while in_flight:
                    yield from done.unpack(in_flight.popleft().result(), on_chunk)
                raise piece.error
            in_flight.append(pool.submit(_hash_piece_in_worker, piece))
            if len(in_flight) >= 2 * workers:
                yield from done.unpack(in_flight.popleft().result(), on_chunk)
        while in_flight:
            yield from done.unpack(in_flight.popleft().result(), on_chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _fresh_context() -> Any:
    """Workers started as new interpreters that import only the encoder (not forks holding this process's memory)."""
    import multiprocessing

    return multiprocessing.get_context("spawn")


class _Done:
    """Counts the records of the pieces hashed so far, to place their errors."""

    def __init__(self, source: RecordSource) -> None:
        self.source = source
        self.records = 0

    def unpack(self, result: PieceResult, on_chunk: Optional[ProgressCallback]) -> List[bytes]:
        if isinstance(result, PieceFailure):
            raise self.source.error(self.records + result.offset, result.message, result.column)
        if isinstance(result, EntryFailure):
            raise RecordError(self.records + result.record_index, result.column, result.reason)
        clks, popcounts = result
        self.records += len(clks)
        if on_chunk is not None:
            on_chunk(len(clks), popcounts)
        return clks
