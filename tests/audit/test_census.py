"""The census: what CLKs and schema give away before any attack."""

import random

from anonlinkclient.audit.census import FEW_BITS, is_progression
from tests.audit import planted


def test_double_hash_positions_are_recognised_as_arithmetic_progressions() -> None:
    rng = random.Random(1)
    length, k = 1024, 15
    for _ in range(200):
        start, step = rng.randrange(length), rng.randrange(1, length)
        positions = [(start + i * step) % length for i in range(k)]
        found = rng.sample(positions, 12)  # an attack may miss a few
        assert is_progression(found, length, k)
        if len(set(found)) < 10:
            continue  # a step that wraps round onto itself early: too few positions to leave one out
        chance, other = rng.sample([p for p in range(length) if p not in positions], 2)
        assert is_progression(found + [chance], length, k)  # one position in ten set by chance
        assert not is_progression(found[:11] + [chance, other], length, k)
    random_sets = [rng.sample(range(length), 12) for _ in range(200)]
    assert sum(is_progression(positions, length, k) for positions in random_sets) == 0
    assert not is_progression([3, 9], length, k)  # two positions say nothing


def test_the_census_counts_shared_clks_and_warns_of_tiny_value_sets_and_few_bits() -> None:
    # "sex" sets 2 bits per token: 4 per value at most, very few.
    schema = planted.schema(planted.feature("sex", k=2), planted.feature("first name"), l=256)
    rows = [[sex, name] for sex, name in zip(planted.skewed(3_000, ["F", "M"]), planted.first_names(3_000))]
    census = planted.audit(schema, rows).census
    assert census.records == 3_000
    assert census.distinct_clks == len({tuple(row) for row in rows})
    assert census.shared_clks == 0 and census.split_values == 0
    sex, name = census.features
    assert sex.distinct_values == 2 and sex.bits_per_value < FEW_BITS
    assert sex.warnings == (
        "tiny value set (2 values): told apart by frequency alone",
        f"very few bits ({sex.bits_per_value:.1f} per value): its values collide and stand out",
    )
    assert name.warnings == () and name.bits_per_value > 50
    assert (sex.comparison, sex.hash_type) == ("bigrams", "doubleHash")
