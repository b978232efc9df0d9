"""The similarity scores file ``{"similarity_scores": [...]}``: streaming reader.

The file is what ``anonlink find-similarity`` writes as its scores output, and
what the Entity Service returns for a run of result type ``similarity_scores``
(saved by ``anonlink results``)::

    {"similarity_scores": [[[party, row], [party, row], similarity], ...]}

Each element pairs a record of one party with a record of another (0-based
party numbers and rows) and gives their similarity, from 0 to 1. Older Entity
Service releases wrote two-party scores as ``[row_a, row_b, similarity]`` (a
row of party 0, a row of party 1); those are read too.

The file is streamed with ``ijson``, and only four numbers a pair are kept, in
compact arrays (24 bytes a pair), so files of millions of pairs fit in memory.
"""

import array
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import ijson
import numpy as np

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import json_stream_errors, open_input

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
    """

    path: str
    similarity: np.ndarray
    party_a: np.ndarray
    row_a: np.ndarray
    party_b: np.ndarray
    row_b: np.ndarray

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


def _why_empty(path: str) -> str:
    """Why a scores file gave no pairs: the reason for the error message."""
    keys = []
    with open_input(path, "rb") as handle, json_stream_errors(path, SCORES_FILE_HINT):
        for index, (prefix, event, value) in enumerate(ijson.parse(handle)):
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
    """Read a scores file, streaming it.

    :raises InputFileError: if the file cannot be read, is not JSON, is not a
        scores file, has no scores, or has a malformed or repeated pair (the
        pair's 0-based index in the list is named).
    """
    similarity = array.array("d")
    columns = [array.array("i") for _ in range(4)]
    party_a, row_a, party_b, row_b = columns
    with open_input(path, "rb") as handle, json_stream_errors(path, SCORES_FILE_HINT):
        for index, item in enumerate(ijson.items(handle, "similarity_scores.item", use_float=True)):
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
        raise InputFileError(path, _why_empty(path))
    scores = Scores(
        path,
        np.frombuffer(similarity, dtype=np.float64),
        *(np.frombuffer(column, dtype=np.int32) for column in columns),
    )
    _check_unique(scores)
    return scores


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
