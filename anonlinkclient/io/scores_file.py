r"""Similarity scores files: JSON as the Entity Service has them, binary, and sampled; readers and writers.

**JSON** is what ``anonlink find-similarity --scores`` writes by default, and what
the Entity Service returns for a run of result type ``similarity_scores`` (saved
by ``anonlink results``)::

    {"similarity_scores": [[[party, row], [party, row], similarity], ...]}

Each element pairs a record of one party with a record of another (0-based
party numbers and rows) and gives their similarity, from 0 to 1. Older Entity
Service releases wrote two-party scores as ``[row_a, row_b, similarity]`` (a
row of party 0, a row of party 1); those are read too.

**Binary** (``--scores-format binary``): a 64-byte header, then the pairs as five
columns, 20 bytes a pair instead of about 44 (see :data:`HEADER` and
``docs/file-formats.rst``). A file starting with :data:`MAGIC` is binary; any
other file is read as JSON.

**Sampled** (either format): every pair with a similarity of at least a cut, and
a uniform random sample of the pairs below it, with what is needed to re-weight
the sample (:class:`Sampling`): in JSON a ``"sampling"`` object before the list,
in binary the header's fields.

:func:`read_scores` reads every form. The JSON file is streamed with ``ijson``;
only four numbers a pair are kept, in compact arrays (24 bytes a pair), so files
of millions of pairs fit in memory.
"""

import array
import json
import math
import os
import stat
import struct
from dataclasses import dataclass
from typing import IO, Any, Dict, List, NamedTuple, Optional, Sequence, TextIO, Tuple, cast

import ijson
import numpy as np

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.files import guarded, json_stream_errors, open_input
from anonlinkclient.io.json_array import encode, write_sequence

SCORES_FILE_HINT = (
    'expected similarity scores from "anonlink find-similarity" or the Entity Service: '
    '{"similarity_scores": [[[party, row], [party, row], similarity], ...]}'
)
PAIR_SHAPE = "must be [[party, row], [party, row], similarity] or [row_a, row_b, similarity]"


@dataclass
class Scores:
    """The similarity scores of a scores file, in file order; each pair with its lower-numbered party first.

    :ivar path: the file.
    :ivar similarity: the similarity of each pair (float64).
    :ivar party_a: the first party of each pair (int32); ``row_a`` its record.
    :ivar party_b: the second party of each pair; ``row_b`` its record.
    :ivar sampling: how the file was sampled, if it was (its pairs below
        ``sampling.above`` are a sample; :meth:`weights` re-weights them).
    """

    path: str
    similarity: np.ndarray
    party_a: np.ndarray
    row_a: np.ndarray
    party_b: np.ndarray
    row_b: np.ndarray
    sampling: Optional["Sampling"] = None

    def __len__(self) -> int:
        return len(self.similarity)

    @property
    def parties(self) -> List[int]:
        """The parties that appear in some pair, in ascending order."""
        return sorted(set(np.unique(self.party_a).tolist()) | set(np.unique(self.party_b).tolist()))

    def records_seen(self) -> Dict[int, int]:
        """For each party, one more than its highest row in a pair: a lower bound of its number of records."""
        seen: Dict[int, int] = {}
        for parties, rows in ((self.party_a, self.row_a), (self.party_b, self.row_b)):
            for party in np.unique(parties).tolist():
                highest = int(rows[parties == party].max()) + 1
                seen[party] = max(seen.get(party, 0), highest)
        return seen

    def weights(self) -> np.ndarray:
        """How many of the linkage's pairs each pair of the file stands for (float64).

        1 for every pair of a file that is not sampled, and for the pairs at or above
        the sample's cut; each sampled pair below the cut stands for
        ``pairs_below / (pairs of the file below the cut)`` pairs, so that the
        weights below the cut add up to the number the linkage found there.
        """
        weights = np.ones(len(self), dtype=np.float64)
        if self.sampling is not None:
            below = self.similarity < self.sampling.above
            kept = int(np.count_nonzero(below))
            if kept:
                weights[below] = self.sampling.pairs_below / kept
        return weights

    def pair(self, index: int) -> Tuple[int, int, int, int]:
        """``(party_a, row_a, party_b, row_b)`` of the pair at ``index``."""
        return (
            int(self.party_a[index]),
            int(self.row_a[index]),
            int(self.party_b[index]),
            int(self.row_b[index]),
        )


def pair_error(path: str, index: int, message: str) -> InputFileError:
    """The error about the pair at 0-based ``index`` of a scores file."""
    return InputFileError(path, message, row=index, row_label="pair")


def _parse_pair(item: object, path: str, index: int) -> Tuple[int, int, int, int, float]:
    """``(party_a, row_a, party_b, row_b, similarity)`` of one element, checked, lower party first."""
    if not isinstance(item, list) or len(item) != 3:
        raise pair_error(path, index, PAIR_SHAPE)
    first, second, similarity = item
    if isinstance(first, list) and isinstance(second, list):
        if len(first) != 2 or len(second) != 2 or not all(type(value) is int for value in first + second):
            raise pair_error(path, index, f"{PAIR_SHAPE}, with whole numbers for parties and rows")
        (party_a, row_a), (party_b, row_b) = first, second
        if party_a < 0 or party_b < 0:
            raise pair_error(path, index, "party numbers must not be negative")
        if party_a == party_b:
            raise pair_error(path, index, f"both records are of party {party_a}; a pair links two different parties")
    elif type(first) is int and type(second) is int:
        party_a, row_a, party_b, row_b = 0, first, 1, second
    else:
        raise pair_error(path, index, PAIR_SHAPE)
    if row_a < 0 or row_b < 0:
        raise pair_error(path, index, "row numbers must not be negative")
    if type(similarity) not in (float, int) or not 0.0 <= similarity <= 1.0:
        raise pair_error(path, index, f"the similarity {similarity!r} is not a number from 0 to 1")
    if party_a > party_b:
        party_a, row_a, party_b, row_b = party_b, row_b, party_a, row_a
    return party_a, row_a, party_b, row_b, float(similarity)


def _why_empty(path: str, handle: IO[bytes]) -> str:
    """Why a scores file gave no pairs (``handle`` reads it from its start): the reason for the error message."""
    keys = []
    with json_stream_errors(path, SCORES_FILE_HINT):
        for index, (prefix, event, value) in enumerate(ijson.parse(guarded(handle))):
            if index == 0 and event != "start_map":
                return f"is not a JSON object; {SCORES_FILE_HINT}"
            if prefix == "" and event == "map_key":
                keys.append(value)
            elif prefix == "similarity_scores":
                if event == "start_array":
                    return "has no similarity scores (its list is empty), so there is nothing to report"
                return f'"similarity_scores" is not a list; {SCORES_FILE_HINT}'
    if "groups" in keys:
        return f'holds "groups" (a linkage result), not similarity scores; {SCORES_FILE_HINT}'
    return f'has no "similarity_scores"; {SCORES_FILE_HINT}'


def read_scores(path: str) -> Scores:
    """Read a scores file: JSON (streaming it) or binary, sampled or not.

    :raises InputFileError: if the file cannot be read, is not JSON or a binary
        scores file, is not a scores file, has no scores, is truncated, has a
        header or ``"sampling"`` that cannot be, or has a malformed or repeated pair
        (the pair's 0-based index in the list is named).
    """
    with open_input(path, "rb") as handle:  # opened once: a pipe or FIFO is read as a file is
        start = handle.read(len(MAGIC))
        if start == MAGIC:
            scores = _read_binary(path, handle)
        else:
            stream = _Replay(start, handle)
            sampling = _json_sampling(path, stream)
            scores = _read_json(path, stream.from_start())
            scores.sampling = sampling
    _check_unique(scores)
    if scores.sampling is not None:
        _check_sampling(scores, scores.sampling)
    return scores


class _Replay:
    """A binary stream of ``start`` and then the rest of ``handle``, which keeps the first bytes it gives.

    :meth:`from_start` reads it all again from its first byte (the kept bytes, then
    the rest of ``handle``), so one pass can look at the beginning before another
    reads the whole, without opening the file twice. Up to :data:`KEEP_BYTES` are kept.
    """

    def __init__(self, start: bytes, handle: IO[bytes]) -> None:
        self.pending = start
        self.handle = handle
        self.kept = bytearray()
        self.overflowed = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if negative)."""
        if size < 0:
            data, self.pending = self.pending + self.handle.read(), b""
        elif self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
        else:
            data = self.handle.read(size)
        if len(self.kept) + len(data) <= KEEP_BYTES:
            self.kept += data
        else:
            self.overflowed = True
        return data

    def from_start(self) -> "_Replay":
        """A stream of everything from the first byte (the kept bytes, then the rest of the file)."""
        if self.overflowed:
            raise AssertionError("read past the bytes kept")
        replay = _Replay(bytes(self.kept) + self.pending, self.handle)
        self.kept = bytearray()
        return replay


#: The bytes of a JSON scores file kept to read it again from its start (its "sampling" comes first).
KEEP_BYTES = 1 << 20


def _read_json(path: str, stream: _Replay) -> Scores:
    """The pairs of a JSON scores file (checked one by one, not yet for repeats)."""
    similarity = array.array("d")
    columns = [array.array("i") for _ in range(4)]
    party_a, row_a, party_b, row_b = columns
    with json_stream_errors(path, SCORES_FILE_HINT):
        for index, item in enumerate(
            ijson.items(guarded(cast(IO[bytes], stream)), "similarity_scores.item", use_float=True)
        ):
            pa, ra, pb, rb, sim = _parse_pair(item, path, index)
            try:
                party_a.append(pa)
                row_a.append(ra)
                party_b.append(pb)
                row_b.append(rb)
            except OverflowError:
                raise pair_error(path, index, "a party or row number is too large") from None
            similarity.append(sim)
    if not similarity:
        if stream.overflowed:  # a megabyte and more of JSON without a pair
            raise InputFileError(path, f"has no similarity scores; {SCORES_FILE_HINT}")
        raise InputFileError(path, _why_empty(path, cast(IO[bytes], stream.from_start())))
    parties_a, rows_a, parties_b, rows_b = (np.frombuffer(column, dtype=np.int32) for column in columns)
    return Scores(path, np.frombuffer(similarity, dtype=np.float64), parties_a, rows_a, parties_b, rows_b)


def _check_unique(scores: Scores) -> None:
    """Raise if two elements pair the same two records, naming the later one."""
    order = np.lexsort((scores.row_b, scores.party_b, scores.row_a, scores.party_a))
    same = np.ones(len(order) - 1, dtype=bool)
    for column in (scores.party_a, scores.row_a, scores.party_b, scores.row_b):
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
    repeats = np.flatnonzero(same)
    if len(repeats):
        # Of all the repeated pairs, name the element that comes first in the file.
        firsts = np.minimum(order[repeats], order[repeats + 1])
        seconds = np.maximum(order[repeats], order[repeats + 1])
        which = int(np.argmin(seconds))
        first, second = int(firsts[which]), int(seconds[which])
        pa, ra, pb, rb = scores.pair(second)
        raise pair_error(
            scores.path, second, f"party {pa} row {ra} and party {pb} row {rb} are already paired in pair {first}"
        )


def check_record_counts(scores: Scores, counts: Sequence[int], names: Sequence[str]) -> None:
    """Check that every party and row of the scores exists, given each party's number of records.

    :param counts: the number of records of party 0, 1, ...
    :param names: the file of each party's records, for the message.
    :raises InputFileError: naming the scores file and the first pair that names
        a party or row that does not exist.
    """
    limits = np.asarray(counts, dtype=np.int64)
    problems = []
    for parties, rows in ((scores.party_a, scores.row_a), (scores.party_b, scores.row_b)):
        no_party = np.flatnonzero(parties >= len(counts))
        if len(no_party):
            problems.append((int(no_party[0]), "party"))
            continue
        no_row = np.flatnonzero(rows >= limits[parties])
        if len(no_row):
            problems.append((int(no_row[0]), "row"))
    if not problems:
        return
    index, kind = min(problems)
    pa, ra, pb, rb = scores.pair(index)
    if kind == "party":
        party = pb if pb >= len(counts) else pa
        raise pair_error(scores.path, index, f"names party {party}, but there are only {len(counts)} parties")
    party, row = (pa, ra) if ra >= counts[pa] else (pb, rb)
    raise pair_error(
        scores.path, index, f"party {party} row {row} does not exist: {names[party]} has {counts[party]} records"
    )


# --------------------------------------------------------------------------- sampling

#: Bytes read at a time while looking for a JSON file's ``"sampling"`` (it is short, and first).
SAMPLING_READ_BYTES = 4096
#: The keys of a JSON file's ``"sampling"`` object, in the order written.
SAMPLING_KEYS = ("above", "rate", "seed", "pairs", "pairs_below")
MAX_SEED = 2**64 - 1


@dataclass(frozen=True)
class Sampling:
    """How a sampled scores file was made: every pair at or above ``above``, a sample of the rest.

    :ivar above: every pair the linkage found with a similarity of at least this is in the file.
    :ivar rate: the chance each pair below ``above`` had of being kept (independently of the others).
    :ivar seed: the seed of the choice: NumPy's ``default_rng(seed)`` drew one
        ``random()`` per pair below ``above``, in the file's order, and kept the pair if it was below ``rate``.
    :ivar pairs: the pairs the linkage found.
    :ivar pairs_below: of them, the pairs with a similarity below ``above``.
    """

    above: float
    rate: float
    seed: int
    pairs: int
    pairs_below: int

    def to_json(self) -> Dict[str, Any]:
        """The ``"sampling"`` object of a JSON scores file."""
        return {key: getattr(self, key) for key in SAMPLING_KEYS}

    @classmethod
    def from_json(cls, document: Any, path: str) -> "Sampling":
        """The sampling a JSON file's ``"sampling"`` object records.

        :raises InputFileError: if it is not an object of the five numbers, each in its range.
        """
        if not isinstance(document, dict) or sorted(document) != sorted(SAMPLING_KEYS):
            raise InputFileError(path, f'"sampling" must be an object of {", ".join(SAMPLING_KEYS)}')
        numbers = {key: document[key] for key in ("above", "rate")}
        counts = {key: document[key] for key in ("seed", "pairs", "pairs_below")}
        if not all(type(value) in (int, float) for value in numbers.values()):
            raise InputFileError(path, '"sampling": above and rate must be numbers')
        if not all(type(value) is int for value in counts.values()):
            raise InputFileError(path, '"sampling": seed, pairs and pairs_below must be whole numbers')
        sampling = cls(float(numbers["above"]), float(numbers["rate"]), *counts.values())
        problem = sampling.problem()
        if problem:
            raise InputFileError(path, f'"sampling": {problem}')
        return sampling

    def problem(self) -> Optional[str]:
        """What cannot be about these numbers, or ``None``."""
        if not 0.0 <= self.above <= 1.0:
            return f"above is {self.above!r}, not a similarity from 0 to 1"
        if not 0.0 < self.rate <= 1.0:
            return f"rate is {self.rate!r}, not a chance above 0 and at most 1"
        if not 0 <= self.seed <= MAX_SEED:
            return f"seed is {self.seed}, not a number from 0 to 2**64 - 1"
        if not 0 <= self.pairs_below <= self.pairs:
            return f"pairs_below is {self.pairs_below}, but pairs is {self.pairs}"
        return None


class Sample(NamedTuple):
    """The pairs a sampled scores file keeps: their indices (ascending), and how they were chosen."""

    indices: np.ndarray
    sampling: Sampling


def check_sample_request(rate: float, above: Optional[float], seed: int) -> None:
    """Check the rate, cut and seed of a sample (see :func:`choose_sample`) before any work.

    :raises UsageError: naming the one out of range.
    """
    if not (isinstance(rate, (int, float)) and 0 < rate <= 1):
        raise UsageError(f"the sampling rate must be a number above 0 and at most 1, not {rate!r}", "scores_sample")
    if above is not None and not (isinstance(above, (int, float)) and 0 <= above <= 1):
        raise UsageError(f"the sampling cut must be a similarity from 0 to 1, not {above!r}", "scores_sample_above")
    if not (isinstance(seed, int) and 0 <= seed <= MAX_SEED):
        raise UsageError(f"the sampling seed must be a whole number from 0 to 2**64 - 1, not {seed!r}", "scores_seed")


def choose_sample(
    similarity: Sequence[float], rate: float, seed: int = 0, above: Optional[float] = None, keep: int = 0
) -> Sample:
    """Choose the pairs of a sampled scores file: every pair at or above a cut, a uniform sample below it.

    :param similarity: the similarity of each pair found, in the order they are written.
    :param rate: the chance each pair below the cut has of being kept (above 0, at most 1).
    :param seed: the seed of the random choice (see :class:`Sampling`).
    :param above: the cut; by default the similarity of the ``keep``-th most similar pair
        (every pair, if there are no more than ``keep``).
    :param keep: the pairs to keep whole when ``above`` is not given (e.g. the number of records of all parties).
    :raises UsageError: for a rate, cut or seed out of range.
    """
    check_sample_request(rate, above, seed)
    values = np.asarray(similarity, dtype=np.float64)
    if above is None:
        if keep >= len(values) or keep <= 0 and not len(values):
            above = float(values.min()) if len(values) else 0.0
        else:
            above = float(np.partition(values, len(values) - max(keep, 1))[len(values) - max(keep, 1)])
    below = np.flatnonzero(values < above)
    chosen = below[np.random.default_rng(seed).random(len(below)) < rate]
    indices = np.sort(np.concatenate((np.flatnonzero(values >= above), chosen)))
    return Sample(indices, Sampling(float(above), float(rate), seed, len(values), len(below)))


def _json_sampling(path: str, stream: _Replay) -> Optional[Sampling]:
    """The ``"sampling"`` object of a JSON scores file, if its first member is one (read from ``stream``'s start)."""
    with json_stream_errors(path, SCORES_FILE_HINT):
        events = ijson.parse(guarded(cast(IO[bytes], stream)), use_float=True, buf_size=SAMPLING_READ_BYTES)
        first = next(events, None)
        key = next(events, None)
        if first is None or first[1] != "start_map" or key is None or key[1:] != ("map_key", "sampling"):
            return None
        builder = ijson.ObjectBuilder()
        depth = 0
        for _prefix, event, value in events:
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
            if depth == 0:
                break
    return Sampling.from_json(builder.value, path)


def _check_sampling(scores: Scores, sampling: Sampling) -> None:
    """Check that a sampled file's pairs are what its sampling says: all of them at or above the cut."""
    at_or_above = int(np.count_nonzero(scores.similarity >= sampling.above))
    whole = sampling.pairs - sampling.pairs_below
    if at_or_above != whole:
        raise InputFileError(
            scores.path,
            f"its sampling says the linkage found {whole} pairs with a similarity of at least {sampling.above}, "
            f"but it holds {at_or_above}",
        )
    if len(scores) - at_or_above > sampling.pairs_below:
        raise InputFileError(
            scores.path,
            f"its sampling says the linkage found {sampling.pairs_below} pairs below {sampling.above}, "
            f"but it holds {len(scores) - at_or_above}",
        )


# --------------------------------------------------------------------------- binary

#: The first bytes of a binary scores file (the CLK file's pattern: a high-bit byte, CR LF, ^Z, LF).
MAGIC = b"\x89SCR\r\n\x1a\n"
BINARY_VERSION = 1
#: Bit 0 of the flags: the file is sampled.
SAMPLED = 1
#: magic, layout version, flags, reserved, N pairs in the file, pairs found, pairs found below the cut,
#: the cut, the rate, the seed. Little-endian.
HEADER = struct.Struct("<8sHHIQQQddQ")
#: The columns after the header, N values each, in this order (little-endian).
COLUMNS = (("similarity", "<f8"), ("party_a", "<u2"), ("party_b", "<u2"), ("row_a", "<u4"), ("row_b", "<u4"))
PAIR_BYTES = sum(np.dtype(dtype).itemsize for _name, dtype in COLUMNS)
#: Bytes read at a time from a binary scores file.
READ_BYTES = 1 << 24
#: Pairs converted and written at a time.
WRITE_PAIRS = 1 << 20
#: The largest party number the binary format holds.
MAX_BINARY_PARTY = 2**16 - 1


def _read_binary(path: str, handle: IO[bytes]) -> Scores:
    """The pairs of a binary scores file whose magic ``handle`` has just read; the header and length are
    checked before the pairs are read (from a regular file, before they are read at all)."""
    raw = MAGIC + handle.read(HEADER.size - len(MAGIC))
    if len(raw) < HEADER.size:
        raise InputFileError(path, "is truncated: its binary scores header is incomplete")
    _magic, version, flags, reserved, count, pairs, pairs_below, above, rate, seed = HEADER.unpack(raw)
    if version != BINARY_VERSION:
        raise InputFileError(
            path, f"is a binary scores file of layout version {version}; this tool reads version {BINARY_VERSION}"
        )
    if flags & ~SAMPLED or reserved:
        raise InputFileError(path, "its binary scores header has flags or reserved bytes this tool does not know")
    expected = count * PAIR_BYTES
    status = os.fstat(handle.fileno())
    if stat.S_ISREG(status.st_mode):  # a file says its length: nothing is read if it cannot be right
        _check_length(path, count, status.st_size - HEADER.size)
    data = _read_at_most(handle, expected)
    _check_length(path, count, len(data) + len(handle.read(1)))
    if not count:
        raise InputFileError(path, "has no similarity scores (its count is 0), so there is nothing to report")
    sampling: Optional[Sampling] = None
    if flags & SAMPLED:
        sampling = Sampling(above, rate, seed, pairs, pairs_below)
        problem = sampling.problem() or (
            f"pairs is {pairs}, fewer than the {count} it holds" if pairs < count else None
        )
        if problem:
            raise InputFileError(path, f"its binary scores header's sampling: {problem}")
    elif (pairs, pairs_below, above, rate, seed) != (count, 0, 0.0, 1.0, 0):
        raise InputFileError(path, "its binary scores header has sampling numbers but is not marked as sampled")
    columns, offset = {}, 0
    for name, dtype in COLUMNS:
        columns[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += count * np.dtype(dtype).itemsize
    return _binary_scores(path, columns, sampling)


def _check_length(path: str, count: int, actual: int) -> None:
    """Check that ``actual`` bytes follow the header of a binary file of ``count`` pairs."""
    expected = count * PAIR_BYTES
    if actual != expected:
        truncated = "is truncated: " if actual < expected else ""
        raise InputFileError(
            path, f"{truncated}its header says {count} pairs ({expected} bytes), but {actual} bytes follow the header"
        )


def _read_at_most(handle: IO[bytes], size: int) -> bytearray:
    """Up to ``size`` bytes of ``handle``, read a piece at a time (so a huge ``size`` is never allocated at once)."""
    data = bytearray()
    while len(data) < size:
        piece = handle.read(min(READ_BYTES, size - len(data)))
        if not piece:
            break
        data += piece
    return data


def _binary_scores(path: str, columns: Dict[str, np.ndarray], sampling: Optional[Sampling]) -> Scores:
    """Scores from the columns of a binary file, each pair checked as the JSON reader checks it."""
    similarity = columns["similarity"].astype(np.float64)
    problems = []
    bad = np.flatnonzero(~((similarity >= 0.0) & (similarity <= 1.0)))  # NaN fails both
    if len(bad):
        problems.append((int(bad[0]), f"the similarity {float(similarity[bad[0]])!r} is not a number from 0 to 1"))
    same = np.flatnonzero(columns["party_a"] == columns["party_b"])
    if len(same):
        party = int(columns["party_a"][same[0]])
        problems.append((int(same[0]), f"both records are of party {party}; a pair links two different parties"))
    large = np.flatnonzero((columns["row_a"] > np.iinfo(np.int32).max) | (columns["row_b"] > np.iinfo(np.int32).max))
    if len(large):
        problems.append((int(large[0]), "a party or row number is too large"))
    if problems:
        index, message = min(problems)
        raise pair_error(path, index, message)
    party_a, party_b = columns["party_a"].astype(np.int32), columns["party_b"].astype(np.int32)
    row_a, row_b = columns["row_a"].astype(np.int32), columns["row_b"].astype(np.int32)
    swap = party_a > party_b
    party_a[swap], party_b[swap] = party_b[swap], party_a[swap]
    row_a[swap], row_b[swap] = row_b[swap], row_a[swap]
    return Scores(path, similarity, party_a, row_a, party_b, row_b, sampling)


# --------------------------------------------------------------------------- writing

#: The formats of a scores file.
SCORES_FORMATS = ("json", "binary")
#: About how many bytes a pair takes in JSON beyond its numbers' digits: ``[[, ], [, ], ]``, ", " and the similarity.
JSON_PAIR_OVERHEAD = 14 + 18

Candidates = Tuple[Sequence[float], Tuple[Sequence[int], Sequence[int]], Tuple[Sequence[int], Sequence[int]]]


def _columns(candidates: Candidates, indices: Optional[np.ndarray]) -> List[Any]:
    """similarity, party_a, row_a, party_b, row_b of the pairs (those at ``indices`` only, if given)."""
    similarity, (party_a, party_b), (row_a, row_b) = candidates
    columns: List[Any] = [similarity, party_a, row_a, party_b, row_b]
    if indices is None:
        return columns
    return [np.asarray(column)[indices] for column in columns]


def scores_size(candidates: Candidates, scores_format: str, indices: Optional[np.ndarray] = None) -> int:
    """The bytes a scores file takes: exact for binary, an estimate (within a few percent) for JSON."""
    columns = _columns(candidates, indices)
    count = len(columns[0])
    if scores_format == "binary":
        return HEADER.size + PAIR_BYTES * count
    digits = sum(
        int(np.sum(np.floor(np.log10(np.maximum(np.asarray(column, dtype=np.float64), 1))) + 1))
        for column in columns[1:]
    )
    return 25 + JSON_PAIR_OVERHEAD * count + digits


def write_scores(
    handle: IO[str], candidates: Candidates, scores_format: str = "json", sample: Optional[Sample] = None
) -> int:
    """Write a scores file: every candidate pair (or a sample's), in the order given; return how many pairs.

    :param handle: a text file (from :func:`~anonlinkclient.io.output.atomic_output`); binary is
        written to its ``buffer``.
    :param candidates: ``(similarities, (parties_a, parties_b), (rows_a, rows_b))``, anonlink's candidate pairs.
    :param scores_format: ``json`` or ``binary``.
    :param sample: the pairs to write and how they were chosen (:func:`choose_sample`), for a sampled file.
    :raises UsageError: for an unknown format, or a party the binary format cannot hold.
    """
    if scores_format not in SCORES_FORMATS:
        raise UsageError(f"unknown scores file format {scores_format!r} (expected json or binary)", "scores_format")
    columns = _columns(candidates, None if sample is None else sample.indices)
    sampling = None if sample is None else sample.sampling
    if scores_format == "json":
        if sample is not None:
            columns = [column.tolist() for column in columns]
            handle.write(f'{{"sampling": {json.dumps(sampling.to_json() if sampling else None)}, ')
        else:
            handle.write("{")
        handle.write('"similarity_scores": ')
        count = write_sequence(handle, (encode([[pa, ra], [pb, rb], s]) for s, pa, ra, pb, rb in zip(*columns)))
        handle.write("}")
        return count
    handle.flush()
    return _write_binary(cast(TextIO, handle).buffer, columns, sampling)


def _write_binary(handle: IO[bytes], columns: List[Any], sampling: Optional[Sampling]) -> int:
    similarity, party_a, row_a, party_b, row_b = (np.asarray(column) for column in columns)
    count = len(similarity)
    if count and max(int(party_a.max()), int(party_b.max())) > MAX_BINARY_PARTY:
        raise UsageError(f"the binary scores format holds parties 0 to {MAX_BINARY_PARTY}", "scores_format")
    if sampling is None:
        header = HEADER.pack(MAGIC, BINARY_VERSION, 0, 0, count, count, 0, 0.0, 1.0, 0)
    else:
        header = HEADER.pack(
            MAGIC,
            BINARY_VERSION,
            SAMPLED,
            0,
            count,
            sampling.pairs,
            sampling.pairs_below,
            sampling.above,
            sampling.rate,
            sampling.seed,
        )
    handle.write(header)
    values = {"similarity": similarity, "party_a": party_a, "party_b": party_b, "row_a": row_a, "row_b": row_b}
    for name, dtype in COLUMNS:
        column = values[name]
        for start in range(0, count, WRITE_PAIRS):
            handle.write(np.ascontiguousarray(column[start : start + WRITE_PAIRS], dtype=dtype).tobytes())
    handle.flush()
    return count


def human_size(size: int) -> str:
    """``4.3 GB``, ``120 MB``, ``512 bytes``: a file size as messages show it (decimal units)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            shown = size / scale
            return f"{shown:.1f} {unit}" if shown < 100 else f"{math.floor(shown + 0.5)} {unit}"
    return f"{size} bytes"
