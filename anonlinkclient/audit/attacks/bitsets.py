"""CLK bit positions as bitsets over the records, so that an attack counts with whole words.

:class:`BitColumns` turns the records' CLKs (rows of bits) around: column ``p`` is one
bitset with bit ``r`` set when record ``r`` has bit ``p`` set. Counting the records
that have a set of positions all set is then an AND of a few bitsets and a popcount,
64 records per machine word, with no Python loop over records or bits.
A subset of the records is a *mask*: a bitset over the same records.
"""

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from anonlinkclient.io.packed import popcount, popcounts

#: Records turned around at a time (a multiple of 64).
_BLOCK = 1 << 14
#: Columns counted at a time (bounds the temporary memory of a count).
_COLUMN_BLOCK = 128


class BitColumns:
    """The bit positions of CLKs as bitsets over the records.

    :param rows: ``(records, bytes)`` ``uint8`` CLKs, most significant bit first.
    :param bits: the number of bits of each CLK.
    """

    def __init__(self, rows: np.ndarray, bits: int) -> None:
        count = int(rows.shape[0])
        self.count = count
        self.bits = bits
        self.words = (count + 63) // 64
        columns = np.zeros((bits, self.words * 8), dtype=np.uint8)
        for start in range(0, count, _BLOCK):
            part = np.unpackbits(rows[start : start + _BLOCK], axis=1, count=bits)
            packed = np.packbits(part.T, axis=1, bitorder="little")
            columns[:, start // 8 : start // 8 + packed.shape[1]] = packed
        self.columns = columns.view("<u8")
        self.all = np.zeros(self.words, dtype="<u8")
        if count:
            self.all[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
            if count % 64:
                self.all[-1] = np.uint64((1 << (count % 64)) - 1)

    def counts(self, mask: Optional[np.ndarray] = None, positions: Optional[np.ndarray] = None) -> np.ndarray:
        """How many records (of ``mask``) have each bit position (of ``positions``) set."""
        chosen = np.arange(self.bits) if positions is None else np.asarray(positions, dtype=np.int64)
        out = np.zeros(len(chosen), dtype=np.int64)
        for start in range(0, len(chosen), _COLUMN_BLOCK):
            block = self.columns[chosen[start : start + _COLUMN_BLOCK]]
            if mask is not None:
                block = block & mask
            out[start : start + _COLUMN_BLOCK] = popcounts(block).sum(axis=1, dtype=np.int64)
        return out

    def all_set(self, positions: Union[Sequence[int], np.ndarray], mask: Optional[np.ndarray] = None) -> np.ndarray:
        """The records (of ``mask``) that have every one of ``positions`` set."""
        out = self.all.copy() if mask is None else mask.copy()
        for position in positions:
            out &= self.columns[position]
        return out

    def size(self, mask: Optional[np.ndarray]) -> int:
        """The number of records in ``mask`` (all of them for ``None``)."""
        return self.count if mask is None else popcount(mask)

    def members(self, mask: Optional[np.ndarray]) -> np.ndarray:
        """The indices of the records in ``mask``."""
        if mask is None:
            return np.arange(self.count, dtype=np.int64)
        bits = np.unpackbits(mask.view(np.uint8), bitorder="little", count=self.count)
        return np.flatnonzero(bits).astype(np.int64)

    def signature_keys(self, position_sets: Sequence[np.ndarray]) -> np.ndarray:
        """For each record, a key of which of the position sets it has all set (see :func:`row_keys`).

        The signature of a record has bit ``7 - g % 8`` of byte ``g // 8`` set when it has
        every position of set ``g``; records with the same signature get the same key.
        """
        sets = len(position_sets)
        keys = np.empty(self.count, dtype=KEY)
        if sets == 0:
            keys[:] = row_keys(np.zeros((1, 1), dtype=np.uint8))[0]
            return keys
        full = np.empty((sets, self.words), dtype="<u8")
        for index, positions in enumerate(position_sets):
            full[index] = self.all_set(positions)
        step = _BLOCK // 64
        for word in range(0, self.words, step):
            block = np.ascontiguousarray(full[:, word : word + step]).view(np.uint8)
            first = word * 64
            count = min(self.count - first, block.shape[1] * 8)
            bits = np.unpackbits(block, axis=1, bitorder="little", count=count)
            keys[first : first + count] = row_keys(np.packbits(bits, axis=0).T)
        return keys


#: A row key: two 64-bit hashes side by side, compared (and sorted) as 16 bytes.
KEY = np.dtype((np.void, 16))
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit changes about half of the output bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _C1
    x = x ^ (x >> np.uint64(27))
    x = x * _C2
    return x ^ (x >> np.uint64(31))


def row_keys(rows: np.ndarray) -> np.ndarray:
    """A 128-bit key of each row of a 2-D ``uint8`` array (equal rows, equal keys; different
    rows, different keys but with a chance of about ``2**-128`` a pair), as :data:`KEY`."""
    count, width = rows.shape
    padded = np.zeros((count, (width + 7) // 8 * 8), dtype=np.uint8)
    padded[:, :width] = rows
    words = padded.view("<u8")
    first = np.full(count, np.uint64(width), dtype=np.uint64)
    second = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(words.shape[1]):
            word = words[:, column]
            first = _mix(first ^ _mix(word + _K1 * np.uint64(column + 1)))
            second = _mix(second + _mix(word ^ (_K2 * np.uint64(column + 1))))
    return np.ascontiguousarray(np.stack([first, second], axis=1)).view(KEY).ravel()


def fingerprints(words: np.ndarray, complement_within: Optional[np.ndarray] = None) -> np.ndarray:
    """A 64-bit fingerprint of each row of a 2-D ``uint64`` array: equal rows, equal fingerprints
    (of the rows' complements within the given mask, if one is given).

    The attacks break ties between bit positions by the fingerprint of their column, which
    depends on what the column holds and not on where it is: so that permuting the bit
    positions changes nothing of what they find.
    """
    generator = np.random.default_rng(0x5EED)
    multipliers = generator.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    out = np.zeros(len(words), dtype=np.uint64)
    for start in range(0, len(words), 64):
        block = words[start : start + 64]
        if complement_within is not None:
            block = ~block & complement_within
        with np.errstate(over="ignore"):
            out[start : start + 64] = (block * multipliers).sum(axis=1, dtype=np.uint64) ^ block.sum(
                axis=1, dtype=np.uint64
            )
    return out


def distinct_rows(rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D ``uint8`` array: (index of a first occurrence, inverse, counts).

    Rows are told apart by their 128-bit keys (:func:`row_keys`), made a block at a time,
    so that no copy of the rows is sorted.
    """
    keys = np.empty(len(rows), dtype=KEY)
    for start in range(0, len(rows), _BLOCK):
        keys[start : start + _BLOCK] = row_keys(rows[start : start + _BLOCK])
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    return first.astype(np.int64), inverse.astype(np.int64).ravel(), counts.astype(np.int64)
