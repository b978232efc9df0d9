"""Property-based checks: whatever bytes a user feeds in, only the promised outcomes occur.

Either the command succeeds with a complete output, or it fails with exit code 3
(bad data file) or 4 (bad schema), a single ``Error: <file>...`` line, no
traceback, and no output file. Blocking is covered in ``tests/blocking/test_block.py``.
"""

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.errors import InputFileError
from anonlinkclient.utils import combine_clks_blocks
from tests.helpers import data, run_cli, tutorial

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
DEFAULT_HEADER = "INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n"

cell = st.text(alphabet=string.ascii_letters + string.digits + ' ,"/\n\r-é\x00', max_size=12)
csv_text = st.lists(st.lists(cell, min_size=0, max_size=6), max_size=6).map(
    lambda rows: "".join(",".join(row) + "\n" for row in rows)
)
raw_bytes = st.binary(max_size=200)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["clks", "blocks", "meta", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


def assert_clean_failure_or_success(result, input_path: Path, output: Path, allowed=(3, 4)) -> None:
    if result.exit_code == 0:
        return
    assert result.exit_code in allowed, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert not [p for p in output.parent.iterdir() if p.name.endswith(".part")]


@SETTINGS
@given(body=csv_text, with_header=st.booleans(), tmp=st.just(None))
def test_hash_random_csv(tmp_path_factory, body, with_header, tmp):
    directory = tmp_path_factory.mktemp("hash")
    pii = directory / "pii.csv"
    pii.write_text((DEFAULT_HEADER if with_header else "") + body, encoding="utf-8")
    out = directory / "clks.json"
    result = run_cli("hash", pii, "secret", data("randomnames-schema-v2.json"), out, "--workers", 1)
    assert_clean_failure_or_success(result, pii, out)
    if result.exit_code == 0:
        assert len(json.loads(out.read_text())["clks"]) >= 1


@SETTINGS
@given(raw=raw_bytes)
def test_hash_random_bytes(tmp_path_factory, raw):
    directory = tmp_path_factory.mktemp("hashbytes")
    pii = directory / "pii.csv"
    pii.write_bytes(DEFAULT_HEADER.encode() + raw)
    out = directory / "clks.json"
    result = run_cli("hash", pii, "secret", data("randomnames-schema-v2.json"), out, "--workers", 1)
    assert_clean_failure_or_success(result, pii, out)


@SETTINGS
@given(document=json_value, raw=st.one_of(st.none(), raw_bytes))
def test_hash_random_schema(tmp_path_factory, document, raw):
    directory = tmp_path_factory.mktemp("schema")
    schema = directory / "schema.json"
    if raw is None:
        schema.write_text(json.dumps(document))
    else:
        schema.write_bytes(raw)
    out = directory / "clks.json"
    result = run_cli("hash", data("dirty_1000_50_1.csv"), "secret", schema, out)
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith(f"Error: {schema}: ") and result.stderr.count("\n") == 1
    assert not out.exists()


@SETTINGS
@given(document=json_value, raw=st.one_of(st.none(), raw_bytes))
def test_describe_random_json(tmp_path_factory, document, raw):
    directory = tmp_path_factory.mktemp("describe")
    clk_file = directory / "clks.json"
    if raw is None:
        clk_file.write_text(json.dumps(document))
    else:
        clk_file.write_bytes(raw)
    result = run_cli("describe", clk_file)
    if result.exit_code == 0:
        assert "observations:" in result.stdout
    else:
        assert result.exit_code == 3, result.stderr
        assert result.stderr.startswith(f"Error: {clk_file}") and result.stderr.count("\n") == 1


@SETTINGS
@given(
    clks=st.one_of(json_value, st.lists(st.sampled_from(["AAAA", "AAAB", "!!", "AAAAAAAA"]), max_size=5)),
    blocks=st.one_of(
        json_value,
        st.dictionaries(
            st.sampled_from(["0", "1", "2", "7", "-1", "x"]), st.lists(st.sampled_from(["a", 1]), max_size=3)
        ),
    ),
    count=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_combine_clks_blocks_random_files(tmp_path_factory, clks, blocks, count):
    directory = tmp_path_factory.mktemp("combine")
    clk_file, block_file = directory / "clks.json", directory / "blocks.json"
    clk_file.write_text(json.dumps({"clks": clks} if isinstance(clks, list) else clks))
    block_document = {"blocks": blocks} if isinstance(blocks, dict) and "blocks" not in blocks else blocks
    if count is not None and isinstance(block_document, dict):
        block_document = dict(block_document, meta={"source": {"clk_count": [count]}})
    block_file.write_text(json.dumps(block_document))
    try:
        with open(clk_file, "rb") as c, open(block_file, "rb") as b:
            combined = json.load(combine_clks_blocks(c, b))
    except InputFileError as exc:
        assert str(exc).startswith((str(clk_file), str(block_file)))
        assert "\n" not in str(exc)
        return
    entries = combined["clknblocks"]
    assert [e[0] for e in entries] == clks
    if count is not None:
        assert len(entries) == count


@SETTINGS
@given(body=csv_text, schema_name=st.sampled_from(["p-sig-schema.json", "lambda-fold-one-feature-schema.json"]))
def test_block_random_csv(tmp_path_factory, body, schema_name):
    directory = tmp_path_factory.mktemp("block")
    pii = directory / "pii.csv"
    pii.write_text(DEFAULT_HEADER + body, encoding="utf-8")
    out = directory / "blocks.json"
    result = run_cli("block", pii, data(schema_name), out)
    assert_clean_failure_or_success(result, pii, out)
    if result.exit_code == 0:
        assert "blocks" in json.loads(out.read_text())


@SETTINGS
@given(document=json_value, raw=st.one_of(st.none(), raw_bytes))
def test_block_random_clk_json(tmp_path_factory, document, raw):
    directory = tmp_path_factory.mktemp("blockclks")
    clk_file = directory / "clks.json"
    if raw is None:
        clk_file.write_text(json.dumps(document))
    else:
        clk_file.write_bytes(raw)
    out = directory / "blocks.json"
    result = run_cli("block", clk_file, tutorial("blocking_schema.json"), out)
    assert_clean_failure_or_success(result, clk_file, out)
