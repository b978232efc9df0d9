"""What scripts and notebooks written for 0.1.5 rely on keeps working (issue 11, section 2).

Usage lines name ``anonlink``; ``compare`` takes any two JSON schema files,
defaults to ndiff, and diffs the files as written with -c and -u; error texts keep
the words scripts grep for ("Invalid entry", "schema is not valid"); the Python
helpers read files opened in text mode, and their errors are still the builtins
0.1.5 raised (``ValueError``, ``TypeError``). ``upload -v``'s lines are checked in
``tests/service/test_upload.py``. None of this uses 0.1.5's code.
"""

import difflib
import io
import json
import re
import shutil

import pytest

from anonlinkclient.errors import InputFileError, InvalidSchema, SchemaFileError, WrongInputKind
from tests.helpers import data, run_anonlink, run_cli

BAD_V1_NOTE = (
    "Note: {path}: the linkage schema is not valid (clkConfig: 'l' is a required property); "
    "compared as written, not converted to version 3"
)


# ---- usage lines ----


def test_hash_without_arguments_shows_the_anonlink_usage_line():
    result = run_cli("hash")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        "Usage: anonlink hash [OPTIONS] PII_CSV SECRET SCHEMA CLK_JSON",
        "Try 'anonlink hash --help' for help.",
    ]
    as_a_program = run_anonlink("hash")
    assert as_a_program.returncode == 2
    assert as_a_program.stderr.startswith("Usage: anonlink hash [OPTIONS] PII_CSV SECRET SCHEMA CLK_JSON\n")


# ---- compare ----


def test_compare_defaults_to_ndiff(tmp_path):
    v3 = data("good-schema-v3.json")
    changed = json.loads(open(v3).read())
    changed["clkConfig"]["l"] = 2048
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed))
    default = run_cli("compare", v3, other)
    assert default.exit_code == 0 and default.stderr == ""
    assert default.stdout == run_cli("compare", "-n", v3, other).stdout
    lines = default.stdout.splitlines()
    assert lines[0] == "  {"
    assert '-     "l": 1024' in lines and '+     "l": 2048' in lines
    assert all(line[:2] in ("  ", "- ", "+ ", "? ") for line in lines)
    assert re.search(r"\n  -n +Produce an ndiff format diff \(default\)\n", run_cli("compare", "--help").stdout)


def compare(*args):
    """``anonlink compare ARGS`` in-process and as a real program: the same stdout, stderr (its notes) and exit
    code; the program's run."""
    in_process, program = run_cli("compare", *args), run_anonlink("compare", *args)
    assert (in_process.stdout, in_process.stderr, in_process.exit_code) == (
        program.stdout,
        program.stderr,
        program.returncode,
    )
    return program


def test_compare_a_schema_that_does_not_validate_with_one_that_does():
    good, bad = data("good-schema-v1.json"), data("bad-schema-v1.json")
    result = compare(good, bad)
    assert result.returncode == 0
    assert result.stderr == BAD_V1_NOTE.format(path=bad) + "\n"
    lines = result.stdout.splitlines()
    assert '-   "version": 3' in lines  # the good one, converted to version 3
    assert '+   "version": 1' in lines  # the bad one, as written
    assert '-     "l": 1024,' in lines  # the bad one has no clkConfig.l: the reason it is not valid


def test_compare_two_schemas_that_do_not_validate(tmp_path):
    first, second = data("bad-schema-v1.json"), tmp_path / "copy.json"
    shutil.copy(first, second)
    result = compare("-u", first, second)
    assert result.returncode == 0
    assert result.stdout == ""  # the same, as written
    assert result.stderr.splitlines() == [BAD_V1_NOTE.format(path=first), BAD_V1_NOTE.format(path=second)]


def test_compare_a_file_that_is_not_json(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("version: 3\n")
    result = compare("-u", "-l", "0", data("good-schema-v3.json"), text)
    assert result.returncode == 0
    reason = "Expecting value: line 1 column 1 (char 0)"
    assert result.stderr == f"Note: {text}: not JSON ({reason}); compared line by line\n"
    assert result.stdout.splitlines()[-1] == "+version: 3"


@pytest.mark.parametrize("option, marker", [("-c", "!"), ("-u", "@@")])
def test_compare_c_and_u_as_0_1_5_tested_them(option, marker):
    """0.1.5's own tests: more context lines give more output; the diff's markers are there."""
    v2, v3 = data("bad-schema-v2.json"), data("bad-schema-v3.json")
    three, five = compare(option, v2, v3), compare(option, "-l 5", v2, v3)
    assert three.returncode == five.returncode == 0
    assert len(five.stdout) > len(three.stdout) and five.stdout > three.stdout
    assert marker in three.stdout


def file_lines(path) -> list:
    """A file's lines as 0.1.5's ``compare`` read them (``readlines()`` of the file opened as text)."""
    with open(path) as handle:
        return handle.readlines()


@pytest.mark.parametrize("option", ["-c", "-u"])
@pytest.mark.parametrize("context", [0, 1, 3, 6])
def test_compare_c_and_u_diff_the_files_as_written(tmp_path, option, context):
    """The lines, their numbers and the context are the files': what difflib makes of the two files' lines."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    # As a person writes a schema: keys in their own order, 4-space indents, CRLF line ends in one file.
    a.write_text(open(data("good-schema-v2.json")).read().replace("  ", "    "))
    changed = a.read_text().replace('"k": 20', '"k": 30').replace('"type": "doubleHash"', '"type": "blakeHash"')
    b.write_bytes(changed.replace("\n", "\r\n").encode())
    result = compare(option, "-l", context, a, b)
    assert result.returncode == 0 and result.stderr == ""
    diff = difflib.unified_diff if option == "-u" else difflib.context_diff
    assert result.stdout == "".join(diff(file_lines(a), file_lines(b), str(a), str(b), n=context))
    # Each hunk's line numbers point at those lines of the files.
    a_lines, b_lines = file_lines(a), file_lines(b)
    if option == "-u":
        hunks = re.findall(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@\n((?:[- +].*\n)+)", result.stdout, re.M)
        assert hunks
        for start_a, start_b, body in hunks:
            lines = body.splitlines(keepends=True)
            old = [line[1:] for line in lines if line[0] in " -"]
            new = [line[1:] for line in lines if line[0] in " +"]
            assert a_lines[int(start_a) - 1 : int(start_a) - 1 + len(old)] == old
            assert b_lines[int(start_b) - 1 : int(start_b) - 1 + len(new)] == new
    else:
        starts = re.findall(r"^\*\*\* (\d+)(?:,\d+)? \*\*\*\*$", result.stdout, re.M)
        first_change = next(i for i, (x, y) in enumerate(zip(a_lines, b_lines)) if x != y)
        assert int(starts[0]) == max(1, first_change + 1 - context)
    # The changed line as the file has it (its own indentation), which re-rendered JSON would not have.
    (written,) = [line for line in a_lines if '"k": 20' in line]
    assert written.startswith(" " * 8)
    assert ("-" if option == "-u" else "! ") + written in result.stdout


def test_compare_c_and_u_of_one_schema_in_two_versions_show_the_files_differences(tmp_path):
    """Converting is for -n and -m; -c and -u show what differs in the files, as 0.1.5 did."""
    v1 = data("good-schema-v1.json")
    converted = tmp_path / "v3.json"
    assert run_cli("convert-schema", v1, converted).exit_code == 0
    unified = compare("-u", v1, converted)
    assert unified.stdout == "".join(difflib.unified_diff(file_lines(v1), file_lines(converted), v1, str(converted)))
    assert '-  "version": 1,\n' in unified.stdout
    assert all(line.startswith("  ") for line in compare("-n", v1, converted).stdout.splitlines())


def test_compare_notes_are_warnings_of_the_schema_module(caplog):
    """The library logs each note (no callback): a warning whose message is the line the user sees."""
    import logging

    from anonlinkclient.encoding.schema import compare_schemas

    good, bad = data("good-schema-v1.json"), data("bad-schema-v1.json")
    with caplog.at_level(logging.WARNING):
        difference = compare_schemas(good, bad, "unified", 3)
    assert difference.startswith(f"--- {good}\n+++ {bad}\n")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("anonlinkclient.encoding.schema", logging.WARNING, BAD_V1_NOTE.format(path=bad))
    ]


def test_compare_a_missing_file_is_still_an_error(tmp_path):
    result = run_cli("compare", data("good-schema-v3.json"), tmp_path / "nowhere.json")
    assert result.exit_code == 4
    assert result.stderr == f"Error: {tmp_path / 'nowhere.json'}: no such file\n"


# ---- the words scripts grep for ----


def test_a_value_that_fails_the_schema_is_an_invalid_entry(tmp_path):
    pii = tmp_path / "pii.csv"
    pii.write_text("INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n0,Ann Lee,1990/01/01,F\n1,Bo,1990/01/01,M\n")
    schema = tmp_path / "schema.json"
    run_cli("generate-default-schema", schema)
    result = run_cli("hash", pii, "secret", schema, tmp_path / "clks.json")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {pii}, row 3, column NAME freetext: Invalid entry: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_bad_schema_says_schema_is_not_valid(tmp_path):
    bad = data("bad-schema-v2.json")
    hashed = run_cli("hash", data("small.csv"), "secret", bad, tmp_path / "clks.json")
    assert hashed.exit_code == 4
    assert hashed.stderr.startswith(f"Error: {bad}: the linkage schema is not valid: ")
    blocking = tmp_path / "blocking.json"
    blocking.write_text(json.dumps({"type": "p-sig", "version": 1, "config": {}}))
    blocked = run_cli("block", data("small.csv"), blocking, tmp_path / "blocks.json")
    assert blocked.exit_code == 4
    assert blocked.stderr.startswith(f"Error: {blocking}: the blocking schema is not valid: ")

    from anonlinkclient.encoding.schema import load_linkage_schema

    with pytest.raises(ValueError, match="the linkage schema is not valid") as caught:
        load_linkage_schema(bad)
    assert isinstance(caught.value, InvalidSchema)


# ---- the builtins the 0.1.5 helpers raised ----


def test_blocking_the_other_kind_of_file_is_a_type_error_as_in_0_1_5(tmp_path):
    from anonlinkclient.utils import generate_candidate_blocks_from_csv

    psig = data("p-sig-schema.json")
    with pytest.raises(TypeError) as caught:
        generate_candidate_blocks_from_csv(data("small_clk.json"), psig)  # 0.1.5: "Upload should be CSVs not CLKs"
    assert isinstance(caught.value, WrongInputKind) and isinstance(caught.value, ValueError)
    assert str(caught.value) == (
        f"{data('small_clk.json')}: is a JSON file, but p-sig blocking needs the PII CSV (it cannot block CLKs)"
    )
    clk_schema = json.loads(open(data("lambda-fold-one-feature-schema.json")).read())
    clk_schema["config"]["input-clks"] = True
    schema_file = tmp_path / "clk-schema.json"
    schema_file.write_text(json.dumps(clk_schema))
    with pytest.raises(TypeError):  # 0.1.5: "Upload should be CLKs not CSV file"
        generate_candidate_blocks_from_csv(data("small.csv"), str(schema_file))
    result = run_cli("block", data("small_clk.json"), psig, tmp_path / "blocks.json")
    assert result.exit_code == 3  # still an input file error on the command line


def test_the_helpers_other_errors_are_value_errors_as_in_0_1_5(tmp_path):
    from anonlinkclient.utils import (
        combine_clks_blocks,
        deserialize_bitarray,
        generate_candidate_blocks_from_csv,
        generate_clk_from_csv,
    )

    not_json = tmp_path / "schema.json"
    not_json.write_text("{")
    with pytest.raises(ValueError) as caught:  # 0.1.5: "The schema is not a valid JSON file"
        generate_candidate_blocks_from_csv(data("small.csv"), str(not_json))
    assert isinstance(caught.value, SchemaFileError)
    with pytest.raises(ValueError):
        generate_candidate_blocks_from_csv(data("small.csv"), data("p-sig-schema.json"), header="maybe")

    blocks = tmp_path / "blocks.json"
    blocks.write_text(json.dumps({"blocks": {"0": ["a"]}, "meta": {"source": {"clk_count": [99]}}}))
    with pytest.raises(ValueError) as caught:  # 0.1.5: "Invalid CLKs or Blocks"
        with combine_clks_blocks(data("small_clk.json"), str(blocks)) as combined:
            combined.read()
    assert isinstance(caught.value, InputFileError)
    with pytest.raises(ValueError):
        deserialize_bitarray("not base64!")

    from clkhash import schema as clkhash_schema

    schema = clkhash_schema.from_json_dict(json.loads(open(data("randomnames-schema-v2.json")).read()))
    with pytest.raises(ValueError, match="header does not match the schema"):
        generate_clk_from_csv(io.StringIO("a,b\n1,2\n"), "secret", schema, progress_bar=False)


# ---- the helpers read files opened in text mode, as 0.1.5's did ----


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """0.1.5's test data hashed and blocked by the command line: JSON and binary CLKs, and their blocks."""
    directory = tmp_path_factory.mktemp("dirty")
    csv_file, schema = data("dirty_1000_50_1.csv"), data("dirty-data-schema.json")
    for name, extra in (("clks.json", ()), ("clks.bin", ("--format", "binary"))):
        assert run_cli("hash", *extra, csv_file, "horse", schema, directory / name).exit_code == 0
    blocking = data("dirty-data-blocking-schema.json")
    assert run_cli("block", csv_file, blocking, directory / "blocks.json").exit_code == 0
    return directory


def test_combine_clks_blocks_of_files_opened_in_text_mode(dirty):
    """0.1.5's own test: ``combine_clks_blocks(open(clks, "r"), open(blocks, "r"))``, and a CSV is a ValueError."""
    from anonlinkclient.utils import combine_clks_blocks

    with open(dirty / "clks.json") as clk_f, open(dirty / "blocks.json") as block_f:
        combined = json.load(combine_clks_blocks(clk_f, block_f))["clknblocks"]
    with open(dirty / "clks.json") as f:
        clks = json.load(f)["clks"]
    with open(dirty / "blocks.json") as f:
        blocks = json.load(f)["blocks"]
    assert [row[0] for row in combined] == clks
    assert [row[1:] for row in combined] == [blocks.get(str(index), []) for index in range(len(clks))]
    with combine_clks_blocks(str(dirty / "clks.json"), str(dirty / "blocks.json")) as from_paths:
        assert json.load(from_paths)["clknblocks"] == combined
    with pytest.raises(ValueError) as caught:  # 0.1.5: "Invalid CLKs or Blocks"
        combine_clks_blocks(open(data("dirty_1000_50_1.csv")), open(data("dirty_1000_50_1.csv")))
    assert isinstance(caught.value, InputFileError)
    assert str(caught.value).startswith(f"{data('dirty_1000_50_1.csv')}: not valid JSON (")


def test_deserialize_filters_and_iter_clks_of_files_opened_in_text_mode(dirty):
    from anonlinkclient import iter_clks
    from anonlinkclient.utils import deserialize_filters

    with open(dirty / "clks.json") as f:
        expected = deserialize_filters(json.load(f)["clks"])
    with open(dirty / "clks.json") as f:
        assert deserialize_filters(f) == expected
    with open(dirty / "clks.json", encoding="utf-8", newline="") as f:
        assert [clk for clk in iter_clks(f)] == [bits.tobytes() for bits in expected]
    assert len(list(iter_clks(io.StringIO((dirty / "clks.json").read_text())))) == len(expected) == 1000
    with open(dirty / "clks.bin", "rb") as f:
        assert deserialize_filters(f) == expected  # binary CLK files in binary mode, as before
    with pytest.raises(ValueError) as caught:
        deserialize_filters(open(data("dirty_1000_50_1.csv")))
    assert isinstance(caught.value, InputFileError)


def test_a_text_handle_is_read_from_where_it_is_and_left_there(dirty):
    from anonlinkclient.io.clknblocks import count_clks

    with open(dirty / "clks.json") as f:
        assert count_clks(f) == count_clks(f) == (1000, 128)
        assert f.read(9) == '{"meta": '


@pytest.mark.parametrize(
    "encoding, errors, newline",
    [
        (None, None, None),
        ("utf-8", "replace", None),
        ("latin-1", None, None),
        ("latin-1", None, ""),
        ("cp1252", "replace", None),
    ],
)
def test_a_binary_clk_file_opened_in_text_mode_is_told_to_open_it_in_binary_mode(dirty, encoding, errors, newline):
    from anonlinkclient import iter_clks
    from anonlinkclient.utils import combine_clks_blocks, deserialize_filters

    path = dirty / "clks.bin"
    expected = f"{path}: is not text, but it was opened in text mode; open it in binary mode ('rb')"
    helpers = (
        lambda f: list(iter_clks(f)),
        deserialize_filters,
        lambda f: combine_clks_blocks(f, str(dirty / "blocks.json")),
    )
    for helper in helpers:
        with open(path, encoding=encoding, errors=errors, newline=newline) as f:
            with pytest.raises(InputFileError) as caught:
                helper(f)
        assert str(caught.value) == expected
    headerless = dirty / "raw.bin"
    with open(path, "rb") as f:
        headerless.write_bytes(f.read()[-128 * 3 :])  # three CLKs, no header
    with open(headerless, encoding="latin-1") as f:
        with pytest.raises(InputFileError) as caught:
            list(iter_clks(f, raw_size=128))
    assert (
        str(caught.value) == f"{headerless}: is binary, but it was opened in text mode; open it in binary mode ('rb')"
    )


def test_blocking_helpers_take_files_opened_in_text_mode_as_in_0_1_5(tmp_path):
    """0.1.5's own tests: its metadata, and the sentinel checks on handles (a CSV for CLKs, CLKs for a CSV)."""
    from anonlinkclient.utils import generate_candidate_blocks_from_csv

    with open(data("dirty_1000_50_1.csv")) as csv_f, open(data("p-sig-schema.json")) as schema_f:
        result = generate_candidate_blocks_from_csv(csv_f, schema_f)
    assert result["meta"]["source"]["clk_count"] == [1000] and "stats" in result["meta"]
    with open(data("small_clk.json")) as clk_f, open(data("p-sig-schema.json")) as schema_f:
        with pytest.raises(TypeError):  # 0.1.5: "Upload should be CSVs not CLKs"
            generate_candidate_blocks_from_csv(clk_f, schema_f)
    schema = json.loads(open(data("lambda-fold-two-features-schema.json")).read())
    schema["config"]["input-clks"] = True
    schema_file = tmp_path / "clk-schema.json"
    schema_file.write_text(json.dumps(schema))
    with open(data("dirty_1000_50_1.csv")) as csv_f, open(schema_file) as schema_f:
        with pytest.raises(TypeError):  # 0.1.5: "Upload should be CLKs not CSV file"
            generate_candidate_blocks_from_csv(csv_f, schema_f)
