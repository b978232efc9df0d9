"""What CLK files record about how they were made: the schema fingerprint, the secret check value,
``hash --format binary``, and ``describe``/``validate-schema`` showing them."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from clkhash.key_derivation import hkdf

from anonlinkclient import __version__
from anonlinkclient.encoding.parallel import derive_keys
from anonlinkclient.encoding.schema import load_linkage_schema, schema_file_fingerprint, schema_fingerprint
from anonlinkclient.encoding.secrets import SECRET_CHECK_INFO, SECRET_CHECK_SALT, secret_check_value
from anonlinkclient.io.clk_file import HEADER, MAGIC, iter_clks, no_metadata_note, read_clk_info
from tests.helpers import ROOT, data, load_clks, run_anonlink, run_cli, tutorial
from tests.secrets_guard import register_secret

DIRTY = data("dirty_1000_50_1.csv")
V1 = data("dirty-data-schema.json")
DOCS = ROOT / "docs"


# ---- the schema fingerprint ----


def test_formatting_key_order_and_version_do_not_change_the_fingerprint(tmp_path):
    document = json.loads(Path(V1).read_text())
    reordered = tmp_path / "reordered.json"
    reordered.write_text(json.dumps(dict(reversed(list(document.items()))), indent=7))
    converted = tmp_path / "v3.json"
    assert run_cli("convert-schema", V1, converted).exit_code == 0
    fingerprint = schema_file_fingerprint(V1)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == 7 + 64
    assert schema_file_fingerprint(str(reordered)) == fingerprint
    assert schema_file_fingerprint(str(converted)) == fingerprint
    as_floats = json.loads(converted.read_text())
    as_floats["clkConfig"]["l"] = 1024.0
    assert schema_fingerprint(as_floats) == fingerprint


def test_a_different_schema_has_a_different_fingerprint(tmp_path):
    document = json.loads(Path(tutorial("novt_schema.json")).read_text())
    fingerprint = schema_fingerprint(document)
    document["features"][1]["hashing"]["strategy"] = {"bitsPerToken": 9}
    assert schema_fingerprint(document) != fingerprint
    assert schema_file_fingerprint(data("good-schema-v2.json")) != schema_file_fingerprint(V1)


def test_the_documented_fingerprint_and_check_value_are_the_real_ones():
    fingerprint = schema_file_fingerprint(tutorial("novt_schema.json"))
    assert fingerprint == "sha256:de600c0de1a1637cbf8f90b7ece2ec14c7ac14521af8da84d6debe7fc62cc031"
    assert (secret_check_value("secret"), secret_check_value("horse")) == ("0667", "d2c0")
    for page in ("file-formats.rst", "cli.rst"):
        text = (DOCS / page).read_text(encoding="utf-8")
        assert fingerprint in text and "secret check value: 0667" in text


# ---- the secret check value ----


def test_the_secret_check_value_is_4_hex_digits_of_its_own_hkdf():
    register_secret("horse-stable-battery")
    value = secret_check_value("horse-stable-battery")
    (key,) = hkdf(b"horse-stable-battery", 1, "SHA256", salt=SECRET_CHECK_SALT, info=SECRET_CHECK_INFO, key_size=32)
    assert value == key.hex()[:4]
    assert len(value) == 4 and int(value, 16) >= 0
    assert secret_check_value(b"horse-stable-battery") == value
    assert secret_check_value("horse-stable-batterz") != value


def test_the_check_value_is_none_of_the_keys_clks_are_made_with():
    secret = "correct-horse-battery"
    register_secret(secret)
    schema = load_linkage_schema(tutorial("novt_schema.json"))
    assert schema.kdf_salt != SECRET_CHECK_SALT and schema.kdf_info != SECRET_CHECK_INFO
    check_key = hkdf(secret.encode(), 1, "SHA256", salt=SECRET_CHECK_SALT, info=SECRET_CHECK_INFO, key_size=32)[0]
    for keys in derive_keys(secret, schema):
        for key in keys:
            assert check_key[:8] not in key


def test_check_values_spread_over_16_bits_so_many_secrets_share_each():
    """20,000 secrets fall on about 17,243 of the 65,536 values, as uniformly drawn values would:
    a match confirms no guess."""
    values = [secret_check_value(f"guess-{i}") for i in range(20_000)]
    assert all(len(v) == 4 for v in values)
    assert 16_900 < len(set(values)) < 17_600


# ---- hash ----


def test_hash_records_how_the_file_was_made(tmp_path):
    register_secret("s3cret-horse")
    out = tmp_path / "clks.json"
    assert run_cli("hash", DIRTY, "s3cret-horse", V1, out).exit_code == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta == {
        "tool": "anonlink-client",
        "tool_version": __version__,
        "clk_bits": 1024,
        "schema_fingerprint": schema_file_fingerprint(V1),
        "secret_check": secret_check_value("s3cret-horse"),
    }
    assert "s3cret-horse" not in out.read_text()


def test_hash_format_binary_writes_the_same_clks_after_a_header(tmp_path):
    json_out, binary_out = tmp_path / "clks.json", tmp_path / "clks.bin"
    assert run_cli("hash", DIRTY, "secret", V1, json_out).exit_code == 0
    result = run_cli("hash", DIRTY, "secret", V1, binary_out, "--format", "binary")
    assert result.exit_code == 0 and result.stderr == f"CLK data written to {binary_out}\n"
    data_bytes = binary_out.read_bytes()
    meta = json.loads(json_out.read_text())["meta"]
    meta_bytes = json.dumps(meta).encode()
    assert data_bytes[: HEADER.size] == HEADER.pack(MAGIC, 1, 0, 128, 1000, len(meta_bytes))
    assert data_bytes[HEADER.size : HEADER.size + len(meta_bytes)] == meta_bytes
    clks = [base64.b64decode(c) for c in load_clks(json_out)]
    assert data_bytes[HEADER.size + len(meta_bytes) :] == b"".join(clks)
    assert len(data_bytes) == 28 + len(meta_bytes) + 1000 * 128 < 0.75 * json_out.stat().st_size
    assert list(iter_clks(str(binary_out))) == clks
    assert read_clk_info(str(binary_out)).meta == read_clk_info(str(json_out)).meta


def test_binary_to_stdout(tmp_path):
    result = run_cli("hash", DIRTY, "secret", V1, "-", "--format", "binary")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(MAGIC) and len(result.stdout_bytes) > 128_000
    out = tmp_path / "redirected.bin"
    with open(out, "wb") as handle:  # a shell's "> file" can seek
        done = subprocess.run(
            [sys.executable, "-m", "anonlinkclient", "hash", DIRTY, "secret", V1, "-", "--format", "binary"],
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == result.stdout_bytes


def test_binary_to_a_pipe_is_refused_before_hashing():
    done = run_anonlink("hash", DIRTY, "secret", V1, "-", "--format", "binary")  # stdout is a pipe
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "Error: a binary CLK file records the number of CLKs in its header, so it must be written to a file that "
        "can seek, not to a pipe (nor appended to a file)\n"
    )


def test_the_metadata_of_an_interrupted_or_failed_hash_is_never_written(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(Path(DIRTY).read_text() + "1,2\n")
    out = tmp_path / "clks.bin"
    result = run_cli("hash", bad, "secret", V1, out, "--format", "binary")
    assert result.exit_code == 3 and not out.exists()


# ---- describe and validate-schema ----


@pytest.fixture(scope="module")
def hashed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("describe")
    paths = {}
    for kind in ("json", "binary"):
        paths[kind] = directory / f"clks.{kind}"
        assert run_cli("hash", DIRTY, "secret", V1, paths[kind], "--format", kind).exit_code == 0
    return paths


def test_describe_shows_the_metadata_of_both_formats(hashed):
    outputs = [run_cli("describe", hashed[kind]) for kind in ("json", "binary")]
    assert outputs[0].stdout == outputs[1].stdout
    assert outputs[0].stderr == outputs[1].stderr == ""
    assert outputs[0].stdout.splitlines()[-5:] == [
        "",
        f"made by: anonlink-client {__version__}",
        "CLK length: 1024 bits",
        f"schema fingerprint: {schema_file_fingerprint(V1)}",
        "secret check value: 0667",
    ]
    assert "observations: 1000" in outputs[0].stdout


def test_describe_notes_a_file_that_cannot_be_checked(tmp_path, hashed):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"clks": load_clks(hashed["json"])}))
    result = run_cli("describe", old)
    assert result.exit_code == 0
    assert result.stderr == no_metadata_note(str(old)) + "\n"
    assert result.stdout.rstrip().endswith("---")  # the summary box, no metadata lines


def test_describe_a_headerless_file(tmp_path, hashed):
    raw = tmp_path / "clks.raw"
    raw.write_bytes(b"".join(iter_clks(str(hashed["binary"]))))
    result = run_cli("describe", raw, "--raw-clk-size", 128)
    assert result.exit_code == 0 and "observations: 1000" in result.stdout
    assert result.stderr == no_metadata_note(str(raw)) + "\n"
    result = run_cli("describe", raw, "--raw-clk-size", 96)
    assert result.exit_code == 3
    assert result.stderr == f"Error: {raw}: is 128000 bytes, not a multiple of the 96-byte CLK size\n"
    result = run_cli("describe", raw)
    assert result.exit_code == 3 and result.stderr.startswith(f"Error: {raw}: not valid JSON")


def test_describe_a_damaged_binary_file(tmp_path, hashed):
    cut = tmp_path / "cut.bin"
    cut.write_bytes(hashed["binary"].read_bytes()[:-100])
    done = run_anonlink("describe", cut)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        f"Error: {cut}: is truncated: its header says 1000 CLKs of 128 bytes (128000 bytes), but 127900 bytes "
        "follow the header\n"
    )


def test_validate_schema_prints_the_fingerprint_for_every_version(tmp_path):
    converted = tmp_path / "v3.json"
    run_cli("convert-schema", V1, converted)
    shown = {run_cli("validate-schema", path).stdout for path in (V1, converted)}
    assert shown == {f"schema is valid\nschema fingerprint: {schema_file_fingerprint(V1)}\n"}
