"""The encoder's caches: bit patterns of tokens and of whole values, bounded in entries and bytes.

A pattern is computed once, when its token (or value) is first seen, and kept as a row of a
:class:`PatternStore`; a :class:`TokenCache` finds the rows of tokens (int64 codes in bulk
through a :class:`CodeTable`, or strings through a dict), a :class:`ValueCache` those of raw
values. Every cache is bounded in entries and in bytes and is emptied when full, so memory
does not grow with the number of records.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np

#: Bytes all caches of one encoder may hold together (shared out between the columns).
DEFAULT_CACHE_BYTES = 48 * 2**20
#: Entries one cache may hold, whatever its size in bytes.
MAX_CACHE_ENTRIES = 1 << 17


class PatternStore:
    """Rows of packed patterns, appended to until full, then emptied."""

    def __init__(self, words: int, max_entries: int) -> None:
        self.words = words
        self.max_entries = max(0, max_entries)
        self.rows = np.zeros((min(256, self.max_entries), words), dtype=np.uint64)
        self.count = 0

    def fits(self, extra: int) -> bool:
        """Whether ``extra`` more rows fit."""
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
        """Forget every row."""
        self.count = 0
        self.rows = np.zeros((min(256, self.max_entries), self.words), dtype=np.uint64)


class CodeTable:
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


class TokenCache:
    """The patterns of one feature's tokens, per number of bits k: int64 codes or strings as keys."""

    def __init__(self, words: int, budget: int) -> None:
        per_entry = 8 * words + 120
        self.store = PatternStore(words, min(MAX_CACHE_ENTRIES, budget // per_entry))
        self.codes: Dict[int, CodeTable] = {}
        self.strings: Dict[int, Dict[str, int]] = {}
        self.string_bytes = 0
        self.budget = budget
        self.words = words

    def clear(self) -> None:
        """Forget every token."""
        self.store.clear()
        self.codes = {}
        self.strings = {}
        self.string_bytes = 0

    def fits(self, extra: int, extra_bytes: int) -> bool:
        """Whether ``extra`` more tokens, whose string keys take ``extra_bytes``, fit."""
        rows_bytes = (self.store.count + extra) * (8 * self.words + 16)
        return self.store.fits(extra) and rows_bytes + self.string_bytes + extra_bytes <= self.budget


class ValueCache:
    """Raw value text -> pattern of the value (only values that validate and hash)."""

    WINDOW = 16384
    MIN_HIT_RATE = 0.1
    PAUSE_ROWS = 1 << 18

    def __init__(self, words: int, budget: int) -> None:
        self.words = words
        self.budget = budget
        self.store = PatternStore(words, min(MAX_CACHE_ENTRIES, budget // (8 * words + 120)))
        self.ids: Dict[str, int] = {}
        self.bytes = 0
        self.enabled = self.store.max_entries > 0
        self.lookups = 0
        self.hits = 0
        self.paused_rows = 0

    def clear(self) -> None:
        """Forget every value."""
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
        """Keep the patterns of ``values`` (emptying the cache first if they do not fit)."""
        extra_bytes = sum(map(len, values)) + len(values) * (8 * self.words + 120)
        if len(values) > self.store.max_entries or extra_bytes > self.budget:
            return
        if not self.store.fits(len(values)) or self.bytes + extra_bytes > self.budget:
            self.clear()
        ids = self.store.add(patterns)
        self.ids.update(zip(values, ids.tolist()))
        self.bytes += extra_bytes
