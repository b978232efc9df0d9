"""What an attacker undoes of hardening: constant positions, balance's complements, permutations.

Hardening is emulated here with NumPy on real CLKs (a permutation of the bit
positions; each filter followed by its complement, then permuted), so that the
attacks' invariances are checked whatever the hardening module does.
"""

from typing import Tuple

import numpy as np
import pytest

from anonlinkclient.audit.attacks.frequency import frequency_attack
from anonlinkclient.audit.attacks.model import Encodings
from anonlinkclient.audit.attacks.patterns import pattern_mining_attack
from anonlinkclient.audit.attacks.undo import undo_hardening
from anonlinkclient.audit.data import population_from_rows, public_parameters, reference_items, tokenise
from tests.audit import planted


@pytest.fixture(scope="module")
def first_names() -> Tuple[Encodings, object, object]:
    schema = planted.schema(planted.feature("first name"))
    rows = [[name] for name in planted.first_names(12_000)]
    population = population_from_rows("records", schema, rows)
    tokens = tokenise(schema, [population])
    items = reference_items(population, [0], tokens)
    return planted.encode(schema, rows), items.reference, public_parameters(schema, tokens, [population], exact=True)


def _permuted(encodings: Encodings, order: np.ndarray) -> Encodings:
    return Encodings(np.packbits(encodings.unpacked()[:, order], axis=1), len(order))


def _balanced(encodings: Encodings, order: np.ndarray) -> Encodings:
    bits = encodings.unpacked()
    return Encodings(np.packbits(np.concatenate([bits, ~bits], axis=1)[:, order], axis=1), len(order))


@pytest.mark.parametrize("attack", [frequency_attack, pattern_mining_attack])
def test_a_permutation_changes_nothing_but_the_names_of_the_positions(first_names: Tuple, attack: object) -> None:
    encodings, reference, public = first_names
    order = np.random.default_rng(7).permutation(encodings.bits)
    plain = attack(encodings, reference, public)  # type: ignore[operator]
    permuted = attack(_permuted(encodings, order), reference, public)  # type: ignore[operator]
    assert len(plain.guesses) >= 10
    assert [(g.tokens, sorted(order[g.positions].tolist())) for g in permuted.guesses] == [
        (g.tokens, g.positions.tolist()) for g in plain.guesses
    ]
    assert np.array_equal(permuted.record_keys, plain.record_keys)


def test_balance_is_undone_by_pairing_complements(first_names: Tuple) -> None:
    encodings, reference, public = first_names
    order = np.random.default_rng(8).permutation(2 * encodings.bits)
    balanced = _balanced(encodings, order)
    assert set(balanced.unpacked().sum(axis=1).tolist()) == {encodings.bits}
    undone, kept, notes = undo_hardening(balanced)
    constant = np.flatnonzero(encodings.unpacked().all(axis=0) | ~encodings.unpacked().any(axis=0))
    assert notes[-1] == (
        f"paired {encodings.bits - len(constant)} positions with their complements (balance) "
        "and kept the sparser of each pair"
    )
    # Every kept position is an original one (not a complement), and every original one is kept.
    assert sorted(order[kept].tolist()) == sorted(set(range(encodings.bits)) - set(constant.tolist()))
    plain = pattern_mining_attack(encodings, reference, public)
    attacked = pattern_mining_attack(undone, reference, public)
    assert [(g.tokens, sorted(order[kept[g.positions]].tolist())) for g in attacked.guesses] == [
        (g.tokens, g.positions.tolist()) for g in plain.guesses
    ]
    assert np.array_equal(attacked.record_keys, plain.record_keys)


def test_positions_that_never_change_are_dropped() -> None:
    rows = np.array([[0b10110000, 0xFF], [0b00110000, 0xFF], [0b10100000, 0xFF]], dtype=np.uint8)
    encodings = Encodings(rows, 16)
    undone, kept, notes = undo_hardening(encodings)
    assert undone is encodings and kept.tolist() == list(range(16))
    assert notes == ["14 positions are the same in every CLK: the attacks leave them aside"]
    # With complements to pair, the constant positions go too; of each pair the sparser stays.
    sparse = np.array([[0b10000000, 0xFF], [0b00010000, 0xFF], [0, 0xFF], [0, 0xFF]], dtype=np.uint8)
    balanced = Encodings(np.concatenate([~sparse[:, :1], sparse], axis=1), 24)
    undone, kept, notes = undo_hardening(balanced)
    assert kept.tolist() == [8, 11]
    assert undone.unpacked().tolist() == [[True, False], [False, True], [False, False], [False, False]]
    assert notes[-1] == "paired 2 positions with their complements (balance) and kept the sparser of each pair"


def test_nothing_to_undo_leaves_the_clks_as_they_are() -> None:
    rows = np.array([[0b10000000], [0b01000000]], dtype=np.uint8)
    encodings = Encodings(rows, 2)
    undone, kept, notes = undo_hardening(encodings)
    # The two positions are each other's complement: one is kept.
    assert notes == ["paired 1 position with their complements (balance) and kept the sparser of each pair"]
    same = Encodings(np.array([[0b11000000], [0b01000000], [0b00000000]], dtype=np.uint8), 2)
    assert undo_hardening(same)[0] is same and undo_hardening(same)[2] == []
