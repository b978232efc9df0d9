"""Fake PII for trying the tool: ``anonlink generate`` and ``generate-default-schema``.

:func:`write_fake_pii` writes made-up people (:mod:`~anonlinkclient.synthetic.people`)
as a CSV with the columns of the default linkage schema: ``INDEX`` (the row's
0-based number), ``NAME freetext``, ``DOB YYYY/MM/DD`` and ``GENDER M or F``.
Records are written as they are made; with a linked party, only the shared
people and the linked party's order of rows are held in memory.

:func:`write_demo_data` can also write a second, *linked* party: it has as many
records as the first, of which ``overlap × size`` (rounded half up) are people of
the first party and the rest are new people, in random order. Every record of the linked
party, shared or not, gets errors at the ``corruption`` rate
(:mod:`~anonlinkclient.synthetic.corruption`), so errors do not tell which records
have a match; the first party has none. Its INDEX column numbers its own rows, so
it does not tell which person of the first party a record is. Which rows match is
written to a ground-truth CSV::

    row_a,row_b
    0,731
    3,12

one line per shared person, in the order of ``row_a``: the 0-based data row of the
person in the first party and in the linked party, which are also the indices of
their CLKs in the files ``anonlink hash`` makes from them.

With a seed the files are the same on every run and every machine; the first
party does not depend on whether a linked party is written, and the people of the
linked party do not depend on the corruption rate.

The default linkage schema (``data/default-linkage-schema.json``) is clkhash's
schema for these columns, with an empty value allowed as a missing value in every
hashed column; values that are present are hashed exactly as clkhash's schema
hashes them. The default blocking schemas fit the same data: ``p-sig`` on the CSV,
and ``lambda-fold`` on the CLKs of the default linkage schema.
"""

import contextlib
import csv
import dataclasses
import importlib.resources
import os
import random
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Tuple

from anonlinkclient.errors import AnonlinkClientError, UsageError
from anonlinkclient.io.output import STDOUT, atomic_output
from anonlinkclient.synthetic.corruption import corrupt
from anonlinkclient.synthetic.people import HEADER, PeopleSource, Person

__all__ = [
    "HEADER",
    "TRUTH_HEADER",
    "DemoData",
    "default_blocking_schema_text",
    "default_schema_text",
    "output_clash",
    "shared_count",
    "write_default_schema",
    "write_default_schemas",
    "write_demo_data",
    "write_fake_pii",
]

#: The header of the ground-truth CSV.
TRUTH_HEADER = ["row_a", "row_b"]
DEFAULT_OVERLAP = 0.5
DEFAULT_CORRUPTION = 0.5

_DATA = "data"
LINKAGE_SCHEMA_RESOURCE = "default-linkage-schema.json"  # version 3
BLOCKING_SCHEMA_RESOURCES = {
    "p-sig": "default-psig-blocking-schema.json",
    "lambda-fold": "default-lambda-fold-blocking-schema.json",
}


@dataclasses.dataclass
class DemoData:
    """What :func:`write_demo_data` wrote.

    :ivar size: the number of records of each party.
    :ivar shared: the number of people in both parties (0 without a linked party).
    :ivar corrupted: the number of linked-party records with at least one error.
    :ivar errors: how many errors of each kind were made (see
        :data:`~anonlinkclient.synthetic.corruption.ERROR_KINDS`).
    """

    size: int
    shared: int = 0
    corrupted: int = 0
    errors: Dict[str, int] = dataclasses.field(default_factory=dict)


def shared_count(size: int, overlap: float) -> int:
    """How many people two parties of ``size`` records share at ``overlap``: ``overlap × size``, half rounded up."""
    return int(overlap * size + 0.5)


def _random(seed: int, stream: str) -> random.Random:
    # One generator per purpose, each seeded from the seed and its name (hashed
    # with SHA-512 by random, so the same on every platform and Python version).
    return random.Random(f"anonlink generate {seed} {stream}")


def _check_fraction(value: float, what: str, argument: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"the {what} must be a fraction from 0 to 1, not {value}", argument)


def output_clash(outputs: Mapping[str, Optional[str]]) -> Optional[Tuple[str, str]]:
    """The first two outputs that are the same file (or both stdout), by their keys; ``None`` if there are none.

    :param outputs: output paths (``-``: stdout; ``None``: not written) by any key.
    """
    seen: Dict[str, str] = {}
    for key, path in outputs.items():
        if path is None:
            continue
        where = STDOUT if path == STDOUT else os.path.realpath(path)
        if where in seen:
            return seen[where], key
        seen[where] = key
    return None


def _check_distinct(outputs: Mapping[str, Tuple[str, Optional[str]]]) -> None:
    clash = output_clash({key: path for key, (_what, path) in outputs.items()})
    if clash is not None:
        first, second = clash
        path = outputs[second][1]
        where = "stdout" if path == STDOUT else path
        raise UsageError(
            f"the {outputs[first][0]} and the {outputs[second][0]} would both be written to {where}", second
        )


def write_demo_data(
    size: int,
    output: str,
    linked_output: Optional[str] = None,
    truth_output: Optional[str] = None,
    schema_output: Optional[str] = None,
    overlap: float = DEFAULT_OVERLAP,
    corruption: float = DEFAULT_CORRUPTION,
    seed: Optional[int] = None,
) -> DemoData:
    """Write ``size`` made-up people, and optionally a linked party, its ground truth and the linkage schema.

    Every file is written completely or not at all: if anything fails, none of
    them is created (and files already there are left as they were).

    :param size: the number of records of each party, 1 or more.
    :param output: the first party's CSV (``-``: stdout).
    :param linked_output: the linked party's CSV, if wanted.
    :param truth_output: the ground-truth CSV (``row_a,row_b``), if wanted; needs ``linked_output``.
    :param schema_output: the default linkage schema, if wanted.
    :param overlap: the fraction of the people that are in both parties, from 0 to 1.
    :param corruption: the error rate of the linked party's records, from 0 to 1.
    :param seed: makes the output the same on every run; ``None``: different every time.
    :raises UsageError: for a size below 1, a fraction outside 0 to 1, a ground truth
        without a linked party, or two outputs that are the same file.
    :raises OutputFileError: if an output cannot be written.
    """
    if size < 1:
        raise UsageError(f"the size must be at least 1 record, not {size}", "size")
    _check_fraction(overlap, "overlap", "overlap")
    _check_fraction(corruption, "corruption rate", "corruption")
    if truth_output is not None and linked_output is None:
        raise UsageError("a ground truth needs a linked party to describe", "truth_output")
    _check_distinct(
        {
            "output": ("first party", output),
            "linked_output": ("linked party", linked_output),
            "truth_output": ("ground truth", truth_output),
            "schema_output": ("linkage schema", schema_output),
        }
    )
    if seed is None:
        seed = random.SystemRandom().getrandbits(64)

    source = PeopleSource()
    shared = shared_count(size, overlap) if linked_output is not None else 0
    picker = _random(seed, "linked rows")
    shared_rows = picker.sample(range(size), shared)
    # The linked party's rows in order: the first party's row of a shared person, or None for a new one.
    linked_rows: List[Optional[int]] = [*shared_rows, *([None] * (size - shared))]
    picker.shuffle(linked_rows)
    wanted = set(shared_rows)
    kept: Dict[int, Person] = {}

    result = DemoData(size, shared)
    with contextlib.ExitStack() as stack:
        # Every output is opened (as a temporary file) before anything is written.
        writers: Dict[str, Any] = {
            name: csv.writer(stack.enter_context(atomic_output(path)), lineterminator="\n")
            for name, path in (("a", output), ("b", linked_output), ("truth", truth_output))
            if path is not None
        }
        schema_out = stack.enter_context(atomic_output(schema_output)) if schema_output is not None else None

        people = _random(seed, "people")
        writers["a"].writerow(HEADER)
        for row in range(size):
            person = source.person(people)
            if row in wanted:
                kept[row] = person
            writers["a"].writerow(person.row(row))

        if linked_output is not None:
            new_people = _random(seed, "linked people")
            errors = _random(seed, "errors")
            made: Counter[str] = Counter()
            truth: List[Tuple[int, int]] = []
            writers["b"].writerow(HEADER)
            for row_b, row_a in enumerate(linked_rows):
                person = kept[row_a] if row_a is not None else source.person(new_people)
                record_errors: List[str] = []
                writers["b"].writerow(corrupt(person, corruption, errors, source, record_errors).row(row_b))
                made.update(record_errors)
                result.corrupted += bool(record_errors)
                if row_a is not None:
                    truth.append((row_a, row_b))
            result.errors = dict(made)
            if truth_output is not None:
                writers["truth"].writerow(TRUTH_HEADER)
                writers["truth"].writerows(sorted(truth))
        if schema_out is not None:
            schema_out.write(default_schema_text())
    return result


def write_fake_pii(size: int, output: str, seed: Optional[int] = None) -> None:
    """Write ``size`` made-up people (index, name, date of birth, gender) as CSV to ``output`` (``-``: stdout).

    :raises UsageError: for a size below 1.
    :raises OutputFileError: if the output cannot be written.
    """
    write_demo_data(size, output, seed=seed)


# ---------------------------------------------------------------------------
# The default schemas
# ---------------------------------------------------------------------------


def _data_text(resource: str) -> str:
    try:
        return importlib.resources.files(__package__).joinpath(_DATA, resource).read_text(encoding="utf-8")
    except OSError as exc:
        where = f"{__package__.replace('.', '/')}/{_DATA}/{resource}"
        raise AnonlinkClientError(f"this installation of anonlink-client lacks {where}; reinstall it") from exc


def default_schema_text() -> str:
    """The linkage schema (v3 JSON text) describing the data :func:`write_demo_data` makes."""
    return _data_text(LINKAGE_SCHEMA_RESOURCE)


def default_blocking_schema_text(method: str) -> str:
    """The blocking schema (JSON text) of ``method`` that fits the data :func:`write_demo_data` makes.

    :param method: ``p-sig`` (blocks the PII CSV) or ``lambda-fold`` (blocks the
        CLKs ``anonlink hash`` makes with the default linkage schema).
    :raises UsageError: for another method.
    """
    if method not in BLOCKING_SCHEMA_RESOURCES:
        raise UsageError(f'there is no default blocking schema for "{method}"; use "p-sig" or "lambda-fold"', "method")
    return _data_text(BLOCKING_SCHEMA_RESOURCES[method])


def write_default_schema(output: str) -> None:
    """Write the default linkage schema to ``output`` (``-`` for stdout).

    :raises OutputFileError: if the output cannot be written.
    """
    write_default_schemas(output)


def write_default_schemas(
    output: Optional[str], psig_output: Optional[str] = None, lambda_fold_output: Optional[str] = None
) -> None:
    """Write the default linkage schema and, if asked for, the default blocking schemas.

    All of them are written or none (see :func:`write_demo_data`).

    :param output: the linkage schema (``-``: stdout), or ``None`` for none.
    :param psig_output: the ``p-sig`` blocking schema, if wanted.
    :param lambda_fold_output: the ``lambda-fold`` blocking schema, if wanted.
    :raises UsageError: if two outputs are the same file.
    :raises OutputFileError: if an output cannot be written.
    """
    outputs = {
        "output": ("linkage schema", output),
        "psig_output": ("p-sig blocking schema", psig_output),
        "lambda_fold_output": ("lambda-fold blocking schema", lambda_fold_output),
    }
    _check_distinct(outputs)
    resources = {
        "output": LINKAGE_SCHEMA_RESOURCE,
        "psig_output": BLOCKING_SCHEMA_RESOURCES["p-sig"],
        "lambda_fold_output": BLOCKING_SCHEMA_RESOURCES["lambda-fold"],
    }
    with contextlib.ExitStack() as stack:
        handles = [
            (stack.enter_context(atomic_output(path)), _data_text(resources[name]))
            for name, (_what, path) in outputs.items()
            if path is not None
        ]
        for handle, text in handles:
            handle.write(text)
