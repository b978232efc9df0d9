"""Hardened schemas through the commands: ``hash``, ``validate-schema``, ``describe``, ``convert-schema``,
``compare``, ``find-similarity``, ``block`` and ``threshold-report``, as a user runs them.

What is checked is what a user notices: the CLK files (their bytes, length and metadata), exit
codes and the exact lines on stderr; and where the oracle is clkhash's own code (XOR folding,
what clkhash does with a hardened schema), clkhash is run.
"""

import base64
import copy
import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from bitarray import bitarray
from clkhash.bloomfilter import fold_xor
from clkhash.clk import generate_clk_from_csv
from clkhash.schema import from_json_dict, validate_schema_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import anonlinkclient.encoding.encoder as encoder_module
from anonlinkclient.encoding.hardening_schema import xor_folds_warning
from anonlinkclient.encoding.parallel import new_encoder
from anonlinkclient.encoding.schema import linkage_schema
from anonlinkclient.io.clk_file import iter_clks, read_clk_info
from tests.helpers import ROOT, load_clks, run_anonlink, run_cli

DEFAULT = json.loads((ROOT / "anonlinkclient" / "synthetic" / "data" / "default-linkage-schema.json").read_text())
NAME, DOB = "NAME freetext", "DOB YYYY/MM/DD"
YOB = {
    "identifier": "YOB",
    "format": {"type": "integer", "minimum": 0, "maximum": 9999},
    "hashing": {
        "comparison": {"type": "exact"},
        "strategy": {"bitsPerToken": 1},
        "hash": {"type": "doubleHash"},
        "missingValue": {"sentinel": ""},
    },
}
SALT = {"type": "salt", "saltFeature": "YOB", "features": [NAME]}
RANDOMIZED = {"type": "randomizedResponse", "probability": 0.1, "seedFeatures": [NAME, DOB]}
EVERY_STEP = [
    SALT,
    {"type": "rule90", "iterations": 3},
    {"type": "rehash", "window": 8, "step": 4, "bits": 2},
    RANDOMIZED,
    {"type": "permute"},
    {"type": "balance"},
    {"type": "xorFold", "folds": 2},
]


def schema(hardening: Any = None, **clk_config: Any) -> Dict[str, Any]:
    document = copy.deepcopy(DEFAULT)
    document["features"].append(copy.deepcopy(YOB))
    if hardening is not None:
        document["clkConfig"]["hardening"] = copy.deepcopy(hardening)
    document["clkConfig"].update(clk_config)
    return document


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def people(count: int, seed: int = 0) -> List[List[str]]:
    """Records of the default schema's columns plus YOB (the year of the date of birth)."""
    rng = np.random.default_rng(seed)
    first = ["Ann", "Bob", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jana"]
    last = ["Smith", "Jones", "Nguyen", "Brown", "Garcia", "Lee"]
    rows = []
    for i in range(count):
        year = int(rng.integers(1930, 2010))
        dob = f"{year}/{int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}"
        name = f"{first[int(rng.integers(len(first)))]} {last[int(rng.integers(len(last)))]}"
        rows.append([str(i), name, dob, "MF"[int(rng.integers(2))], str(year)])
    return rows


def write_csv(path: Path, rows: List[List[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["INDEX", NAME, DOB, "GENDER M or F", "YOB"])
        writer.writerows(rows)
    return path


def bits_of(path: Path) -> np.ndarray:
    clks = list(iter_clks(str(path)))
    return np.unpackbits(np.frombuffer(b"".join(clks), np.uint8).reshape(len(clks), -1), axis=1)


def hash_file(tmp_path: Path, document: Dict[str, Any], rows: List[List[str]], name: str, *extra: Any) -> Path:
    schema_path = write_json(tmp_path / f"{name}-schema.json", document)
    pii = write_csv(tmp_path / f"{name}.csv", rows)
    out = tmp_path / f"{name}.json"
    result = run_cli("hash", pii, "horse", schema_path, out, *extra)
    assert result.exit_code == 0, result.stderr
    return out


# --------------------------------------------------------------------------- hash


def test_hash_applies_every_step_and_the_file_records_them(tmp_path: Path) -> None:
    out = hash_file(tmp_path, schema(EVERY_STEP), people(300), "a")
    info = read_clk_info(str(out))
    assert info.meta is not None
    assert info.meta.clk_bits == 512 and bits_of(out).shape == (300, 512)
    assert info.meta.hardening == (
        f"salt({NAME} by YOB)",
        "rule90(iterations=3)",
        "rehash(window=8, step=4, bits=2)",
        f"randomizedResponse(probability=0.1, seedFeatures={NAME}, {DOB})",
        "permute",
        "balance",
        "xorFold(folds=2)",
    )
    assert info.meta.xor_folds is None
    described = run_cli("describe", out)
    assert described.exit_code == 0
    assert "CLK length: 512 bits" in described.stdout
    assert f"hardening: salt({NAME} by YOB), rule90(iterations=3), " in described.stdout


def test_one_and_two_workers_and_every_run_give_the_same_clks(tmp_path: Path) -> None:
    rows = people(2600, seed=1)  # more than two pieces: two workers share them
    document = schema(EVERY_STEP)
    one = hash_file(tmp_path, document, rows, "one", "--workers", "1")
    two = hash_file(tmp_path, document, rows, "two", "--workers", "2")
    pii, schema_path, again = tmp_path / "one.csv", tmp_path / "one-schema.json", tmp_path / "again.json"
    done = run_anonlink("hash", pii, "horse", schema_path, again, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert load_clks(one) == load_clks(two) == load_clks(again)
    assert one.read_bytes() == two.read_bytes() == again.read_bytes()


def test_a_different_secret_hardens_differently(tmp_path: Path) -> None:
    rows = people(50)
    document = schema([{"type": "permute"}])
    pii = write_csv(tmp_path / "p.csv", rows)
    schema_path = write_json(tmp_path / "s.json", document)
    for secret in ("horse", "battery"):
        assert run_cli("hash", pii, secret, schema_path, tmp_path / f"{secret}.json").exit_code == 0
    plain = hash_file(tmp_path, schema(), rows, "plain")
    horse, battery = bits_of(tmp_path / "horse.json"), bits_of(tmp_path / "battery.json")
    assert (horse != battery).any()
    # the same bits, in another order: every popcount kept
    assert (horse.sum(axis=1) == bits_of(plain).sum(axis=1)).all()


def test_xor_folds_one_at_l_is_the_xor_fold_step_at_2l_and_clkhash_s_own_folding(tmp_path: Path) -> None:
    rows = people(120, seed=2)
    folded = hash_file(tmp_path, schema(xorFolds=1), rows, "folded")
    stepped = hash_file(tmp_path, schema([{"type": "xorFold", "folds": 1}], l=2048), rows, "stepped")
    unfolded = hash_file(tmp_path, schema(l=2048), rows, "unfolded")
    assert load_clks(folded) == load_clks(stepped)
    # clkhash, given the folds under the key it reads, folds the same way
    theirs = generate_clk_from_csv(
        io.StringIO((tmp_path / "folded.csv").read_text()),
        "horse",
        from_json_dict(schema(xor_folds=1)),
        progress_bar=False,
    )
    assert [base64.b64encode(clk.tobytes()).decode() for clk in theirs] == load_clks(folded)
    for clk, plain in zip(iter_clks(str(folded)), iter_clks(str(unfolded))):
        whole = bitarray()
        whole.frombytes(plain)
        assert fold_xor(whole, 1).tobytes() == clk
    meta = read_clk_info(str(folded)).meta
    assert meta is not None and (meta.xor_folds, meta.clk_bits, meta.hardening) == (1, 1024, None)


def test_xor_folds_is_warned_about_in_one_line_by_hash_and_validate_schema(tmp_path: Path) -> None:
    document = schema(xorFolds=1)
    warning = xor_folds_warning(document)
    assert warning is not None and "ignore xorFolds" in warning
    schema_path = write_json(tmp_path / "s.json", document)
    validated = run_cli("validate-schema", schema_path)
    assert validated.exit_code == 0 and validated.stderr == warning + "\n"
    hashed = run_cli("hash", write_csv(tmp_path / "p.csv", people(5)), "horse", schema_path, tmp_path / "c.json")
    assert hashed.exit_code == 0
    assert hashed.stderr.splitlines() == [warning, f"CLK data written to {tmp_path / 'c.json'}"]
    quiet = run_cli("validate-schema", write_json(tmp_path / "q.json", schema(xorFolds=1, xor_folds=1)))
    assert quiet.exit_code == 0 and quiet.stderr == ""  # clkhash folds too


# --------------------------------------------------------------------------- salt


def test_a_changed_salt_turns_a_record_s_feature_bits_into_unrelated_ones(tmp_path: Path) -> None:
    document = schema([SALT])
    for feature in document["features"][2:]:  # only the name (and the salt, one bit) set bits
        if feature["identifier"] != "YOB":
            feature["hashing"]["strategy"] = {"bitsPerToken": 1}
    names = ["Ann Smith", "Bob Jones", "Cleo Nguyen", "Dev Brown"] * 2
    rows = [[str(i), name, "1970/01/01", "F", "1970" if i < 4 else "1971"] for i, name in enumerate(names)]
    rows.append(["8", "Ann Smith", "1970/01/01", "F", "1970"])
    bits = bits_of(hash_file(tmp_path, document, rows, "salted"))
    plain = bits_of(hash_file(tmp_path, schema(), rows, "plain"))

    def dice(a: np.ndarray, b: np.ndarray) -> float:
        return float(2 * (a & b).sum() / (a.sum() + b.sum()))

    assert (bits[8] == bits[0]).all()  # the same value under the same salt
    assert dice(plain[0], plain[4]) > 0.9  # unsalted: the same name, almost the same bits
    same_name_other_year = [dice(bits[i], bits[i + 4]) for i in range(4)]
    other_names_same_year = [dice(bits[i], bits[j]) for i in range(4) for j in range(4) if i < j]
    assert max(same_name_other_year) < 0.5
    assert np.mean(same_name_other_year) < np.mean(other_names_same_year) + 0.15


def test_records_missing_the_salt_are_salted_with_the_replacement(tmp_path: Path) -> None:
    rows = [["0", "Ann Smith", "1970/01/01", "F", ""], ["1", "Ann Smith", "1970/01/01", "F", ""]]
    rows.append(["2", "Ann Smith", "1970/01/01", "F", "1970"])
    bits = bits_of(hash_file(tmp_path, schema([SALT]), rows, "missing"))
    assert (bits[0] == bits[1]).all() and (bits[0] != bits[2]).any()


# --------------------------------------------------------------------------- other tools


def test_clkhash_accepts_a_hardened_schema_and_makes_unhardened_clks(tmp_path: Path) -> None:
    """What the docs say of clkhash (and so of anonlink-client 0.1.5 and every clkhash-based tool)."""
    hardened = schema(EVERY_STEP, xorFolds=1)
    validate_schema_dict(hardened)  # no complaint: clkConfig tolerates unknown keys
    rows = people(60, seed=3)
    ours = hash_file(tmp_path, schema(), rows, "plain")
    text = (tmp_path / "plain.csv").read_text()
    theirs = generate_clk_from_csv(io.StringIO(text), "horse", from_json_dict(hardened), progress_bar=False)
    assert [base64.b64encode(clk.tobytes()).decode() for clk in theirs] == load_clks(ours)


# --------------------------------------------------------------------------- schema mistakes


@pytest.mark.parametrize(
    "steps, line",
    [
        ([{"type": "shuffle"}], "clkConfig.hardening[0]: unknown step type 'shuffle'"),
        ([{"type": "xorFold", "folds": 11}], "clkConfig.hardening[0] (xorFold): 11 folds need a length divisible"),
        ([{"type": "rehash", "window": 2000, "step": 1, "bits": 1}], "clkConfig.hardening[0] (rehash): window 2000"),
        (
            [{"type": "randomizedResponse", "probability": 1.5, "seedFeatures": [NAME]}],
            "clkConfig.hardening[0] (randomizedResponse): probability is 1.5",
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1, "seedFeatures": ["SURNAME"]}],
            "clkConfig.hardening[0] (randomizedResponse): seedFeatures: there is no feature 'SURNAME'",
        ),
        (
            [{"type": "salt", "saltFeature": "INDEX", "features": [NAME]}],
            "clkConfig.hardening[0] (salt): saltFeature: feature 'INDEX' is ignored",
        ),
        (
            [{"type": "salt", "saltFeature": "YOB", "features": ["YOB"]}],
            "clkConfig.hardening[0] (salt): feature 'YOB' is salted by itself",
        ),
    ],
)
def test_schema_mistakes_are_one_line_naming_the_step_exit_4_and_nothing_hashed(
    tmp_path: Path, steps: Any, line: str
) -> None:
    schema_path = write_json(tmp_path / "bad.json", schema(steps))
    validated = run_cli("validate-schema", schema_path)
    assert validated.exit_code == 4
    assert validated.stderr.splitlines()[0] == f"Error: {schema_path}: the linkage schema is not valid:"
    assert validated.stderr.splitlines()[1].strip().startswith(line)
    out = tmp_path / "clks.json"
    hashed = run_anonlink("hash", write_csv(tmp_path / "p.csv", people(3)), "horse", schema_path, out)
    assert hashed.returncode == 4 and not out.exists()
    assert hashed.stderr.startswith(f"Error: {schema_path}: the linkage schema is not valid: {line}")
    assert len(hashed.stderr.splitlines()) == 1 and "Traceback" not in hashed.stderr


def test_convert_and_compare_keep_the_hardening_as_written(tmp_path: Path) -> None:
    v1 = json.loads((ROOT / "tests" / "data" / "good-schema-v1.json").read_text())
    v1["clkConfig"]["hardening"] = [{"type": "balance"}]
    v1["clkConfig"]["xorFolds"] = 1
    source = write_json(tmp_path / "v1.json", v1)
    converted = tmp_path / "v3.json"
    assert run_cli("convert-schema", source, converted).exit_code == 0
    config = json.loads(converted.read_text())["clkConfig"]
    assert config["hardening"] == [{"type": "balance"}] and config["xorFolds"] == 1 and "xor_folds" not in config
    other = copy.deepcopy(v1)
    other["clkConfig"]["hardening"] = [{"type": "permute"}]
    compared = run_cli("compare", source, write_json(tmp_path / "other.json", other))
    assert compared.exit_code == 0
    changed = [line.replace(" ", "") for line in compared.stdout.splitlines() if line[:1] in "-+"]
    assert changed == ['-"type":"balance"', '+"type":"permute"']


# --------------------------------------------------------------------------- linking hardened files


def test_find_similarity_refuses_parties_hardened_differently_naming_the_difference(tmp_path: Path) -> None:
    rows = people(40)
    permuted = hash_file(tmp_path, schema([{"type": "permute"}]), rows, "permuted")
    rule = hash_file(tmp_path, schema([{"type": "rule90"}]), rows, "rule")
    result = run_cli("find-similarity", "0.8", tmp_path / "g.json", "--clk", permuted, "--clk", rule)
    assert result.exit_code == 3
    assert f"it records hardening rule90(iterations=1) but {permuted} records hardening permute" in result.stderr
    assert not (tmp_path / "g.json").exists()
    forced = run_cli("find-similarity", "0.8", tmp_path / "g.json", "--clk", permuted, "--clk", rule, "--force")
    assert forced.exit_code == 0 and "linking anyway" in forced.stderr


def test_find_similarity_refuses_a_file_of_a_tool_that_ignores_the_hardening(tmp_path: Path) -> None:
    rows = people(40)
    document = schema([{"type": "permute"}])
    ours = hash_file(tmp_path, document, rows, "ours")
    # As anonlink-client 0.3.0 writes a file for the same schema: same fingerprint, unhardened CLKs.
    plain = hash_file(tmp_path, schema(), rows, "plain")
    old = json.loads(plain.read_text())
    old["meta"] = dict(json.loads(ours.read_text())["meta"], tool_version="0.3.0")
    del old["meta"]["hardening"]
    old_path = write_json(tmp_path / "old.json", old)
    result = run_cli("find-similarity", "0.8", tmp_path / "g.json", "--clk", ours, "--clk", old_path)
    assert result.exit_code == 3
    assert (
        f"it was made by anonlink-client 0.3.0, which ignores xorFolds and clkConfig.hardening, but {ours} "
        "records hardening permute: its CLKs are not folded or hardened" in result.stderr
    )
    # A file with no metadata at all (clkhash's) cannot be checked: a note says so, and why it matters.
    bare = write_json(tmp_path / "bare.json", {"clks": old["clks"]})
    noted = run_cli("find-similarity", "0.8", tmp_path / "g.json", "--clk", ours, "--clk", bare)
    assert noted.exit_code == 0
    assert (
        f"Note: {bare} records no schema fingerprint or secret check value (older tools do not), so its schema "
        "and secret cannot be checked; the other files are folded or hardened, which clkhash and older "
        "anonlink-client versions do not do even with the same schema"
    ) in noted.stderr.splitlines()


def test_blocking_linking_and_the_threshold_report_work_on_hardened_clks(tmp_path: Path) -> None:
    rows = people(300, seed=4)
    document = schema([SALT, {"type": "balance"}])
    a = hash_file(tmp_path, document, rows, "a")
    b = hash_file(tmp_path, document, rows[::-1], "b")
    assert bits_of(a).shape[1] == 2048
    blocking = {
        "type": "lambda-fold",
        "version": 1,
        "config": {
            "blocking-features": [1],
            "Lambda": 5,
            "bf-len": 2048,
            "num-hash-funcs": 3,
            "K": 30,
            "input-clks": True,
            "random_state": 0,
        },
    }
    blocking_path = write_json(tmp_path / "blocking.json", blocking)
    for party in (a, b):
        blocked = run_cli("block", party, blocking_path, tmp_path / f"{party.stem}-blocks.json")
        assert blocked.exit_code == 0, blocked.stderr
    scores = tmp_path / "scores.json"
    linked = run_cli(
        "find-similarity",
        "0.9",
        tmp_path / "groups.json",
        "--files",
        a,
        tmp_path / "a-blocks.json",
        "--files",
        b,
        tmp_path / "b-blocks.json",
        "--scores",
        scores,
    )
    assert linked.exit_code == 0, linked.stderr
    groups = json.loads((tmp_path / "groups.json").read_text())["groups"]
    found = {tuple(sorted(tuple(m) for m in group)) for group in groups}
    assert len(found) >= 290 and ((0, 0), (1, 299)) in found
    truth = tmp_path / "truth.csv"
    truth.write_text("row_a,row_b\n" + "".join(f"{i},{299 - i}\n" for i in range(300)))
    report = run_cli("threshold-report", scores, tmp_path / "report.html", "--truth", truth)
    assert report.exit_code == 0, report.stderr
    assert "Best threshold" in report.stderr and (tmp_path / "report.html").exists()


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.sampled_from(["permute", "balance", "rule90", "xorFold"]), min_size=1, max_size=4),
    salted=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_leading_permute_and_balance_done_on_token_patterns_give_the_same_clks(
    steps: List[str], salted: bool, seed: int
) -> None:
    """The encoder does leading permute/balance steps once per token pattern: the same CLKs as per record."""
    chain: List[Dict[str, Any]] = [{"type": "folds" if s == "xorFold" else s} for s in steps]
    chain = [{"type": "xorFold", "folds": 1} if s["type"] == "folds" else s for s in chain]
    document = schema(([SALT] if salted else []) + chain, l=256)
    rows = people(150, seed=seed)
    fused = new_encoder("horse", linkage_schema(document))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encoder_module, "leading_gathers", lambda steps, length: (0, None, None))
        per_record = new_encoder("horse", linkage_schema(document))
    assert per_record.filter_bits == 256
    assert fused.clk_bits == per_record.clk_bits
    assert fused.encode(rows) == per_record.encode(rows)
