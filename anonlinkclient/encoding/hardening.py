"""The hardening steps, each a function on the bits of a chunk of records: ``step(bits, context) -> bits``.

``bits`` is a 2-D ``uint8`` array of 0s and 1s, one row per record of the chunk, in clkhash's
bit order (bit ``i`` of a CLK is ``np.unpackbits(np.frombuffer(clk, np.uint8))[i]``); a step
returns new rows, whose length its length rule gives (:data:`LENGTH_RULES`). ``context``
gives the step's parameters (``params``, as :mod:`.hardening_schema` checked and completed
them), its key (``key``, :func:`~.keyed.step_key`) and the chunk's raw records (``values``).

What each step does (L is the length of the rows it is given; docs/linkage-schema.rst has
every byte of it):

``permute``
    bit ``x`` of the output is bit ``a[x]`` of the input, ``a`` the Fisher-Yates permutation
    of ``range(L)`` drawn from the stream of the key and context ``UINT32BE(L)``.
``balance``
    ``c = b || (1 - b)``, then ``permute`` of length ``2L`` (context ``UINT32BE(2L)``): 2L bits,
    exactly L of them ones.
``xorFold``
    ``folds`` times: ``b[:L/2] XOR b[L/2:]``.
``rule90``
    ``iterations`` times: ``out[i] = in[i-1] XOR in[i+1]``, indices modulo L.
``rehash``
    a new all-zero filter of L bits; for each window ``w`` = 0, 1, ... of ``window`` bits
    starting at ``w * step`` (while it fits in L), ``bits`` positions are drawn uniformly in
    ``[0, L)`` from the stream of the key and context ``UINT32BE(w) || window bits`` (packed
    most significant bit first, zero-padded to whole bytes) and set.
``randomizedResponse``
    each bit independently: with probability ``p`` it is replaced by a fair coin (so set to 1
    with p/2, to 0 with p/2), else kept. The draws of a record come from the stream of the key
    and the record's values of ``seedFeatures`` (:func:`~.keyed.seed_context`), so records that
    agree on them get the same noise. Whether bit ``i`` is replaced is decided by comparing a
    uniform number ``U_i`` in [0, 1), read bit by bit from the stream, with ``p``: in round
    ``j`` = 1, 2, ..., every position still undecided (in increasing order) reads the next
    stream bit ``u``; ``u < p_j`` (``p``'s j-th binary digit) replaces it, ``u > p_j`` keeps it,
    ``u = p_j`` leaves it undecided. Then each replaced position, in increasing order, reads
    the next stream bit as its new value. This is exact for the float ``p`` and reads about
    ``2L + pL`` stream bits per record.

Everything that does not depend on the records (permutations, ``rehash``'s draws for a window
index and its bits, ``randomizedResponse``'s noise for seed values) is computed once and kept,
bounded in size.
"""

from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np

from anonlinkclient.encoding.keyed import (
    BLOCK_BYTES,
    Hmac,
    draw_positions,
    length_context,
    permutation,
    probability_bits,
    seed_context,
    stream,
)


class Context(Protocol):
    """What a step is given beside the bits (the encoder's post-step context has it)."""

    @property
    def params(self) -> Mapping[str, Any]:
        """The step's parameters."""

    @property
    def key(self) -> bytes:
        """The step's key."""

    def values(self, identifier: str) -> List[str]:
        """The raw value of feature ``identifier`` of each record of the chunk."""


Step = Callable[[np.ndarray, Context], np.ndarray]


# --------------------------------------------------------------------------- permute, balance


@lru_cache(maxsize=16)
def _permutation_array(key: bytes, length: int) -> np.ndarray:
    array = np.array(permutation(key, length_context(length), length), dtype=np.intp)
    array.setflags(write=False)
    return array


def permute(bits: np.ndarray, context: Context) -> np.ndarray:
    """One keyed permutation of bit positions, the same for every record."""
    return np.take(bits, _permutation_array(context.key, bits.shape[1]), axis=1)


@lru_cache(maxsize=16)
def _balance_arrays(key: bytes, length: int) -> Tuple[np.ndarray, np.ndarray]:
    """Where each output bit of ``balance`` comes from in ``b``, and whether it is complemented."""
    order = _permutation_array(key, 2 * length)
    source = order % length
    flip = (order >= length).astype(np.uint8)
    source.setflags(write=False)
    flip.setflags(write=False)
    return source, flip


def balance(bits: np.ndarray, context: Context) -> np.ndarray:
    """``permute(b || not b)``: 2L bits, exactly L of them ones."""
    source, flip = _balance_arrays(context.key, bits.shape[1])
    out = np.take(bits, source, axis=1)
    out ^= flip
    return out


# --------------------------------------------------------------------------- xorFold, rule90


def xor_fold(bits: np.ndarray, context: Context) -> np.ndarray:
    """Fold in halves ``folds`` times: ``b[:L/2] XOR b[L/2:]``."""
    for _ in range(int(context.params["folds"])):
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    return bits


def _shifted_xor(bits: np.ndarray, shift: int) -> np.ndarray:
    """``out[i] = in[i - shift] XOR in[i + shift]``, indices modulo the row length."""
    length = bits.shape[1]
    shift %= length
    if shift == 0 or 2 * shift == length:
        return np.zeros_like(bits)
    out = np.empty_like(bits)
    out[:, shift:] = bits[:, : length - shift]
    out[:, :shift] = bits[:, length - shift :]
    out[:, : length - shift] ^= bits[:, shift:]
    out[:, length - shift :] ^= bits[:, :shift]
    return out


def rule90(bits: np.ndarray, context: Context) -> np.ndarray:
    """``iterations`` times ``out[i] = in[i-1] XOR in[i+1]`` (cyclic).

    Rule 90 is linear over GF(2), and its 2**k-th power is ``out[i] = in[i - 2**k] XOR
    in[i + 2**k]`` (squaring is additive in characteristic 2), so n iterations take one such
    step per binary digit of n.
    """
    iterations = int(context.params.get("iterations", 1))
    shift = 1
    while iterations:
        if iterations & 1:
            bits = _shifted_xor(bits, shift)
        iterations >>= 1
        shift *= 2
        if shift >= 2 * bits.shape[1]:
            shift %= bits.shape[1]
    return bits


# --------------------------------------------------------------------------- rehash

#: Most (window index, window bits) draws one ``rehash`` step keeps.
REHASH_CACHE_ENTRIES = 1 << 20
#: Window-index-and-bits code spaces up to this size are looked up in a flat array.
_DIRECT_CODES = 1 << 20
#: Longest window whose bits are read as one integer (the other windows are keyed by bytes).
_WIDEST_WINDOW = 57


class _RehashDraws:
    """The positions ``rehash`` sets for each (window index, window bits) seen, drawn once each."""

    def __init__(self, key: bytes, length: int, window: int, step: int, count: int) -> None:
        self.mac = Hmac(key)
        self.length = length
        self.window = window
        self.count = count
        self.starts = np.arange(0, length - window + 1, step, dtype=np.int64)
        windows = len(self.starts)
        self.window_bytes = (window + 7) // 8
        self.integer = window <= _WIDEST_WINDOW and window + windows.bit_length() <= 62
        self.direct = self.integer and windows << window <= _DIRECT_CODES
        self.positions = np.zeros((0, count), dtype=np.int32)
        self.used = 0
        self.table = np.full(windows << window if self.direct else 0, -1, dtype=np.int32)
        self.ids: Dict[Any, int] = {}

    def _make_room(self, extra: int) -> bool:
        """Empty the store if ``extra`` more draws would not fit; whether it was emptied."""
        if self.used + extra <= REHASH_CACHE_ENTRIES:
            return False
        self.used = 0
        self.table[:] = -1
        self.ids = {}
        return True

    def context(self, index: int, value: int) -> bytes:
        """The stream context of window ``index`` holding ``value`` (its bits as an integer)."""
        padded = value << (8 * self.window_bytes - self.window)
        return index.to_bytes(4, "big") + padded.to_bytes(self.window_bytes, "big")

    def _draw(self, contexts: Sequence[bytes]) -> np.ndarray:
        """Store the draws of ``contexts`` (room was made); their ids."""
        need = self.used + len(contexts)
        if need > len(self.positions):
            size = min(REHASH_CACHE_ENTRIES, max(need, 2 * len(self.positions), 1024))
            grown = np.zeros((size, self.count), dtype=np.int32)
            grown[: self.used] = self.positions[: self.used]
            self.positions = grown
        for i, c in enumerate(contexts):
            self.positions[self.used + i] = draw_positions(self.mac, c, self.count, self.length)
        ids = np.arange(self.used, need, dtype=np.int64)
        self.used = need
        return ids

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """The ids of the draws of integer codes ``index << window | bits``, drawing what is new."""
        window, mask = self.window, (1 << self.window) - 1
        if self.direct:
            ids = self.table[codes]
            missing = ids < 0
            if missing.any():
                new = np.unique(codes[missing])
                if self._make_room(len(new)):
                    new = np.unique(codes)
                self.table[new] = self._draw([self.context(c >> window, c & mask) for c in new.tolist()])
                ids = self.table[codes]
            return ids
        flat = codes.ravel().tolist()
        found = list(map(self.ids.get, flat))
        if None in found:
            new_codes = list(dict.fromkeys(c for c, i in zip(flat, found) if i is None))
            if self._make_room(len(new_codes)):
                new_codes = list(dict.fromkeys(flat))
            new_ids = self._draw([self.context(c >> window, c & mask) for c in new_codes]).tolist()
            self.ids.update(zip(new_codes, new_ids))
            found = list(map(self.ids.__getitem__, flat))
        return np.array(found, dtype=np.int64).reshape(codes.shape)

    def lookup_bytes(self, windows: List[List[bytes]]) -> np.ndarray:
        """The ids of the draws of windows given as bytes (one list of packed window bits per record)."""
        flat = [(w, packed) for row in windows for w, packed in enumerate(row)]
        found = list(map(self.ids.get, flat))
        if None in found:
            new_keys = list(dict.fromkeys(k for k, i in zip(flat, found) if i is None))
            if self._make_room(len(new_keys)):
                new_keys = list(dict.fromkeys(flat))
            new_ids = self._draw([w.to_bytes(4, "big") + packed for w, packed in new_keys]).tolist()
            self.ids.update(zip(new_keys, new_ids))
            found = list(map(self.ids.__getitem__, flat))
        return np.array(found, dtype=np.int64).reshape(len(windows), len(self.starts))


@lru_cache(maxsize=8)
def _rehash_draws(key: bytes, length: int, window: int, step: int, count: int) -> _RehashDraws:
    return _RehashDraws(key, length, window, step, count)


def window_values(bits: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """The bits of each window (``window`` <= 57 bits from each start) as integers, first bit most significant."""
    count, length = bits.shape
    span = (window + 7 + 7) // 8  # bytes a window can touch
    packed = np.zeros((count, (length + 7) // 8 + span), dtype=np.uint8)
    packed[:, : (length + 7) // 8] = np.packbits(bits, axis=1)
    first = starts >> 3
    value = np.zeros((count, len(starts)), dtype=np.uint64)
    for t in range(span):
        value = (value << np.uint64(8)) | packed[:, first + t].astype(np.uint64)
    right = (8 * span - (starts & 7) - window).astype(np.uint64)
    return ((value >> right) & np.uint64((1 << window) - 1)).astype(np.int64)


def rehash(bits: np.ndarray, context: Context) -> np.ndarray:
    """A new filter of L bits: each window of ``window`` bits every ``step`` sets ``bits`` keyed positions."""
    params = context.params
    count, length = bits.shape
    window, step, per_window = int(params["window"]), int(params["step"]), int(params["bits"])
    draws = _rehash_draws(context.key, length, window, step, per_window)
    starts = draws.starts
    if draws.integer:
        codes = window_values(bits, starts, window) | (np.arange(len(starts), dtype=np.int64) << window)[None, :]
        ids = draws.lookup(codes)
    else:
        packed = [
            [np.packbits(row[s : s + window]).tobytes() for s in starts.tolist()] for row in bits
        ]
        ids = draws.lookup_bytes(packed)
    positions = draws.positions[ids]  # (records, windows, bits)
    out = np.zeros((count, length), dtype=np.uint8)
    flat = positions + (np.arange(count, dtype=np.int64) * length)[:, None, None]
    out.reshape(-1)[flat.ravel()] = 1
    return out


# --------------------------------------------------------------------------- randomizedResponse

#: Most records' noise (by seed values) one ``randomizedResponse`` step keeps.
NOISE_CACHE_ENTRIES = 1 << 15


def seed_values(context: Context) -> List[Tuple[str, ...]]:
    """Each record's values of the step's ``seedFeatures`` (a missing value as the feature hashes it)."""
    params = context.params
    missing: Mapping[str, Sequence[str]] = params.get("missingValues", {})
    columns = []
    for identifier in params["seedFeatures"]:
        column = context.values(identifier)
        if identifier in missing:
            sentinel, replacement = missing[identifier]
            column = [replacement if value == sentinel else value for value in column]
        columns.append(column)
    return list(zip(*columns))


def _stream_bits(key: bytes, contexts: Sequence[bytes], size: int) -> np.ndarray:
    """The first ``8 * size`` stream bits of each context, one row each."""
    data = b"".join([stream(key, c, size) for c in contexts])
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8).reshape(len(contexts), size), axis=1)


class _Streams:
    """The stream bits of many contexts, computed ahead and extended where a record needs more."""

    def __init__(self, key: bytes, contexts: Sequence[bytes], size: int) -> None:
        self.key = key
        self.contexts = contexts
        self.bits = _stream_bits(key, contexts, size)
        self.capacity = np.full(len(contexts), 8 * size, dtype=np.int64)

    def ensure(self, need: np.ndarray) -> None:
        """Make at least ``need[r]`` bits of row ``r`` available."""
        short = np.flatnonzero(need > self.capacity)
        if not len(short):
            return
        size = int(-(-int(need[short].max()) // (8 * BLOCK_BYTES))) * BLOCK_BYTES * 2
        if 8 * size > self.bits.shape[1]:
            grown = np.zeros((len(self.contexts), 8 * size), dtype=np.uint8)
            grown[:, : self.bits.shape[1]] = self.bits
            self.bits = grown
        more = _stream_bits(self.key, [self.contexts[r] for r in short.tolist()], size)
        self.bits[short, : 8 * size] = more
        self.capacity[short] = 8 * size

    def read(self, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
        return self.bits[rows, at]


def _take_in_order(streams: _Streams, offset: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The next stream bit for each entry of ``rows`` (sorted), entries of a row reading consecutive bits.

    ``offset`` (bits read per row so far) is advanced.
    """
    counts = np.bincount(rows, minlength=len(offset))
    streams.ensure(offset + counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(rows), dtype=np.int64) - starts[rows]
    taken = streams.read(rows, offset[rows] + rank)
    offset += counts
    return taken


def response_noise(key: bytes, contexts: Sequence[bytes], probability: float, length: int) -> Tuple[np.ndarray, np.ndarray]:
    """For each context (a record's seed values): which of ``length`` bits are replaced, and by what.

    :return: ``(replaced, value)``, two ``(len(contexts), length)`` ``uint8`` arrays of 0/1.
    """
    count = len(contexts)
    expected = int(length * (2 + probability) + 8 * np.sqrt(length) + 64)
    streams = _Streams(key, contexts, -(-expected // (8 * BLOCK_BYTES)) * BLOCK_BYTES)
    digits = probability_bits(probability, 64)
    offset = np.zeros(count, dtype=np.int64)
    # Round 1: every position reads its bit, in order: the stream's first `length` bits.
    streams.ensure(np.full(count, length, dtype=np.int64))
    first = streams.bits[:, :length]
    replaced = (first < digits[0]).astype(np.uint8)
    rows, places = np.nonzero(first == digits[0])
    offset += length
    j = 1
    while len(rows):
        if j >= len(digits):
            digits = probability_bits(probability, 2 * len(digits))
        u = _take_in_order(streams, offset, rows)
        hit = u < digits[j]
        replaced[rows[hit], places[hit]] = 1
        keep = u == digits[j]
        rows, places = rows[keep], places[keep]
        j += 1
    value = np.zeros((count, length), dtype=np.uint8)
    rows, places = np.nonzero(replaced)
    value[rows, places] = _take_in_order(streams, offset, rows)
    return replaced, value


#: Bytes of noise one ``randomizedResponse`` step keeps (packed, by seed values).
NOISE_CACHE_BYTES = 16 * 2**20


class _NoiseCache:
    """Noise already drawn, packed, by seed context (bounded; emptied when full)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.width = (length + 7) // 8
        self.max_entries = max(1, NOISE_CACHE_BYTES // (2 * self.width))
        self.rows: Dict[bytes, int] = {}
        self.replaced = np.zeros((0, self.width), dtype=np.uint8)
        self.value = np.zeros((0, self.width), dtype=np.uint8)

    def add(self, contexts: Sequence[bytes], replaced: np.ndarray, value: np.ndarray) -> None:
        """Keep the noise of new ``contexts`` (unpacked rows), if it fits."""
        if len(contexts) > self.max_entries:
            return
        if len(self.rows) + len(contexts) > self.max_entries:
            self.rows = {}
        first, need = len(self.rows), len(self.rows) + len(contexts)
        if need > len(self.replaced):
            size = min(self.max_entries, max(need, 2 * len(self.replaced), 256))
            for name in ("replaced", "value"):
                grown = np.zeros((size, self.width), dtype=np.uint8)
                grown[:first] = getattr(self, name)[:first]
                setattr(self, name, grown)
        self.replaced[first:need] = np.packbits(replaced, axis=1)
        self.value[first:need] = np.packbits(value, axis=1)
        self.rows.update(zip(contexts, range(first, need)))

    def rows_of(self, at: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The unpacked noise of the kept rows ``at``."""
        unpack = lambda packed: np.unpackbits(packed[at], axis=1, count=self.length)  # noqa: E731
        return unpack(self.replaced), unpack(self.value)


@lru_cache(maxsize=8)
def _noise_cache(key: bytes, probability: float, length: int) -> _NoiseCache:
    return _NoiseCache(length)


def randomized_response(bits: np.ndarray, context: Context) -> np.ndarray:
    """Each bit replaced by a fair coin with probability ``p``, the noise keyed by the record's ``seedFeatures``."""
    count, length = bits.shape
    probability = float(context.params["probability"])
    contexts = [seed_context(values) for values in seed_values(context)]
    cache = _noise_cache(context.key, probability, length)
    index = list(map(cache.rows.get, contexts))
    known = np.array([i is not None for i in index], dtype=bool)
    replaced = np.empty((count, length), dtype=np.uint8)
    value = np.empty((count, length), dtype=np.uint8)
    if known.any():
        replaced[known], value[known] = cache.rows_of(np.array([i for i in index if i is not None], dtype=np.int64))
    if not known.all():
        missing = [c for c, i in zip(contexts, index) if i is None]
        unique = list(dict.fromkeys(missing))
        position = {c: i for i, c in enumerate(unique)}
        new_replaced, new_value = response_noise(context.key, unique, probability, length)
        cache.add(unique, new_replaced, new_value)
        at = np.array([position[c] for c in missing], dtype=np.int64)
        replaced[~known], value[~known] = new_replaced[at], new_value[at]
    return np.where(replaced == 1, value, bits).astype(np.uint8)


# --------------------------------------------------------------------------- the table


def same_length(length: int, params: Mapping[str, Any]) -> int:
    """The length rule of a step that keeps the length."""
    return length


def doubled_length(length: int, params: Mapping[str, Any]) -> int:
    """``balance``'s length rule: twice the length."""
    return 2 * length


def folded_length(length: int, params: Mapping[str, Any]) -> int:
    """``xorFold``'s length rule: the length halved ``folds`` times."""
    return length >> int(params["folds"])


#: Every post-step of hardening, by its ``type``: the function and its length rule.
STEPS: Dict[str, Tuple[Step, Callable[[int, Mapping[str, Any]], int]]] = {
    "permute": (permute, same_length),
    "balance": (balance, doubled_length),
    "xorFold": (xor_fold, folded_length),
    "rule90": (rule90, same_length),
    "rehash": (rehash, same_length),
    "randomizedResponse": (randomized_response, same_length),
}
