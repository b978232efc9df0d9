"""Fake PII for trying the tool: ``anonlink generate`` and ``generate-default-schema``.

Records come from clkhash's name generator (Australian and US census name and
age distributions) and are written as they are made, so any size fits in memory.
"""

import csv
import pkgutil

from anonlinkclient.io.output import atomic_output

HEADER = ["INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"]
SCHEMA_RESOURCE = "data/randomnames-schema.json"  # version 3


def write_fake_pii(size: int, output: str) -> None:
    """Write ``size`` random people (index, name, date of birth, gender) as CSV to ``output``."""
    from clkhash.randomnames import NameList

    people = NameList(0)
    people.load_data()  # NameList(0) loads and then releases the name tables
    with atomic_output(output) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(people.generate_random_person(size))


def default_schema_text() -> str:
    """The linkage schema (v3 JSON text) describing the data :func:`write_fake_pii` makes."""
    data = pkgutil.get_data("clkhash", SCHEMA_RESOURCE)
    assert data is not None, "clkhash ships the random names schema"
    return data.decode("utf-8")


def write_default_schema(output: str) -> None:
    """Write the default linkage schema to ``output`` (``-`` for stdout)."""
    with atomic_output(output) as out:
        out.write(default_schema_text())
