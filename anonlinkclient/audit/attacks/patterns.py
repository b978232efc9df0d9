"""The pattern-mining attack (Christen, Vidanage, Ranbaduge and Schnell, PAKDD 2018), column-wise.

"Pattern-mining based cryptanalysis of Bloom filters for privacy-preserving record
linkage", in the efficient variant that mines the bit positions (columns) of the
filters instead of running a general frequent-itemset miner, implemented from the
paper's description. It needs no CLK to occur twice.

The q-gram that occurs in the most values of the list occurs in about as many
CLKs, and every one of them has all of its (up to k) positions set. So:

1. In a partition of the CLKs (at first: all of them) and the matching partition of
   the list, take the q-gram group that occurs most often in the list (q-grams that
   occur in exactly the same values cannot be told apart and form one group). Its
   share of the list predicts ``e``, the number of CLKs of the partition that hold it.
   It must be clearly more frequent than the next one (:attr:`PatternSettings.min_difference`),
   or the pattern found could belong to either: mining this partition stops there.
2. Mine the largest set of positions set together in about ``e`` CLKs of the
   partition: only positions set in at least that many CLKs can belong to it; starting
   from the most frequent of them, add the position set most often in the CLKs
   that have the pattern so far, as long as enough CLKs keep the whole pattern. The
   pattern is accepted when it has at least half of the group's k positions and its
   support is within the allowed difference of ``e``. Its positions are assigned to
   the group.
3. Split the partition: CLKs with the whole pattern *must have* the group and go with
   the values that hold it; the others *cannot have* it and go with the values that
   do not. Repeat on both parts (positions already assigned on the way down are left
   out), until a part is smaller than :attr:`PatternSettings.min_partition` records.
4. Re-identification (:mod:`.reidentify`): a value is a candidate for a CLK when it
   holds every group the CLK must have and none of those it cannot have.
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from anonlinkclient.audit.attacks.bitsets import BitColumns, fingerprints
from anonlinkclient.audit.attacks.model import AttackResult, Encodings, Guess, Public, Reference
from anonlinkclient.audit.attacks.reidentify import candidates_by_signature
from anonlinkclient.io.packed import popcount

NAME = "pattern-mining"


@dataclass(frozen=True)
class PatternSettings:
    """How far the pattern-mining attack goes.

    :ivar min_difference: the least relative difference between the frequencies of the
        most frequent q-gram group of a partition and the next (the paper's minimum
        frequency difference); half of it is the difference allowed between a
        pattern's support and the group's predicted count.
    :ivar min_partition: the fewest CLKs a partition must hold to be mined.
    :ivar max_partitions: the most partitions mined.
    :ivar noise_sigmas: when the list is not the exact population, the support may also
        differ from the prediction by this many standard deviations of sampling error.
    :ivar max_seeds: the most starting positions tried per q-gram group.
    :ivar max_ranks: how far down the q-grams of a partition, by frequency, a group is looked for.
    :ivar max_tries: the most q-gram groups whose pattern is looked for per partition.
    :ivar patience: once a pattern is found, how many more starting positions are tried for a longer one.
    """

    min_difference: float = 0.05
    min_partition: int = 50
    max_partitions: int = 4000
    noise_sigmas: float = 3.0
    max_seeds: int = 256
    max_ranks: int = 64
    max_tries: int = 3
    patience: int = 4


@dataclass
class _Partition:
    """CLKs and list values that agree on the groups assigned on the way down."""

    columns: BitColumns
    mask: Optional[np.ndarray]  # the partition's records among those of ``columns`` (None: all)
    records: Optional[np.ndarray]  # the record index of each record of ``columns`` (None: the same)
    items: np.ndarray  # the list's items in this partition
    excluded: np.ndarray  # positions assigned on the way down to groups these CLKs must have


class _Miner:
    def __init__(self, encodings: Encodings, reference: Reference, public: Public, settings: PatternSettings) -> None:
        self.encodings = encodings
        self.reference = reference
        self.public = public
        self.settings = settings
        self.best: Dict[Tuple[int, ...], Guess] = {}
        self.mined = 0
        self.stops: Dict[str, int] = {}
        self.fingerprints = np.zeros(encodings.bits, dtype=np.uint64)

    def stop(self, why: str) -> List[_Partition]:
        self.stops[why] = self.stops.get(why, 0) + 1
        return []

    def run(self, columns: BitColumns) -> None:
        self.fingerprints = fingerprints(columns.columns)
        items = np.arange(self.reference.items, dtype=np.int64)
        excluded = np.zeros(self.encodings.bits, dtype=bool)
        stack = [_Partition(columns, None, None, items, excluded)]
        while stack and self.mined < self.settings.max_partitions:
            partition = stack.pop()
            self.mined += 1
            stack.extend(reversed(self.step(partition)))  # the must-have part first
        if stack:
            self.stops["the partition limit"] = len(stack)

    def step(self, part: _Partition) -> List[_Partition]:
        """Mine one partition; the parts to mine next."""
        settings = self.settings
        size = part.columns.size(part.mask)
        if size < settings.min_partition:
            return self.stop("fewer CLKs than the minimum partition")
        weights = self.reference.counts[part.items].astype(np.float64)
        total = float(weights.sum())
        frequency = self.reference.token_totals(part.items, weights)
        informative = np.flatnonzero((frequency > 0) & (frequency < total * (1 - 1e-12)))
        if not len(informative):
            return self.stop("no q-gram left to tell the values apart")
        ranked = informative[np.argsort(-frequency[informative], kind="stable")][: settings.max_ranks]
        expected = frequency[ranked] / total * size
        counts: Optional[np.ndarray] = None
        tries = 0
        for index in range(len(ranked)):
            if expected[index] < settings.min_partition / 2 or tries >= settings.max_tries:
                break
            group = self.separated(part, ranked, expected, index, size)
            if group is None:
                continue
            tries += 1
            half = self.allowance(float(expected[index]))
            low, high = expected[index] - half, expected[index] + half
            if counts is None:
                counts = part.columns.counts(part.mask)
            # Positions set in (about) every CLK of the partition tell nothing apart here.
            constant = counts >= size - self.allowance(float(size))
            candidates = np.flatnonzero((counts >= low) & ~constant & ~part.excluded)
            ks = self.public.bits_per_token[list(group)]
            found = self.pattern(
                part, candidates, counts, low, high, max(1, math.ceil(int(ks.min()) * 3 / 4)), int(ks.sum())
            )
            if found is None:
                continue
            positions, rows, support = found
            known = self.best.get(group)
            if known is None or known.support < support:
                self.best[group] = Guess(group, positions, support)
            return self.split(part, group, positions, rows)
        if tries:
            return self.stop("no pattern of positions with the expected frequency")
        return self.stop("no frequent q-gram clearly apart from the others in frequency")

    def allowance(self, expected: float) -> float:
        """How far a pattern's support may be from the CLKs a group is expected in."""
        slack = 0.0 if self.public.exact_reference else self.settings.noise_sigmas * math.sqrt(expected)
        return self.settings.min_difference / 2 * expected + slack

    def separated(
        self, part: _Partition, ranked: np.ndarray, expected: np.ndarray, index: int, size: int
    ) -> Optional[Tuple[int, ...]]:
        """The q-gram group of ``ranked[index]``, if no other q-gram is close to it in frequency.

        Its window of expected counts (see :meth:`allowance`) must not meet the windows of
        the next more frequent and the next less frequent q-grams, or a pattern found
        could belong to either.
        """
        here = float(expected[index])
        tied = np.flatnonzero(expected == here)
        if tied[0] != index:
            return None  # considered with the first of the tied q-grams
        half = self.allowance(here)
        # What every CLK of the partition has (q-grams of every value) is a neighbour above too.
        above = np.append(size, expected[: tied[0]])
        below = expected[tied[-1] + 1 :]
        if len(above) and above[-1] - self.allowance(float(above[-1])) <= here + half:
            return None
        if len(below) and below[0] + self.allowance(float(below[0])) >= here - half:
            return None
        if len(tied) == 1:
            return (int(ranked[index]),)
        group = self.group(part, int(ranked[index]), ranked[tied])
        return group if len(group) == len(tied) else None  # tied with q-grams of other values

    def group(self, part: _Partition, first: int, tied: np.ndarray) -> Tuple[int, ...]:
        """The q-grams held by exactly the same values of the partition as ``first``."""
        if len(tied) == 1 or len(tied) > 64:
            return (first,)
        holders = self.reference.holding(part.items, [first])
        same = [
            int(token)
            for token in tied
            if token == first or np.array_equal(self.reference.holding(part.items, [int(token)]), holders)
        ]
        return tuple(sorted(same))

    def pattern(
        self,
        part: _Partition,
        candidates: np.ndarray,
        counts: np.ndarray,
        low: float,
        high: float,
        min_size: int,
        full_size: int,
    ) -> Optional[Tuple[np.ndarray, np.ndarray, int]]:
        """The largest set of candidate positions set together in ``low`` to ``high`` CLKs.

        It has at least ``min_size`` positions and at most ``full_size`` (what the group's
        q-grams can set together): more would be the positions of more than one group.
        The search starts from the positions set about as often as the group's plus the
        usual background of the partition.
        """
        columns = part.columns
        if not len(candidates):
            return None
        seeds = candidates[np.lexsort((self.fingerprints[candidates], counts[candidates]))][: self.settings.max_seeds]
        tried = np.zeros(columns.bits, dtype=bool)
        best: Optional[Tuple[np.ndarray, np.ndarray, int]] = None
        since_best = 0
        for seed in seeds.tolist():
            if tried[seed]:
                continue
            rows = columns.all_set([seed], part.mask)
            pattern = [seed]
            supports = [int(counts[seed])]
            remaining = candidates[candidates != seed]
            while len(remaining) and len(pattern) <= 2 * full_size:
                together = columns.counts(rows, remaining)
                enough = together >= low
                if not enough.any():
                    break
                remaining, together = remaining[enough], together[enough]
                pick = int(np.lexsort((self.fingerprints[remaining], -together))[0])
                pattern.append(int(remaining[pick]))
                supports.append(int(together[pick]))
                rows = rows & columns.columns[remaining[pick]]
                remaining = np.delete(remaining, pick)
            settled = self.settled_above(supports, high)
            if settled is not None:
                tried[pattern[:settled]] = True  # the more frequent q-gram's; the rest may still start one
                continue
            tried[seed] = True
            pattern, rows = self.implied(part, pattern, rows, high - low)
            support = popcount(rows)
            if support > high or min_size <= len(pattern) <= full_size:
                tried[pattern] = True  # a pattern of its own (maybe of a more frequent q-gram)
            fits = (
                min_size <= len(pattern) <= full_size
                and support <= high
                and self.one_block(part, pattern, counts, high)
            )
            if fits and (best is None or len(pattern) > len(best[0])):
                best = np.array(sorted(pattern), dtype=np.int64), rows, support
                since_best = 0
                if len(pattern) == full_size:
                    break
            elif best is not None:
                since_best += 1
                if since_best >= self.settings.patience:
                    break
        return best

    def settled_above(self, supports: List[int], high: float) -> Optional[int]:
        """Whether the pattern, as it grew, first settled on more CLKs than expected: the
        number of positions it had when it stopped being settled there, or ``None``.

        Adding positions of one q-gram narrows the CLKs down quickly (the others only had
        them set by chance) and then hardly at all. A pattern that settles (three positions
        in a row that hardly narrow it) above the
        expected count belongs to a more frequent q-gram; narrowed further by the
        positions of another one, it would only land on the expected count by the chance
        of the two occurring together.
        """
        span = 3
        for index in range(1, len(supports) - span):
            later = supports[index + span]
            if later > high and supports[index] - later <= self.allowance(float(supports[index])):
                end = index + span
                while end + 1 < len(supports) and supports[index] - supports[end + 1] <= self.allowance(
                    float(supports[index])
                ):
                    end += 1
                return end + 1
        return None

    def one_block(self, part: _Partition, pattern: List[int], counts: np.ndarray, high: float) -> bool:
        """Whether the pattern's most frequent half is no more frequent than the whole.

        Any half of one q-gram's positions is set together in the same CLKs as all of
        them. When the half set in the most CLKs is a pattern of its own, set in more
        CLKs than expected, the pattern is a more frequent q-gram narrowed down by the
        positions of another.
        """
        if len(pattern) < 6:
            return True
        ordered = sorted(pattern, key=lambda position: (-int(counts[position]), int(self.fingerprints[position])))
        half = ordered[: max(5, (len(pattern) + 1) // 2)]
        return popcount(part.columns.all_set(half, part.mask)) <= high

    def implied(
        self, part: _Partition, pattern: List[int], rows: np.ndarray, allowance: float
    ) -> Tuple[List[int], np.ndarray]:
        """The pattern without the positions that the rest of it does not imply.

        Every position of one q-gram is set in every CLK that has the others: leaving one
        out hardly adds CLKs. A position of another q-gram that only happened to narrow
        the pattern down into the expected count adds many when left out.
        """
        if len(pattern) < 3:
            return pattern, rows
        columns = part.columns
        base = columns.all if part.mask is None else part.mask
        prefix = [base]
        for position in pattern:
            prefix.append(prefix[-1] & columns.columns[position])
        suffix = [base]
        for position in reversed(pattern):
            suffix.append(suffix[-1] & columns.columns[position])
        suffix.reverse()
        support = popcount(rows)
        kept = [
            position
            for index, position in enumerate(pattern)
            if popcount(prefix[index] & suffix[index + 1]) - support <= allowance
        ]
        if len(kept) == len(pattern):
            return pattern, rows
        return kept, columns.all_set(kept, part.mask)

    def split(
        self, part: _Partition, group: Tuple[int, ...], positions: np.ndarray, rows: np.ndarray
    ) -> List[_Partition]:
        """The must-have and cannot-have parts of a partition."""
        held = self.reference.holding(part.items, group)
        everyone = part.columns.all if part.mask is None else part.mask
        plus_excluded = part.excluded.copy()
        plus_excluded[positions] = True
        return [
            self.part(part, rows, held, plus_excluded),
            self.part(part, everyone & ~rows, ~held, part.excluded),
        ]

    def part(self, part: _Partition, mask: np.ndarray, keep_items: np.ndarray, excluded: np.ndarray) -> _Partition:
        """One part of a split: its own, smaller bitsets once it holds few of the records."""
        items = part.items[keep_items]
        columns, records = part.columns, part.records
        own_mask: Optional[np.ndarray] = mask
        size = columns.size(mask)
        if columns.count > 1024 and size * 2 <= columns.count:
            members = columns.members(mask)
            records = members if part.records is None else part.records[members]
            columns = BitColumns(self.encodings.rows[records], self.encodings.bits)
            own_mask = None
        return _Partition(columns, own_mask, records, items, excluded)


def pattern_mining_attack(
    encodings: Encodings, reference: Reference, public: Public, settings: PatternSettings = PatternSettings()
) -> AttackResult:
    """Mine bit patterns of frequent q-grams, partition and recurse, re-identify (see the module)."""
    columns = encodings.columns
    miner = _Miner(encodings, reference, public, settings)
    miner.run(columns)
    guesses = sorted(miner.best.values(), key=lambda guess: -guess.support)
    notes = [f"{miner.mined} partitions mined; positions assigned to {len(guesses)} q-gram groups"]
    notes += [f"{count} partitions stopped: {why}" for why, count in sorted(miner.stops.items())]
    record_keys, item_keys = candidates_by_signature(columns, reference, guesses, public)
    return AttackResult(NAME, guesses, record_keys, item_keys, notes)
