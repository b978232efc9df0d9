"""The local commands besides hash: schema handling (validate, convert, compare) and benchmark.

``describe`` is tested in ``tests/report/test_describe.py``, ``generate`` in ``tests/synthetic/``, the
command group itself in ``tests/cli/test_group.py``.
"""

import json
import re

from anonlinkclient.encoding.schema import schema_file_fingerprint
from tests.helpers import data, run_cli


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
    same = run_cli("compare", "-n", v1, converted).stdout  # same encoding, any version: converted first
    assert same and all(line.startswith("  ") for line in same.splitlines())
    assert run_cli("compare", "-c", converted, converted).stdout == ""
    assert run_cli("compare", "-u", v1, converted).stdout.startswith(f"--- {v1}\n+++ {converted}\n")  # as written

    changed = json.loads(converted.read_text())
    changed["clkConfig"]["l"] = 2048
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed, indent=2))
    context = run_cli("compare", "-c", converted, other)
    assert context.exit_code == 0
    assert context.stdout.startswith(f"*** {converted}\n--- {other}\n")
    assert '!     "l": 1024,' in context.stdout and '!     "l": 2048,' in context.stdout
    unified = run_cli("compare-schema", "-u", "-l", "0", converted, other).stdout
    assert '-    "l": 1024,\n+    "l": 2048,\n' in unified
    assert '+     "l": 2048,' in run_cli("compare", "-n", v1, other).stdout
    assert run_cli("compare", "-m", v1, other).stdout.lstrip().startswith("<!DOCTYPE html")
    assert run_cli("compare", "-c", v1, tmp_path / "missing.json").exit_code == 4


def test_benchmark_reports_rate():
    result = run_cli("benchmark", "--workers", "1")
    assert result.exit_code == 0
    assert re.fullmatch(r"10000 hashes in \d+\.\d{6} seconds\. \d+\.\d\d KH/s\n", result.stdout)
