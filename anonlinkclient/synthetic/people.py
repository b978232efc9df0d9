"""Made-up people for ``anonlink generate``: a name, a date of birth and a gender.

Names and ages are drawn from clkhash's tables (US census first and last names,
Australian census ages), with a random generator the caller gives, so a seed
always gives the same people. Ages are counted back from :data:`REFERENCE_YEAR`
(not from today), so that a seed gives the same dates of birth in every year.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import List

#: The year ages are counted back from: a person of age 0 is born in it.
REFERENCE_YEAR = 2024

#: The CSV header of the fake PII, as clkhash's default schema names the columns.
HEADER = ["INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"]


@dataclass(frozen=True)
class Person:
    """One made-up person; an empty string is a missing value.

    :ivar first: the first name.
    :ivar last: the last name.
    :ivar dob: the date of birth, ``YYYY/MM/DD``.
    :ivar gender: ``M`` or ``F``.
    :ivar surname_first: the name is written last name first.
    """

    first: str
    last: str
    dob: str
    gender: str
    surname_first: bool = False

    @property
    def name(self) -> str:
        """The name as the CSV has it: ``First Last`` (or ``Last First``), or empty if missing."""
        parts = (self.last, self.first) if self.surname_first else (self.first, self.last)
        return " ".join(part for part in parts if part)

    def row(self, index: int) -> List[str]:
        """The person's CSV row, with ``index`` in the INDEX column."""
        return [str(index), self.name, self.dob, self.gender]


class _Table:
    """One of clkhash's value tables, sampled with the census counts as weights."""

    def __init__(self, resource: str) -> None:
        from clkhash.randomnames import Distribution

        table = Distribution(resource)
        self.values: List[str] = table.values
        self.cumulative_counts: List[int] = table.indices

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cumulative_counts)[0]


class PeopleSource:
    """Draws people from clkhash's name and age tables (read once, when it is made)."""

    def __init__(self) -> None:
        self._male = _Table("data/male-first-names.csv")
        self._female = _Table("data/female-first-names.csv")
        self._last = _Table("data/last-names.csv")
        self._ages = _Table("data/ages.csv")

    def last_name(self, rng: random.Random) -> str:
        """A last name."""
        return self._last.draw(rng)

    def person(self, rng: random.Random) -> Person:
        """A new person: gender M or F with equal chance, a first name of that gender, a last name, an age."""
        gender = "M" if rng.random() < 0.5 else "F"
        first = (self._male if gender == "M" else self._female).draw(rng)
        last = self._last.draw(rng)
        year = REFERENCE_YEAR - int(self._ages.draw(rng))
        start = date(year, 1, 1)
        dob = start + timedelta(days=rng.randrange((date(year + 1, 1, 1) - start).days))
        return Person(first, last, dob.strftime("%Y/%m/%d"), gender)
