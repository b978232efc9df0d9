"""Streaming, parallel CLK encoding of PII records.

:func:`encode_records` takes records lazily, hashes them in chunks on a pool of
worker processes (or in this process with ``workers=1``), and yields the CLKs in
input order as raw bytes. At most ``2 * workers`` chunks are in flight, so memory
does not grow with the input. The encodings are exactly clkhash's: each chunk is
hashed by our :class:`~anonlinkclient.encoding.encoder.ClkEncoder` (bit-identical
to :func:`clkhash.clk.hash_chunk`, with the same validation) with keys from
:func:`clkhash.key_derivation.generate_key_lists`.
"""

import itertools
import os
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
    Tuple,
    Union,
)

from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema

from anonlinkclient.encoding.encoder import DEFAULT_CACHE_BYTES, ClkEncoder, schema_problem
from anonlinkclient.errors import RecordError, UnhashableSchema

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
    global _worker_state
    _worker_state = (ClkEncoder(schema, keys, cache_bytes), validate)


def _hash_in_worker(chunk: Chunk) -> ChunkResult:
    assert _worker_state is not None, "worker not initialised"
    return _hash(*_worker_state, chunk)


def _chunks(records: Iterable[Sequence[str]]) -> Iterator[Chunk]:
    iterator = iter(records)
    first_index = 0
    while rows := list(itertools.islice(iterator, CHUNK_ROWS)):
        yield first_index, rows
        first_index += len(rows)


def _unpack(result: ChunkResult, on_chunk: Optional[ProgressCallback]) -> List[bytes]:
    if isinstance(result, EntryFailure):
        raise RecordError(*result)
    clks, popcounts = result
    if on_chunk is not None:
        on_chunk(len(clks), popcounts)
    return clks


def default_workers() -> int:
    """The number of worker processes used when none is given: one per core."""
    return os.cpu_count() or 1


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
            yield from _unpack(_hash(encoder, validate, chunk), on_chunk)
        return

    from concurrent.futures import Future, ProcessPoolExecutor

    cache_bytes = max(MIN_CACHE_BYTES_PER_WORKER, CACHE_BYTES_ALL_WORKERS // workers)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(keys, schema, validate, cache_bytes))
    try:
        in_flight: deque[Future[ChunkResult]] = deque()
        for chunk in itertools.chain(first_two, chunks):
            in_flight.append(pool.submit(_hash_in_worker, chunk))
            if len(in_flight) >= 2 * workers:
                yield from _unpack(in_flight.popleft().result(), on_chunk)
        while in_flight:
            yield from _unpack(in_flight.popleft().result(), on_chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
