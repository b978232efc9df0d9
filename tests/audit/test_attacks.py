"""The attacks are real: planted weaknesses are found, and where there is nothing to find, nothing is.

The figures are the audit's own (scored with the true positions and values), so
these tests also show that the scoring tells a working attack from a failing one.
"""

import math
from collections import Counter

import pytest

from tests.audit import planted
from tests.audit.planted import figures

STATES = ["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"]


def test_a_small_skewed_value_set_encoded_alone_is_re_identified_by_frequency() -> None:
    schema = planted.schema(planted.feature("state"))
    rows = [[value] for value in planted.skewed(20_000, STATES)]
    result = planted.audit(schema, rows)
    found = figures(result, "frequency", "state")
    assert found.correct >= 0.99 * len(rows)
    assert found.wrong == 0
    assert found.correct / len(rows) > found.chance + 0.4  # chance: guessing "NSW" for everyone
    assert found.qgrams_identified >= 10 and found.position_precision == 1.0
    assert result.census.features[0].warnings == ("tiny value set (8 values): told apart by frequency alone",)


@pytest.mark.slow
@pytest.mark.parametrize("k", [10, 20])
def test_first_names_alone_give_away_their_bigrams_to_pattern_mining(k: int) -> None:
    """The published reproductions: first names, bigrams, k = 10 to 20, 100,000 records."""
    schema = planted.schema(planted.feature("first name", k=k))
    rows = [[name] for name in planted.first_names(100_000)]
    result = planted.audit(schema, rows)
    mined = figures(result, "pattern-mining", "first name")
    assert mined.qgrams_identified >= 10
    assert mined.position_precision is not None and mined.position_precision >= 0.95
    assert mined.position_recall is not None and mined.position_recall >= 0.8
    assert mined.correct >= 0.2 * len(rows)
    assert mined.wrong <= 0.25 * mined.correct
    aligned = figures(result, "frequency", "first name")
    assert aligned.correct >= 0.3 * len(rows)  # the 100 most common names, aligned by rank
    assert aligned.position_precision == 1.0
    assert result.census.double_hash_patterns >= 100
    assert result.census.progressions >= 0.9 * result.census.double_hash_patterns


def _found_nothing(result: planted.AuditResult, feature: str, records: int) -> None:
    for attack in ("frequency", "pattern-mining"):
        found = figures(result, attack, feature)
        assert found.qgrams_identified == 0, attack
        assert found.position_precision is None and found.position_recall is None
        assert found.correct + found.one_to_many + found.wrong == 0, attack
        assert found.no_guess == records


def test_random_bits_with_the_same_column_densities_give_nothing_away() -> None:
    schema = planted.schema(planted.feature("first name"))
    rows = [[name] for name in planted.first_names(30_000)]
    noise = planted.with_column_densities(planted.encode(schema, rows))
    _found_nothing(planted.audit(schema, rows, encodings=noise), "first name", len(rows))


def test_a_salt_unique_to_each_record_gives_nothing_away() -> None:
    schema = planted.schema(planted.feature("first name"))
    rows = [[name] for name in planted.first_names(8_000)]
    unsalted = planted.audit(schema, rows)
    assert figures(unsalted, "frequency", "first name").correct > 0.1 * len(rows)
    assert figures(unsalted, "pattern-mining", "first name").qgrams_identified >= 10
    salted = planted.audit(schema, rows, encodings=planted.encode_salted(schema, rows))
    _found_nothing(salted, "first name", len(rows))
    repeated = sum(count for count in Counter(name for (name,) in rows).values() if count > 1)
    assert (unsalted.census.split_values, salted.census.split_values) == (0, repeated)


def test_blake_hashed_patterns_are_no_arithmetic_progressions() -> None:
    schema = planted.schema(planted.feature("first name", hash_type="blakeHash"))
    rows = [[name] for name in planted.first_names(20_000)]
    result = planted.audit(schema, rows)
    assert figures(result, "pattern-mining", "first name").qgrams_identified >= 10
    assert result.census.double_hash_patterns == 0 and result.census.progressions == 0


def test_chance_is_the_share_of_the_most_common_value() -> None:
    schema = planted.schema(planted.feature("state"))
    rows = [[value] for value in planted.skewed(4_000, STATES)]
    found = figures(planted.audit(schema, rows), "frequency", "state")
    share = sum(1 for (value,) in rows if value == "NSW") / len(rows)
    assert math.isclose(found.chance, share)
