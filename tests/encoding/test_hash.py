"""``anonlink hash``: output identical to clkhash, streaming options, secrets, bad input."""

import copy
import csv
import io
import json
import os
from pathlib import Path

import pytest
from clkhash import clk as clkhash_clk
from clkhash import schema as clkhash_schema
from clkhash.serialization import serialize_bitarray

from anonlinkclient import __version__
from anonlinkclient.encoding.schema import schema_file_fingerprint
from anonlinkclient.encoding.secrets import secret_check_value
from tests.helpers import NCVR_20, data, load_clks, run_anonlink, run_cli, tutorial
from tests.secrets_guard import register_secret


def clkhash_reference(csv_path: str, secret: str, schema_path: str, header: object = True) -> list:
    """The CLKs clkhash itself makes, serialized as in a CLK file."""
    with open(schema_path) as f:
        schema = clkhash_schema.from_json_file(f)
    with open(csv_path, newline="") as f:
        clks = clkhash_clk.generate_clk_from_csv(f, secret, schema, header=header, progress_bar=False, max_workers=1)
    return [serialize_bitarray(c) for c in clks]


def with_hash_type(schema_path: str, hash_type: str, tmp_path: Path) -> str:
    """A copy of a v3 schema whose every feature uses ``hash_type``."""
    document = json.loads(Path(schema_path).read_text())
    for feature in document["features"]:
        if "hashing" in feature:
            feature["hashing"]["hash"] = {"type": hash_type}
    out = tmp_path / f"schema-{hash_type}.json"
    out.write_text(json.dumps(document))
    return str(out)


@pytest.fixture(scope="module")
def generated_pii(tmp_path_factory: pytest.TempPathFactory) -> str:
    """2,500 generated people (more than two chunks, so ordering across workers matters)."""
    path = tmp_path_factory.mktemp("pii") / "pii.csv"
    assert run_cli("generate", 2500, path).exit_code == 0
    return str(path)


@pytest.mark.parametrize(
    "csv_name, schema_name",
    [
        ("dirty", "dirty-data-schema.json"),  # v1, doubleHash
        ("generated", "randomnames-schema-v2.json"),  # v2
        ("ncvr", "novt_schema.json"),  # v3, blakeHash
    ],
)
def test_hash_equals_clkhash_for_each_schema_version(tmp_path, generated_pii, csv_name, schema_name):
    csv_path = {"dirty": data("dirty_1000_50_1.csv"), "generated": generated_pii, "ncvr": str(NCVR_20[0])}[csv_name]
    schema_path = tutorial(schema_name) if csv_name == "ncvr" else data(schema_name)
    out = tmp_path / "clks.json"

    result = run_cli("hash", csv_path, "secret", schema_path, out, "--workers", 2)

    assert result.exit_code == 0, result.output
    assert result.stderr == f"CLK data written to {out}\n"
    assert load_clks(out) == clkhash_reference(csv_path, "secret", schema_path)


@pytest.mark.parametrize("hash_type", ["blakeHash", "doubleHash"])
@pytest.mark.parametrize("workers", [1, 2])
def test_hash_equals_clkhash_for_both_hash_functions(tmp_path, generated_pii, hash_type, workers):
    from clkhash.randomnames import NameList  # noqa: F401  (loads the v3 schema shipped with clkhash)

    base = tmp_path / "v3.json"
    assert run_cli("generate-default-schema", base).exit_code == 0
    schema_path = with_hash_type(str(base), hash_type, tmp_path)
    out = tmp_path / "clks.json"

    result = run_cli("hash", generated_pii, "horse", schema_path, out, "--workers", workers)

    assert result.exit_code == 0, result.stderr
    clks = load_clks(out)
    assert len(clks) == 2500
    assert clks == clkhash_reference(generated_pii, "horse", schema_path)


def test_output_format_is_the_clk_json_clkhash_writes_with_metadata_before_and_count_after(tmp_path):
    out = tmp_path / "clks.json"
    run_cli("hash", data("dirty_1000_50_1.csv"), "secret", data("dirty-data-schema.json"), out)
    text = out.read_text()
    meta = {
        "tool": "anonlink-client",
        "tool_version": __version__,
        "clk_bits": 1024,
        "schema_fingerprint": schema_file_fingerprint(data("dirty-data-schema.json")),
        "secret_check": secret_check_value("secret"),
    }
    assert text == json.dumps({"meta": meta, "clks": load_clks(out), "clk_count": 1000})


def test_dash_writes_json_to_stdout(tmp_path):
    result = run_cli("hash", data("dirty_1000_50_1.csv"), "secret", data("dirty-data-schema.json"), "-")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["clks"]) == 1000
    assert result.stderr == "CLK data written to stdout\n"


def test_encode_is_the_same_command(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("hash", data("dirty_1000_50_1.csv"), "s", data("dirty-data-schema.json"), a)
    run_cli("encode", data("dirty_1000_50_1.csv"), "s", data("dirty-data-schema.json"), b)
    assert a.read_text() == b.read_text()


def test_schema_option_form_of_the_manual(tmp_path):
    out = tmp_path / "clks.json"
    result = run_cli("hash", "--schema", data("dirty-data-schema.json"), data("dirty_1000_50_1.csv"), "s", out)
    assert result.exit_code == 0
    assert len(load_clks(out)) == 1000


def test_no_header_and_check_header(tmp_path):
    rows = Path(data("dirty_1000_50_1.csv")).read_text().splitlines(keepends=True)
    headless = tmp_path / "headless.csv"
    headless.write_text("".join(rows[1:]))
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("a,b,c,d,e,f,g,h,i,j,k,l,m,n\n" + "".join(rows[1:]))
    schema = data("dirty-data-schema.json")
    full, no_header, unchecked = (tmp_path / n for n in ("full.json", "no_header.json", "unchecked.json"))

    run_cli("hash", data("dirty_1000_50_1.csv"), "s", schema, full)
    assert run_cli("hash", headless, "s", schema, no_header, "--no-header").exit_code == 0
    refused = run_cli("hash", renamed, "s", schema, unchecked)
    assert refused.exit_code == 3
    assert "row 1" in refused.stderr and "header does not match the schema" in refused.stderr
    assert run_cli("hash", renamed, "s", schema, unchecked, "--check-header", "false").exit_code == 0

    assert load_clks(full) == load_clks(no_header) == load_clks(unchecked)


def test_validate_false_hashes_values_that_break_the_format(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,Al,1990/01/01,X\n")
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    out = tmp_path / "clks.json"

    refused = run_cli("hash", bad, "s", schema, out)
    assert refused.exit_code == 3
    assert refused.stderr.startswith(f"Error: {bad}, row 2, column NAME freetext: Invalid entry: ")
    assert not out.exists()

    accepted = run_cli("hash", bad, "s", schema, out, "--validate", "false")
    assert accepted.exit_code == 0
    assert len(load_clks(out)) == 1


def test_progress_on_a_terminal_shows_popcount_stats(tmp_path, terminal):
    out = tmp_path / "clks.json"
    result = run_cli("hash", data("dirty_1000_50_1.csv"), "s", data("dirty-data-schema.json"), out)
    assert result.exit_code == 0
    assert "generating CLKs: 100%" in result.stderr
    assert "clk/s" in result.stderr and "mean=" in result.stderr and "std=" in result.stderr
    quiet = run_cli("hash", data("dirty_1000_50_1.csv"), "s", data("dirty-data-schema.json"), out, "--quiet")
    assert quiet.stderr == f"CLK data written to {out}\n"


@pytest.mark.parametrize("form", ["env", "file"])
def test_secret_from_environment_or_file(tmp_path, form):
    reference = tmp_path / "literal.json"
    run_cli("hash", data("dirty_1000_50_1.csv"), "s3cr3t-value", data("dirty-data-schema.json"), reference)
    secret_file = tmp_path.parent / f"{tmp_path.name}-secret.txt"  # kept outside tmp_path: it is not output
    secret_file.write_text("s3cr3t-value\nignored second line\n")
    register_secret("s3cr3t-value")
    argument = "env:MY_SECRET" if form == "env" else f"file:{secret_file}"
    out = tmp_path / "clks.json"

    result = run_cli(
        "-v",
        "hash",
        data("dirty_1000_50_1.csv"),
        argument,
        data("dirty-data-schema.json"),
        out,
        env={"MY_SECRET": "s3cr3t-value"},
    )

    assert result.exit_code == 0
    assert out.read_text() == reference.read_text()
    # the secrets guard checks that "s3cr3t-value" appears in no output or file


def test_missing_secret_variable_is_a_clear_error(tmp_path):
    result = run_cli("hash", data("small.csv"), "env:NOT_SET_ANYWHERE", data("simple-schema.json"), tmp_path / "o.json")
    assert result.exit_code == 5
    assert result.stderr == "Error: secret: environment variable NOT_SET_ANYWHERE is not set\n"


BAD_INPUTS = {
    "missing file": (lambda d: str(d / "nope.csv"), "no such file", None),
    "ragged row": (
        lambda d: write(d, "INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,Ann Lee,1990/01/01,F\n1,Bo\n"),
        "has 2 columns but the schema describes 4",
        3,
    ),
    "wrong header": (
        lambda d: write(d, "id,name,dob,sex\n0,Ann Lee,1990/01/01,F\n"),
        "header does not match the schema",
        1,
    ),
    "bad value": (
        lambda d: write(
            d, "INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,Ann Lee,1990/01/01,F\n1,Bob Ray,2001/02/03,Q\n"
        ),
        "column GENDER M or F",
        3,
    ),
    "empty file": (lambda d: write(d, ""), "the file is empty", None),
    "header only": (
        lambda d: write(d, "INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n"),
        "contains no records",
        None,
    ),
    "not utf-8": (
        lambda d: write_bytes(d, b"INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,Jos\xe9 Diaz,1990/01/01,M\n"),
        "not valid UTF-8",
        2,
    ),
    "binary": (lambda d: write_bytes(d, b"\x00\x01\x02PK\x03\x04" * 10), None, None),
}


def write(directory: Path, text: str) -> str:
    path = directory / "pii.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def write_bytes(directory: Path, raw: bytes) -> str:
    path = directory / "pii.csv"
    path.write_bytes(raw)
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_one_line_exit_3_and_no_output(tmp_path, case):
    make, expected, row = BAD_INPUTS[case]
    pii = make(tmp_path)
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    out = tmp_path / "clks.json"
    out.write_text("previous result")

    result = run_cli("hash", pii, "secret", schema, out)

    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {pii}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    if expected:
        assert expected in result.stderr
    if row:
        assert f", row {row}" in result.stderr
    assert out.read_text() == "previous result"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_bom_and_quoted_newlines_are_read_as_csv(tmp_path):
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    plain = write(tmp_path, 'INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,"Ann\nLee",1990/01/01,F\n')
    expected = clkhash_reference(plain, "s", str(schema))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + Path(plain).read_bytes())
    out = tmp_path / "clks.json"
    assert run_cli("hash", bom, "s", schema, out).exit_code == 0
    assert load_clks(out) == expected


@pytest.mark.parametrize(
    "schema_text, message",
    [
        ("{not json", "not valid JSON (line 1, column 2"),
        ('{"version": 99, "clkConfig": {}, "features": []}', "version 99 is not supported"),
        (
            '{"version": 3, "features": []}',
            "the linkage schema is not valid: top level: 'clkConfig' is a required property",
        ),
        ("[]", "the top level is a list"),
    ],
)
def test_bad_schema_is_exit_4(tmp_path, schema_text, message):
    schema = tmp_path / "schema.json"
    schema.write_text(schema_text)
    out = tmp_path / "clks.json"
    result = run_cli("hash", data("small.csv"), "s", schema, out)
    assert result.exit_code == 4
    assert result.stderr.startswith(f"Error: {schema}: ")
    assert message in result.stderr
    assert not out.exists()


def test_unhashable_value_with_validation_off_names_row_and_column(tmp_path):
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    rows = "".join(f"{i},Ann Lee,1990/01/01,F\n" for i in range(1500))
    pii = write(tmp_path, "INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n" + rows + "9,Bo Li,1990-01-01,M\n")
    result = run_cli("hash", pii, "s", schema, tmp_path / "out.json", "--validate", "false", "--workers", 2)
    assert result.exit_code == 3
    assert result.stderr.startswith(
        f"Error: {pii}, row 1502, column DOB YYYY/MM/DD: Invalid entry: Unable to format date value"
    )
    assert "Traceback" not in result.stderr


def test_schema_that_does_not_fit_the_csv(tmp_path):
    out = tmp_path / "clks.json"
    result = run_cli("hash", data("dirty_1000_50_1.csv"), "s", data("simple-schema.json"), out)
    assert result.exit_code == 3
    assert "row 1: header does not match the schema: Header has 14 columns when 2 are expected." in result.stderr


def test_hash_as_a_subprocess_keeps_order_with_workers(tmp_path, generated_pii):
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    out = tmp_path / "clks.json"
    done = run_anonlink("hash", generated_pii, "env:SECRET", schema, out, "--workers", "2", env={"SECRET": "x"})
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"CLK data written to {out}\n"
    assert load_clks(out) == clkhash_reference(generated_pii, "x", str(schema))


def test_workers_1_needs_no_multiprocessing(tmp_path):
    """hash --workers 1 runs where processes cannot be started (the module is unusable)."""
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    pii = tmp_path / "pii.csv"
    run_cli("generate", 2500, pii)
    out = tmp_path / "clks.json"
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('_multiprocessing', '_posixshmem'):\n"
        "            raise ImportError('no multiprocessing here')\n"
        "sys.meta_path.insert(0, _Refuse())\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = run_anonlink("hash", pii, "s", schema, out, "--workers", "1", env=env)
    assert done.returncode == 0, done.stderr
    assert len(load_clks(out)) == 2500
    with_pool = run_anonlink("hash", pii, "s", schema, tmp_path / "other.json", "--workers", "2", env=env)
    assert with_pool.returncode != 0  # the environment really lacks multiprocessing


def test_generate_clk_from_csv_library_function_matches_cli(tmp_path):
    from anonlinkclient.utils import generate_clk_from_csv, serialize_bitarray

    with open(tutorial("novt_schema.json")) as f:
        schema = clkhash_schema.from_json_file(f)
    text = Path(NCVR_20[1]).read_text()
    clks = generate_clk_from_csv(io.StringIO(text), "secret", schema, progress_bar=False)
    out = tmp_path / "clks.json"
    run_cli("hash", NCVR_20[1], "secret", tutorial("novt_schema.json"), out)
    assert [serialize_bitarray(c) for c in clks] == load_clks(out)
    assert len(clks[0]) == 1024


def test_generate_clk_from_csv_reports_row_and_column():
    from anonlinkclient.errors import InputFileError
    from anonlinkclient.utils import generate_clk_from_csv

    schema = clkhash_schema.from_json_dict(json.loads(Path(data("randomnames-schema-v2.json")).read_text()))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f.identifier for f in schema.fields])
    writer.writerows([["1", "Ann Lee", "1990/01/01", "F"], ["2", "Bo Li", "bad date", "M"]])
    buffer.seek(0)
    with pytest.raises(InputFileError) as caught:
        generate_clk_from_csv(buffer, "s", copy.deepcopy(schema), progress_bar=False)
    assert caught.value.row == 3
    assert caught.value.column == "DOB YYYY/MM/DD"
