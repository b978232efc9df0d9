"""Streaming, parallel CLK encoding of PII records with clkhash.

:func:`encode_records` takes records lazily, hashes them in chunks on a pool of
worker processes (or in this process with ``workers=1``), and yields the CLKs in
input order as raw bytes. At most ``2 * workers`` chunks are in flight, so memory
does not grow with the input. The encodings are exactly clkhash's: each chunk is
hashed by :func:`clkhash.clk.hash_chunk` with keys from
:func:`clkhash.key_derivation.generate_key_lists`.
"""

import functools
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

from clkhash.clk import hash_chunk
from clkhash.field_formats import InvalidEntryError
from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema
from clkhash.validate_data import EntryError, FormatError

from anonlinkclient.encoding.orphans import exit_with_parent
from anonlinkclient.errors import RecordError

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
    """Derive the per-feature HMAC keys from ``secret`` as the schema's KDF says."""
    return generate_key_lists(
        secret,
        len(schema.fields),
        key_size=schema.kdf_key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
        kdf=schema.kdf_type,
        hash_algo=schema.kdf_hash,
    )


def _hash(keys: Keys, schema: Schema, validate: bool, chunk: Chunk) -> ChunkResult:
    first_index, rows = chunk
    try:
        clks, popcounts = hash_chunk(rows, keys, schema, validate, first_index)
    except EntryError as exc:
        cause = exc.__cause__.args[0] if exc.__cause__ and exc.__cause__.args else str(exc)
        column = exc.field_spec.identifier if exc.field_spec is not None else None
        return EntryFailure(exc.row_index or first_index, column, str(cause))
    except FormatError as exc:
        return EntryFailure(first_index, None, str(exc))
    except InvalidEntryError as exc:
        # Raised while hashing (e.g. an unparsable date with validation off): find the row.
        if len(rows) > 1:
            for offset, row in enumerate(rows):
                failure = _hash(keys, schema, validate, (first_index + offset, [row]))
                if isinstance(failure, EntryFailure):
                    return failure
        column = exc.field_spec.identifier if exc.field_spec is not None else None
        return EntryFailure(first_index, column, str(exc))
    return [clk.tobytes() for clk in clks], popcounts


_worker_state: Optional[Tuple[Keys, Schema, bool]] = None

# clkhash memoizes hashed n-grams in LRU caches of up to 131,072 entries (about
# 200 MB once full). Worker processes share this budget of entries, so memory
# stays bounded whatever the number of rows or cores, keeping most of the speed.
CACHE_ENTRIES_ALL_WORKERS = 131_072


def limit_clkhash_caches(max_entries: int) -> None:
    """Give clkhash's memoizing functions smaller LRU caches, in this process only.

    Only the worker processes :func:`encode_records` starts call this.
    """
    from clkhash import bloomfilter

    for name, function in list(vars(bloomfilter).items()):
        info = getattr(function, "cache_info", None)
        wrapped = getattr(function, "__wrapped__", None)
        if info is not None and wrapped is not None and (info().maxsize or 0) > max_entries:
            setattr(bloomfilter, name, functools.lru_cache(maxsize=max_entries)(wrapped))


def _init_worker(keys: Keys, schema: Schema, validate: bool, cache_entries: int) -> None:
    # Ctrl-C goes to the whole process group; only the parent handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()  # kill -9 of the parent ends the workers too
    limit_clkhash_caches(cache_entries)
    global _worker_state
    _worker_state = (keys, schema, validate)


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
    :raises RecordError: on the first record that fails validation.
    """
    keys = derive_keys(secret, schema)
    chunks = _chunks(records)
    first_two = list(itertools.islice(chunks, 2))
    workers = workers or default_workers()
    if workers == 1 or len(first_two) < 2:
        for chunk in itertools.chain(first_two, chunks):
            yield from _unpack(_hash(keys, schema, validate, chunk), on_chunk)
        return

    from concurrent.futures import Future, ProcessPoolExecutor

    cache_entries = max(4096, CACHE_ENTRIES_ALL_WORKERS // workers)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(keys, schema, validate, cache_entries))
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
