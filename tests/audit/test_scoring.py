"""The scoring's truth is the encoder's, and its counts mean what the report says they mean."""

from typing import Any, List, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonlinkclient.audit.attacks.model import AttackResult, Guess, Reference
from anonlinkclient.audit.data import Items, population_from_rows, tokenise
from anonlinkclient.audit.scoring import MAX_CANDIDATES, Truth, score
from anonlinkclient.encoding.parallel import derive_keys
from tests.audit import planted

JSON_KEYS = [
    "attack",
    "scenario",
    "feature",
    "qgrams_identified",
    "position_precision",
    "position_recall",
    "correct",
    "one_to_many",
    "wrong",
    "no_guess",
    "chance",
]


def _bits(clk: bytes) -> set:
    return set(np.flatnonzero(np.unpackbits(np.frombuffer(clk, dtype=np.uint8))).tolist())


def _truth_and_bits(schema: Any, values: List[str]) -> Tuple[Truth, List[Tuple[str, List[int], set]]]:
    """The truth of a one-feature schema, and each value's token ids and the bits the encoder sets for it."""
    population = population_from_rows("values", schema, [[v] for v in values])
    tokens = tokenise(schema, [population])
    truth = Truth(schema, derive_keys(planted.SECRET, schema), tokens, [population])
    column = population.columns[0]
    clks = planted.encode(schema, [[v] for v in values])
    ids = [column.tokens.of(column.values.index(value)).tolist() for value in values]
    return truth, [(value, i, _bits(row.tobytes())) for value, i, row in zip(values, ids, clks.rows)]


@pytest.mark.parametrize("hash_type", ["doubleHash", "blakeHash"])
@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.text(alphabet="abcdeéZ -", min_size=1, max_size=12), min_size=1, max_size=8))
def test_the_true_positions_of_a_value_s_tokens_are_the_bits_the_encoder_sets(hash_type: str, values: list) -> None:
    schema = planted.schema(planted.feature("name", n=2, k=7, hash_type=hash_type), l=512)
    truth, hashed = _truth_and_bits(schema, values)
    for value, ids, bits in hashed:
        expected = set().union(*(truth.positions(t)[0] for t in ids))
        assert bits == expected
        assert truth.value_bits(0, [value]) == len(expected)


def test_under_bits_per_feature_a_token_can_set_more_positions_than_it_always_sets() -> None:
    document = planted.feature("name")
    document["hashing"]["strategy"] = {"bitsPerFeature": 60}
    schema = planted.schema(document)
    truth, hashed = _truth_and_bits(schema, ["Al", "Alexandra-Maria"])
    for _value, ids, bits in hashed:
        most = set().union(*(truth.positions(t)[0] for t in ids))
        fewest = set().union(*(truth.positions(t)[1] for t in ids))
        assert fewest <= bits <= most
    assert truth.ks[0] == (60 // 16, 60 // 3)


def _result(record_keys: list, item_keys: list, guesses: list = ()) -> AttackResult:
    return AttackResult("pattern-mining", list(guesses), np.array(record_keys), np.array(item_keys))


def test_records_are_counted_correct_one_to_many_wrong_or_not_guessed() -> None:
    schema = planted.schema(planted.feature("name"))
    values = [f"v{i}" for i in range(20)]
    truth_rows = [["v0"], ["v1"], ["v2"], ["v3"], ["v4"], ["v5"]]
    population = population_from_rows("records", schema, truth_rows + [[v] for v in values[6:]])
    tokens = tokenise(schema, [population])
    item_codes = np.arange(20)[:, None]
    reference = Reference.from_token_lists([[0]] * 20, [1] * 20, len(tokens.names))
    items = Items(reference, [0], item_codes)
    # Items 0..19 are v0..v19. Keys: record 0 -> {v0}; 1 -> {v1, v7}; 2 -> {v9}; 3 -> 11 values; 4 -> none.
    item_keys = [0, 1, 9, 3, 3, 3, 3, 1, 3, 2] + [3] * 10
    record_keys = [0, 1, 2, 3, -1, 0] + [-1] * 14
    figures = score(
        _result(record_keys, item_keys),
        "worst-case",
        items,
        {0: np.arange(20)},
        population,
        Truth(schema, [], tokens, [population]),
    )
    ((found, _),) = figures
    # record 5 (v5) gets {v0}: one candidate, wrong.
    assert (found.correct, found.one_to_many, found.wrong, found.no_guess) == (1, 1, 2, 16)
    assert list(found.as_json()) == JSON_KEYS
    assert found.qgrams_identified == 0 and found.position_precision is None
    assert MAX_CANDIDATES == 10


def test_a_candidate_set_of_every_value_is_no_guess() -> None:
    schema = planted.schema(planted.feature("sex"))
    population = population_from_rows("records", schema, [["F"], ["M"], ["M"]])
    tokens = tokenise(schema, [population])
    reference = Reference.from_token_lists([[0], [1]], [1, 2], len(tokens.names))
    items = Items(reference, [0], np.array([[0], [1]]))
    ((found, recovered),) = score(
        _result([0, 0, 0], [0, 0]),
        "worst-case",
        items,
        {0: np.array([0, 1])},
        population,
        Truth(schema, [], tokens, [population]),
    )
    assert (found.correct, found.one_to_many, found.wrong, found.no_guess) == (0, 0, 0, 3)
    assert recovered.values == [] and recovered.qgrams == []
    assert found.chance == pytest.approx(2 / 3)


def test_position_precision_and_recall_are_scored_against_the_true_positions() -> None:
    schema = planted.schema(planted.feature("name", k=10))
    population = population_from_rows("records", schema, [["ab"], ["ab"]])
    tokens = tokenise(schema, [population])
    truth = Truth(schema, derive_keys(planted.SECRET, schema), tokens, [population])
    token = tokens.ids[(0, "ab")]
    true = sorted(truth.positions(token)[0])
    wrong = sorted(set(range(1024)) - set(true))[:5]
    guess = Guess((token,), np.array(sorted(true[:5] + wrong)), 2)
    reference = Reference.from_token_lists([population.columns[0].tokens.of(0).tolist()], [2], len(tokens.names))
    items = Items(reference, [0], np.array([[0]]))
    ((found, recovered),) = score(
        _result([0, 0], [0], [guess]), "worst-case", items, {0: np.array([0])}, population, truth
    )
    assert found.qgrams_identified == 1
    assert found.position_precision == pytest.approx(0.5)
    assert found.position_recall == pytest.approx(5 / len(true))
    assert found.correct == 2
    assert recovered.values == [("ab", 2)] and recovered.qgrams == ["ab"]
