"""``anonlink describe``: the popcount histogram and summary of a CLK file, and the files it refuses."""

from pathlib import Path

import pytest

from tests.helpers import NCVR_20, data, run_cli, tutorial


@pytest.fixture(scope="module")
def ncvr_clks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ncvr") / "novt_clk_0.json"
    assert run_cli("hash", NCVR_20[0], "secret", tutorial("novt_schema.json"), out).exit_code == 0
    return out


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
