"""``anonlink block`` on binary CLK files: the same blocks as from the JSON file of the same CLKs."""

import json

import pytest

from anonlinkclient.blocking.blocks import generate_candidate_blocks_from_csv
from anonlinkclient.io.clk_file import iter_clks
from tests.helpers import data, run_cli, tutorial

DIRTY = data("dirty_1000_50_1.csv")
LAMBDA_FOLD_ON_CLKS = tutorial("blocking_schema.json")


@pytest.fixture(scope="module")
def clk_files(tmp_path_factory):
    """The dirty records hashed into a JSON, a binary and a headerless CLK file."""
    directory = tmp_path_factory.mktemp("clks")
    paths = {kind: directory / f"clks.{kind}" for kind in ("json", "binary")}
    for kind, path in paths.items():
        result = run_cli("hash", DIRTY, "secret", data("dirty-data-schema.json"), path, "--format", kind)
        assert result.exit_code == 0, result.stderr
    paths["raw"] = directory / "clks.raw"
    paths["raw"].write_bytes(b"".join(iter_clks(str(paths["binary"]))))
    return paths


def test_binary_and_json_clk_files_give_the_same_blocks(tmp_path, clk_files):
    outputs = {}
    for kind in ("json", "binary", "raw"):
        out = tmp_path / f"blocks-{kind}.json"
        extra = ["--raw-clk-size", 128] if kind == "raw" else []
        result = run_cli("block", clk_files[kind], LAMBDA_FOLD_ON_CLKS, out, *extra)
        assert result.exit_code == 0, result.stderr
        outputs[kind] = out.read_text()
    assert outputs["json"] == outputs["binary"] == outputs["raw"]
    assert json.loads(outputs["json"])["meta"]["source"]["clk_count"] == [1000]
    with open(clk_files["binary"], "rb") as handle:
        assert generate_candidate_blocks_from_csv(handle, LAMBDA_FOLD_ON_CLKS) == json.loads(outputs["json"])


def test_a_binary_clk_file_given_where_a_csv_is_expected(tmp_path, clk_files):
    result = run_cli("block", clk_files["binary"], data("p-sig-schema.json"), tmp_path / "blocks.json")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {clk_files['binary']}: is a binary CLK file, but p-sig blocking needs the PII CSV "
        "(it cannot block CLKs)\n"
    )
    assert not (tmp_path / "blocks.json").exists()


def test_a_truncated_binary_clk_file_is_refused(tmp_path, clk_files):
    cut = tmp_path / "cut.bin"
    cut.write_bytes(clk_files["binary"].read_bytes()[:-1])
    result = run_cli("block", cut, LAMBDA_FOLD_ON_CLKS, tmp_path / "blocks.json")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {cut}: is truncated: its header says 1000 CLKs of 128 bytes (128000 bytes), but 127999 bytes "
        "follow the header\n"
    )
    assert not (tmp_path / "blocks.json").exists()
