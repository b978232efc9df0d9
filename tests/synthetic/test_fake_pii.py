"""``anonlink generate`` (one party of fake PII) and ``generate-default-schema``: the CSV and its schema."""

import csv
import json
import re

from tests.helpers import run_cli


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
