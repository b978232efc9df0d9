"""Our CLK encoder: clkhash's CLKs, bit for bit, computed per chunk with NumPy.

:class:`ClkEncoder` is built once from a clkhash :class:`~clkhash.schema.Schema` (any
version, as clkhash converts it to v3) and the keys of
:func:`clkhash.key_derivation.generate_key_lists`. :meth:`ClkEncoder.encode` turns a chunk
of records into the bytes of their CLKs and their popcounts, exactly as
``[clk.tobytes() for clk in clkhash.clk.hash_chunk(...)[0]]`` and ``hash_chunk(...)[1]``
would, and accepts and rejects exactly the records clkhash accepts and rejects (with
clkhash's record, column and words: a :class:`~anonlinkclient.errors.RecordError`). Records
that make clkhash itself crash (a string that is no number under a numeric comparison, a
value that cannot be encoded when validation is off) are reported the same way.
:func:`schema_problem` names what would make hashing fail whatever the records; the
encoder refuses such schemas (:class:`~anonlinkclient.errors.UnhashableSchema`) and the
linkage-schema loader reports them.

Every option clkhash supports is handled the way clkhash handles it: n-gram (any n,
positional or not), exact and numeric comparisons; bitsPerToken and bitsPerFeature;
doubleHash (with and without prevent_singularity) and blakeHash; XOR folding; missing-value
sentinels and replacements; string (case, length, pattern, encoding), integer, date and
enum formats. clkhash stays the reference: the tests compare the two on random schemas and
data (tests/encoding/test_encoder_differential.py).

Where the speed comes from (clkhash spends its time in Python per bit and per token):

* A Bloom filter is a row of 64-bit words. The pattern of a token (its k bits) is computed
  once, when the token is first seen, and cached; a value's pattern is the OR of its
  tokens' patterns and a record's CLK the OR of its values' patterns, done with NumPy for
  a whole column of a chunk at a time.
* n-grams (n <= 3) are cut from the code points of a whole column at once
  (``str.encode("utf-32-le")`` and NumPy) into int64 codes, looked up in bulk in an
  open-addressing hash table: no Python loop per token. Other comparisons (exact,
  numeric, longer n-grams) tokenise in Python, with a dict per token and a cache of
  whole values.
* Validation is done in bulk per column (one ``int()`` or date parse per value serves
  both validation and formatting; dates of fixed-width numeric formats are parsed with
  NumPy, others once per distinct text with strptime). Only a chunk that holds a bad
  value is walked record by record, as clkhash would, to find its first error and text.

Every cache is bounded in entries and in bytes and is emptied when full; records are
encoded in blocks bounded in bytes. So memory does not grow with the number of records.
"""

import codecs
import hashlib
import re
from datetime import datetime
from hashlib import blake2b
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union, cast

import numpy as np
from clkhash.comparators import ExactComparison, NgramComparison, NumericComparison
from clkhash.field_formats import (
    BitsPerTokenStrategy,
    DateSpec,
    EnumSpec,
    FieldSpec,
    IntegerSpec,
    StringSpec,
)
from clkhash.schema import Schema

from anonlinkclient.errors import EncodingFallback, RecordError, UnhashableSchema

Keys = Sequence[Sequence[bytes]]

#: Bytes all caches of one encoder may hold together (shared out between the columns).
DEFAULT_CACHE_BYTES = 48 * 2**20
#: Entries one cache may hold, whatever its size in bytes.
MAX_CACHE_ENTRIES = 1 << 17
#: Bytes of bit patterns one block of records may hold (records are encoded in blocks).
BLOCK_BYTES = 8 * 2**20
#: Largest Bloom filter (bits, before XOR folding) the encoder takes: 2 MiB per record.
MAX_BITS = 2**24
#: Most insertions (k) of one token, and most tokens of one numeric value, the encoder takes.
MAX_BITS_PER_TOKEN = 2**16
#: Longest n-grams the encoder takes.
MAX_NGRAM = 256
#: Bytes of intermediate data (token strings and codes) one block of records may make.
BLOCK_LOAD = 64 * 2**20

# HKDF-Expand output limit (RFC 5869): 255 blocks of the hash's output.
_HKDF_HASH_BYTES = {"SHA256": 32, "SHA512": 64}
_BLAKE_MAX_KEY_BYTES = 64
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
_CODE_BITS = 21  # every code point fits in 21 bits
_CODE_MASK = (1 << _CODE_BITS) - 1


def _popcount_words(words: np.ndarray) -> np.ndarray:
    """Bits set per row of a 2-D uint64 array."""
    x = words - ((words >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).sum(axis=1)


# --------------------------------------------------------------------------- schema checks


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def numeric_tokens(word: str, distance_interval: int, resolution: int, fractional_precision: int) -> List[str]:
    """The tokens of clkhash's numeric comparison for ``word`` (raises ``ValueError``/``OverflowError``)."""
    if len(word) == 0:
        return []
    try:
        v = int(word, 10)
        if fractional_precision > 0:
            v *= pow(10, fractional_precision)
    except ValueError:
        v_float = float(word)
        if fractional_precision > 0:
            v = int(round(v_float * pow(10, fractional_precision)))
        else:
            v = int(v_float)
    v = v * 2 * resolution
    residue = v % distance_interval
    if residue == 0:
        pass
    elif residue < distance_interval / 2:
        v = v - residue
    else:
        v = v + (distance_interval - residue)
    return [str(v + i * distance_interval) for i in range(-resolution, resolution + 1)]


def ngram_tokens(word: str, n: int, positional: bool) -> List[str]:
    """The tokens of clkhash's n-gram comparison for ``word``."""
    if len(word) == 0:
        return []
    if n > 1:
        pad = " " * (n - 1)
        word = pad + word + pad
    if positional:
        return [f"{i + 1} {word[i : i + n]}" for i in range(len(word) - n + 1)]
    return [word[i : i + n] for i in range(len(word) - n + 1)]


def _numeric_reason(value: str) -> str:
    return f"Expected a finite number for numeric comparison. Read '{value}'."


def _encoding_reason(encoding: str, value: str) -> str:
    return f"Expected entry that can be encoded in {encoding}. Read '{value}'."


def schema_problem(schema: Schema) -> Optional[Tuple[Optional[str], str]]:
    """Why records cannot be hashed with ``schema``, whatever the records: ``(feature, reason)``.

    ``feature`` is the identifier of the feature at fault (``None`` for the schema as a whole);
    ``None`` is returned when the schema can be hashed. These are the schemas that
    :func:`clkhash.schema.from_json_dict` accepts but that clkhash cannot hash: its keys cannot
    be derived, or :func:`clkhash.clk.hash_chunk` raises an exception that is no validation
    error (for any record, or for every record using a value the schema fixes: a missingValue
    replacement, an enum value). Also refused: sizes beyond :data:`MAX_BITS` bits per filter
    and :data:`MAX_BITS_PER_TOKEN` insertions per token, which clkhash would take hours or all
    memory to hash.
    """
    hash_l = schema.l * 2**schema.xor_folds
    if hash_l > MAX_BITS:
        return None, f"{_length(schema)} is {hash_l} bits; at most {MAX_BITS} bits per filter can be hashed"
    hash_bytes = _HKDF_HASH_BYTES.get(schema.kdf_hash)
    if schema.kdf_type == "HKDF" and hash_bytes is not None:
        needed = 2 * len(schema.fields) * schema.kdf_key_size
        if needed > 255 * hash_bytes:
            return None, (
                f"{len(schema.fields)} features need {needed} bytes of keys ({schema.kdf_key_size}-byte keySize), "
                f"more than HKDF with {schema.kdf_hash} can derive ({255 * hash_bytes} bytes); "
                f"use fewer features or a smaller keySize"
            )
    for field in schema.fields:
        problem = _feature_problem(schema, field, hash_l)
        if problem is not None:
            return field.identifier, problem
    return None


def _length(schema: Schema) -> str:
    """How the schema's filter length (before folding) is named in messages."""
    return "l * 2**xor_folds" if schema.xor_folds else "l"


def _feature_problem(schema: Schema, field: FieldSpec, hash_l: int) -> Optional[str]:
    fhp = field.hashing_properties
    if fhp is None:
        return None
    if not isinstance(field, (StringSpec, IntegerSpec, DateSpec, EnumSpec)):
        return f"unsupported feature type {type(field).__name__}"
    if isinstance(field, StringSpec) and not field.regex_based and field.case not in ("upper", "lower", "mixed"):
        return f"invalid case '{field.case}'"
    if isinstance(field, DateSpec):
        try:
            datetime.strptime("", field.format)
        except ValueError as exc:
            if not str(exc).startswith("time data"):
                return f"the date format '{field.format}' cannot be used: {exc}"
        except Exception as exc:  # re.error, for a directive given twice
            return f"the date format '{field.format}' cannot be used: {exc}"
    if fhp.hash_type == "blakeHash":
        if not _is_power_of_two(hash_l):
            return f"blakeHash needs {_length(schema)} to be a power of two, but it is {hash_l}"
        if schema.kdf_key_size > _BLAKE_MAX_KEY_BYTES:
            return f"blakeHash takes keys of at most 64 bytes, but keySize is {schema.kdf_key_size}"
    elif fhp.hash_type == "doubleHash":
        if fhp.prevent_singularity and hash_l < 2:
            return f"doubleHash with prevent_singularity needs {_length(schema)} to be at least 2"
    else:
        return f"unsupported hash type '{fhp.hash_type}'"
    most = fhp.strategy.bits_per_token(1)[0]  # what one token of a one-token value gets
    if most > MAX_BITS_PER_TOKEN:
        return f"{most} bits per token (or feature) are more than the {MAX_BITS_PER_TOKEN} that can be hashed"
    comparator = fhp.comparator
    if not isinstance(comparator, (NgramComparison, ExactComparison, NumericComparison)):
        return f"unsupported comparison {type(comparator).__name__}"
    if isinstance(comparator, NgramComparison) and comparator.n > MAX_NGRAM:
        return f"n-grams of {comparator.n} characters are longer than the {MAX_NGRAM} that can be hashed"
    if isinstance(comparator, NumericComparison):
        if 2 * comparator.resolution + 1 > MAX_BITS_PER_TOKEN:
            return (
                f"resolution {comparator.resolution} makes {2 * comparator.resolution + 1} tokens per value, "
                f"more than the {MAX_BITS_PER_TOKEN} that can be hashed"
            )
        try:
            float(comparator.distance_interval)
        except OverflowError:
            return "thresholdDistance * 10**fractional_precision is too large: no number could be hashed"
    try:
        "".encode(fhp.encoding)
    except LookupError:
        return f"unknown encoding '{fhp.encoding}'"
    mv = fhp.missing_value
    if mv is not None:
        problem = _fixed_value_problem(fhp, mv.replace_with)
        if problem is not None:
            return f"the missingValue replacement '{mv.replace_with}' {problem}"
    if isinstance(field, EnumSpec):
        for value in sorted(field.values):
            problem = _fixed_value_problem(fhp, value)
            if problem is not None and not (mv is not None and value == mv.sentinel):
                return f"the enum value '{value}' {problem}"
    return None


def _fixed_value_problem(fhp: Any, value: str) -> Optional[str]:
    """Why a value that is hashed as it is (a missingValue replacement, an enum value) cannot be."""
    comparator = fhp.comparator
    try:
        if isinstance(comparator, NumericComparison):
            tokens = numeric_tokens(
                value, comparator.distance_interval, comparator.resolution, comparator.fractional_precision
            )
        elif isinstance(comparator, NgramComparison):
            tokens = ngram_tokens(value, comparator.n, bool(comparator.positional))
        else:
            tokens = [value] if value else []
    except (ValueError, OverflowError):
        return "is not a finite number, which numeric comparison needs"
    try:
        for token in tokens:
            token.encode(fhp.encoding)
    except UnicodeError:
        return f"cannot be encoded in {fhp.encoding}"
    return None


# --------------------------------------------------------------------------- token hashing


def _hmac_pads(key: bytes, new: Any) -> Tuple[Any, Any]:
    """The keyed inner and outer hash states of HMAC (RFC 2104) for a 64-byte-block hash."""
    if len(key) > 64:
        key = new(key).digest()
    key = key.ljust(64, b"\0")
    return new(bytes(b ^ 0x36 for b in key)), new(bytes(b ^ 0x5C for b in key))


def _hmac(pads: Tuple[Any, Any], message: bytes) -> bytes:
    """HMAC of ``message`` from precomputed pads: what ``hmac.digest`` returns, without re-keying."""
    inner = pads[0].copy()
    inner.update(message)
    outer = pads[1].copy()
    outer.update(inner.digest())
    digest: bytes = outer.digest()
    return digest


class _Hasher:
    """Turns tokens into the packed bit patterns clkhash sets for them (k bits each).

    When one token can be inserted with different k (bitsPerFeature), what its MACs give
    (the seeds) is kept, so that its pattern for another k needs no MAC again.
    """

    MAX_SEEDS = 1 << 16

    def __init__(self, fhp: Any, key: Sequence[bytes], hash_l: int, words: int, keep_seeds: bool) -> None:
        self.hash_l = hash_l
        self.words = words
        self.blake = fhp.hash_type == "blakeHash"
        self.non_singular = bool(fhp.prevent_singularity)
        if self.blake:
            self.key = bytes(key[0])
            self.salted: List[Any] = []  # blake2b keyed and salted with "0", "1", ...
        else:
            self.sha1 = _hmac_pads(bytes(key[0]), hashlib.sha1)
            self.md5 = _hmac_pads(bytes(key[1]), hashlib.md5)
        self.seeds: Optional[Dict[bytes, Any]] = {} if keep_seeds else None
        self.seed_bytes = 0

    def patterns(self, tokens: Sequence[bytes], k: int) -> np.ndarray:
        """The packed patterns (len(tokens) x words uint64) of ``tokens`` inserted with ``k`` bits each."""
        count = len(tokens)
        out = np.zeros((count, self.words), dtype=np.uint64)
        if k <= 0 or count == 0:
            return out
        if not self.blake:
            # (a + i*b) mod l depends on i mod l only: more than l insertions set no new bits.
            k = min(k, self.hash_l)
        bits_row = self.words * 64
        step = max(1, min(count, (16 << 20) // (bits_row + 8 * k)))
        for start in range(0, count, step):
            part = tokens[start : start + step]
            positions = self._positions(part, k)
            matrix = np.zeros((len(part), bits_row), dtype=np.uint8)
            rows = np.repeat(np.arange(len(part)), k)
            matrix[rows, positions.ravel()] = 1
            out[start : start + len(part)] = np.packbits(matrix, axis=1).view(np.uint64)
        return out

    def _positions(self, tokens: Sequence[bytes], k: int) -> np.ndarray:
        """The bit positions clkhash sets for each token: (len(tokens), k) int64."""
        hash_l = self.hash_l
        if self.blake:
            # clkhash: k unsigned shorts (native order) from BLAKE2b MACs salted "0", "1", ...
            macs = (k + 31) // 32
            digest = b"".join([self._blake_digest(m, macs) for m in tokens])
            shorts = np.frombuffer(digest, dtype=np.uint16).reshape(len(tokens), 32 * macs)[:, :k]
            return shorts.astype(np.int64) % hash_l
        # clkhash: g_i = (sha1 + i * md5) mod l from HMAC-SHA1 and HMAC-MD5 of the token.
        seeds = [self._double_seed(m) for m in tokens]
        first = np.array([s[0] for s in seeds], dtype=np.int64)
        step = np.array([s[1] for s in seeds], dtype=np.int64)
        return (first[:, None] + np.arange(k, dtype=np.int64)[None, :] * step[:, None]) % hash_l

    def _double_seed(self, m: bytes) -> Tuple[int, int]:
        seeds = self.seeds
        if seeds is not None:
            known = seeds.get(m)
            if known is not None:
                return known
        hash_l = self.hash_l
        first = int.from_bytes(_hmac(self.sha1, m), "big") % hash_l
        step = int.from_bytes(_hmac(self.md5, m), "big") % hash_l
        if self.non_singular:
            i = 0
            while step == 0:
                step = int.from_bytes(_hmac(self.md5, m + chr(i).encode()), "big") % hash_l
                i += 1
        self._keep(m, (first, step), 100)
        return first, step

    def _blake_digest(self, m: bytes, macs: int) -> bytes:
        seeds = self.seeds
        if seeds is not None:
            known = seeds.get(m)
            if known is not None and len(known) >= 64 * macs:
                return known[: 64 * macs]
        salted = self.salted
        while len(salted) < macs:
            salted.append(blake2b(key=self.key, salt=str(len(salted)).encode()))
        parts = []
        for i in range(macs):
            h = salted[i].copy()
            h.update(m)
            parts.append(h.digest())
        digest = b"".join(parts)
        self._keep(m, digest, len(digest))
        return digest

    def _keep(self, m: bytes, seed: Any, size: int) -> None:
        seeds = self.seeds
        if seeds is None or len(m) > 256:
            return
        if len(seeds) >= self.MAX_SEEDS or self.seed_bytes > 8 * 2**20:
            seeds.clear()
            self.seed_bytes = 0
        seeds[m] = seed
        self.seed_bytes += len(m) + size + 100


# --------------------------------------------------------------------------- caches


class _PatternStore:
    """Rows of packed patterns, appended to until full, then emptied."""

    def __init__(self, words: int, max_entries: int) -> None:
        self.words = words
        self.max_entries = max(0, max_entries)
        self.rows = np.zeros((min(256, self.max_entries), words), dtype=np.uint64)
        self.count = 0

    def fits(self, extra: int) -> bool:
        return self.count + extra <= self.max_entries

    def add(self, patterns: np.ndarray) -> np.ndarray:
        """Append ``patterns`` (room must have been checked) and return their ids."""
        n = len(patterns)
        if self.count + n > len(self.rows):
            grown = np.zeros((min(self.max_entries, max(2 * len(self.rows), self.count + n)), self.words), np.uint64)
            grown[: self.count] = self.rows[: self.count]
            self.rows = grown
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        self.rows[self.count : self.count + n] = patterns
        self.count += n
        return ids

    def clear(self) -> None:
        self.count = 0
        self.rows = np.zeros((min(256, self.max_entries), self.words), dtype=np.uint64)


class _CodeTable:
    """Non-negative int64 token codes -> store ids: an open-addressing hash table, looked up in bulk."""

    _MULTIPLIER = 0x9E3779B97F4A7C15

    def __init__(self) -> None:
        self.count = 0
        self._allocate(1 << 10)

    def _allocate(self, size: int) -> None:
        self.size = size
        self.bits = size.bit_length() - 1
        self.keys = np.full(size, -1, dtype=np.int64)
        self.ids = np.zeros(size, dtype=np.int64)

    def lookup(self, codes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Store ids of ``codes`` and whether each is known (ids of unknown codes are meaningless)."""
        slots = ((codes.view(np.uint64) * np.uint64(self._MULTIPLIER)) >> np.uint64(64 - self.bits)).astype(np.int64)
        found = self.keys[slots]
        hit = found == codes
        pending = np.flatnonzero(~hit & (found != -1))
        mask = self.size - 1
        while len(pending):
            slots[pending] = (slots[pending] + 1) & mask
            found = self.keys[slots[pending]]
            matched = found == codes[pending]
            hit[pending[matched]] = True
            pending = pending[~matched & (found != -1)]
        return self.ids[slots], hit

    def insert(self, codes: np.ndarray, ids: np.ndarray) -> None:
        """Add ``codes`` (unique, none known yet) with their store ids."""
        if 2 * (self.count + len(codes)) > self.size:
            old = self.keys != -1
            old_codes, old_ids = self.keys[old], self.ids[old]
            size = self.size
            while 2 * (self.count + len(codes)) > size:
                size *= 2
            self._allocate(size)
            self.count = 0
            self._put(old_codes.tolist(), old_ids.tolist())
        self._put(codes.tolist(), ids.tolist())

    def _put(self, codes: List[int], ids: List[int]) -> None:
        keys, values = self.keys, self.ids
        shift, mask, multiplier = 64 - self.bits, self.size - 1, self._MULTIPLIER
        wrap = (1 << 64) - 1
        for code, ident in zip(codes, ids):
            slot = ((code * multiplier) & wrap) >> shift
            while keys[slot] != -1:
                slot = (slot + 1) & mask
            keys[slot] = code
            values[slot] = ident
        self.count += len(codes)


class _TokenCache:
    """The patterns of one feature's tokens, per number of bits k: int64 codes or strings as keys."""

    def __init__(self, words: int, budget: int) -> None:
        per_entry = 8 * words + 120
        self.store = _PatternStore(words, min(MAX_CACHE_ENTRIES, budget // per_entry))
        self.codes: Dict[int, _CodeTable] = {}
        self.strings: Dict[int, Dict[str, int]] = {}
        self.string_bytes = 0
        self.budget = budget
        self.words = words

    def clear(self) -> None:
        self.store.clear()
        self.codes = {}
        self.strings = {}
        self.string_bytes = 0

    def fits(self, extra: int, extra_bytes: int) -> bool:
        rows_bytes = (self.store.count + extra) * (8 * self.words + 16)
        return self.store.fits(extra) and rows_bytes + self.string_bytes + extra_bytes <= self.budget


class _ValueCache:
    """Raw value text -> pattern of the value (only values that validate and hash)."""

    WINDOW = 16384
    MIN_HIT_RATE = 0.1
    PAUSE_ROWS = 1 << 18

    def __init__(self, words: int, budget: int) -> None:
        self.words = words
        self.budget = budget
        self.store = _PatternStore(words, min(MAX_CACHE_ENTRIES, budget // (8 * words + 120)))
        self.ids: Dict[str, int] = {}
        self.bytes = 0
        self.enabled = self.store.max_entries > 0
        self.lookups = 0
        self.hits = 0
        self.paused_rows = 0

    def clear(self) -> None:
        self.store.clear()
        self.ids = {}
        self.bytes = 0

    def account(self, rows: int, hits: int) -> None:
        """Switch the cache off for a while when the values of the feature hardly repeat."""
        if not self.enabled:
            self.paused_rows += rows
            if self.paused_rows >= self.PAUSE_ROWS and self.store.max_entries > 0:
                self.enabled, self.lookups, self.hits = True, 0, 0
            return
        self.lookups += rows
        self.hits += hits
        if self.lookups >= self.WINDOW:
            if self.hits < self.MIN_HIT_RATE * self.lookups:
                self.enabled, self.paused_rows = False, 0
                self.clear()
            self.lookups = self.hits = 0

    def insert(self, values: Sequence[str], patterns: np.ndarray) -> None:
        extra_bytes = sum(map(len, values)) + len(values) * (8 * self.words + 120)
        if len(values) > self.store.max_entries or extra_bytes > self.budget:
            return
        if not self.store.fits(len(values)) or self.bytes + extra_bytes > self.budget:
            self.clear()
        ids = self.store.add(patterns)
        self.ids.update(zip(values, ids.tolist()))
        self.bytes += extra_bytes


# --------------------------------------------------------------------------- features


_NO_IDS = np.zeros(0, dtype=np.int64)


class _Lookup(NamedTuple):
    """One group's tokens (inserted k times) looked up in a feature's token cache."""

    k: int
    at: Optional[np.ndarray]  # positions of the group's tokens among all (None: all of them)
    ids: np.ndarray  # the store row of each token (to be filled in for the missing ones)
    missing: np.ndarray  # positions (within the group) of the tokens the cache does not hold
    new_keys: Union[np.ndarray, List[str]]  # the distinct missing tokens (codes or strings)
    new_index: np.ndarray  # for each missing token, its index in new_keys


def _new_size(lookups: List[_Lookup]) -> Tuple[int, int]:
    """How many new tokens the lookups found, and the bytes their string keys take in a dict."""
    count = sum(len(lookup.new_keys) for lookup in lookups)
    strings = [lookup.new_keys for lookup in lookups if isinstance(lookup.new_keys, list)]
    return count, sum(sum(map(len, keys)) + 100 * len(keys) for keys in strings)


class _Feature:
    """Everything needed to validate, format, tokenise and hash one (not ignored) feature."""

    def __init__(self, field: FieldSpec, key: Sequence[bytes], hash_l: int, words: int, budget: int) -> None:
        fhp = field.hashing_properties
        assert fhp is not None
        self.field = field
        self.identifier = field.identifier
        self.fhp = fhp
        self.encoding: str = fhp.encoding
        codec = codecs.lookup(self.encoding).name
        self.encoding_kind = "ascii" if codec == "ascii" else "utf" if codec in ("utf-8", "utf-16", "utf-32") else ""
        mv = fhp.missing_value
        self.sentinel: Optional[str] = mv.sentinel if mv is not None else None
        self.replacement: str = mv.replace_with if mv is not None else ""
        self.kind = (
            "string"
            if isinstance(field, StringSpec)
            else "integer"
            if isinstance(field, IntegerSpec)
            else "date"
            if isinstance(field, DateSpec)
            else "enum"
        )
        comparator = fhp.comparator
        self.ngram = isinstance(comparator, NgramComparison)
        self.numeric = isinstance(comparator, NumericComparison)
        self.n = comparator.n if self.ngram else 0
        self.positional = bool(comparator.positional) if self.ngram else False
        self.vector_ngrams = self.ngram and 1 <= self.n <= 3 and not (self.positional and self.n == 3)
        if self.numeric:
            self.distance_interval = comparator.distance_interval
            self.resolution = comparator.resolution
            self.fractional_precision = comparator.fractional_precision
        strategy = fhp.strategy
        self.strategy = strategy
        self.constant_k: Optional[int] = (
            strategy.bits_per_token(1)[0] if isinstance(strategy, BitsPerTokenStrategy) else None
        )
        self.k_by_count: Dict[int, np.ndarray] = {}
        self.hasher = _Hasher(fhp, key, hash_l, words, keep_seeds=self.constant_k is None)
        self.words = words
        # Values whose tokens are cut in bulk (n-grams) are cheaper to hash again than to look up;
        # the value cache serves the others (numeric, exact, long n-grams).
        self.values = _ValueCache(words, 0 if self.vector_ngrams else budget // 2)
        self.tokens = _TokenCache(words, budget if self.vector_ngrams else budget // 2)
        self.dates: Dict[str, Optional[str]] = {}
        if self.kind == "date":
            self.date_format: str = field.format
            self.fast_date = _FastDate.compile(self.date_format)
        if self.kind == "integer":
            self.minimum = field.minimum
            self.maximum = field.maximum
        if self.kind == "string":
            self.regex = field.regex if field.regex_based else None
            self.min_length = None if field.regex_based else field.min_length
            self.max_length = None if field.regex_based else field.max_length
            self.case = "mixed" if field.regex_based else field.case
        if self.kind == "enum":
            self.enum_values = field.values

    # ---- exact, one value at a time (the reference for errors)

    def validation_reason(self, value: str) -> Optional[str]:
        """clkhash's validation message for ``value``, or ``None`` when it is valid."""
        if self.sentinel is not None and value == self.sentinel:
            return None
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            return _encoding_reason(self.encoding, value)
        kind = self.kind
        if kind == "string":
            if self.regex is not None:
                if self.regex.fullmatch(value) is None:
                    return f"Expected entry that conforms to regular expression '{self.regex.pattern}'. Read '{value}'."
                return None
            length = len(value)
            if self.min_length is not None and length < self.min_length:
                return (
                    f"Expected string length of at least {self.min_length}. Read string '{value}' of length {length}."
                )
            if self.max_length is not None and length > self.max_length:
                return f"Expected string length of at most {self.max_length}. Read string '{value}' of length {length}."
            if self.case == "upper" and value.upper() != value:
                return f"Expected upper case string. Read '{value}'."
            if self.case == "lower" and value.lower() != value:
                return f"Expected lower case string. Read '{value}'."
            return None
        if kind == "integer":
            try:
                number = int(value, 10)
            except ValueError:
                return f"Invalid integer. Read '{value}'."
            if self.minimum is not None and number < self.minimum:
                return f"Expected integer value of at least {self.minimum}. Read '{number}'."
            if self.maximum is not None and number > self.maximum:
                return f"Expected integer value of at most {self.maximum}. Read '{number}'."
            return None
        if kind == "date":
            try:
                datetime.strptime(value, self.date_format)
            except ValueError as e:
                return f"Validation error for date type: {e}"
            return None
        if value not in self.enum_values:
            return f"Expected enum value to be one of {list(self.enum_values)}. Read '{value}'."
        return None

    def hashing_reason(self, value: str) -> Optional[str]:
        """Why hashing ``value`` fails (formatting, tokenising, encoding tokens), or ``None``."""
        if self.sentinel is not None and value == self.sentinel:
            formatted = self.replacement
        elif self.kind == "integer":
            try:
                formatted = str(int(value, 10))
            except ValueError:
                return f"Invalid integer. Read '{value}'."
        elif self.kind == "date":
            try:
                formatted = datetime.strptime(value, self.date_format).strftime("%Y%m%d")
            except ValueError as e:
                return f"Unable to format date value '{value}'. Reason: {e}"
        else:
            formatted = value
        try:
            tokens = self.python_tokens(formatted)
        except (ValueError, OverflowError):
            return _numeric_reason(value)
        try:
            for token in tokens:
                token.encode(self.encoding)
        except UnicodeError:
            return _encoding_reason(self.encoding, value)
        return None

    def load(self, column: Sequence[str]) -> int:
        """About how many bytes of intermediate data hashing ``column`` makes."""
        characters = sum(map(len, column))
        if self.vector_ngrams:
            return 48 * (characters + len(column) * (self.n - 1))
        if self.ngram:
            return (64 + 4 * self.n) * (characters + len(column) * (self.n - 1))
        if self.numeric:
            return 4 * characters + len(column) * 80 * (2 * self.resolution + 1)
        return 4 * characters + 100 * len(column)

    def python_tokens(self, formatted: str) -> List[str]:
        if self.ngram:
            return ngram_tokens(formatted, self.n, self.positional)
        if self.numeric:
            return numeric_tokens(formatted, self.distance_interval, self.resolution, self.fractional_precision)
        return [formatted] if formatted else []

    # ---- fast, a column of values at a time

    def _encodable(self, values: List[str]) -> bool:
        """Whether every value can be encoded in the feature's encoding (clkhash's first check)."""
        joined = "".join(values)
        if self.encoding_kind == "ascii":
            return joined.isascii()
        if self.encoding_kind == "utf":  # only lone surrogates fail UTF-8, -16 and -32
            try:
                joined.encode("utf-8")
            except UnicodeEncodeError:
                return False
            return True
        try:
            for value in values:
                value.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        return True

    def _string_constraints(self, values: List[str]) -> bool:
        if self.regex is not None:
            return all(map(self.regex.fullmatch, values))
        if self.min_length is not None or self.max_length is not None:
            lengths = list(map(len, values))
            if self.min_length is not None and min(lengths) < self.min_length:
                return False
            if self.max_length is not None and max(lengths) > self.max_length:
                return False
        if self.case == "upper":
            return list(map(str.upper, values)) == values
        if self.case == "lower":
            return list(map(str.lower, values)) == values
        return True

    def _format_and_check(self, values: List[str]) -> Tuple[List[str], bool]:
        """Formatted values (no sentinels among them) and whether all pass validation.

        Raises :class:`EncodingFallback` for a value that cannot be formatted (an error whether or
        not records are validated). Each value is parsed once, for both.
        """
        kind = self.kind
        if not values:
            return values, True
        if kind == "string":
            return values, self._encodable(values) and self._string_constraints(values)
        if kind == "enum":
            return values, self._encodable(values) and set(values) <= self.enum_values
        if kind == "integer":
            try:
                numbers = list(map(int, values))
            except ValueError:
                raise EncodingFallback from None
            valid = not (
                (self.minimum is not None and min(numbers) < self.minimum)
                or (self.maximum is not None and max(numbers) > self.maximum)
            )
            return list(map(str, numbers)), valid  # what parses as an integer is UTF-8 encodable
        formatted = self._format_dates(values)
        if None in formatted:
            raise EncodingFallback
        return formatted, self._encodable(values)  # type: ignore[return-value]

    def _format_dates(self, values: List[str]) -> List[Optional[str]]:
        """``%Y%m%d`` of each date, ``None`` where strptime fails."""
        out: List[Optional[str]]
        if self.fast_date is not None:
            out = self.fast_date.parse(values)
            if None not in out:
                return out
        else:
            out = [None] * len(values)
        dates = self.dates
        for i, value in enumerate(values):
            if out[i] is not None:
                continue
            try:
                out[i] = dates[value]
                continue
            except KeyError:
                pass
            try:
                formatted: Optional[str] = datetime.strptime(value, self.date_format).strftime("%Y%m%d")
            except ValueError:
                formatted = None
            out[i] = formatted
            if len(value) <= 64:  # dates are short; long texts are not worth keeping
                if len(dates) >= MAX_CACHE_ENTRIES:
                    dates.clear()
                dates[value] = formatted
        return out

    def patterns(self, values: List[str], validate: bool) -> Tuple[np.ndarray, Optional[List[bool]]]:
        """The packed patterns (len(values) x words) of raw ``values``.

        Also returns which values are valid, or ``None`` when all are. With ``validate``, an
        invalid value raises :class:`EncodingFallback`, as does any value that cannot be hashed.
        """
        sentinel = self.sentinel
        if sentinel is not None and sentinel in values:
            regular_at: Optional[List[int]] = [i for i, v in enumerate(values) if v != sentinel]
            regular = [values[i] for i in regular_at]  # type: ignore[union-attr]
        else:
            regular_at = None
            regular = values
        formatted, all_valid = self._format_and_check(regular)
        valid: Optional[List[bool]] = None
        if not all_valid:
            if validate:
                raise EncodingFallback
            valid = [self.validation_reason(v) is None for v in values]
        if regular_at is not None:
            full = [self.replacement] * len(values)
            for i, f in zip(regular_at, formatted):
                full[i] = f
            formatted = full
        return self.hash_formatted(formatted), valid

    def hash_formatted(self, formatted: List[str]) -> np.ndarray:
        """Patterns of formatted values: the OR of their tokens' patterns."""
        count = len(formatted)
        vector = self._vector_ngrams(formatted) if self.vector_ngrams else None
        codes: Optional[np.ndarray] = None
        strings: Optional[List[str]] = None
        if vector is not None:
            counts, codes = vector
        else:
            try:
                token_lists = [self.python_tokens(f) for f in formatted]
            except (ValueError, OverflowError):
                raise EncodingFallback from None
            counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=count)
            strings = [t for tokens in token_lists for t in tokens]
        total = int(counts.sum())
        if total == 0:
            return np.zeros((count, self.words), dtype=np.uint64)
        groups: List[Tuple[int, Optional[np.ndarray]]]
        if self.constant_k is not None:
            groups = [(max(0, self.constant_k), None)]
        else:
            ks = np.maximum(self._ks(counts), 0)
            unique_ks = np.unique(ks).tolist()
            groups = [(k, None if len(unique_ks) == 1 else np.flatnonzero(ks == k)) for k in unique_ks]
        source, ids = self._token_ids(codes, strings, groups, total)
        return _or_reduce(source, ids, counts, self.words)

    def _token_ids(
        self,
        codes: Optional[np.ndarray],
        strings: Optional[List[str]],
        groups: List[Tuple[int, Optional[np.ndarray]]],
        total: int,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Rows holding every token's pattern, and the row of each token.

        ``groups`` are (k, positions of the tokens inserted k times); tokens are int64 codes
        or strings. Tokens with k <= 0 set no bits but clkhash still encodes them (which can
        fail); they get all-zero patterns, cached like the others. New tokens are hashed and
        cached; if the cache cannot take them it is emptied first, and if it still cannot they
        are used without being cached.
        """
        cache = self.tokens
        lookups = self._look_up(codes, strings, groups)
        new_count, new_bytes = _new_size(lookups)
        if new_count and not cache.fits(new_count, new_bytes):
            cache.clear()
            lookups = self._look_up(codes, strings, groups)
            new_count, new_bytes = _new_size(lookups)
        keep = cache.fits(new_count, new_bytes)
        extra: List[np.ndarray] = []
        next_id = cache.store.count
        out = np.zeros(total, dtype=np.int64)
        for lookup in lookups:
            ids = lookup.ids
            if len(lookup.new_keys):
                keys = lookup.new_keys
                made = self._new_patterns(self._decode(keys) if isinstance(keys, np.ndarray) else keys, lookup.k)
                if keep:
                    new_ids = cache.store.add(made)
                    if isinstance(keys, np.ndarray):
                        cache.codes.setdefault(lookup.k, _CodeTable()).insert(keys, new_ids)
                    else:
                        cache.strings.setdefault(lookup.k, {}).update(zip(keys, new_ids.tolist()))
                else:
                    new_ids = np.arange(next_id, next_id + len(made), dtype=np.int64)
                    next_id += len(made)
                    extra.append(made)
                ids[lookup.missing] = new_ids[lookup.new_index]
            if lookup.at is None:
                out = ids
            else:
                out[lookup.at] = ids
        if not new_count:
            return cache.store.rows, out
        if keep:
            cache.string_bytes += new_bytes
            return cache.store.rows, out
        return np.concatenate([cache.store.rows[: cache.store.count], *extra]), out

    def _look_up(
        self, codes: Optional[np.ndarray], strings: Optional[List[str]], groups: List[Tuple[int, Optional[np.ndarray]]]
    ) -> List["_Lookup"]:
        """Find each group's tokens in the cache; list the distinct ones it does not hold."""
        cache = self.tokens
        lookups = []
        for k, at in groups:
            if codes is not None:
                part = codes if at is None else codes[at]
                table = cache.codes.get(k)
                if table is None:
                    ids, hit = np.zeros(len(part), np.int64), np.zeros(len(part), bool)
                else:
                    ids, hit = table.lookup(part)
                if hit.all():
                    lookups.append(_Lookup(k, at, ids, _NO_IDS, _NO_IDS, _NO_IDS))
                    continue
                missing = np.flatnonzero(~hit)
                new_codes, new_index = np.unique(part[missing], return_inverse=True)
                lookups.append(_Lookup(k, at, ids, missing, new_codes, new_index))
                continue
            assert strings is not None
            part_s = strings if at is None else [strings[i] for i in at.tolist()]
            found = list(map(cache.strings.get(k, {}).get, part_s))
            if None not in found:
                lookups.append(_Lookup(k, at, np.array(found, dtype=np.int64), _NO_IDS, _NO_IDS, _NO_IDS))
                continue
            ids = np.array([-1 if x is None else x for x in found], dtype=np.int64)
            missing = np.flatnonzero(ids < 0)
            unknown = [part_s[i] for i in missing.tolist()]
            new_strings = list(dict.fromkeys(unknown))
            position = {s: j for j, s in enumerate(new_strings)}
            new_index = np.array([position[s] for s in unknown], dtype=np.int64)
            lookups.append(_Lookup(k, at, ids, missing, new_strings, new_index))
        return lookups

    def _ks(self, counts: np.ndarray) -> np.ndarray:
        """k of every token, from the strategy (it depends on the number of tokens of the value)."""
        table = self.k_by_count
        parts = []
        for c in counts.tolist():
            if c:
                ks = table.get(c)
                if ks is None:
                    ks = np.array(self.strategy.bits_per_token(c), dtype=np.int64)
                    if c <= 1024:  # at most 4096 short arrays are kept
                        if len(table) >= 4096:
                            table.clear()
                        table[c] = ks
                parts.append(ks)
        return np.concatenate(parts)

    def _new_patterns(self, tokens: Sequence[str], k: int) -> np.ndarray:
        encoding = self.encoding
        try:
            encoded = [t.encode(encoding) for t in tokens]
        except UnicodeError:
            raise EncodingFallback from None
        return self.hasher.patterns(encoded, k)

    def _vector_ngrams(self, formatted: List[str]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Token counts and int64 codes of the n-grams of all values, or None if they do not fit."""
        n = self.n
        count = len(formatted)
        lengths = np.fromiter(map(len, formatted), dtype=np.int64, count=count)
        counts = np.where(lengths > 0, lengths + (n - 1), 0)
        total = int(counts.sum())
        if total == 0:
            return counts, np.zeros(0, dtype=np.int64)
        if self.positional and int(counts.max()) + 1 >= 1 << (63 - _CODE_BITS * n):
            return None
        pad = " " * (n - 1)
        joined = pad + (pad + pad).join(formatted) + pad
        points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        value_starts = np.cumsum(lengths + 2 * (n - 1)) - (lengths + 2 * (n - 1))
        token_starts = np.cumsum(counts) - counts
        within = np.arange(total, dtype=np.int64) - np.repeat(token_starts, counts)
        starts = np.repeat(value_starts, counts) + within
        codes = points[starts]
        for t in range(1, n):
            codes = (codes << _CODE_BITS) | points[starts + t]
        if self.positional:
            codes |= (within + 1) << (_CODE_BITS * n)
        return counts, codes

    def _decode(self, codes: np.ndarray) -> List[str]:
        n = self.n
        out = []
        for code in codes.tolist():
            gram = "".join(chr((code >> (_CODE_BITS * (n - 1 - t))) & _CODE_MASK) for t in range(n))
            if self.positional:
                gram = f"{code >> (_CODE_BITS * n)} {gram}"
            out.append(gram)
        return out

    def contribute(self, column: Sequence[str], validate: bool, acc: np.ndarray) -> None:
        """OR the patterns of this feature's ``column`` (one value per record) into ``acc``."""
        cache = self.values
        if not cache.enabled:
            patterns, _ = self.patterns(list(column), validate)
            acc |= patterns
            cache.account(len(column), 0)
            return
        found = list(map(cache.ids.get, column))
        if None not in found:
            acc |= cache.store.rows[cast(List[int], found)]
            cache.account(len(column), len(column))
            return
        miss_at = [i for i, x in enumerate(found) if x is None]
        hits = len(column) - len(miss_at)
        if hits:
            hit_at = [i for i, x in enumerate(found) if x is not None]
            acc[hit_at] |= cache.store.rows[cast(List[int], [found[i] for i in hit_at])]
        unique = list(dict.fromkeys([column[i] for i in miss_at]))
        patterns, valid = self.patterns(unique, validate)
        if len(unique) == len(miss_at):
            acc[miss_at] |= patterns
        else:
            position = {v: j for j, v in enumerate(unique)}
            acc[miss_at] |= patterns[[position[column[i]] for i in miss_at]]
        if valid is not None:
            keep = [j for j, ok in enumerate(valid) if ok]
            unique = [unique[j] for j in keep]
            patterns = patterns[keep]
        cache.insert(unique, patterns)
        cache.account(len(column), hits)


def _or_reduce(source: np.ndarray, ids: np.ndarray, counts: np.ndarray, words: int) -> np.ndarray:
    """Per value, the OR of ``source[ids]`` over its tokens (``counts[i]`` consecutive ids each)."""
    count = len(counts)
    longest = int(counts.max())
    if longest == int(counts.min()):
        grid = ids.reshape(count, longest)
        result = source[grid[:, 0]]
        for j in range(1, longest):
            result |= source[grid[:, j]]
        return result
    result = np.zeros((count, words), dtype=np.uint64)
    if longest > 64:
        nonempty = counts > 0
        starts = np.cumsum(counts) - counts
        result[nonempty] = np.bitwise_or.reduceat(source[ids], starts[nonempty], axis=0)
        return result
    # Values longest first: those with more than j tokens are a prefix, ORed in place.
    order = np.argsort(-counts, kind="stable")
    starts = (np.cumsum(counts) - counts)[order]
    with_more = np.searchsorted(-counts[order], -np.arange(longest), side="left")
    acc = np.zeros((count, words), dtype=np.uint64)
    for j in range(longest):
        m = int(with_more[j])
        acc[:m] |= source[ids[starts[:m] + j]]
    result[order] = acc
    return result


class _FastDate:
    """Parses dates of a fixed-width all-digit form (e.g. ``%Y/%m/%d``) in bulk, without strptime.

    Only texts that strptime certainly parses the same way are handled (four ASCII digits for
    %Y, two for %m and %d, the literal separators of the format, a real date in year 1000 or
    later): strptime's %Y matches exactly four digits, and for a two-digit month or day it
    tries the two-digit alternatives first. Everything else is left to strptime.
    """

    def __init__(self, width: int, digits: Dict[str, List[int]], literals: List[Tuple[int, int]]) -> None:
        self.width = width
        self.year, self.month, self.day = digits["Y"], digits["m"], digits["d"]
        self.digit_at = np.array(self.year + self.month + self.day, dtype=np.int64)
        self.literal_at = np.array([at for at, _ in literals], dtype=np.int64)
        self.literal_code = np.array([code for _, code in literals], dtype=np.uint32)

    @classmethod
    def compile(cls, date_format: str) -> Optional["_FastDate"]:
        parts = re.findall(r"%.|[^%]+", date_format)
        if "".join(parts) != date_format:
            return None
        if sorted(p for p in parts if p.startswith("%")) != ["%Y", "%d", "%m"]:
            return None
        width = 0
        digits: Dict[str, List[int]] = {}
        literals: List[Tuple[int, int]] = []
        for part in parts:
            if part.startswith("%"):
                size = 4 if part == "%Y" else 2
                digits[part[1]] = list(range(width, width + size))
                width += size
                continue
            if any(c.isalnum() or c.isspace() or not c.isascii() or c == "%" for c in part):
                return None  # strptime matches letters ignoring case and spaces as \s+
            for c in part:
                literals.append((width, ord(c)))
                width += 1
        return cls(width, digits, literals)

    def parse(self, values: List[str]) -> List[Optional[str]]:
        """``%Y%m%d`` of each value, or ``None`` where it is not of the simple form."""
        count = len(values)
        width = self.width
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
        points = np.array(values, dtype=f"<U{width}").view(np.uint32).reshape(count, width)
        ok = lengths == width
        if len(self.literal_at):
            ok &= (points[:, self.literal_at] == self.literal_code).all(axis=1)
        digit_points = points[:, self.digit_at]
        ok &= ((digit_points >= 48) & (digit_points <= 57)).all(axis=1)
        number = digit_points.astype(np.int64) - 48
        year = number[:, 0] * 1000 + number[:, 1] * 100 + number[:, 2] * 10 + number[:, 3]
        month = number[:, 4] * 10 + number[:, 5]
        day = number[:, 6] * 10 + number[:, 7]
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
        ok &= (year >= 1000) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
        text = np.ascontiguousarray(digit_points).view("<U8").ravel().tolist()
        if ok.all():
            return text
        return [t if good else None for t, good in zip(text, ok.tolist())]


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


# --------------------------------------------------------------------------- the encoder


class ClkEncoder:
    """Computes clkhash's CLKs for records of one linkage schema.

    :param schema: the clkhash linkage schema.
    :param keys: the keys of :func:`clkhash.key_derivation.generate_key_lists` for this
        schema (one sequence of keys per feature).
    :param cache_bytes: bytes all caches of this encoder may hold together.
    :raises UnhashableSchema: if clkhash could not hash records with this schema.
    """

    def __init__(self, schema: Schema, keys: Keys, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        problem = schema_problem(schema)
        if problem is not None:
            raise UnhashableSchema(*problem)
        if len(keys) < len(schema.fields):
            raise UnhashableSchema(None, f"{len(keys)} keys for {len(schema.fields)} features")
        self.schema = schema
        self.l = schema.l
        self.xor_folds = schema.xor_folds
        self.hash_l = schema.l * 2**schema.xor_folds
        self.words = (self.hash_l + 63) // 64
        self.out_bytes = (self.l + 7) // 8
        self.field_count = len(schema.fields)
        hashed = [(i, f) for i, f in enumerate(schema.fields) if f.hashing_properties is not None]
        budget = cache_bytes // max(1, len(hashed))
        self.features: List[Tuple[int, _Feature]] = []
        for i, field in hashed:
            fhp = field.hashing_properties
            key = keys[i]
            if fhp.hash_type == "blakeHash" and len(bytes(key[0])) > _BLAKE_MAX_KEY_BYTES:
                raise UnhashableSchema(field.identifier, "blakeHash takes keys of at most 64 bytes")
            if fhp.hash_type == "doubleHash" and len(key) < 2:
                raise UnhashableSchema(field.identifier, "doubleHash needs two keys per feature")
            self.features.append((i, _Feature(field, key, self.hash_l, self.words, budget)))
        self.block_rows = max(1, BLOCK_BYTES // (8 * self.words))

    def encode(
        self, rows: Sequence[Sequence[str]], validate: bool = True, first_index: int = 0
    ) -> Tuple[List[bytes], List[int]]:
        """The CLKs of ``rows`` (as the bytes of clkhash's bitarrays) and their popcounts.

        :param rows: the records, each a sequence of one string per schema feature.
        :param validate: check each value against its feature's format first (clkhash's
            ``validate_data``).
        :param first_index: the index of ``rows[0]`` among all records, for error reports.
        :raises RecordError: for the first record clkhash rejects, with clkhash's reason.
        """
        fields = self.field_count
        if any(length != fields for length in set(map(len, rows))):
            for i, row in enumerate(rows):
                if len(row) != fields:
                    raise RecordError(first_index, None, f"Row {i} has {len(row)} entries when {fields} are expected.")
        clks: List[bytes] = []
        popcounts: List[int] = []
        try:
            for start in range(0, len(rows), self.block_rows):
                block = rows[start : start + self.block_rows]
                self._encode_block(block, validate, clks, popcounts)
        except EncodingFallback:
            self._raise_first_error(rows, validate, first_index)
            raise AssertionError("a chunk failed to encode but no record is at fault") from None
        return clks, popcounts

    def _encode_block(self, rows: Sequence[Sequence[str]], validate: bool, clks: List[bytes], pops: List[int]) -> None:
        count = len(rows)
        if count == 0:
            return
        columns = list(zip(*rows)) if self.field_count else []
        if count > 1 and sum(feature.load(columns[i]) for i, feature in self.features) > BLOCK_LOAD:
            half = count // 2  # long values: fewer records at a time keep memory bounded
            self._encode_block(rows[:half], validate, clks, pops)
            self._encode_block(rows[half:], validate, clks, pops)
            return
        acc = np.zeros((count, self.words), dtype=np.uint64)
        for i, feature in self.features:
            feature.contribute(columns[i], validate, acc)
        data = acc.view(np.uint8)
        if self.xor_folds:
            data = self._fold(data)
        else:
            data = data[:, : self.out_bytes]
        data = np.ascontiguousarray(data)
        if self.out_bytes % 8 == 0:
            pops.extend(_popcount_words(data.view(np.uint64)).tolist())
        else:
            pops.extend(_POPCOUNT[data].sum(axis=1).tolist())
        blob = data.tobytes()
        width = self.out_bytes
        clks.extend([blob[j : j + width] for j in range(0, len(blob), width)])

    def _fold(self, data: np.ndarray) -> np.ndarray:
        length = self.hash_l
        if self.l % 8 == 0:
            data = data[:, : length // 8]
            for _ in range(self.xor_folds):
                half = data.shape[1] // 2
                data = data[:, :half] ^ data[:, half:]
            return data
        bits = np.unpackbits(data, axis=1)[:, :length]
        for _ in range(self.xor_folds):
            half = bits.shape[1] // 2
            bits = bits[:, :half] ^ bits[:, half:]
        return np.packbits(bits, axis=1)

    def _raise_first_error(self, rows: Sequence[Sequence[str]], validate: bool, first_index: int) -> None:
        """Walk the chunk as clkhash does (validate all, then hash) and raise its first error."""
        if validate:
            for offset, row in enumerate(rows):
                for i, feature in self.features:
                    reason = feature.validation_reason(row[i])
                    if reason is not None:
                        raise RecordError(first_index + offset, feature.identifier, reason)
        for offset, row in enumerate(rows):
            for i, feature in self.features:
                reason = feature.hashing_reason(row[i])
                if reason is not None:
                    raise RecordError(first_index + offset, feature.identifier, reason)


__all__ = ["ClkEncoder", "schema_problem", "numeric_tokens", "ngram_tokens", "DEFAULT_CACHE_BYTES"]
