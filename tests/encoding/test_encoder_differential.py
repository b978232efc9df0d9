"""Differential tests: ClkEncoder against clkhash.clk.hash_chunk, on random schemas and data.

The oracle is what anonlinkclient does today with clkhash (``oracle`` below copies the
decisions of ``_hash``): the CLK bytes and popcounts, or the first bad record as
(record index, column, reason). Where clkhash itself crashes (an exception that is no
validation error), ours must report a record, the first one that crashes clkhash alone.
"""

import base64
import copy
import string
from datetime import date
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import pytest
from clkhash import bloomfilter
from clkhash.clk import hash_chunk
from clkhash.field_formats import InvalidEntryError
from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema, SchemaError, from_json_dict
from clkhash.validate_data import EntryError, FormatError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import anonlinkclient.encoding.encoder as encoder_module
from anonlinkclient.encoding.caches import ValueCache
from anonlinkclient.encoding.dates import FastDate
from anonlinkclient.encoding.encoder import ClkEncoder, schema_problem
from anonlinkclient.encoding.schema import linkage_schema, schema_errors
from anonlinkclient.errors import RecordError, UnhashableSchema

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Failure(NamedTuple):
    record_index: int
    column: Optional[str]
    reason: str


class Crash(NamedTuple):
    exception: BaseException


Outcome = Union[Tuple[List[bytes], List[int]], Failure, Crash]


def oracle(rows: Sequence[Sequence[str]], keys: Any, schema: Schema, validate: bool, first_index: int) -> Outcome:
    """anonlinkclient's handling of clkhash.clk.hash_chunk (before our encoder)."""
    try:
        clks, popcounts = hash_chunk(rows, keys, schema, validate, first_index)
    except EntryError as exc:
        cause = exc.__cause__.args[0] if exc.__cause__ and exc.__cause__.args else str(exc)
        column = exc.field_spec.identifier if exc.field_spec is not None else None
        return Failure(exc.row_index or first_index, column, str(cause))
    except FormatError as exc:
        return Failure(first_index, None, str(exc))
    except InvalidEntryError as exc:
        if len(rows) > 1:
            for offset, row in enumerate(rows):
                failure = oracle([row], keys, schema, validate, first_index + offset)
                if not isinstance(failure, tuple) or isinstance(failure, (Failure, Crash)):
                    return failure
        column = exc.field_spec.identifier if exc.field_spec is not None else None
        return Failure(first_index, column, str(exc))
    except Exception as exc:  # clkhash crashed: a traceback for the user today
        return Crash(exc)
    return [clk.tobytes() for clk in clks], popcounts


def ours(encoder: ClkEncoder, rows: Sequence[Sequence[str]], validate: bool, first_index: int) -> Outcome:
    try:
        return encoder.encode(rows, validate, first_index)
    except RecordError as exc:
        return Failure(exc.record_index, exc.column, exc.reason)


def assert_same(
    encoder: ClkEncoder, keys: Any, schema: Schema, rows: Sequence[Sequence[str]], validate: bool, first_index: int
) -> Outcome:
    expected = oracle(rows, keys, schema, validate, first_index)
    actual = ours(encoder, rows, validate, first_index)
    note_event(
        "clkhash: "
        + (type(expected).__name__ if isinstance(expected, (Failure, Crash)) else "CLKs" if rows else "no rows")
    )
    if isinstance(expected, Crash):
        # clkhash has no words for it; we must name the first record that crashes it.
        assert isinstance(actual, Failure), f"clkhash crashed with {expected.exception!r}, we returned CLKs"
        at = actual.record_index - first_index
        assert 0 <= at < len(rows)
        assert isinstance(oracle([rows[at]], keys, schema, validate, 0), (Crash, Failure))
        for row in rows[:at]:
            assert not isinstance(oracle([row], keys, schema, validate, 0), (Crash, Failure))
    else:
        assert actual == expected
    return expected


def note_event(text: str) -> None:
    try:
        event(text)
    except Exception:  # not inside a hypothesis test
        pass


# --------------------------------------------------------------------------- schemas

ALPHABET = st.sampled_from(list("aAbBzZ019 -/.é漢😀ßΣς\t_+İ") + ["\ud800"])
TEXT = st.text(ALPHABET, max_size=8)
SAFE_ALPHABET = st.sampled_from(list("aAbBzZ019 -/.é漢😀ßΣς_+"))
PATTERNS = ["[a-z]+", "[0-9]{2,4}", ".*", "(ab|c)*", "\\w+", "[A-Z][a-z]*"]
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%Y%m%d", "%m-%d-%Y", "%d %b %Y", "%Y.%j", "%y%m%d", "%Y-%m"]


@st.composite
def string_format(draw: Any) -> Dict[str, Any]:
    fmt: Dict[str, Any] = {"type": "string"}
    if draw(st.booleans()):
        fmt["encoding"] = draw(st.sampled_from(["ascii", "utf-8", "utf-16", "utf-32"]))
    if draw(st.integers(0, 4)) == 0:
        fmt["pattern"] = draw(st.sampled_from(PATTERNS))
        return fmt
    if draw(st.booleans()):
        fmt["case"] = draw(st.sampled_from(["upper", "lower", "mixed"]))
    if draw(st.booleans()):
        fmt["minLength"] = draw(st.integers(0, 4))
    if draw(st.booleans()):
        fmt["maxLength"] = draw(st.integers(max(1, fmt.get("minLength", 1)), 8))
    return fmt


@st.composite
def feature_format(draw: Any) -> Dict[str, Any]:
    kind = draw(st.sampled_from(["string", "string", "integer", "date", "enum"]))
    if kind == "string":
        return draw(string_format())
    if kind == "integer":
        fmt: Dict[str, Any] = {"type": "integer"}
        if draw(st.booleans()):
            fmt["minimum"] = draw(st.integers(-100, 50))
        if draw(st.booleans()):
            fmt["maximum"] = draw(st.integers(fmt.get("minimum", -100), 200))
        return fmt
    if kind == "date":
        return {"type": "date", "format": draw(st.sampled_from(DATE_FORMATS))}
    member = st.one_of(st.text(SAFE_ALPHABET, max_size=6), st.sampled_from(["1", "-2", "3.5", "M", "", " 7 "]))
    values = draw(st.lists(st.one_of(member, member, member, TEXT), min_size=1, max_size=4))
    return {"type": "enum", "values": values}


@st.composite
def comparison(draw: Any) -> Dict[str, Any]:
    kind = draw(st.sampled_from(["ngram", "ngram", "ngram", "exact", "numeric"]))
    if kind == "ngram":
        comp: Dict[str, Any] = {"type": "ngram", "n": draw(st.integers(1, 5))}
        if draw(st.booleans()):
            comp["positional"] = draw(st.booleans())
        return comp
    if kind == "exact":
        return {"type": "exact"}
    precision = draw(st.integers(0, 3))
    threshold = draw(st.sampled_from([1, 2, 5, 0.5, 0.25, 10.5, 100, 7]))
    while int(round(threshold * 10**precision)) == 0:  # clkhash refuses these when parsing the schema
        precision += 1
    comp = {"type": "numeric", "thresholdDistance": threshold, "resolution": draw(st.integers(1, 6))}
    if precision or draw(st.booleans()):
        comp["fractional_precision"] = precision
    return comp


@st.composite
def hashing(draw: Any, blake_ok: bool) -> Dict[str, Any]:
    config: Dict[str, Any] = {"comparison": draw(comparison())}
    if draw(st.booleans()):
        config["strategy"] = {"bitsPerToken": draw(st.integers(1, 40))}
    else:
        config["strategy"] = {"bitsPerFeature": draw(st.integers(1, 300))}
    hash_choice = draw(st.sampled_from(["double", "double_ns", "double_s", "blake", "default"]))
    if not blake_ok and hash_choice in ("blake", "default"):
        hash_choice = "double"
    if hash_choice == "double":
        config["hash"] = {"type": "doubleHash"}
    elif hash_choice == "double_ns":
        config["hash"] = {"type": "doubleHash", "prevent_singularity": True}
    elif hash_choice == "double_s":
        config["hash"] = {"type": "doubleHash", "prevent_singularity": False}
    elif hash_choice == "blake":
        config["hash"] = {"type": "blakeHash"}
    if draw(st.integers(0, 2)) == 0:
        missing: Dict[str, Any] = {"sentinel": draw(st.sampled_from(["", "N/A", "null", "1", "a"]))}
        if draw(st.booleans()):
            missing["replaceWith"] = draw(st.sampled_from(["", "0", "7", "x", "missing", "2.5"]))
        config["missingValue"] = missing
    return config


@st.composite
def v3_schema(draw: Any) -> Dict[str, Any]:
    folds = draw(st.sampled_from([0, 0, 0, 1, 2, 3]))
    power_of_two = draw(st.booleans())
    if power_of_two:
        l_value = 2 ** draw(st.integers(0, 11))
    else:
        l_value = draw(st.one_of(st.integers(1, 70), st.sampled_from([100, 999, 1000, 1001, 1023, 2000])))
    blake_ok = _is_power_of_two(l_value)
    kdf: Dict[str, Any] = {"type": "HKDF"}
    if draw(st.booleans()):
        kdf["hash"] = draw(st.sampled_from(["SHA256", "SHA512"]))
    if draw(st.booleans()):
        kdf["salt"] = base64.b64encode(draw(st.binary(max_size=20))).decode()
    if draw(st.booleans()):
        kdf["info"] = base64.b64encode(draw(st.binary(max_size=10))).decode()
    if draw(st.booleans()):
        kdf["keySize"] = draw(st.sampled_from([1, 16, 32, 64]) if blake_ok else st.sampled_from([1, 16, 64, 100]))
    clk_config: Dict[str, Any] = {"l": l_value, "kdf": kdf}
    if folds:
        clk_config["xor_folds"] = folds
    if draw(st.integers(0, 5)) == 0:
        clk_config["xorFolds"] = draw(st.integers(0, 2))  # clkhash reads xor_folds and ignores xorFolds
    features = []
    for i in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 6)) == 0:
            features.append({"identifier": f"f{i}", "ignored": True})
            continue
        features.append({"identifier": f"f{i}", "format": draw(feature_format()), "hashing": draw(hashing(blake_ok))})
    return {"version": 3, "clkConfig": clk_config, "features": features}


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@st.composite
def v2_schema(draw: Any) -> Dict[str, Any]:
    l_value = draw(st.sampled_from([64, 128, 1024, 1000, 30]))
    features = []
    for i in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 5)) == 0:
            features.append({"identifier": f"f{i}", "ignored": True})
            continue
        hash_config = (
            {"type": "doubleHash"}
            if not _is_power_of_two(l_value)
            else draw(
                st.sampled_from(
                    [{"type": "doubleHash"}, {"type": "blakeHash"}, {"type": "doubleHash", "prevent_singularity": True}]
                )
            )
        )
        hashing_config: Dict[str, Any] = {
            "ngram": draw(st.integers(1, 3)),
            "strategy": draw(st.sampled_from([{"k": 10}, {"k": 3}, {"numBits": 50}, {"numBits": 7}])),
            "hash": hash_config,
        }
        if draw(st.booleans()):
            hashing_config["positional"] = draw(st.booleans())
        if draw(st.booleans()):
            hashing_config["missingValue"] = {"sentinel": "N/A", "replaceWith": draw(st.sampled_from(["", "none"]))}
        features.append(
            {
                "identifier": f"f{i}",
                "format": draw(
                    st.sampled_from(
                        [
                            {"type": "string"},
                            {"type": "string", "encoding": "ascii", "maxLength": 6},
                            {"type": "integer"},
                            {"type": "date", "format": "%Y-%m-%d"},
                            {"type": "enum", "values": ["a", "b", "ab"]},
                        ]
                    )
                ),
                "hashing": hashing_config,
            }
        )
    return {"version": 2, "clkConfig": {"l": l_value, "kdf": {"type": "HKDF", "keySize": 32}}, "features": features}


@st.composite
def v1_schema(draw: Any) -> Dict[str, Any]:
    l_value = draw(st.sampled_from([64, 1024, 100]))
    hash_config = draw(
        st.sampled_from(
            [{"type": "doubleHash"}, {"type": "doubleHash", "prevent_singularity": True}]
            + ([{"type": "blakeHash"}] if _is_power_of_two(l_value) else [])
        )
    )
    features = []
    for i in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 5)) == 0:
            features.append({"identifier": f"f{i}", "ignored": True})
            continue
        hashing_config: Dict[str, Any] = {"ngram": draw(st.integers(0, 3))}
        if draw(st.booleans()):
            hashing_config["weight"] = draw(st.sampled_from([0, 0.01, 0.5, 1, 2.5]))
        if draw(st.booleans()):
            hashing_config["positional"] = draw(st.booleans())
        if draw(st.booleans()):
            hashing_config["missingValue"] = {"sentinel": ""}
        features.append(
            {
                "identifier": f"f{i}",
                "format": draw(
                    st.sampled_from(
                        [
                            {"type": "string", "case": "lower"},
                            {"type": "integer", "minimum": 0},
                            {"type": "date", "format": "%d/%m/%Y"},
                        ]
                    )
                ),
                "hashing": hashing_config,
            }
        )
    clk_config = {"l": l_value, "k": draw(st.integers(1, 30)), "hash": hash_config, "kdf": {"type": "HKDF"}}
    return {"version": 1, "clkConfig": clk_config, "features": features}


# --------------------------------------------------------------------------- data


def good_values(fmt: Dict[str, Any], comp: Dict[str, Any]) -> st.SearchStrategy[str]:
    """Values that fit a format (almost always), including values at its limits."""
    kind = fmt["type"]
    if kind == "integer":
        low, high = fmt.get("minimum", -(10**6)), fmt.get("maximum", 10**6)
        return st.one_of(
            st.integers(low, high).map(str),
            st.sampled_from([str(low), str(high)]),
            st.integers(low, high).map(lambda v: f" +{v} " if v >= 0 else f" {v}"),
            st.integers(low, high).map(lambda v: f"{v:_}"),
        )
    if kind == "date":
        date_format = fmt["format"]
        return st.one_of(
            st.dates().map(lambda d: d.strftime(date_format.replace("%Y", f"{d.year:04d}"))),
            st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime(date_format)),
            st.sampled_from(
                [date(2000, 2, 29), date(1999, 12, 31), date(1, 1, 1), date(9999, 12, 31), date(999, 5, 6)]
            ).map(lambda d: d.strftime(date_format.replace("%Y", f"{d.year:04d}"))),
        )
    if kind == "enum":
        return st.sampled_from(fmt["values"])
    if comp.get("type") == "numeric":
        return st.one_of(
            st.integers(-(10**6), 10**6).map(str),
            st.floats(-1e9, 1e9).map(str),
            st.floats(-1e6, 1e6).map(lambda f: f"{f:.3f}"),
            st.sampled_from(["", "1e3", " 12 ", "1_0", "-0", "0.5", "2.5", "-2.5", "9" * 30]),
        )
    ascii_only = fmt.get("encoding") == "ascii"
    alphabet = st.sampled_from(list("aAbBzZ019 -/._+")) if ascii_only else SAFE_ALPHABET
    if "pattern" in fmt:
        return st.from_regex(fmt["pattern"], fullmatch=True).filter(
            lambda s: len(s) < 12 and (s.isascii() or not ascii_only)
        )
    low, high = fmt.get("minLength", 0), fmt.get("maxLength", 10)
    case = fmt.get("case")
    if case == "upper":
        alphabet = st.sampled_from(list("ABZ019 -/.É漢😀Σ"))
    elif case == "lower":
        alphabet = st.sampled_from(list("abz019 -/.é漢😀ßσς"))
    return st.text(alphabet, min_size=low, max_size=max(low, high))


def bad_values(fmt: Dict[str, Any], comp: Dict[str, Any]) -> st.SearchStrategy[str]:
    """Anything, and values just past a format's limits."""
    kind = fmt["type"]
    anything = st.one_of(TEXT, st.text(max_size=6))
    if kind == "integer":
        low, high = fmt.get("minimum", -(10**6)), fmt.get("maximum", 10**6)
        return st.one_of(anything, st.sampled_from([str(low - 1), str(high + 1), "٣", "12a", "", "+", "1.0", "0x10"]))
    if kind == "date":
        return st.one_of(
            anything,
            st.sampled_from(
                ["2001-02-29", "31/04/2001", "0001-01-01", "2001-1-5", "", "2001/13/01", "2001/02/30", "99999-01-01"]
            ),
        )
    if comp.get("type") == "numeric":
        return st.one_of(anything, st.sampled_from(["abc", "inf", "-inf", "nan", "1e400", "1e308"]))
    low, high = fmt.get("minLength", 0), fmt.get("maxLength", 10)
    return st.one_of(
        anything,
        st.text(SAFE_ALPHABET, min_size=high + 1, max_size=high + 2),
        st.text(SAFE_ALPHABET, max_size=max(0, low - 1)),
        st.text(ALPHABET, max_size=5).map(str.swapcase),
    )


@st.composite
def rows_for(draw: Any, schema_dict: Dict[str, Any], schema: Schema, max_rows: int = 12) -> List[Tuple[str, ...]]:
    """Records for a schema: a clean chunk (values that fit) or a dirty one (some that do not)."""
    features = {f["identifier"]: f for f in schema_dict["features"]}
    dirty = draw(st.sampled_from([False, False, True]))
    columns = []
    for field in schema.fields:
        spec = features.get(field.identifier, {})
        if field.hashing_properties is None:
            columns.append(TEXT)
            continue
        fmt = spec.get("format", {"type": "string"})
        comp = spec.get("hashing", {}).get("comparison", {"type": "ngram"})
        strategy = good_values(fmt, comp)
        if dirty:
            strategy = st.one_of(strategy, bad_values(fmt, comp))
        mv = field.hashing_properties.missing_value
        if mv is not None:
            strategy = st.one_of(strategy, st.just(mv.sentinel))
        columns.append(strategy)
    count = draw(st.integers(1, max_rows))
    rows = [tuple(draw(c) for c in columns) for _ in range(count)]
    if draw(st.sampled_from([False] * 15 + [True])):  # a row of the wrong length
        at = draw(st.integers(0, len(rows) - 1))
        rows[at] = rows[at] + ("extra",) if draw(st.booleans()) else rows[at][:-1]
    return rows


def derive(schema: Schema, secret: str) -> Any:
    return generate_key_lists(
        secret,
        len(schema.fields),
        key_size=schema.kdf_key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
        kdf=schema.kdf_type,
        hash_algo=schema.kdf_hash,
    )


def build(schema: Schema, keys: Any, cache_bytes: int) -> Optional[ClkEncoder]:
    """Our encoder, or None when it refuses the schema (which must then be one clkhash cannot hash)."""
    try:
        return ClkEncoder(schema, keys, cache_bytes=cache_bytes)
    except UnhashableSchema as exc:
        assert_clkhash_cannot_hash(schema, keys, exc)
        return None


CLKHASH_CRASHES = (ValueError, OverflowError, UnicodeError)


def clkhash_hash_value(schema: Schema, keys: Any, index: int, value: str) -> None:
    """What clkhash.bloomfilter.crypto_bloom_filter does with one value of one feature."""
    field = schema.fields[index]
    fhp = field.hashing_properties
    tokens = list(fhp.comparator.tokenize(field.format_value(value)))
    if tokens:
        function = bloomfilter.hashing_function_from_properties(fhp)
        function(
            tokens, keys[index], fhp.strategy.bits_per_token(len(tokens)), schema.l * 2**schema.xor_folds, fhp.encoding
        )


def assert_clkhash_cannot_hash(schema: Schema, keys: Any, exc: UnhashableSchema) -> None:
    """clkhash's own hashing fails on the feature (and value) the refusal names."""
    index = next(i for i, f in enumerate(schema.fields) if f.identifier == exc.feature)
    field = schema.fields[index]
    fhp = field.hashing_properties
    if "missingValue replacement" in exc.reason:
        with pytest.raises(CLKHASH_CRASHES):
            clkhash_hash_value(schema, keys, index, fhp.missing_value.sentinel)
    elif "enum value" in exc.reason:
        value = exc.reason.split("'")[1]
        assert value in field.values
        with pytest.raises(CLKHASH_CRASHES):
            clkhash_hash_value(schema, keys, index, value)
    elif "blakeHash" in exc.reason or "prevent_singularity" in exc.reason:
        function = bloomfilter.hashing_function_from_properties(fhp)
        with pytest.raises(CLKHASH_CRASHES):
            function(["a"], keys[index], [1], schema.l * 2**schema.xor_folds, fhp.encoding)
    else:
        raise AssertionError(f"unexpected refusal: {exc}")


def check_schema(schema_dict: Dict[str, Any], data: Any, validate: bool, cache_bytes: int, first_index: int) -> None:
    try:
        schema = from_json_dict(schema_dict)
    except SchemaError:
        # v1 schemas can ask for 0-grams or 0 bits per token, which only an unvalidated parse accepts.
        schema = from_json_dict(schema_dict, validate=False)
    keys = derive(schema, data.draw(st.sampled_from(["secret", "", "ünï"])))
    encoder = build(schema, keys, cache_bytes)
    if encoder is None:
        note_event("schema refused")
        return
    # Several chunks through one encoder: caches carry over between chunks.
    for _ in range(data.draw(st.integers(1, 3))):
        rows = data.draw(rows_for(schema_dict, schema))
        assert_same(encoder, keys, schema, rows, validate, first_index)
        first_index += len(rows)


CACHE_SIZES = st.sampled_from([encoder_module.DEFAULT_CACHE_BYTES, 4000, 50_000, 0])


@settings(max_examples=350, **SETTINGS)
@given(v3_schema(), st.data(), st.booleans(), CACHE_SIZES, st.integers(0, 5000))
def test_v3_schemas(schema_dict: Dict[str, Any], data: Any, validate: bool, cache_bytes: int, first_index: int) -> None:
    check_schema(schema_dict, data, validate, cache_bytes, first_index)


@settings(max_examples=60, **SETTINGS)
@given(v2_schema(), st.data(), st.booleans(), CACHE_SIZES)
def test_v2_schemas(schema_dict: Dict[str, Any], data: Any, validate: bool, cache_bytes: int) -> None:
    check_schema(schema_dict, data, validate, cache_bytes, 0)


@settings(max_examples=60, **SETTINGS)
@given(v1_schema(), st.data(), st.booleans(), CACHE_SIZES)
def test_v1_schemas(schema_dict: Dict[str, Any], data: Any, validate: bool, cache_bytes: int) -> None:
    check_schema(schema_dict, data, validate, cache_bytes, 0)


@settings(max_examples=100, **SETTINGS)
@given(v3_schema(), st.data(), st.booleans(), st.integers(1, 3))
def test_xor_folds_as_the_reference_says_is_clkhash_given_xor_folds(
    schema_dict: Dict[str, Any], data: Any, validate: bool, folds: int
) -> None:
    """Our loader folds for ``xorFolds`` (which clkhash ignores) exactly as clkhash folds for the
    ``xor_folds`` it reads: the oracle stays clkhash's own code, given the folds it would ignore."""
    config = schema_dict["clkConfig"]
    config.pop("xor_folds", None)
    config.pop("xorFolds", None)
    ours_dict = copy.deepcopy(schema_dict)
    ours_dict["clkConfig"]["xorFolds"] = folds
    theirs_dict = copy.deepcopy(schema_dict)
    theirs_dict["clkConfig"]["xor_folds"] = folds
    if schema_errors(ours_dict):
        note_event("schema refused")
        return
    ours, theirs = linkage_schema(ours_dict), from_json_dict(theirs_dict)
    assert (ours.xor_folds, ours.l) == (folds, theirs.l)
    keys = derive(theirs, "secret")
    encoder = build(ours, keys, encoder_module.DEFAULT_CACHE_BYTES)
    if encoder is None:
        note_event("schema refused")
        return
    assert_same(encoder, keys, theirs, data.draw(rows_for(theirs_dict, theirs)), validate, 0)


# --------------------------------------------------------------------------- many rows, caches cycling

NAMES = ["anna", "bob", "Chen Wei", "Zoë", "O'Neil", "x", "", "Smith-Jones", "李", "müller"]


@settings(max_examples=25, **SETTINGS)
@given(
    st.data(),
    st.sampled_from(["doubleHash", "blakeHash"]),
    st.sampled_from([{"bitsPerToken": 9}, {"bitsPerFeature": 77}]),
)
def test_many_chunks_with_small_caches(data: Any, hash_type: str, strategy: Dict[str, int]) -> None:
    """Caches that fill, empty and switch off and on again give the same CLKs."""
    schema_dict = {
        "version": 3,
        "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "name",
                "format": {"type": "string"},
                "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": strategy, "hash": {"type": hash_type}},
            },
            {
                "identifier": "dob",
                "format": {"type": "date", "format": "%Y/%m/%d"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 1, "positional": True},
                    "strategy": strategy,
                    "hash": {"type": hash_type},
                },
            },
            {
                "identifier": "code",
                "format": {"type": "string"},
                "hashing": {"comparison": {"type": "exact"}, "strategy": strategy, "hash": {"type": hash_type}},
            },
        ],
    }
    schema = from_json_dict(schema_dict)
    keys = derive(schema, "s")
    old = (ValueCache.WINDOW, ValueCache.PAUSE_ROWS)
    ValueCache.WINDOW, ValueCache.PAUSE_ROWS = 40, 90
    try:
        encoder = ClkEncoder(schema, keys, cache_bytes=data.draw(st.sampled_from([3000, 30_000, 10**6])))
        name = st.one_of(st.sampled_from(NAMES), st.text(string.ascii_letters + " ", max_size=10))
        dob = st.dates().map(lambda d: f"{d.year:04d}/{d.month:02d}/{d.day:02d}")
        code = st.one_of(st.sampled_from(["A1", "B2"]), st.text(string.digits, min_size=1, max_size=6))
        first = 0
        for _ in range(data.draw(st.integers(2, 6))):
            rows = data.draw(st.lists(st.tuples(name, dob, code), min_size=20, max_size=60))
            expected = assert_same(encoder, keys, schema, rows, True, first)
            assert isinstance(expected, tuple) and not isinstance(expected, (Failure, Crash))
            first += len(rows)
    finally:
        ValueCache.WINDOW, ValueCache.PAUSE_ROWS = old


# --------------------------------------------------------------------------- schemas clkhash cannot hash


def _schema(features: List[Dict[str, Any]], l_value: int = 1024, **clk: Any) -> Schema:
    return from_json_dict(
        {"version": 3, "clkConfig": {"l": l_value, "kdf": {"type": "HKDF", **clk}}, "features": features}
    )


def _feature(
    fmt: Dict[str, Any], comparison_config: Dict[str, Any], hash_type: str = "doubleHash", **extra: Any
) -> Dict[str, Any]:
    return {
        "identifier": "x",
        "format": fmt,
        "hashing": {
            "comparison": comparison_config,
            "strategy": {"bitsPerToken": 5},
            "hash": {"type": hash_type},
            **extra,
        },
    }


@pytest.mark.parametrize(
    "schema, row, reason",
    [
        (
            _schema([_feature({"type": "string"}, {"type": "ngram", "n": 2}, "blakeHash")], l_value=1000),
            ("ab",),
            "blakeHash needs l to be a power of two, but it is 1000",
        ),
        (
            _schema(
                [
                    _feature(
                        {"type": "string"},
                        {"type": "numeric", "thresholdDistance": 1, "resolution": 1},
                        missingValue={"sentinel": "", "replaceWith": "none"},
                    )
                ]
            ),
            ("",),
            "the missingValue replacement 'none' is not a finite number, which numeric comparison needs",
        ),
        (
            _schema(
                [
                    _feature(
                        {"type": "string"},
                        {"type": "numeric", "thresholdDistance": 1, "resolution": 1},
                        missingValue={"sentinel": "n/a"},
                    )
                ]
            ),
            ("n/a",),
            "the missingValue replacement 'n/a' is not a finite number, which numeric comparison needs",
        ),
        (
            _schema(
                [
                    _feature(
                        {"type": "string", "encoding": "ascii"},
                        {"type": "exact"},
                        missingValue={"sentinel": "", "replaceWith": "é"},
                    )
                ]
            ),
            ("",),
            "the missingValue replacement 'é' cannot be encoded in ascii",
        ),
        (
            _schema(
                [
                    _feature(
                        {"type": "enum", "values": ["M", "1"]},
                        {"type": "numeric", "thresholdDistance": 1, "resolution": 1},
                    )
                ]
            ),
            ("M",),
            "the enum value 'M' is not a finite number, which numeric comparison needs",
        ),
        (
            _schema([_feature({"type": "string"}, {"type": "ngram", "n": 2}, "blakeHash")], keySize=65),
            ("ab",),
            "blakeHash takes keys of at most 64 bytes, but keySize is 65",
        ),
        (_schema([_feature({"type": "string"}, {"type": "ngram", "n": 2}, "doubleHash")], l_value=1), ("ab",), None),
    ],
)
def test_unhashable_schemas(schema: Schema, row: Tuple[str, ...], reason: Optional[str]) -> None:
    """Schemas clkhash parses but crashes on (not a validation error); we refuse them up front."""
    keys = derive(schema, "secret")
    if reason is None:  # l = 1 without prevent_singularity is fine
        encoder = ClkEncoder(schema, keys)
        assert_same(encoder, keys, schema, [row], True, 0)
        return
    assert schema_problem(schema) == ("x", reason)
    with pytest.raises(UnhashableSchema) as info:
        ClkEncoder(schema, keys)
    assert (info.value.feature, info.value.reason) == ("x", reason)
    assert isinstance(oracle([row], keys, schema, True, 0), Crash)


def test_prevent_singularity_with_one_bit() -> None:
    schema = _schema([_feature({"type": "string"}, {"type": "exact"}, "doubleHash")], l_value=1)
    schema.fields[0].hashing_properties.prevent_singularity = True
    assert schema_problem(schema) == ("x", "doubleHash with prevent_singularity needs l to be at least 2")


@pytest.mark.parametrize("count, key_size, kdf_hash", [(64, 64, "SHA256"), (128, 64, "SHA512"), (8, 1000, "SHA256")])
def test_too_many_keys(count: int, key_size: int, kdf_hash: str) -> None:
    features = [{"identifier": f"f{i}", "ignored": True} for i in range(count)]
    schema = _schema(features, keySize=key_size, hash=kdf_hash)
    problem = schema_problem(schema)
    assert problem is not None and problem[0] is None
    with pytest.raises(ValueError, match="Cannot derive keys larger than"):
        derive(schema, "secret")
    fewer = _schema(features[:-1], keySize=key_size, hash=kdf_hash)
    if count * key_size * 2 - 2 * key_size <= 255 * (32 if kdf_hash == "SHA256" else 64):
        assert schema_problem(fewer) is None
        derive(fewer, "secret")


def test_numeric_value_in_string_field_is_reported() -> None:
    """clkhash crashes mid-hash on a string that is no number; we name record and column."""
    schema = _schema([_feature({"type": "string"}, {"type": "numeric", "thresholdDistance": 1, "resolution": 1})])
    keys = derive(schema, "s")
    encoder = ClkEncoder(schema, keys)
    rows = [("12",), ("1.5",), ("abc",), ("inf",)]
    assert isinstance(oracle(rows, keys, schema, True, 0), Crash)
    with pytest.raises(RecordError) as info:
        encoder.encode(rows, True, 10)
    assert (info.value.record_index, info.value.column, info.value.reason) == (
        12,
        "x",
        "Expected a finite number for numeric comparison. Read 'abc'.",
    )


# --------------------------------------------------------------------------- the bulk date parser


@settings(max_examples=200, **SETTINGS)
@given(
    st.sampled_from(["%Y/%m/%d", "%d-%m-%Y", "%Y%m%d", "%m.%d.%Y", "%Y-%m-%d", "%d/%m/%Y"]),
    st.lists(
        st.one_of(
            st.dates().map(lambda d: (d.year, d.month, d.day)),
            st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)),
        ),
        min_size=1,
        max_size=20,
    ),
    st.lists(st.text(st.sampled_from("0123456789/-.٣ "), max_size=10), max_size=5),
)
def test_fast_dates_agree_with_strptime(date_format: str, parts: List[Tuple[int, int, int]], noise: List[str]) -> None:
    """Where the bulk parser gives a date, strptime gives the same one; elsewhere it defers."""
    from datetime import datetime

    parser = FastDate.compile(date_format)
    assert parser is not None
    values = [
        date_format.replace("%Y", f"{y:04d}").replace("%m", f"{m:02d}").replace("%d", f"{d:02d}") for y, m, d in parts
    ]
    plain = len(values)
    values += noise
    for i, (value, fast) in enumerate(zip(values, parser.parse(values))):
        try:
            slow: Optional[str] = datetime.strptime(value, date_format).strftime("%Y%m%d")
        except ValueError:
            slow = None
        assert fast is None or fast == slow, value
        if i < plain and slow is not None and parts[i][0] >= 1000:
            assert fast == slow, value  # the common case takes the fast path


def test_fast_dates_only_for_plain_formats() -> None:
    for date_format in [
        "%d %m %Y",
        "%Y-%m",
        "%Y-%m-%dT",
        "%Y/%m/%d%%",
        "%y/%m/%d",
        "%Y/%b/%d",
        "%Y/%m/%d %",
        "%Y/%m/%d/%d",
    ]:
        assert FastDate.compile(date_format) is None, date_format
