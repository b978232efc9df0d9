"""Bits packed into ``uint64`` words, counted with NumPy (which has no popcount before 2.0)."""

import numpy as np

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


def popcounts(words: np.ndarray) -> np.ndarray:
    """The number of bits set in each element of a ``uint64`` array (any shape), as ``uint64``."""
    x = words - ((words >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


def popcount(words: np.ndarray) -> int:
    """The number of bits set in a whole ``uint64`` array."""
    return int(popcounts(words).sum(dtype=np.int64))
