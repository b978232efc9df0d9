"""``find-similarity`` compares what the parties' CLK files record before it links them.

Files hashed with different schemas or secrets are refused, naming the file
and what differs, unless ``--force``; different CLK lengths always; files of
older tools get a note; JSON, binary and headerless files link alike.
"""

import dataclasses
import json
from pathlib import Path

import pytest

from anonlinkclient.errors import EncodingsDiffer, InputFileError
from anonlinkclient.io.clk_file import ClkMeta, no_metadata_note, write_clk_file
from anonlinkclient.linkage.similarity import find_similarity
from tests.helpers import data, noisy, random_clks, run_anonlink, run_cli

FINGERPRINT = "sha256:" + "ab" * 32
OTHER_SCHEMA = "sha256:" + "cd" * 32
META = ClkMeta("anonlink-client", "0.2.0", 128, FINGERPRINT, "1a2b")
CLKS = random_clks(15, size=16, seed=3)
CLOSE = noisy(CLKS, flips=6, seed=4)
LINKED = [[[0, i], [1, i]] for i in range(15)]


def party(path: Path, clks=CLKS, clk_format="json", **changes) -> Path:
    """A party's CLK file, as ``anonlink hash`` writes it (``meta=None``: as older tools did)."""
    meta = changes.pop("meta", META)
    if meta is not None and changes:
        meta = dataclasses.replace(meta, **changes)
    write_clk_file(str(path), clks, meta, clk_format)
    return path


def link(out: Path, *files, extra=()):
    args = [a for f in files for a in ("--clk", f)]
    return run_cli("find-similarity", 0.8, out, *args, *extra)


def test_files_that_agree_link_without_a_note(tmp_path):
    a, b = party(tmp_path / "a.json"), party(tmp_path / "b.bin", CLOSE, "binary")
    result = link(tmp_path / "groups.json", a, b)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == "Found 15 candidate pairs with similarity of at least 0.8"
    assert json.loads((tmp_path / "groups.json").read_text()) == {"groups": LINKED}


def test_a_different_secret_is_refused_naming_the_file(tmp_path):
    a, b = party(tmp_path / "a.json"), party(tmp_path / "b.json", CLOSE, secret_check="9f9f")
    out = tmp_path / "groups.json"
    result = link(out, a, b)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {b}: its secret check value is 9f9f but that of {a} is 1a2b (a different secret); "
        "give --force to link them anyway\n"
    )
    assert not out.exists()


def test_a_different_schema_and_secret_are_both_named(tmp_path):
    a = party(tmp_path / "a.json")
    b = party(tmp_path / "b.json")
    c = party(tmp_path / "c.bin", clk_format="binary", schema_fingerprint=OTHER_SCHEMA, secret_check="0000")
    result = link(tmp_path / "groups.json", a, b, c)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {c}: its schema fingerprint is {OTHER_SCHEMA} but that of {a} is {FINGERPRINT} (a different "
        f"linkage schema); its secret check value is 0000 but that of {a} is 1a2b (a different secret); "
        "give --force to link them anyway\n"
    )


def test_force_links_anyway_with_a_warning(tmp_path):
    a, b = party(tmp_path / "a.json"), party(tmp_path / "b.json", CLOSE, schema_fingerprint=OTHER_SCHEMA)
    out = tmp_path / "groups.json"
    result = link(out, a, b, extra=["--force"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"Warning: {b}: its schema fingerprint is {OTHER_SCHEMA} but that of {a} is {FINGERPRINT} "
        "(a different linkage schema); linking anyway"
    )
    assert json.loads(out.read_text()) == {"groups": LINKED}


def test_different_clk_lengths_are_refused_even_with_force(tmp_path):
    a = party(tmp_path / "a.json")
    b = party(tmp_path / "b.json", random_clks(15, size=8), clk_bits=64)
    for extra in ([], ["--force"]):
        result = link(tmp_path / "groups.json", a, b, extra=extra)
        assert result.exit_code == 3
        assert result.stderr == (
            f"Error: {b}: its CLKs are 64 bits but those of {a} are 128 bits; every party must hash with the same "
            "linkage schema\n"
        )


def test_files_of_older_tools_get_a_note_and_are_compared_by_what_they_hold(tmp_path):
    a, old = party(tmp_path / "a.json"), party(tmp_path / "old.json", CLOSE, meta=None)
    raw = tmp_path / "c.raw"
    raw.write_bytes(b"".join(CLKS))
    result = link(tmp_path / "groups.json", a, old)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == no_metadata_note(str(old))
    result = link(tmp_path / "groups.json", raw, raw, extra=["--raw-clk-size", 16])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [no_metadata_note(str(raw))] * 2
    assert json.loads((tmp_path / "groups.json").read_text()) == {"groups": LINKED}


def test_the_library_refuses_and_forces_the_same_way(tmp_path):
    a, b = party(tmp_path / "a.json"), party(tmp_path / "b.bin", CLOSE, "binary", secret_check="0001")
    with pytest.raises(EncodingsDiffer) as caught:
        find_similarity(0.8, [(str(a), None), (str(b), None)], str(tmp_path / "g.json"))
    assert isinstance(caught.value, InputFileError) and caught.value.path == str(b)
    assert "--force" not in str(caught.value)  # the library names no option
    result = find_similarity(0.8, [(str(a), None), (str(b), None)], str(tmp_path / "g.json"), force=True)
    assert result.notes == [
        f"Warning: {b}: its secret check value is 0001 but that of {a} is 1a2b (a different secret); linking anyway"
    ]


def test_hashed_with_different_secrets_as_a_subprocess(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.json"
    schema = data("dirty-data-schema.json")
    assert run_cli("hash", data("dirty_1000_50_1.csv"), "secret-one", schema, a, "--format", "binary").exit_code == 0
    assert run_cli("hash", data("dirty_1000_50_1.csv"), "secret-two", schema, b).exit_code == 0
    done = run_anonlink("find-similarity", 0.9, tmp_path / "groups.json", "--clk", a, "--clk", b)
    assert done.returncode == 3
    assert done.stderr.startswith(f"Error: {b}: its secret check value is ")
    assert done.stderr.endswith(" (a different secret); give --force to link them anyway\n")
    assert not (tmp_path / "groups.json").exists()
