"""The hardening steps, each a post-step on the bits of a chunk of records: ``step(bits, context) -> bits``.

``bits`` is a 2-D ``uint8`` array of 0s and 1s, one row per record of the chunk, in clkhash's
bit order (bit ``i`` of a CLK is ``np.unpackbits(np.frombuffer(clk, np.uint8))[i]``); a step
returns new rows, whose length its length rule gives (the steps and their length rules are
entries of :data:`~anonlinkclient.encoding.post_steps.POST_STEPS`; ``xorFold`` is there
too). ``context`` gives the step's parameters (``params``, as :mod:`.hardening_schema`
checked and completed them), its key (``key``, :func:`~.keyed.step_key`) and the chunk's raw
records (``values``).

What each step does (L is the length of the rows it is given; docs/linkage-schema.rst has
every byte of it):

``permute``
    bit ``x`` of the output is bit ``a[x]`` of the input, ``a`` the Fisher-Yates permutation
    of ``range(L)`` drawn from the stream of the key and context ``UINT32BE(L)``.
``balance``
    ``c = b || (1 - b)``, then ``permute`` of length ``2L`` (context ``UINT32BE(2L)``): 2L bits,
    exactly L of them ones.
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
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np

from anonlinkclient.encoding.keyed import (
    BLOCK_BYTES,
    Hmac,
    draw_positions,
    length_context,
    permutation,
    probability_bits,
    seed_contexts,
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


def gather_of(step: str, key: bytes, length: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """A step that gathers bits, as ``(source, flip)``: output bit ``x`` is input bit ``source[x]``,
    complemented where ``flip[x]``; ``None`` for the other steps. ``permute`` and ``balance`` are."""
    if step == "permute":
        order = _permutation_array(key, length)
        return order, np.zeros(len(order), dtype=bool)
    if step == "balance":
        source, flip = _balance_arrays(key, length)
        return source, flip.astype(bool)
    return None


def leading_gathers(
    steps: Sequence[Tuple[str, bytes]], length: int
) -> Tuple[int, Optional[np.ndarray], Optional[np.ndarray]]:
    """Fold the gathering steps at the front of ``steps`` into one map from filter positions to CLK positions.

    A gather of an OR is the OR of the gathers, so such steps can be done once per token
    pattern (when it is hashed and cached) instead of once per record; complements cannot,
    and are done per record, by XOR with a constant mask, after the features are combined.

    :param steps: ``(type, key)`` of the post-steps, in order.
    :return: how many steps were folded, ``spread`` (``(length, m)``: the CLK positions each
        filter position lands on, ``m`` of them each) and ``flip`` (the CLK positions to
        complement), or ``(0, None, None)``.
    """
    source = np.arange(length, dtype=np.intp)
    flip = np.zeros(length, dtype=bool)
    count = 0
    for step, key in steps:
        gathered = gather_of(step, key, len(source))
        if gathered is None:
            break
        order, complement = gathered
        source, flip = source[order], flip[order] ^ complement
        count += 1
    if not count:
        return 0, None, None
    spread = np.argsort(source, kind="stable").reshape(length, len(source) // length)
    return count, spread, flip


# --------------------------------------------------------------------------- xorFold, rule90


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
    for shift in _rule90_shifts(int(context.params.get("iterations", 1)), bits.shape[1]):
        bits = _shifted_xor(bits, shift)
    return bits


def _rule90_shifts(iterations: int, length: int) -> List[int]:
    """The shifts ``2**k mod length`` of the binary digits of ``iterations`` (see :func:`rule90`)."""
    shifts = []
    shift = 1 % length
    while iterations:
        if iterations & 1:
            shifts.append(shift)
        iterations >>= 1
        shift = 2 * shift % length
    return shifts


def _rotate_packed(data: np.ndarray, shift: int) -> np.ndarray:
    """Packed rows (whole bytes) rotated so that bit ``i`` of the result is bit ``i + shift`` (cyclic)."""
    whole, part = divmod(shift % (8 * data.shape[1]), 8)
    rolled = np.roll(data, -whole, axis=1) if whole else data
    if not part:
        return rolled.copy() if rolled is data else rolled
    following = np.roll(rolled, -1, axis=1)
    return ((rolled << np.uint8(part)) | (following >> np.uint8(8 - part))).astype(np.uint8)


def rule90_packed(data: np.ndarray, context: Context) -> np.ndarray:
    """:func:`rule90` on packed rows of whole bytes (each step: the row rotated both ways, XORed)."""
    length = 8 * data.shape[1]
    for shift in _rule90_shifts(int(context.params.get("iterations", 1)), length):
        data = _rotate_packed(data, shift) ^ _rotate_packed(data, length - shift)
    return data


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
        self.positions = np.zeros((0, count), dtype=np.intp)
        self.index_codes = (np.arange(windows, dtype=np.int64) << window)[None, :] if self.integer else None
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
            grown = np.zeros((size, self.count), dtype=np.intp)
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


def window_values(packed: np.ndarray, length: int, starts: np.ndarray, window: int) -> np.ndarray:
    """The bits of each window (at most 57 bits from each start) of packed rows, as integers (first bit highest)."""
    count = len(packed)
    span = (window + 7 + 7) // 8  # bytes a window can touch
    width = (length + 7) // 8
    kind = np.uint16 if span <= 2 else np.uint32 if span <= 4 else np.uint64
    padded = np.zeros((count, width + span), dtype=np.uint8)
    padded[:, :width] = packed[:, :width]
    wide = padded[:, :width].astype(kind)  # the `span` bytes from every byte on, as one number
    for t in range(1, span):
        wide <<= kind(8)
        wide |= padded[:, t : t + width]
    value = np.take(wide, starts >> 3, axis=1)
    value >>= (8 * span - (starts & 7) - window).astype(kind)
    value &= kind((1 << window) - 1)
    return value.astype(np.int64)


def rehash(bits: np.ndarray, context: Context) -> np.ndarray:
    """A new filter of L bits: each window of ``window`` bits every ``step`` sets ``bits`` keyed positions."""
    return _rehash(bits, np.packbits(bits, axis=1), bits.shape[1], context)


def rehash_packed(data: np.ndarray, context: Context) -> np.ndarray:
    """:func:`rehash` on packed rows of whole bytes."""
    length = 8 * data.shape[1]
    window = int(context.params["window"])
    bits = None if window <= _WIDEST_WINDOW else np.unpackbits(data, axis=1)
    return np.packbits(_rehash(bits, data, length, context), axis=1)


def _rehash(bits: Optional[np.ndarray], packed: np.ndarray, length: int, context: Context) -> np.ndarray:
    """:func:`rehash`, given the rows packed (and as bits for windows too long to read as integers)."""
    params = context.params
    count = len(packed)
    window, step, per_window = int(params["window"]), int(params["step"]), int(params["bits"])
    draws = _rehash_draws(context.key, length, window, step, per_window)
    starts = draws.starts
    if draws.integer:
        codes = window_values(packed, length, starts, window)
        codes |= draws.index_codes
        ids = draws.lookup(codes)
    else:
        if bits is None:
            bits = np.unpackbits(packed, axis=1, count=length)
        windows = [[np.packbits(row[s : s + window]).tobytes() for s in starts.tolist()] for row in bits]
        ids = draws.lookup_bytes(windows)
    flat = np.take(draws.positions, ids, axis=0)  # (records, windows, bits)
    flat += (np.arange(count, dtype=np.intp) * length)[:, None, None]
    out = np.zeros((count, length), dtype=np.uint8)
    out.reshape(-1)[flat.reshape(-1)] = 1
    return out


# --------------------------------------------------------------------------- randomizedResponse

#: Most records' noise (by seed values) one ``randomizedResponse`` step keeps.
NOISE_CACHE_ENTRIES = 1 << 15


def seed_columns(context: Context) -> List[List[str]]:
    """The chunk's values of each of the step's ``seedFeatures`` (a missing value as the feature hashes it)."""
    params = context.params
    missing: Mapping[str, Sequence[str]] = params.get("missingValues", {})
    columns = []
    for identifier in params["seedFeatures"]:
        column = context.values(identifier)
        if identifier in missing:
            sentinel, replacement = missing[identifier]
            column = [replacement if value == sentinel else value for value in column]
        columns.append(column)
    return columns


#: Stream bits a position reads per round of ``randomizedResponse``'s comparison with ``p``.
DIGITS_PER_ROUND = 4


class _Streams:
    """The stream bytes of many contexts (one row each), computed ahead and extended where a row needs more."""

    def __init__(self, key: bytes, contexts: Sequence[bytes], size: int) -> None:
        self.key = key
        self.contexts = contexts
        self.data = self._rows(contexts, size)
        self.capacity = np.full(len(contexts), size, dtype=np.int64)

    def _rows(self, contexts: Sequence[bytes], size: int) -> np.ndarray:
        data = b"".join([stream(self.key, c, size) for c in contexts])
        return np.frombuffer(data, dtype=np.uint8).reshape(len(contexts), size)

    def ensure(self, need: np.ndarray) -> None:
        """Make at least ``need[r]`` bytes of row ``r`` available."""
        short = np.flatnonzero(need > self.capacity)
        if not len(short):
            return
        size = 2 * BLOCK_BYTES * -(-int(need[short].max()) // BLOCK_BYTES)
        if size > self.data.shape[1]:
            grown = np.zeros((len(self.contexts), size), dtype=np.uint8)
            grown[:, : self.data.shape[1]] = self.data
            self.data = grown
        self.data[short, :size] = self._rows([self.contexts[r] for r in short.tolist()], size)
        self.capacity[short] = size

    def nibbles(self, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Nibble ``at[k]`` (4 bits, counted from the stream's start) of row ``rows[k]``."""
        self.ensure(_row_max(rows, at // 2 + 1, len(self.contexts)))
        byte = self.data[rows, at >> 1]
        return np.where(at & 1, byte & 15, byte >> 4)

    def bits(self, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Bit ``at[k]`` (counted from the stream's start, most significant first) of row ``rows[k]``."""
        self.ensure(_row_max(rows, at // 8 + 1, len(self.contexts)))
        return (self.data[rows, at >> 3] >> (7 - (at & 7)).astype(np.uint8)) & 1


def _row_max(rows: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """The largest of ``values`` per row (0 for a row with none)."""
    most = np.zeros(count, dtype=np.int64)
    np.maximum.at(most, rows, values)
    return most


def _ranks(rows: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """For sorted ``rows``: each entry's rank within its row, and the number of entries per row."""
    per_row = np.bincount(rows, minlength=count)
    starts = np.cumsum(per_row) - per_row
    return np.arange(len(rows), dtype=np.int64) - starts[rows], per_row


def _digit_groups(probability: float, groups: int) -> List[int]:
    """``p``'s binary digits in groups of :data:`DIGITS_PER_ROUND`, each group as a number (first digit highest)."""
    width = DIGITS_PER_ROUND
    digits = probability_bits(probability, width * groups)
    return [int("".join(map(str, digits[i : i + width])), 2) for i in range(0, len(digits), width)]


def response_noise(
    key: bytes, contexts: Sequence[bytes], probability: float, length: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each context (a record's seed values): which of ``length`` bits are replaced, and by what.

    Every position compares a uniform number read from the context's stream with ``p``,
    :data:`DIGITS_PER_ROUND` binary digits at a time: in round ``j`` each position still
    undecided (in increasing order) reads the next 4 stream bits as a number ``u`` and
    compares it with ``p``'s digits ``4j-3 .. 4j`` as a number ``d``: ``u < d`` replaces the
    position, ``u > d`` keeps it, ``u = d`` leaves it undecided. Round 1 reads the first ``4L``
    bits, position ``i`` bits ``4i .. 4i+3``. Then every replaced position, in increasing order,
    reads the next stream bit as its new value.

    :return: ``(rows, places, values)``: the replaced positions (context index and bit index,
        sorted) and their new values.
    """
    count = len(contexts)
    group = _digit_groups(probability, 16)
    expected = (4 * length + length // 2 + int(probability * length) + 8 * int(np.sqrt(length)) + 64) // 8
    streams = _Streams(key, contexts, BLOCK_BYTES * -(-expected // BLOCK_BYTES))
    # Round 1: position i reads nibble i.
    streams.ensure(np.full(count, (4 * length + 7) // 8, dtype=np.int64))
    half = streams.data[:, : (length + 1) // 2]
    first = np.empty((count, 2 * half.shape[1]), dtype=np.uint8)
    first[:, 0::2] = half >> 4
    first[:, 1::2] = half & 15
    flat = np.flatnonzero(first[:, :length] <= group[0])
    rows, places = np.divmod(flat, length)
    equal = first[rows, places] == group[0]
    found_rows, found_places = [rows[~equal]], [places[~equal]]
    rows, places = rows[equal], places[equal]
    used = np.full(count, length, dtype=np.int64)  # nibbles read per row
    j = 1
    while len(rows):
        if j >= len(group):
            group = _digit_groups(probability, 2 * len(group))
        rank, per_row = _ranks(rows, count)
        u = streams.nibbles(rows, used[rows] + rank)
        used += per_row
        hit = u < group[j]
        found_rows.append(rows[hit])
        found_places.append(places[hit])
        keep = u == group[j]
        rows, places = rows[keep], places[keep]
        j += 1
    rows, places = np.concatenate(found_rows), np.concatenate(found_places)
    order = np.argsort(rows * length + places, kind="stable")  # sorted runs: cheap
    rows, places = rows[order], places[order]
    values = np.zeros(0, dtype=np.uint8)
    if len(rows):
        rank, _ = _ranks(rows, count)
        values = streams.bits(rows, 4 * used[rows] + rank).astype(np.uint8)
    return rows, places, values


#: Bytes of noise one ``randomizedResponse`` step keeps (packed, by seed values).
NOISE_CACHE_BYTES = 16 * 2**20


class _NoiseCache:
    """Noise already drawn, as packed rows (replaced positions, their values), by seed context.

    Bounded in bytes; emptied when full.
    """

    def __init__(self, length: int) -> None:
        self.width = (length + 7) // 8
        self.max_entries = max(1, NOISE_CACHE_BYTES // (2 * self.width))
        self.rows: Dict[bytes, int] = {}
        self.replaced = np.zeros((0, self.width), dtype=np.uint8)
        self.value = np.zeros((0, self.width), dtype=np.uint8)

    def add(self, contexts: Sequence[bytes], replaced: np.ndarray, value: np.ndarray) -> None:
        """Keep the (packed) noise of new ``contexts``, if it fits."""
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
        self.replaced[first:need] = replaced
        self.value[first:need] = value
        self.rows.update(zip(contexts, range(first, need)))


@lru_cache(maxsize=8)
def _noise_cache(key: bytes, probability: float, length: int) -> _NoiseCache:
    return _NoiseCache(length)


def randomized_response(bits: np.ndarray, context: Context) -> np.ndarray:
    """Each bit replaced by a fair coin with probability ``p``, the noise keyed by the record's ``seedFeatures``."""
    length = bits.shape[1]
    packed = randomized_response_on(np.packbits(bits, axis=1), length, context)
    return np.unpackbits(packed, axis=1, count=length)


def randomized_response_packed(data: np.ndarray, context: Context) -> np.ndarray:
    """:func:`randomized_response` on packed rows of whole bytes."""
    return randomized_response_on(data.copy(), 8 * data.shape[1], context)


def randomized_response_on(packed: np.ndarray, length: int, context: Context) -> np.ndarray:
    """:func:`randomized_response` on packed rows of ``length`` bits (changed in place and returned)."""
    count = len(packed)
    probability = float(context.params["probability"])
    contexts = seed_contexts(seed_columns(context))
    cache = _noise_cache(context.key, probability, length)
    index = list(map(cache.rows.get, contexts))
    if None not in index:
        at = np.array(index, dtype=np.int64)
        replaced, value = cache.replaced[at], cache.value[at]
    else:
        known = [r for r, i in enumerate(index) if i is not None]
        replaced = np.empty((count, cache.width), dtype=np.uint8)
        value = np.empty((count, cache.width), dtype=np.uint8)
        at = np.array([index[r] for r in known], dtype=np.int64)
        replaced[known], value[known] = cache.replaced[at], cache.value[at]
        missing = [r for r, i in enumerate(index) if i is None]
        unique = list(dict.fromkeys([contexts[r] for r in missing]))
        rows, places, values = response_noise(context.key, unique, probability, length)
        dense = np.zeros((2, len(unique), length), dtype=np.uint8)
        dense[0, rows, places] = 1
        dense[1, rows, places] = values
        new_replaced, new_value = np.packbits(dense[0], axis=1), np.packbits(dense[1], axis=1)
        cache.add(unique, new_replaced, new_value)
        position = {c: i for i, c in enumerate(unique)}
        at = np.array([position[contexts[r]] for r in missing], dtype=np.int64)
        replaced[missing], value[missing] = new_replaced[at], new_value[at]
    packed ^= replaced & (packed ^ value)
    return packed
