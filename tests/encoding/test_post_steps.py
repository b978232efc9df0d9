"""The post-step seam: bit conversions in clkhash's order, XOR folding as clkhash folds, and
steps plugged in through the one table changing the CLKs, their length and their popcounts."""

from typing import Any, Dict, List, Sequence

import numpy as np
import pytest
from bitarray import bitarray
from clkhash.bloomfilter import fold_xor
from clkhash.clk import hash_chunk
from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema, from_json_dict
from hypothesis import given, settings
from hypothesis import strategies as st

import anonlinkclient.encoding.encoder as encoder_module
from anonlinkclient.encoding import post_steps
from anonlinkclient.encoding.encoder import ClkEncoder
from anonlinkclient.encoding.post_steps import (
    POST_STEPS,
    PlannedStep,
    PostStep,
    StepContext,
    apply_steps,
    final_length,
    pack_bits,
    plan,
    same_length,
    unpack_bits,
    xor_fold,
)

ROWS = [["1", "Alice Smith", "F"], ["2", "Bob", "M"], ["3", "", "F"], ["4", "Bob", "M"]]


def schema(l_value: int = 1024, xor_folds: int = 0) -> Schema:
    clk_config: Dict[str, Any] = {"l": l_value, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64}}
    if xor_folds:
        clk_config["xor_folds"] = xor_folds
    hashing = {
        "comparison": {"type": "ngram", "n": 2},
        "strategy": {"bitsPerToken": 20},
        "hash": {"type": "doubleHash"},
    }
    return from_json_dict(
        {
            "version": 3,
            "clkConfig": clk_config,
            "features": [
                {"identifier": "id", "ignored": True},
                {"identifier": "name", "format": {"type": "string"}, "hashing": hashing},
                {"identifier": "sex", "format": {"type": "enum", "values": ["F", "M"]}, "hashing": hashing},
            ],
        }
    )


def keys(s: Schema) -> Any:
    return generate_key_lists("secret", len(s.fields), key_size=64, salt=s.kdf_salt, info=s.kdf_info, kdf="HKDF")


def clkhash_clks(s: Schema) -> List[bytes]:
    return [clk.tobytes() for clk in hash_chunk(ROWS, keys(s), s, True, 0)[0]]


def random_bits(data: Any, count: int, length: int) -> np.ndarray:
    flat = data.draw(st.lists(st.integers(0, 1), min_size=count * length, max_size=count * length))
    return np.array(flat, dtype=np.uint8).reshape(count, length)


@settings(deadline=None, max_examples=50)
@given(st.data(), st.integers(0, 5), st.integers(1, 200))
def test_bits_are_in_clkhash_order_and_round_trip(data: Any, count: int, length: int) -> None:
    bits = random_bits(data, count, length)
    packed = pack_bits(bits)
    for row, packed_row in zip(bits, packed):
        expected = bitarray("".join(map(str, row.tolist())))  # clkhash's bitarrays are big-endian
        assert packed_row.tobytes() == expected.tobytes()
    assert np.array_equal(unpack_bits(packed, length), bits)
    words = np.zeros((count, (length + 63) // 64 * 8), dtype=np.uint8)
    words[:, : packed.shape[1]] = packed
    assert np.array_equal(unpack_bits(words.view(np.uint64), length), bits)  # packed uint64 words too


@settings(deadline=None, max_examples=60)
@given(st.data(), st.integers(1, 4), st.integers(1, 40), st.integers(0, 4))
def test_xor_fold_is_clkhashs_fold_xor_packed_or_not(data: Any, folds: int, folded: int, count: int) -> None:
    length = folded * 2**folds
    bits = random_bits(data, count, length)
    step = PlannedStep("xorFold", POST_STEPS["xorFold"], {"folds": folds})
    result = apply_steps([step], pack_bits(bits), length, [["x"]] * count, {})
    assert final_length([step], length) == folded
    assert result.shape == (count, (folded + 7) // 8)
    for row, clk in zip(bits, result):
        expected = fold_xor(bitarray("".join(map(str, row.tolist()))), folds)
        assert clk.tobytes() == expected.tobytes()
        assert np.array_equal(xor_fold(row[None, :], step.context([], {}))[0], np.array(expected.tolist()))


def test_the_schemas_folds_are_the_one_post_step() -> None:
    assert plan(schema()) == []
    assert [(p.name, p.params) for p in plan(schema(xor_folds=2))] == [("xorFold", {"folds": 2})]
    encoder = ClkEncoder(schema(1000, xor_folds=2), keys(schema(1000, xor_folds=2)))
    assert (encoder.hash_bits, encoder.clk_bits, encoder.out_bytes) == (4000, 1000, 125)


@pytest.mark.parametrize("l_value, xor_folds", [(1024, 0), (1024, 1), (1000, 2), (1020, 1)])
def test_no_step_but_folding_at_whole_bytes_unpacks_nothing(monkeypatch: Any, l_value: int, xor_folds: int) -> None:
    unpacked: List[int] = []
    real_unpack = post_steps.unpack_bits
    monkeypatch.setattr(post_steps, "unpack_bits", lambda *args: unpacked.append(1) or real_unpack(*args))
    s = schema(l_value, xor_folds)
    assert ClkEncoder(s, keys(s)).encode(ROWS)[0] == clkhash_clks(s)
    assert len(unpacked) == (1 if l_value % 8 else 0)  # 1020 bits: halves of 127.5 bytes


def balance(bits: np.ndarray, context: StepContext) -> np.ndarray:
    """A stand-in for a step that changes the length: the bits, then their complement."""
    return np.concatenate([bits, 1 - bits], axis=1)


def mark_empty_names(bits: np.ndarray, context: StepContext) -> np.ndarray:
    """A stand-in for a step that reads raw values: bit 0 says whether the record's name is empty."""
    bits = bits.copy()
    bits[:, 0] = [value == "" for value in context.values(context.params["feature"])]
    return bits


def test_a_step_added_to_the_table_runs_after_the_folds(monkeypatch: Any) -> None:
    """One function and one table entry; the CLK length, bytes and popcounts follow the steps."""
    monkeypatch.setitem(POST_STEPS, "balance", PostStep(balance, lambda length, params: 2 * length))
    monkeypatch.setitem(POST_STEPS, "markEmpty", PostStep(mark_empty_names, same_length))

    def plan_with_steps(s: Schema, step_keys: Sequence[bytes] = ()) -> List[PlannedStep]:
        extra = [("balance", {}), ("markEmpty", {"feature": "name"})]
        return plan(s, step_keys) + [PlannedStep(name, POST_STEPS[name], params) for name, params in extra]

    monkeypatch.setattr(encoder_module, "plan", plan_with_steps)
    s = schema(1020, xor_folds=1)
    encoder = ClkEncoder(s, keys(s))
    assert (encoder.hash_bits, encoder.clk_bits, encoder.out_bytes) == (2040, 2040, 255)
    clks, popcounts = encoder.encode(ROWS)
    for clk, folded, popcount, row in zip(clks, clkhash_clks(s), popcounts, ROWS):
        bits = np.unpackbits(np.frombuffer(clk, np.uint8))
        plain = np.unpackbits(np.frombuffer(folded, np.uint8))[:1020]
        assert np.array_equal(bits[1:1020], plain[1:])
        assert np.array_equal(bits[1020:], 1 - plain)
        assert bits[0] == (row[1] == "")
        assert popcount == bits.sum()
