"""Schemas that clkhash parses but cannot hash: ``validate-schema`` refuses them, ``hash`` fails in one line.

Each schema here fits clkhash's JSON Schema; before, ``validate-schema`` said "schema is valid"
and ``hash`` then crashed with a traceback (or hung). Now the feature at fault is named, the
exit code is 4 and no output file is made. Values that make clkhash crash in the middle of
hashing are reported like any bad value: file, row, column, exit 3.
"""

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.helpers import run_anonlink, run_cli

NAME = {
    "identifier": "name",
    "format": {"type": "string"},
    "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 10}},
}


def schema(features: List[Dict[str, Any]], l_value: int = 1024, version: int = 3, **clk: Any) -> Dict[str, Any]:
    kdf = {"type": "HKDF", **clk.pop("kdf", {})}
    return {"version": version, "clkConfig": {"l": l_value, "kdf": kdf, **clk}, "features": features}


def feature(identifier: str = "name", fmt: Optional[Dict[str, Any]] = None, **hashing: Any) -> Dict[str, Any]:
    result = copy.deepcopy(NAME)
    result["identifier"] = identifier
    if fmt is not None:
        result["format"] = fmt
    result["hashing"].update(hashing)
    return result


NUMERIC = {"type": "numeric", "thresholdDistance": 2, "resolution": 2}

CASES = {
    "blake_l": (
        schema([feature(hash={"type": "blakeHash"})], l_value=1000),
        "features[0] 'name': blakeHash needs l to be a power of two, but it is 1000",
    ),
    "blake_folded_l": (
        schema([feature(hash={"type": "blakeHash"})], l_value=500, xor_folds=1),
        "features[0] 'name': blakeHash needs l * 2**xor_folds to be a power of two, but it is 1000",
    ),
    "blake_default_hash_l": (  # blakeHash is the default hash
        schema([{"identifier": "id", "ignored": True}, feature("age")], l_value=100),
        "features[1] 'age': blakeHash needs l to be a power of two, but it is 100",
    ),
    "blake_key_size": (
        schema([feature(hash={"type": "blakeHash"})], kdf={"keySize": 65}),
        "features[0] 'name': blakeHash takes keys of at most 64 bytes, but keySize is 65",
    ),
    "too_many_keys": (
        schema([feature(f"f{i}", hash={"type": "doubleHash"}) for i in range(64)]),
        "clkConfig: 64 features need 8192 bytes of keys (64-byte keySize), more than HKDF with SHA256 can derive "
        "(8160 bytes); use fewer features or a smaller keySize",
    ),
    "too_many_keys_sha512": (
        schema([{"identifier": f"f{i}", "ignored": True} for i in range(5)], kdf={"keySize": 2000, "hash": "SHA512"}),
        "clkConfig: 5 features need 20000 bytes of keys (2000-byte keySize), more than HKDF with SHA512 can derive "
        "(16320 bytes); use fewer features or a smaller keySize",
    ),
    "numeric_replacement": (
        schema([feature("age", comparison=NUMERIC, missingValue={"sentinel": "", "replaceWith": "unknown"})]),
        "features[0] 'age': the missingValue replacement 'unknown' is not a finite number, which numeric comparison "
        "needs",
    ),
    "numeric_sentinel": (  # no replaceWith: the sentinel itself is hashed
        schema([feature("age", comparison=NUMERIC, missingValue={"sentinel": "N/A"})]),
        "features[0] 'age': the missingValue replacement 'N/A' is not a finite number, which numeric comparison needs",
    ),
    "numeric_infinite_replacement": (
        schema([feature("age", comparison=NUMERIC, missingValue={"sentinel": "", "replaceWith": "inf"})]),
        "features[0] 'age': the missingValue replacement 'inf' is not a finite number, which numeric comparison needs",
    ),
    "numeric_enum": (
        schema([feature("sex", {"type": "enum", "values": ["1", "2", "M"]}, comparison=NUMERIC)]),
        "features[0] 'sex': the enum value 'M' is not a finite number, which numeric comparison needs",
    ),
    "ascii_replacement": (
        schema(
            [
                feature(
                    "name",
                    {"type": "string", "encoding": "ascii"},
                    missingValue={"sentinel": "", "replaceWith": "ünknown"},
                )
            ]
        ),
        "features[0] 'name': the missingValue replacement 'ünknown' cannot be encoded in ascii",
    ),
    "fractional_precision": (
        schema([feature("age", comparison={"type": "numeric", "thresholdDistance": 0.1, "resolution": 2})]),
        "features[0] 'age': not enough fractional precision to encode threshold_distance",
    ),
    "huge_fractional_precision": (
        schema(
            [
                feature(
                    "age",
                    comparison={
                        "type": "numeric",
                        "thresholdDistance": 1.5,
                        "resolution": 2,
                        "fractional_precision": 400,
                    },
                )
            ]
        ),
        "features[0] 'age': int too large to convert to float",
    ),
    "integer_fractional_precision": (
        schema(
            [
                feature(
                    "age",
                    comparison={
                        "type": "numeric",
                        "thresholdDistance": 1,
                        "resolution": 2,
                        "fractional_precision": 400,
                    },
                )
            ]
        ),
        "features[0] 'age': thresholdDistance * 10**fractional_precision is too large: no number could be hashed",
    ),
    "bad_salt": (
        schema([feature()], kdf={"salt": "abc"}),
        "clkConfig.kdf: Incorrect padding",
    ),
    "date_directive_twice": (
        schema([feature("dob", {"type": "date", "format": "%Y%Y"})]),
        "features[0] 'dob': the date format '%Y%Y' cannot be used: redefinition of group name 'Y' as group 2; "
        "was group 1 at position 19",
    ),
    "date_bad_directive": (
        schema([feature("dob", {"type": "date", "format": "%Y-%Q"})]),
        "features[0] 'dob': the date format '%Y-%Q' cannot be used: 'Q' is a bad directive in format '%Y-%Q'",
    ),
    "prevent_singularity_one_bit": (
        schema([feature(hash={"type": "doubleHash", "prevent_singularity": True})], l_value=1),
        "features[0] 'name': doubleHash with prevent_singularity needs l to be at least 2",
    ),
    "huge_filter": (
        schema([feature(hash={"type": "doubleHash"})], l_value=1024, xor_folds=20),
        "clkConfig: l * 2**xor_folds is 1073741824 bits; at most 16777216 bits per filter can be hashed",
    ),
    "huge_k": (
        schema([feature(strategy={"bitsPerToken": 100000})]),
        "features[0] 'name': 100000 bits per token (or feature) are more than the 65536 that can be hashed",
    ),
    "huge_resolution": (
        schema([feature("age", comparison={"type": "numeric", "thresholdDistance": 2, "resolution": 40000})]),
        "features[0] 'age': resolution 40000 makes 80001 tokens per value, more than the 65536 that can be hashed",
    ),
    "huge_n": (
        schema([feature(comparison={"type": "ngram", "n": 300})]),
        "features[0] 'name': n-grams of 300 characters are longer than the 256 that can be hashed",
    ),
    "v2_blake_l": (
        {
            "version": 2,
            "clkConfig": {"l": 1000, "kdf": {"type": "HKDF"}},
            "features": [
                {
                    "identifier": "name",
                    "format": {"type": "string"},
                    "hashing": {"ngram": 2, "strategy": {"k": 10}, "hash": {"type": "blakeHash"}},
                }
            ],
        },
        "features[0] 'name': blakeHash needs l to be a power of two, but it is 1000",
    ),
}


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_schema_refuses_what_cannot_be_hashed(tmp_path: Path, case: str) -> None:
    document, problem = CASES[case]
    path = write_json(tmp_path / "schema.json", document)
    result = run_cli("validate-schema", path)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == f"Error: {path}: the linkage schema is not valid:\n  {problem}\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_hash_fails_in_one_line_before_any_work(tmp_path: Path, case: str) -> None:
    document, problem = CASES[case]
    path = write_json(tmp_path / "schema.json", document)
    identifiers = [f["identifier"] for f in document["features"]]
    pii = tmp_path / "pii.csv"
    pii.write_text(",".join(identifiers) + "\n" + ",".join("1" for _ in identifiers) + "\n", encoding="utf-8")
    out = tmp_path / "clks.json"
    result = run_cli("hash", pii, "secret", path, out)
    assert result.exit_code == 4
    assert result.stderr == f"Error: {path}: the linkage schema is not valid: {problem}\n"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pii.csv", "schema.json"]


def test_hash_in_a_real_process_shows_no_traceback(tmp_path: Path) -> None:
    document, problem = CASES["numeric_replacement"]
    path = write_json(tmp_path / "schema.json", document)
    pii = tmp_path / "pii.csv"
    pii.write_text('age\n""\n', encoding="utf-8")
    done = run_anonlink("hash", pii, "secret", path, tmp_path / "clks.json")
    assert done.returncode == 4
    assert done.stderr == f"Error: {path}: the linkage schema is not valid: {problem}\n"


@pytest.mark.parametrize(
    "document",
    [
        schema([feature(f"f{i}", hash={"type": "doubleHash"}) for i in range(63)]),  # 63 features still fit
        schema([feature(hash={"type": "blakeHash"})], l_value=512, xor_folds=1),
        schema([feature("age", comparison=NUMERIC, missingValue={"sentinel": "", "replaceWith": "-1.5"})]),
        schema([feature("age", comparison=NUMERIC, missingValue={"sentinel": "N/A", "replaceWith": ""})]),
        schema([feature("sex", {"type": "enum", "values": ["1", "2", " 3 "]}, comparison=NUMERIC)]),
        schema(
            [
                feature(
                    "sex",
                    {"type": "enum", "values": ["M", "1", ""]},
                    comparison=NUMERIC,
                    missingValue={"sentinel": "M", "replaceWith": ""},
                )
            ]
        ),
        schema([feature("dob", {"type": "date", "format": "%d %b %Y"})]),
        schema([feature(strategy={"bitsPerFeature": 65536}, comparison={"type": "ngram", "n": 256})]),
    ],
)
def test_schemas_that_can_be_hashed_stay_valid(tmp_path: Path, document: Dict[str, Any]) -> None:
    path = write_json(tmp_path / "schema.json", document)
    result = run_cli("validate-schema", path)
    assert result.exit_code == 0
    assert result.stdout.startswith("schema is valid\nschema fingerprint: sha256:")


NUMERIC_STRING = schema([{"identifier": "id", "ignored": True}, feature("age", comparison=NUMERIC)])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_value_clkhash_crashes_on_names_row_and_column(tmp_path: Path, workers: str) -> None:
    """clkhash raised ValueError (a traceback) on a string that is no number under a numeric comparison."""
    path = write_json(tmp_path / "schema.json", NUMERIC_STRING)
    rows = "".join(f"{i},{i % 90}\n" for i in range(2500)) + "2500,forty\n"
    pii = tmp_path / "pii.csv"
    pii.write_text("id,age\n" + rows, encoding="utf-8")
    out = tmp_path / "clks.json"
    result = run_cli("hash", pii, "secret", path, out, "--workers", workers)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {pii}, row 2502, column age: Invalid entry: Expected a finite number for numeric comparison. "
        "Read 'forty'.\n"
    )
    assert not out.exists()


def test_unencodable_value_without_validation_names_row_and_column(tmp_path: Path) -> None:
    """With --validate false clkhash crashed (UnicodeEncodeError) on a value its encoding cannot hold."""
    document = schema([feature("name", {"type": "string", "encoding": "ascii"})])
    path = write_json(tmp_path / "schema.json", document)
    pii = tmp_path / "pii.csv"
    pii.write_text("name\nAnn\nZoë\n", encoding="utf-8")
    out = tmp_path / "clks.json"
    result = run_cli("hash", pii, "secret", path, out, "--validate", "false")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {pii}, row 3, column name: Invalid entry: Expected entry that can be encoded in ascii. Read 'Zoë'.\n"
    )
    validated = run_cli("hash", pii, "secret", path, out)
    assert validated.stderr == result.stderr
