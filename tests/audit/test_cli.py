"""``anonlink audit`` as a user runs it: the report, the figures, and what bad input gets.

The command runs in-process (click's CliRunner) and as a real subprocess. Every run is
checked for what must never reach the terminal: the secret (the secrets guard) and any
plaintext value of the records.
"""

import csv
import json
import os
import re
import stat
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from anonlinkclient.encoding.hashing import hash_csv_file
from tests.audit import planted
from tests.audit.test_scoring import JSON_KEYS
from tests.helpers import run_anonlink, run_cli

SECRET = planted.SECRET


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_schema(path: Path, *features: Dict, l: int = 1024) -> str:  # noqa: E741
    path.write_text(json.dumps(planted.schema_document(*features, l=l)))
    return str(path)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """4,000 records (first name, state), their schema, a reference list of first names and another schema."""
    base = tmp_path_factory.mktemp("audit")
    names = planted.first_names(4_000)
    states = planted.skewed(4_000, ["NSW", "VIC", "QLD", "WA", "SA"])
    rows = [[name, state] for name, state in zip(names, states)]
    return {
        "pii": write_csv(base / "pii.csv", ["first name", "state"], rows),
        "schema": write_schema(base / "schema.json", planted.feature("first name"), planted.feature("state")),
        "blake": write_schema(
            base / "blake.json",
            planted.feature("first name", hash_type="blakeHash", k=20),
            planted.feature("state", hash_type="blakeHash"),
        ),
        "reference": write_csv(
            base / "names.csv", ["first name", "count"], [[n, "3"] for n in planted.first_names(2_000, seed=7)]
        ),
        "dir": str(base),
        "values": json.dumps(sorted(set(names) | set(states))),
    }


def assert_no_plaintext(text: str, records: Dict[str, str]) -> None:
    leaked = [value for value in json.loads(records["values"]) if len(value) >= 3 and value in text]
    assert leaked == []


def test_the_audit_writes_a_private_report_and_the_figures(records: Dict[str, str], tmp_path: Path) -> None:
    report, figures = tmp_path / "audit.html", tmp_path / "audit.json"
    result = run_cli("audit", records["pii"], SECRET, records["schema"], report, "--json", figures)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Audited 4,000 records in ")
    assert "could re-identify the first name of " in lines[0] and "one-to-one by pattern mining" in lines[0]
    assert lines[-2:] == [
        f"Report written to {report} (readable by you only: it holds plaintext values)",
        f"Figures written to {figures}",
    ]
    assert result.stdout == ""
    assert_no_plaintext(result.output, records)
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o600
    page = report.read_text()
    assert "could re-identify the first name" in page and "This page holds plaintext" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    document = json.loads(figures.read_text())
    assert document["records"] == 4000
    assert [list(entry) for entry in document["attacks"]] == [JSON_KEYS] * 4
    assert {(e["attack"], e["scenario"], e["feature"]) for e in document["attacks"]} == {
        (attack, "worst-case", feature)
        for attack in ("frequency", "pattern-mining")
        for feature in ("first name", "state")
    }
    mined = next(e for e in document["attacks"] if e["attack"] == "pattern-mining" and e["feature"] == "first name")
    assert mined["qgrams_identified"] >= 10 and mined["correct"] > 0
    assert_no_plaintext(figures.read_text(), records)


def test_a_reference_list_and_alternative_schemas_as_a_subprocess(records: Dict[str, str], tmp_path: Path) -> None:
    report, figures = tmp_path / "audit.html", tmp_path / "audit.json"
    done = run_anonlink(
        "audit", records["pii"], "env:AUDIT_SECRET", records["schema"], report, "--json", figures,
        "--reference", records["reference"], "--compare", records["blake"],
        env={"AUDIT_SECRET": SECRET},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert_no_plaintext(done.stdout + done.stderr, records)
    assert "An attacker with a list of first name values could" in done.stderr
    assert f"With {records['blake']}: " in done.stderr
    document = json.loads(figures.read_text())
    scenarios = {(e["scenario"], e["feature"]) for e in document["attacks"]}
    assert ("reference", "first name") in scenarios and ("reference", "state") not in scenarios
    assert [c["schema"] for c in document["compare"]] == [records["blake"]]
    assert "Alternative schemas" in report.read_text()


def test_the_clks_of_a_file_are_audited_when_they_fit(records: Dict[str, str], tmp_path: Path) -> None:
    clks = tmp_path / "clks.json"
    hash_csv_file(records["pii"], SECRET, records["schema"], str(clks))
    report, figures, again = tmp_path / "audit.html", tmp_path / "a.json", tmp_path / "b.json"
    assert (
        run_cli("audit", records["pii"], SECRET, records["schema"], report, "--clks", clks, "--json", figures).exit_code
        == 0
    )
    assert run_cli("audit", records["pii"], SECRET, records["schema"], report, "--json", again).exit_code == 0
    assert json.loads(figures.read_text())["attacks"] == json.loads(again.read_text())["attacks"]


def test_pii_where_it_lives_is_audited_as_its_csv(records: Dict[str, str], tmp_path: Path) -> None:
    import sqlite3

    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(records["pii"], newline="") as handle:
        header, *rows = list(csv.reader(handle))
    parquet = tmp_path / "pii.parquet"
    pq.write_table(pa.table({name: [row[i] for row in rows] for i, name in enumerate(header)}), parquet)
    database = tmp_path / "pii.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE people (given TEXT, state TEXT)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", rows)
    figures = {}
    for name, extra in {
        "csv": [records["pii"]],
        "parquet": [parquet],
        "sqlite": [f"sqlite:///{database}", "--table", "people", "--columns", "first name=given"],
    }.items():
        out = tmp_path / f"{name}.json"
        result = run_cli(
            "audit", extra[0], SECRET, records["schema"], tmp_path / f"{name}.html", "--json", out, *extra[1:]
        )
        assert result.exit_code == 0, result.output
        figures[name] = json.loads(out.read_text())["attacks"]
    assert figures["parquet"] == figures["csv"] and figures["sqlite"] == figures["csv"]


def _fails(args: List[object], code: int, message: str, directory: Path) -> None:
    before = sorted(os.listdir(directory))
    result = run_cli("audit", *args)
    assert result.exit_code == code, result.output
    expected = f"Error: {message}\n"
    if code == 2:  # click shows the usage first
        expected = "Usage: anonlink audit [OPTIONS] PII_CSV SECRET SCHEMA REPORT_HTML\n" + (
            "Try 'anonlink audit --help' for help.\n\n" + expected
        )
    assert result.stderr == expected
    assert "Traceback" not in result.output
    assert sorted(os.listdir(directory)) == before, "a failed audit left a file behind"


def test_a_clk_file_that_does_not_fit_the_data_is_refused(records: Dict[str, str], tmp_path: Path) -> None:
    pii, schema = records["pii"], records["schema"]
    other = write_schema(tmp_path / "other.json", planted.feature("first name", k=14), planted.feature("state"))
    short = write_schema(tmp_path / "short.json", planted.feature("first name"), planted.feature("state"), l=512)
    few = write_csv(tmp_path / "few.csv", ["first name", "state"], [["Anna", "NSW"], ["Bob", "VIC"]])
    made = {}
    for name, (data, secret, with_schema) in {
        "other-secret": (pii, "another secret", schema),
        "other-schema": (pii, SECRET, other),
        "short": (pii, SECRET, short),
        "few": (few, SECRET, schema),
    }.items():
        made[name] = str(tmp_path / f"{name}-clks.json")
        hash_csv_file(data, secret, with_schema, made[name])
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.html"
    _fails([pii, SECRET, schema, report, "--clks", made["other-secret"]], 3,
           f"{made['other-secret']}: was hashed with another secret (its secret check value differs)", out)  # fmt: skip
    _fails([pii, SECRET, schema, report, "--clks", made["other-schema"]], 3,
           f"{made['other-schema']}: was hashed with another linkage schema "
           "(its schema fingerprint differs)", out)  # fmt: skip
    _fails([pii, SECRET, schema, report, "--clks", made["short"]], 3,
           f"{made['short']}: holds 512-bit CLKs, but the schema makes 1024-bit CLKs", out)  # fmt: skip
    _fails([pii, SECRET, schema, report, "--clks", made["few"]], 3,
           f"{made['few']}: holds 2 CLKs, but {pii} has 4000 records", out)  # fmt: skip
    # Without metadata, the first records hashed again must give the file's first CLKs.
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"clks": json.loads(Path(made["other-secret"]).read_text())["clks"]}))
    _fails([pii, SECRET, schema, report, "--clks", bare], 3,
           f"{bare}: does not hold the CLKs of {pii} with this secret and schema "
           "(CLK 0 differs when hashed again)", out)  # fmt: skip


def test_inputs_the_audit_cannot_use_get_one_line(records: Dict[str, str], tmp_path: Path) -> None:
    schema = records["schema"]
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.html"
    empty = write_csv(tmp_path / "empty.csv", ["first name", "state"], [])
    one = write_csv(tmp_path / "one.csv", ["first name", "state"], [["Anna", "NSW"]])
    no_columns = write_csv(tmp_path / "list.csv", ["surname", "count"], [["Smith", "10"]])
    bad_count = write_csv(tmp_path / "counts.csv", ["first name", "count"], [["Anna", "many"]])
    bad_value = tmp_path / "bad.csv"
    bad_value.write_text("first name,state\nAnna,NSW\n\udcff,VIC\n", errors="surrogateescape")
    _fails([empty, SECRET, schema, report], 3, f"{empty}: has 0 records; an audit needs at least 2", out)
    _fails([one, SECRET, schema, report], 3, f"{one}: has 1 record; an audit needs at least 2", out)
    _fails([records["pii"], SECRET, schema, report, "--reference", no_columns], 3,
           f"{no_columns}, row 1: has none of the schema's columns the attacks apply to "
           "(expected a header naming: first name, state)", out)  # fmt: skip
    _fails([records["pii"], SECRET, schema, report, "--reference", bad_count], 3,
           f"{bad_count}, row 2, column count: "
           "the count must be a whole number from 0 to 1000000000000", out)  # fmt: skip
    _fails(
        [bad_value, SECRET, schema, report], 3, f"{bad_value}, row 3, column 1: not valid UTF-8 text (byte 0xff)", out
    )
    _fails([records["pii"], SECRET, schema, "-"], 2, "REPORT_HTML holds plaintext values: give a file, not '-'", out)
    _fails(
        [records["pii"], "env:NO_SUCH_SECRET", schema, report],
        5,
        "secret: environment variable NO_SUCH_SECRET is not set",
        out,
    )


def test_a_value_that_does_not_fit_the_schema_is_not_shown(tmp_path: Path) -> None:
    document = planted.feature("first name")
    document["format"]["minLength"] = 3
    schema = write_schema(tmp_path / "schema.json", document)
    pii = write_csv(tmp_path / "pii.csv", ["first name"], [["Anna"], ["Jo"], ["Bea"]])
    out = tmp_path / "out"
    out.mkdir()
    _fails([pii, SECRET, schema, out / "r.html"], 3,
           f"{pii}, row 3, column first name: "
           "Invalid entry: the value does not fit the schema (not shown)", out)  # fmt: skip


def test_features_the_attacks_do_not_apply_to_are_reported_not_guessed(tmp_path: Path) -> None:
    exact = planted.feature("sex", comparison={"type": "exact"})
    numeric = planted.feature("age", comparison={"type": "numeric", "thresholdDistance": 5, "resolution": 3})
    numeric["format"] = {"type": "integer"}
    schema = write_schema(tmp_path / "schema.json", exact, numeric)
    pii = write_csv(tmp_path / "pii.csv", ["sex", "age"], [["F", "30"], ["M", "41"], ["F", "52"]])
    report, figures = tmp_path / "r.html", tmp_path / "r.json"
    result = run_cli("audit", pii, SECRET, schema, report, "--json", figures)
    assert result.exit_code == 0, result.output
    first, *rest = result.stderr.splitlines()
    assert re.fullmatch(
        r"Audited 3 records in \d+ s: Nothing was audited: the attacks apply to no feature of this schema "
        r"\(see what was not audited\)\.",
        first,
    )
    assert rest[:2] == [
        "Not audited: sex (exact comparison: the attacks work on q-grams, and a whole value is one token)",
        "Not audited: age (numeric comparison: the attacks work on q-grams, not on numbers)",
    ]
    document = json.loads(figures.read_text())
    assert document["attacks"] == []
    assert [e["feature"] for e in document["not_audited"]] == ["sex", "age"]
    assert "Not audited: sex" in report.read_text()


def test_hardened_clks_are_audited_as_an_attacker_undoes_them(records: Dict[str, str], tmp_path: Path) -> None:
    """``permute`` then ``balance``: hashed with the step keys, 2048-bit CLKs, the same figures once undone.

    (First names alone: a column set in more than half of the CLKs, as a skewed state's
    are, is kept as its complement when the pairs are undone; docs/audit.rst says so.)
    """
    features = (planted.feature("first name"), {"identifier": "state", "ignored": True})
    steps = [{"type": "permute"}, {"type": "balance"}]
    names = write_schema(tmp_path / "names.json", *features)
    hardened = tmp_path / "hardened.json"
    hardened.write_text(json.dumps(planted.schema_document(*features, hardening=steps)))
    clks = tmp_path / "hardened-clks.json"
    hash_csv_file(records["pii"], SECRET, str(hardened), str(clks))
    plain, figures = tmp_path / "plain.json", tmp_path / "hardened-figures.json"
    report = tmp_path / "audit.html"
    assert run_cli("audit", records["pii"], SECRET, names, report, "--json", plain).exit_code == 0
    done = run_anonlink(
        "audit", records["pii"], "env:AUDIT_SECRET", hardened, report, "--clks", clks, "--json", figures,
        env={"AUDIT_SECRET": SECRET},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(figures.read_text())["attacks"] == json.loads(plain.read_text())["attacks"]
    page = report.read_text()
    assert "2,048 bits" in page and "permute, balance" in page
    assert "with their complements (balance)" in page
    # The unhardened CLKs are not those of the hardened schema: one line.
    unhardened = tmp_path / "unhardened-clks.json"
    hash_csv_file(records["pii"], SECRET, names, str(unhardened))
    out = tmp_path / "out"
    out.mkdir()
    _fails([records["pii"], SECRET, hardened, out / "r.html", "--clks", unhardened], 3,
           f"{unhardened}: holds 1024-bit CLKs, but the schema makes 2048-bit CLKs", out)  # fmt: skip
