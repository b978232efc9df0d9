"""Properties of the hardening steps and their keyed primitives, checked against their definitions.

Each step of :mod:`anonlinkclient.encoding.hardening` works on a whole chunk at once, with
NumPy and caches; here it must agree bit for bit with a direct, record-by-record
implementation of the documented specification (tests/encoding/hardening_reference.py,
standard library only), and have the properties the hardening issue asks for.
"""

import collections
import hmac
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
import pytest
from bitarray import bitarray
from clkhash.bloomfilter import fold_xor
from clkhash.key_derivation import generate_key_lists
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.encoding import hardening, keyed
from anonlinkclient.encoding.hardening_schema import STEP_TYPES
from anonlinkclient.encoding.post_steps import POST_STEPS
from tests.encoding import hardening_reference as reference

SETTINGS: Dict[str, Any] = dict(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


class Context:
    """A step's context, as the encoder gives it."""

    def __init__(
        self,
        params: Mapping[str, Any],
        key: bytes,
        records: Sequence[Sequence[str]] = (),
        columns: Mapping[str, int] = {},
    ) -> None:
        self.params, self.key, self.records, self.columns = params, key, records, columns

    def values(self, identifier: str) -> List[str]:
        return [record[self.columns[identifier]] for record in self.records]


@st.composite
def bit_matrices(draw: Any, min_length: int = 1, max_length: int = 200, max_rows: int = 12) -> np.ndarray:
    rows = draw(st.integers(1, max_rows))
    length = draw(st.integers(min_length, max_length))
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**32 - 1))
    return (np.random.default_rng(seed).random((rows, length)) < density).astype(np.uint8)


keys = st.binary(min_size=32, max_size=32)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum() + b.sum())
    return 2 * int((a & b).sum()) / total if total else 0.0


# --------------------------------------------------------------------------- keyed primitives


@given(
    secret=st.text(min_size=1, max_size=20),
    index=st.integers(0, 30),
    info=st.binary(max_size=20),
    salt=st.one_of(st.none(), st.binary(min_size=1, max_size=20)),
    kind=st.sampled_from(["permute", "salt", "rehash"]),
    hash_name=st.sampled_from(["SHA256", "SHA512"]),
)
@settings(**SETTINGS)
def test_step_keys_are_hkdf_under_their_own_label(
    secret: str, index: int, info: bytes, salt: Any, kind: str, hash_name: str
) -> None:
    key = keyed.step_key(secret, kind, index, hash_name, salt, info)
    assert key == reference.step_key(secret, kind, index, info, salt, hash_name.lower())
    # Never a CLK key: clkhash's keys are HKDF with the schema's own info, whatever it is (even
    # the label a hardening key of another schema has).
    for schema_info in (info, reference.LABEL, keyed.key_info(kind, index, b"")):
        ours = keyed.step_key(secret, kind, index, hash_name, salt, schema_info)
        clk_keys = generate_key_lists(secret, 2, key_size=64, salt=salt, info=schema_info, hash_algo=hash_name)
        material = b"".join(k for keys_ in clk_keys for k in keys_)
        assert ours[:16] not in material
    assert keyed.step_key(secret + "x", kind, index, hash_name, salt, info) != key
    assert keyed.step_key(secret, kind, index + 1, hash_name, salt, info) != key


@given(key=keys, context=st.binary(max_size=70), size=st.integers(0, 200))
@settings(**SETTINGS)
def test_the_stream_is_hmac_sha256_in_counter_mode(key: bytes, context: bytes, size: int) -> None:
    blocks = b"".join(hmac.digest(key, context + i.to_bytes(4, "big"), "sha256") for i in range(1, size // 32 + 2))
    assert keyed.stream(key, context, size) == blocks[:size]
    mac = keyed.Hmac(key)
    assert mac.block(context, 1) + mac.block(context, 2) == blocks[:64] if size >= 64 else True


@given(key=keys, context=st.binary(max_size=8), n=st.integers(1, 70000), count=st.integers(1, 20))
@settings(**SETTINGS)
def test_integers_by_rejection_sampling(key: bytes, context: bytes, n: int, count: int) -> None:
    expected_stream = reference.Stream(key, context)
    expected = [expected_stream.below(n) for _ in range(count)]
    draws = keyed.Draws(key, context, ahead=32)
    assert [draws.below(n) for _ in range(count)] == expected
    assert keyed.draw_positions(keyed.Hmac(key), context, count, n) == expected
    assert all(0 <= x < n for x in expected)


def test_rejection_sampling_has_no_modulo_bias() -> None:
    """n = 3 takes 2-bit numbers and rejects 3: each of 0, 1, 2 a third of the time (a modulo would give 0 half)."""
    draws = keyed.Draws(b"k" * 32, b"bias")
    counts = collections.Counter(draws.below(3) for _ in range(30000))
    assert all(abs(counts[v] - 10000) < 400 for v in range(3)), counts


@given(key=keys, n=st.integers(1, 300))
@settings(**SETTINGS)
def test_permutations_are_fisher_yates(key: bytes, n: int) -> None:
    context = n.to_bytes(4, "big")
    permutation = keyed.permutation(key, context, n)
    assert list(permutation) == reference.fisher_yates(key, context, n)
    assert sorted(permutation) == list(range(n))


def test_permutations_are_uniform_not_sattolo() -> None:
    """Over many keys, all 6 permutations of 3 come out about equally often (Sattolo's makes only the 2 cycles)."""
    counts = collections.Counter(keyed.permutation(i.to_bytes(32, "big"), b"", 3) for i in range(6000))
    assert len(counts) == 6
    assert all(abs(c - 1000) < 150 for c in counts.values()), counts
    assert counts[(0, 1, 2)] > 0  # the identity: no cyclic shuffle makes it


def test_probability_digits_are_the_binary_expansion_of_the_float() -> None:
    assert keyed.probability_bits(0.5, 3) == [1, 0, 0]
    assert keyed.probability_bits(0.05, 10) == [0, 0, 0, 0, 1, 1, 0, 0, 1, 1]
    assert keyed.probability_bits(0.75, 4) == [1, 1, 0, 0]


# --------------------------------------------------------------------------- permute, balance


@given(bits=bit_matrices(), key=keys)
@settings(**SETTINGS)
def test_permute_matches_its_definition_and_keeps_every_dice(bits: np.ndarray, key: bytes) -> None:
    out = hardening.permute(bits, Context({}, key))
    assert out.shape == bits.shape
    assert [list(row) for row in out] == [reference.permute(list(map(int, row)), key) for row in bits]
    for i in range(len(bits)):
        for j in range(len(bits)):
            assert dice(out[i], out[j]) == dice(bits[i], bits[j])


def test_a_different_secret_gives_a_different_permutation() -> None:
    bits = np.eye(64, dtype=np.uint8)
    first = hardening.permute(bits, Context({}, keyed.step_key("horse", "permute", 0)))
    second = hardening.permute(bits, Context({}, keyed.step_key("battery", "permute", 0)))
    again = hardening.permute(bits, Context({}, keyed.step_key("horse", "permute", 0)))
    assert (first == again).all()
    assert (first != second).any()
    assert (first != bits).any()


@given(bits=bit_matrices(), key=keys)
@settings(**SETTINGS)
def test_balance_has_exactly_l_ones_and_dice_one_minus_hamming_over_l(bits: np.ndarray, key: bytes) -> None:
    out = hardening.balance(bits, Context({}, key))
    length = bits.shape[1]
    assert out.shape == (len(bits), 2 * length)
    assert (out.sum(axis=1) == length).all()
    assert [list(row) for row in out] == [reference.balance(list(map(int, row)), key) for row in bits]
    for i in range(len(bits)):
        for j in range(len(bits)):
            hamming = int((bits[i] != bits[j]).sum())
            assert dice(out[i], out[j]) == pytest.approx(1 - hamming / length, abs=1e-12)


# --------------------------------------------------------------------------- xorFold, rule90


@given(data=st.data(), folds=st.integers(1, 4))
@settings(**SETTINGS)
def test_xor_fold_matches_its_definition_and_clkhash(data: Any, folds: int) -> None:
    bits = data.draw(bit_matrices(min_length=1, max_length=40)).repeat(2**folds, axis=1)
    bits = bits[:, np.random.default_rng(folds).permutation(bits.shape[1])]
    out = POST_STEPS["xorFold"].apply(bits, Context({"folds": folds}, b""))
    assert out.shape == (len(bits), bits.shape[1] >> folds)
    for row, folded in zip(bits, out):
        assert list(folded) == reference.xor_fold(list(map(int, row)), folds)
        theirs = fold_xor(bitarray(list(map(bool, row))), folds)
        assert list(folded) == theirs.tolist()


@given(bits=bit_matrices(min_length=3, max_length=100), iterations=st.integers(1, 70))
@settings(**SETTINGS)
def test_rule90_matches_its_definition(bits: np.ndarray, iterations: int) -> None:
    out = hardening.rule90(bits, Context({"iterations": iterations}, b""))
    assert [list(row) for row in out] == [reference.rule90(list(map(int, row)), iterations) for row in bits]


def test_rule90_maps_a_filter_and_its_complement_to_the_same_output() -> None:
    bits = (np.random.default_rng(3).random((5, 64)) < 0.3).astype(np.uint8)
    context = Context({"iterations": 1}, b"")
    assert (hardening.rule90(bits, context) == hardening.rule90(1 - bits, context)).all()


# --------------------------------------------------------------------------- rehash


@given(bits=bit_matrices(min_length=4, max_length=80, max_rows=6), key=keys, data=st.data())
@settings(**SETTINGS)
def test_rehash_matches_its_definition(bits: np.ndarray, key: bytes, data: Any) -> None:
    length = bits.shape[1]
    window = data.draw(st.integers(1, min(length, 70)))
    step = data.draw(st.integers(1, 12))
    count = data.draw(st.integers(1, 4))
    out = hardening.rehash(bits, Context({"window": window, "step": step, "bits": count}, key))
    assert [list(row) for row in out] == [
        reference.rehash(list(map(int, row)), key, window, step, count) for row in bits
    ]


def test_rehash_gives_the_same_bits_whatever_the_chunks_and_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    bits = (np.random.default_rng(4).random((300, 256)) < 0.4).astype(np.uint8)
    params = {"window": 10, "step": 6, "bits": 3}
    key = keyed.step_key("horse", "rehash", 0)
    whole = hardening.rehash(bits, Context(params, key))
    hardening._rehash_draws.cache_clear()
    monkeypatch.setattr(hardening, "REHASH_CACHE_ENTRIES", 5000)  # emptied several times
    parts = np.concatenate([hardening.rehash(bits[i : i + 37], Context(params, key)) for i in range(0, 300, 37)])
    assert (whole == parts).all()
    hardening._rehash_draws.cache_clear()


# --------------------------------------------------------------------------- randomizedResponse


def _records(seeds: Sequence[str]) -> Dict[str, Any]:
    return {"records": [[s] for s in seeds], "columns": {"seed": 0}}


@given(
    bits=bit_matrices(max_length=120, max_rows=6),
    key=keys,
    p=st.floats(0.001, 0.999),
    seeds=st.lists(st.text(max_size=4), min_size=6, max_size=6),
)
@settings(**SETTINGS)
def test_randomized_response_matches_its_definition(bits: np.ndarray, key: bytes, p: float, seeds: List[str]) -> None:
    seeds = seeds[: len(bits)]
    params = {"probability": p, "seedFeatures": ["seed"]}
    out = hardening.randomized_response(bits, Context(params, key, **_records(seeds)))
    expected = [reference.randomized_response(list(map(int, row)), key, p, [s]) for row, s in zip(bits, seeds)]
    assert [list(row) for row in out] == expected


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_randomized_response_flips_about_half_of_p_of_the_bits(p: float) -> None:
    rows, length = 400, 1024
    bits = (np.random.default_rng(5).random((rows, length)) < 0.4).astype(np.uint8)
    seeds = [f"record {i}" for i in range(rows)]
    params = {"probability": p, "seedFeatures": ["seed"]}
    out = hardening.randomized_response(
        bits, Context(params, keyed.step_key("horse", "randomizedResponse", 0), **_records(seeds))
    )
    flipped = float((out != bits).mean())
    spread = 4 * np.sqrt(p / 2 * (1 - p / 2) / bits.size)
    assert abs(flipped - p / 2) < spread, flipped


def test_records_that_agree_on_the_seed_features_get_the_same_noise() -> None:
    length = 512
    ones, zeros = np.ones((1, length), np.uint8), np.zeros((1, length), np.uint8)
    bits = np.concatenate([ones, ones, zeros, ones])
    seeds = [["Ann", "1970"], ["Ann", "1970"], ["Ann", "1970"], ["Ann", "1971"]]
    params = {"probability": 0.2, "seedFeatures": ["name", "year"]}
    context = Context(params, b"k" * 32, seeds, {"name": 0, "year": 1})
    out = hardening.randomized_response(bits, context)
    assert (out[0] == out[1]).all()
    # The same replaced positions for the all-ones and the all-zeros record: zeros in one are ones in the other.
    replaced_by_zero = out[0] == 0
    replaced_by_one = out[2] == 1
    assert replaced_by_zero.sum() > 0 and replaced_by_one.sum() > 0
    assert not (replaced_by_zero & replaced_by_one).any()
    # A record differing in a seed value gets independent noise.
    assert (out[3] != out[0]).any()
    agreement = float(((out[3] == 0) == (out[0] == 0)).mean())
    assert agreement < 0.99


def test_randomized_response_keys_a_missing_value_as_the_feature_hashes_it() -> None:
    bits = np.ones((3, 256), np.uint8)
    params = {"probability": 0.3, "seedFeatures": ["seed"], "missingValues": {"seed": ("N/A", "")}}
    out = hardening.randomized_response(bits, Context(params, b"k" * 32, **_records(["N/A", "", "x"])))
    assert (out[0] == out[1]).all() and (out[0] != out[2]).any()


def test_randomized_response_gives_the_same_bits_whatever_the_chunks_and_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = 250
    bits = (np.random.default_rng(6).random((rows, 200)) < 0.4).astype(np.uint8)
    seeds = [f"s{i % 90}" for i in range(rows)]
    params = {"probability": 0.1, "seedFeatures": ["seed"]}
    key = b"r" * 32
    whole = hardening.randomized_response(bits, Context(params, key, **_records(seeds)))
    hardening._noise_cache.cache_clear()
    monkeypatch.setattr(hardening, "NOISE_CACHE_BYTES", 40 * 50)  # room for 40 records' noise
    parts = [
        hardening.randomized_response(bits[i : i + 33], Context(params, key, **_records(seeds[i : i + 33])))
        for i in range(0, rows, 33)
    ]
    assert (whole == np.concatenate(parts)).all()
    hardening._noise_cache.cache_clear()


# --------------------------------------------------------------------------- salt


def test_salt_tags_are_the_first_block_of_the_salt_stream() -> None:
    key = keyed.step_key("horse", "salt", 0)
    mac = keyed.Hmac(key)
    assert keyed.salt_tag(mac, "1970") == reference.salt_tag(key, "1970")
    assert keyed.salt_tag(mac, "1970") != keyed.salt_tag(mac, "1971")
    assert len(keyed.salt_tag(mac, "")) == 32


def test_every_step_is_in_the_post_step_table_with_its_length_rule() -> None:
    steps = {"permute", "balance", "xorFold", "rule90", "rehash", "randomizedResponse"}
    assert steps <= set(POST_STEPS) and set(STEP_TYPES) == steps | {"salt"}
    lengths = {name: POST_STEPS[name].length(1024, {"folds": 2}) for name in steps}
    assert lengths == {
        "permute": 1024,
        "balance": 2048,
        "xorFold": 256,
        "rule90": 1024,
        "rehash": 1024,
        "randomizedResponse": 1024,
    }
    assert POST_STEPS["permute"].apply is hardening.permute


def test_the_test_vectors_in_the_docs_are_what_the_code_and_the_reference_compute() -> None:
    """docs/linkage-schema.rst gives test vectors for other implementations: they must be right."""
    import base64
    import json
    import re

    from tests.helpers import ROOT

    text = re.sub(r"\s+", " ", (ROOT / "docs" / "linkage-schema.rst").read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "anonlinkclient" / "synthetic" / "data" / "default-linkage-schema.json").read_text())
    kdf = schema["clkConfig"]["kdf"]
    salt, info = base64.b64decode(kdf["salt"]), base64.b64decode(kdf["info"])
    assert info == b"schema_example" and "info ``schema_example``" in text

    def key(kind: str, index: int) -> bytes:
        derived = keyed.step_key("horse", kind, index, "SHA256", salt, info)
        assert derived == reference.step_key("horse", kind, index, info, salt)
        assert f"key of hardening[{index}], {kind} {derived.hex()}" in text
        return derived

    permute_key = key("permute", 0)
    assert f"{keyed.stream(permute_key, (1024).to_bytes(4, 'big'), 16).hex()} ..." in text
    first = reference.fisher_yates(permute_key, (1024).to_bytes(4, "big"), 1024)[:8]
    assert ", ".join(map(str, first)) + ", ..." in text
    assert f"salt tag of the value 1970 {reference.salt_tag(key('salt', 1), '1970').hex()}" in text
    ones = [1] * 64
    noisy = "".join(map(str, reference.randomized_response(ones, key("randomizedResponse", 2), 0.25, ["Ann"])))
    assert f"64 ones {noisy}" in text
    row = [int(c) for c in "1011000011110010"]
    assert f"1011000011110010 {''.join(map(str, reference.rehash(row, key('rehash', 3), 4, 4, 2)))}" in text
    assert f"of 1011000011110010 {''.join(map(str, reference.balance(row, key('balance', 4))))}" in text


@given(data=st.data(), name=st.sampled_from(["rule90", "rehash", "randomizedResponse", "xorFold"]))
@settings(**SETTINGS)
def test_packed_forms_give_the_bytes_of_the_steps_on_bits(data: Any, name: str) -> None:
    """A step's packed form (used while rows are whole bytes) is the step on bits, packed."""
    bits = data.draw(bit_matrices(min_length=1, max_length=40)).repeat(8, axis=1)
    bits = bits[:, np.random.default_rng(bits.shape[1]).permutation(bits.shape[1])]
    length = bits.shape[1]
    params: Dict[str, Any] = {
        "iterations": data.draw(st.integers(1, 40)),
        "window": data.draw(st.integers(1, min(length, 64))),
        "step": data.draw(st.integers(1, 9)),
        "bits": data.draw(st.integers(1, 3)),
        "probability": data.draw(st.floats(0.01, 0.99)),
        "seedFeatures": ["seed"],
        "folds": 1 if length % 16 == 0 else 0,
    }
    if name == "xorFold" and not params["folds"]:
        return
    context = Context(params, b"p" * 32, **_records([f"s{i % 3}" for i in range(len(bits))]))
    step = POST_STEPS[name]
    assert step.packed is not None
    on_bits = np.packbits(step.apply(bits, context), axis=1)
    assert np.array_equal(step.packed(np.packbits(bits, axis=1), context), on_bits)
