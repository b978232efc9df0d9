"""The errors that ``anonlink generate`` makes in a linked party's records.

Real data sets that describe the same people disagree: names are mistyped,
written surname first, shortened to a nickname or an initial, or changed by
marriage; dates of birth have their day and month swapped or a digit wrong;
values are missing. :func:`corrupt` makes such errors in a :class:`Person`, at a
chosen rate: with probability ``rate`` the record gets one error, and after each
error it gets another with the same probability (at most :data:`MAX_ERRORS`),
so at rate 0.5 half the records are changed and a quarter have two or more
errors. The kind of each error is drawn with the weights of :data:`ERROR_KINDS`.

Every changed record still fits the default linkage schema: a name keeps at
least three characters or is missing, and a date of birth stays a real date.
"""

import dataclasses
import random
from datetime import date
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from anonlinkclient.synthetic.people import REFERENCE_YEAR, PeopleSource, Person

MAX_ERRORS = 4
EARLIEST_YEAR = 1900

_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> Dict[str, str]:
    neighbours: Dict[str, str] = {}
    for row, keys in enumerate(_KEYBOARD):
        for column, key in enumerate(keys):
            near = [
                _KEYBOARD[r][c]
                for r in (row - 1, row, row + 1)
                if 0 <= r < len(_KEYBOARD)
                for c in (column - 1, column, column + 1)
                if 0 <= c < len(_KEYBOARD[r]) and (r, c) != (row, column)
            ]
            neighbours[key] = "".join(near)
    return neighbours


#: The keys next to each letter on a QWERTY keyboard: a mistyped letter is one of them.
KEYBOARD_NEIGHBOURS: Mapping[str, str] = _keyboard_neighbours()

#: Common English given names and the short forms people use instead.
NICKNAMES: Mapping[str, Tuple[str, ...]] = {
    "Abigail": ("Abby",),
    "Alexander": ("Alex",),
    "Alexandra": ("Alex", "Sandra"),
    "Andrew": ("Andy", "Drew"),
    "Anthony": ("Tony",),
    "Barbara": ("Barb",),
    "Benjamin": ("Ben",),
    "Catherine": ("Cathy", "Kate"),
    "Charles": ("Charlie", "Chuck"),
    "Christina": ("Tina", "Chris"),
    "Christine": ("Chris",),
    "Christopher": ("Chris",),
    "Cynthia": ("Cindy",),
    "Daniel": ("Dan", "Danny"),
    "David": ("Dave",),
    "Deborah": ("Debbie", "Deb"),
    "Donald": ("Don",),
    "Dorothy": ("Dot",),
    "Douglas": ("Doug",),
    "Edward": ("Ed", "Ted"),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Frederick": ("Fred",),
    "Gerald": ("Jerry",),
    "Gregory": ("Greg",),
    "Henry": ("Harry", "Hank"),
    "Jacqueline": ("Jackie",),
    "James": ("Jim", "Jimmy"),
    "Jeffrey": ("Jeff",),
    "Jennifer": ("Jenny", "Jen"),
    "Jessica": ("Jess",),
    "John": ("Jack", "Johnny"),
    "Jonathan": ("Jon",),
    "Joseph": ("Joe",),
    "Joshua": ("Josh",),
    "Judith": ("Judy",),
    "Katherine": ("Kate", "Kathy"),
    "Kenneth": ("Ken",),
    "Kimberly": ("Kim",),
    "Lawrence": ("Larry",),
    "Margaret": ("Maggie", "Peggy"),
    "Matthew": ("Matt",),
    "Michael": ("Mike",),
    "Nicholas": ("Nick",),
    "Pamela": ("Pam",),
    "Patricia": ("Pat", "Patty"),
    "Patrick": ("Pat",),
    "Peter": ("Pete",),
    "Raymond": ("Ray",),
    "Rebecca": ("Becky",),
    "Richard": ("Rick", "Dick"),
    "Robert": ("Bob", "Rob"),
    "Ronald": ("Ron",),
    "Samantha": ("Sam",),
    "Samuel": ("Sam",),
    "Stephen": ("Steve",),
    "Steven": ("Steve",),
    "Susan": ("Sue",),
    "Theresa": ("Terry",),
    "Thomas": ("Tom",),
    "Timothy": ("Tim",),
    "Victoria": ("Vicky",),
    "William": ("Bill", "Will"),
}


# ---------------------------------------------------------------------------
# Single errors in a value
# ---------------------------------------------------------------------------


def typo(name: str, rng: random.Random) -> str:
    """One keyboard slip in a name: a key added, left out, hit wrong, or two keys swapped.

    The result is capitalised like a name again (``"Mraia"``, not ``"mRaia"``).
    """
    if not name:
        return name
    text = name.lower()
    kind = rng.choice(("insert", "delete", "substitute", "transpose"))
    if len(text) < 3 and kind in ("delete", "transpose"):
        kind = "substitute"
    i = rng.randrange(len(text))
    wrong = rng.choice(KEYBOARD_NEIGHBOURS.get(text[i], "aeiou"))
    if kind == "insert":
        text = text[: i + 1] + wrong + text[i + 1 :]
    elif kind == "delete":
        text = text[:i] + text[i + 1 :]
    elif kind == "substitute":
        text = text[:i] + wrong + text[i + 1 :]
    else:
        i = min(i, len(text) - 2)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text.capitalize()


def is_real_date(dob: str) -> bool:
    """True for a ``YYYY/MM/DD`` date that exists, from 1900 to the reference year."""
    try:
        year, month, day = (int(part) for part in dob.split("/"))
        date(year, month, day)
    except ValueError:
        return False
    return EARLIEST_YEAR <= year <= REFERENCE_YEAR


def swap_day_and_month(dob: str, rng: random.Random) -> str:
    """The date with day and month swapped (``1984/03/11`` -> ``1984/11/03``), if that is a different real date.

    Otherwise (day above 12, or day equal to month) one digit is changed instead.
    """
    year, month, day = dob.split("/")
    swapped = f"{year}/{day}/{month}"
    return swapped if swapped != dob and is_real_date(swapped) else wrong_digit(dob, rng)


def wrong_digit(dob: str, rng: random.Random) -> str:
    """The date with one digit mistyped, still a real date (``1984/03/11`` -> ``1964/03/11``)."""
    positions = [i for i, char in enumerate(dob) if char.isdigit()]
    while True:  # most changes give a real date; the last digit of the year always does
        i = rng.choice(positions)
        changed = dob[:i] + rng.choice([d for d in "0123456789" if d != dob[i]]) + dob[i + 1 :]
        if is_real_date(changed):
            return changed


# ---------------------------------------------------------------------------
# The kinds of error in a record
# ---------------------------------------------------------------------------

Error = Callable[[Person, random.Random, PeopleSource], Person]


def _first_name_typo(person: Person, rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, first=typo(person.first, rng))


def _last_name_typo(person: Person, rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, last=typo(person.last, rng))


def _names_swapped(person: Person, _rng: random.Random, _source: PeopleSource) -> Person:
    if not (person.first and person.last):
        return person
    return dataclasses.replace(person, surname_first=not person.surname_first)


def _short_first_name(person: Person, rng: random.Random, _source: PeopleSource) -> Person:
    nicknames = NICKNAMES.get(person.first)
    short = rng.choice(nicknames) if nicknames else person.first[:1]
    return dataclasses.replace(person, first=short)


def _new_last_name(person: Person, rng: random.Random, source: PeopleSource) -> Person:
    return dataclasses.replace(person, last=source.last_name(rng)) if person.last else person


def _name_missing(person: Person, _rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, first="", last="")


def _day_and_month_swapped(person: Person, rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, dob=swap_day_and_month(person.dob, rng)) if person.dob else person


def _dob_digit_wrong(person: Person, rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, dob=wrong_digit(person.dob, rng)) if person.dob else person


def _dob_missing(person: Person, _rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, dob="")


def _gender_missing(person: Person, _rng: random.Random, _source: PeopleSource) -> Person:
    return dataclasses.replace(person, gender="")


#: ``(name, weight, error)``: every kind of error and how often it is made, relative to the others.
ERROR_KINDS: Sequence[Tuple[str, float, Error]] = (
    ("first name typo", 0.20, _first_name_typo),
    ("last name typo", 0.20, _last_name_typo),
    ("names swapped", 0.07, _names_swapped),
    ("nickname or initial", 0.08, _short_first_name),
    ("last name changed", 0.05, _new_last_name),
    ("name missing", 0.03, _name_missing),
    ("day and month swapped", 0.08, _day_and_month_swapped),
    ("date of birth digit wrong", 0.16, _dob_digit_wrong),
    ("date of birth missing", 0.05, _dob_missing),
    ("gender missing", 0.08, _gender_missing),
)


def fits_default_schema(person: Person) -> bool:
    """True if the default linkage schema accepts the record: a name of 3 characters or none, a real date or none."""
    return (person.name == "" or len(person.name) >= 3) and (person.dob == "" or is_real_date(person.dob))


def corrupt(
    person: Person, rate: float, rng: random.Random, source: PeopleSource, made: Optional[List[str]] = None
) -> Person:
    """The person with errors made at ``rate`` (see the module documentation).

    :param rate: the probability of a first error, and of each further one, from 0 to 1.
    :param rng: the random generator the errors are drawn from.
    :param source: where a changed last name comes from.
    :param made: if given, the name of each error made is appended to it.
    """
    names = [kind[0] for kind in ERROR_KINDS]
    weights = [kind[1] for kind in ERROR_KINDS]
    errors = {kind[0]: kind[2] for kind in ERROR_KINDS}
    for _ in range(MAX_ERRORS):
        if rng.random() >= rate:
            break
        name = rng.choices(names, weights=weights)[0]
        changed = errors[name](person, rng, source)
        if changed == person or not fits_default_schema(changed):
            continue  # an error that cannot be made here (no such value, or a name too short): none is made
        person = changed
        if made is not None:
            made.append(name)
    return person
