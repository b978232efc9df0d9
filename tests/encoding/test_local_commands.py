"""The local commands besides hash: describe, schema handling, generate, benchmark, the group itself."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from anonlinkclient import __version__
from anonlinkclient.encoding.schema import schema_file_fingerprint
from tests.helpers import NCVR_20, data, run_anonlink, run_cli, tutorial

LOCAL_COMMANDS = [
    "benchmark",
    "compare",
    "compare-schema",
    "convert-schema",
    "describe",
    "encode",
    "generate",
    "generate-default-schema",
    "hash",
    "validate-schema",
]


@pytest.fixture(scope="module")
def ncvr_clks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ncvr") / "novt_clk_0.json"
    assert run_cli("hash", NCVR_20[0], "secret", tutorial("novt_schema.json"), out).exit_code == 0
    return out


def test_help_lists_every_command_and_global_options():
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in LOCAL_COMMANDS:
        assert re.search(rf"^  {re.escape(name)}\s", result.stdout, re.M), name
    assert "--version" in result.stdout and "-v, --verbose" in result.stdout


def test_version_and_python_dash_m():
    assert run_cli("--version").stdout == f"anonlink, version {__version__}\n"
    done = run_anonlink("--version")
    assert done.returncode == 0 and done.stdout == f"anonlink, version {__version__}\n"


def test_help_does_not_import_heavy_libraries():
    heavy = ("clkhash", "blocklib", "anonlink", "numpy", "requests", "minio")
    probe = subprocess.run(
        [sys.executable, "-c", f"import sys, anonlinkclient.cli; print([m for m in {heavy!r} if m in sys.modules])"],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "[]"


def test_describe_matches_the_manuals_tutorial_summary(ncvr_clks):
    result = run_cli("describe", ncvr_clks)
    assert result.exit_code == 0
    lines = [line.strip(" |") for line in result.stdout.splitlines()]
    assert "observations: 5000" in lines
    assert "min value: 294.000000" in lines
    assert "mean : 328.055000" in lines
    assert "max value: 351.000000" in lines
    assert "popcounts" in result.stdout and "o" in result.stdout


def test_describe_bad_files(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text('{"clks": []}')
    not_clk = tmp_path / "other.json"
    not_clk.write_text('{"blocks": {}}')
    bad_b64 = tmp_path / "bad.json"
    bad_b64.write_text('{"clks": ["AAAA", "!!!!"]}')
    sizes = tmp_path / "sizes.json"
    sizes.write_text('{"clks": ["AAAA", "AAAAAAAA"]}')
    cases = {
        empty: "contains no CLKs",
        not_clk: 'has no "clks" list; expected a CLK file made by "anonlink hash"',
        bad_b64: "CLK 1: not a valid base64 CLK",
        sizes: "CLK 1: is 6 bytes but the first CLK is 3 bytes",
        Path(data("small.csv")): "not valid JSON",
        tmp_path / "missing.json": "no such file",
    }
    for path, message in cases.items():
        result = run_cli("describe", path)
        assert result.exit_code == 3, path
        assert result.stderr.startswith(f"Error: {path}") and message in result.stderr, result.stderr


def test_validate_schema_good_and_bad():
    for version in (1, 2, 3):
        path = data(f"good-schema-v{version}.json")
        result = run_cli("validate-schema", path)
        assert result.exit_code == 0
        assert result.stdout == f"schema is valid\nschema fingerprint: {schema_file_fingerprint(path)}\n"
    for version in (1, 2, 3):
        result = run_cli("validate-schema", data(f"bad-schema-v{version}.json"))
        assert result.exit_code == 4
        assert result.stderr.startswith(
            f"Error: {data(f'bad-schema-v{version}.json')}: the linkage schema is not valid:\n  "
        )
        assert "Traceback" not in result.stderr


def test_convert_schema_to_v3_hashes_identically(tmp_path):
    converted = tmp_path / "v3.json"
    result = run_cli("convert-schema", data("dirty-data-schema.json"), converted)
    assert result.exit_code == 0
    assert json.loads(converted.read_text())["version"] == 3
    fingerprint = schema_file_fingerprint(data("dirty-data-schema.json"))  # v1 and its v3 form: one schema
    assert run_cli("validate-schema", converted).stdout == f"schema is valid\nschema fingerprint: {fingerprint}\n"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("hash", data("dirty_1000_50_1.csv"), "k", data("dirty-data-schema.json"), a)
    run_cli("hash", data("dirty_1000_50_1.csv"), "k", converted, b)
    assert a.read_text() == b.read_text()


def test_convert_bad_schema_writes_nothing(tmp_path):
    out = tmp_path / "out.json"
    result = run_cli("convert-schema", data("bad-schema-v2.json"), out)
    assert result.exit_code == 4 and not out.exists()


def test_compare_formats(tmp_path):
    v1 = data("good-schema-v1.json")
    converted = tmp_path / "v3.json"
    run_cli("convert-schema", v1, converted)
    assert run_cli("compare", "-c", v1, converted).stdout == ""  # same encoding, any version

    changed = json.loads(converted.read_text())
    changed["clkConfig"]["l"] = 2048
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed))
    context = run_cli("compare", "-c", v1, other)
    assert context.exit_code == 0
    assert context.stdout.startswith(f"*** {v1}\n--- {other}\n")
    assert '!     "l": 1024,' in context.stdout and '!     "l": 2048,' in context.stdout
    unified = run_cli("compare-schema", "-u", "-l", "0", v1, other).stdout
    assert '-    "l": 1024,\n+    "l": 2048,\n' in unified
    assert '+     "l": 2048,' in run_cli("compare", "-n", v1, other).stdout
    assert run_cli("compare", "-m", v1, other).stdout.lstrip().startswith("<!DOCTYPE html")
    assert run_cli("compare", "-c", v1, tmp_path / "missing.json").exit_code == 4


def test_generate_and_its_schema_fit_each_other(tmp_path):
    pii, schema = tmp_path / "pii.csv", tmp_path / "schema.json"
    result = run_cli("generate", 50, pii, "-s", schema)
    assert result.exit_code == 0
    with open(pii, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"]
    assert len(rows) == 51 and rows[1][0] == "0" and rows[1][3] in ("M", "F")
    assert re.fullmatch(r"\d{4}/\d\d/\d\d", rows[1][2])
    assert run_cli("hash", pii, "s", schema, tmp_path / "c.json").exit_code == 0


def test_generate_default_schema_to_stdout():
    result = run_cli("generate-default-schema", "-")
    schema = json.loads(result.stdout)
    assert schema["version"] == 3
    assert [f["identifier"] for f in schema["features"]] == [
        "INDEX",
        "NAME freetext",
        "DOB YYYY/MM/DD",
        "GENDER M or F",
    ]


def test_generate_default_size_is_100():
    result = run_cli("generate", "-")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 101


def test_generate_size_must_be_a_positive_number():
    result = run_cli("generate", "many", "out.csv")
    assert result.exit_code == 2 and "'many' is not a valid integer" in result.stderr
    assert run_cli("generate", 1, 2, 3).exit_code == 2


def test_benchmark_reports_rate():
    result = run_cli("benchmark", "--workers", "1")
    assert result.exit_code == 0
    assert re.fullmatch(r"10000 hashes in \d+\.\d{6} seconds\. \d+\.\d\d KH/s\n", result.stdout)


def test_unknown_command_and_missing_argument_are_usage_errors():
    result = run_cli("hashh")
    assert result.exit_code == 2 and "No such command 'hashh'" in result.stderr
    result = run_cli("hash", "a.csv", "secret", "schema.json")
    assert result.exit_code == 2 and "Missing argument 'CLK_JSON'" in result.stderr
