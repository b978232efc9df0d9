"""The ground-truth CSV file ``row_a,row_b``: reader.

A ground truth says which records of two parties are the same person: one line
per matching pair, the 0-based record (CLK) index in party 0 and in party 1,
under the header ``row_a,row_b``::

    row_a,row_b
    0,17
    3,2

``anonlink generate`` writes one for its linked demo data; a clerical review
of a sample gives another. Blank lines are ignored.
"""

import csv
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import open_input

TRUTH_HEADER = ["row_a", "row_b"]
TRUTH_FILE_HINT = "expected a ground-truth CSV file with the header row_a,row_b"


@dataclass
class Truth:
    """The matching pairs of a ground truth.

    :ivar path: the CSV file.
    :ivar row_a: the party-0 record of each pair (int64); ``row_b`` its party-1 record.
    :ivar lines: the line of each pair in the file (1-based, the header being line 1).
    """

    path: str
    row_a: np.ndarray
    row_b: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.row_a)


def _record_number(text: str, column: str, path: str, line: int) -> int:
    value = text.strip()
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise InputFileError(path, f"{column} {value!r} is not a record number (a whole number from 0)", row=line)
    number = int(value)
    if number < 0:
        raise InputFileError(path, f"{column} {number} is negative; records are numbered from 0", row=line)
    return number


def read_truth(path: str, record_counts: Optional[Sequence[int]] = None, party_names: Sequence[str] = ()) -> Truth:
    """Read a ground-truth CSV file.

    :param record_counts: the number of records of party 0 and party 1, if
        known: a row that does not exist is then an error.
    :param party_names: the file of each party's records, for the message.
    :raises InputFileError: for a missing or wrong header, a line that is not
        two record numbers, a negative, non-existent or repeated pair (the line
        is named), or a file with no pairs.
    """
    rows_a: List[int] = []
    rows_b: List[int] = []
    lines: List[int] = []
    seen: Dict[Tuple[int, int], int] = {}
    with open_input(path, "r", newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise InputFileError(path, f"is empty; {TRUTH_FILE_HINT}")
            if [cell.strip() for cell in header] != TRUTH_HEADER:
                raise InputFileError(path, f"the header is {','.join(header)!r}, not row_a,row_b", row=1)
            for values in reader:
                line = reader.line_num
                if all(not value.strip() for value in values):
                    continue
                if len(values) != 2:
                    raise InputFileError(path, f"has {len(values)} values, not 2 (row_a,row_b)", row=line)
                pair = (
                    _record_number(values[0], "row_a", path, line),
                    _record_number(values[1], "row_b", path, line),
                )
                if record_counts is not None:
                    for party, (column, row) in enumerate(zip(TRUTH_HEADER, pair)):
                        if row >= record_counts[party]:
                            owner = party_names[party] if party < len(party_names) else f"party {party}"
                            raise InputFileError(
                                path,
                                f"{column} {row} does not exist: {owner} has {record_counts[party]} records",
                                row=line,
                            )
                if pair in seen:
                    raise InputFileError(path, f"repeats the pair {pair[0]},{pair[1]} of row {seen[pair]}", row=line)
                seen[pair] = line
                rows_a.append(pair[0])
                rows_b.append(pair[1])
                lines.append(line)
        except UnicodeDecodeError:
            raise InputFileError(path, f"is not UTF-8 text; {TRUTH_FILE_HINT}") from None
        except csv.Error as exc:
            raise InputFileError(path, f"is not a valid CSV file ({exc})", row=reader.line_num) from None
    if not rows_a:
        raise InputFileError(path, "lists no matching pairs, only its header")
    return Truth(
        path,
        np.asarray(rows_a, dtype=np.int64),
        np.asarray(rows_b, dtype=np.int64),
        np.asarray(lines, dtype=np.int64),
    )
