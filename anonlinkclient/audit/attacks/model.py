"""What an attack is given and what it answers.

An attack gets exactly what someone without the secret can hold: the CLKs
(:class:`Encodings`), a list of values with their frequencies, each cut into tokens
with the linkage schema's public tokeniser (:class:`Reference`), and what the schema
says in public (:class:`Public`). It answers with :class:`AttackResult`: the bit
positions it believes some tokens set (:class:`Guess`), and, for every record, which
values of the list it could be.
"""

import functools
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.audit.attacks.bitsets import BitColumns, distinct_rows
from anonlinkclient.errors import UsageError

#: Items whose pairs are gathered at a time.
CHUNK_ITEMS = 1 << 14


@dataclass(frozen=True)
class Encodings:
    """CLKs as an attacker holds them: one row of bytes per record (most significant bit first).

    :ivar rows: ``(records, bytes)`` ``uint8``; bit ``p`` of a CLK is bit ``7 - p % 8`` of byte ``p // 8``.
    :ivar bits: the number of bits of each CLK.
    """

    rows: np.ndarray
    bits: int

    def __post_init__(self) -> None:
        if self.rows.ndim != 2 or self.rows.dtype != np.uint8 or self.rows.shape[1] * 8 < self.bits:
            raise UsageError("CLK rows must be a 2-D uint8 array holding every bit")

    @classmethod
    def from_clks(cls, clks: Sequence[bytes], bits: int) -> "Encodings":
        """The encodings of CLKs given as bytes (all of the same length)."""
        size = (bits + 7) // 8
        if any(len(clk) != size for clk in clks):
            raise UsageError(f"every CLK must have {size} bytes")
        rows = np.frombuffer(b"".join(clks), dtype=np.uint8).reshape(len(clks), size)
        return cls(rows, bits)

    @property
    def count(self) -> int:
        """The number of records."""
        return int(self.rows.shape[0])

    @functools.cached_property
    def columns(self) -> BitColumns:
        """Every bit position as a bitset over the records (made once, then kept)."""
        return BitColumns(self.rows, self.bits)

    @functools.cached_property
    def distinct(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct CLKs: (a record of each, each record's distinct CLK, how many records each has)."""
        return distinct_rows(self.rows)

    def unpacked(self, rows: Optional[np.ndarray] = None) -> np.ndarray:
        """``(records, bits)`` booleans of the given rows (all by default)."""
        data = self.rows if rows is None else self.rows[rows]
        return np.unpackbits(data, axis=1, count=self.bits).astype(bool)

    def select(self, positions: np.ndarray) -> "Encodings":
        """The CLKs cut down to the given bit positions, in that order."""
        kept = np.asarray(positions, dtype=np.int64)
        out = np.empty((self.count, (len(kept) + 7) // 8), dtype=np.uint8)
        step = 1 << 14
        for start in range(0, self.count, step):
            bits = np.unpackbits(self.rows[start : start + step], axis=1, count=self.bits)
            out[start : start + step] = np.packbits(bits[:, kept], axis=1)
        return Encodings(out, len(kept))


@dataclass(frozen=True)
class Reference:
    """The attacker's list: distinct items (values, or tuples of values) with their frequencies.

    Each item is a set of token ids (``0 .. token_count - 1``), stored row by row:
    the tokens of item ``i`` are ``tokens[starts[i]:starts[i + 1]]``, each once.

    :ivar counts: ``(items,)`` how often each item occurs (``int64``, positive).
    """

    counts: np.ndarray
    starts: np.ndarray
    tokens: np.ndarray
    token_count: int

    @classmethod
    def from_token_lists(
        cls, token_lists: Sequence[Sequence[int]], counts: Sequence[int], token_count: int
    ) -> "Reference":
        """A reference list from each item's tokens (repeats dropped) and its count."""
        sets = [sorted(set(tokens)) for tokens in token_lists]
        lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
        starts = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        flat = np.fromiter((t for s in sets for t in s), dtype=np.int32, count=int(starts[-1]))
        return cls(np.asarray(counts, dtype=np.int64), starts, flat, token_count)

    @property
    def items(self) -> int:
        """The number of distinct items."""
        return int(len(self.counts))

    def pairs(self, items: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(item, token)`` pairs of the given items, item as its index in ``items`` (both ``int32``)."""
        starts = self.starts[items]
        lengths = self.starts[items + 1] - starts
        local = np.repeat(np.arange(len(items), dtype=np.int32), lengths)
        ends = np.cumsum(lengths)
        offsets = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - lengths, lengths)
        return local, self.tokens[np.repeat(starts, lengths) + offsets]

    def chunks(self, items: np.ndarray) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
        """The pairs of ``items`` a few hundred thousand items at a time: ``(first, item, token)``,
        item as its index in ``items`` less ``first`` (so that memory stays bounded)."""
        for first in range(0, len(items), CHUNK_ITEMS):
            local, tokens = self.pairs(items[first : first + CHUNK_ITEMS])
            yield first, local, tokens

    def token_totals(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """For each token, the summed ``weights`` of the ``items`` that hold it."""
        totals = np.zeros(self.token_count, dtype=np.float64)
        for first, local, tokens in self.chunks(items):
            totals += np.bincount(tokens, weights=weights[first + local], minlength=self.token_count)
        return totals

    def holding(self, items: np.ndarray, tokens: Sequence[int]) -> np.ndarray:
        """Which of ``items`` hold every one of ``tokens``."""
        held = np.zeros(len(items), dtype=bool)
        wanted = np.asarray(sorted(set(tokens)), dtype=self.tokens.dtype)
        for first, local, found in self.chunks(items):
            hits = np.bincount(local[np.isin(found, wanted)], minlength=min(CHUNK_ITEMS, len(items) - first))
            held[first : first + len(hits)] = hits == len(wanted)
        return held


@dataclass(frozen=True)
class Public:
    """What the linkage schema says in public, as the attacks use it.

    :ivar bits_per_token: ``(token_count,)``: how many bits each token is inserted with
        (the feature's ``bitsPerToken``; for ``bitsPerFeature``, what a value of typical
        length gives each token).
    :ivar exact_reference: the list holds exactly the encoded population (the worst
        case); otherwise its frequencies are only estimates, and the attacks allow for
        sampling error.
    """

    bits_per_token: np.ndarray
    exact_reference: bool = False


@dataclass(frozen=True)
class Guess:
    """Bit positions an attack assigned to a group of tokens it cannot tell apart.

    :ivar tokens: the token ids (usually one; several that always occur together).
    :ivar positions: the bit positions, sorted.
    :ivar support: records whose CLK has all of them set where the guess was made.
    """

    tokens: Tuple[int, ...]
    positions: np.ndarray
    support: int


@dataclass
class AttackResult:
    """What an attack concluded.

    Record ``r`` could hold any item ``i`` with ``item_keys[i] == record_keys[r]``;
    a key of ``-1`` matches nothing.

    :ivar notes: one line per step, saying what the attack did.
    """

    attack: str
    guesses: List[Guess]
    record_keys: np.ndarray
    item_keys: np.ndarray
    notes: List[str] = field(default_factory=list)
