"""The published JSON Schemas in schemas/, and every example schema in the docs and tutorials.

Each linkage schema example must conform to ``schemas/linkage-schema.json`` (which
refers to clkhash's own JSON Schemas) and be accepted by ``anonlink
validate-schema``; each blocking schema example must conform to
``schemas/blocking-schema.json``.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from anonlinkclient.encoding.schema import schema_file_fingerprint, schema_fingerprint
from tests.encoding.published_schemas import SCHEMAS_DIR, clkhash_schema, errors, published, schema_id
from tests.helpers import ROOT, TEST_DATA, run_anonlink, run_cli

DOCS = ROOT / "docs"
BLOCKING_TYPES = ("p-sig", "lambda-fold")


def rst_json_blocks(path: Path) -> Iterator[Tuple[str, str]]:
    """(place, text) of every ``.. code-block:: json`` in an reST file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() != ".. code-block:: json":
            continue
        body: List[str] = []
        for following in lines[number + 1 :]:
            if following.strip() and not following.startswith((" ", "\t")):
                break
            body.append(following)
        yield f"{path.relative_to(ROOT)}:{number + 1}", textwrap.dedent("\n".join(body))


def notebook_json_blocks(path: Path) -> Iterator[Tuple[str, str]]:
    """(place, text) of every ```json fence in the markdown cells of a notebook."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for match in re.finditer(r"```json\n(.*?)```", "".join(cell["source"]), re.S):
            yield f"{path.relative_to(ROOT)} cell {index}", match.group(1)


def example_schemas() -> List[Tuple[str, Any]]:
    """Every example schema shown in the docs and used by the tutorials."""
    found: List[Tuple[str, str]] = []
    for rst in sorted(DOCS.rglob("*.rst")):
        if "_build" not in rst.parts:
            found += rst_json_blocks(rst)
    for notebook in sorted((DOCS / "tutorial").glob("*.ipynb")):
        found += notebook_json_blocks(notebook)
    for data_file in sorted((DOCS / "tutorial" / "data").glob("*.json")):
        found.append((str(data_file.relative_to(ROOT)), data_file.read_text(encoding="utf-8")))
    return [(place, json.loads(text)) for place, text in found]


EXAMPLES = example_schemas()


def kind(document: Any) -> str:
    """``linkage`` or ``blocking``: which kind of schema an example is."""
    if isinstance(document, dict) and "clkConfig" in document:
        return "linkage"
    if isinstance(document, dict) and document.get("type") in BLOCKING_TYPES:
        return "blocking"
    raise AssertionError(f"not a linkage or blocking schema: {str(document)[:80]}")


def test_examples_are_found() -> None:
    kinds = [kind(document) for _, document in EXAMPLES]
    # docs pages plus the tutorial data: several of each kind.
    assert kinds.count("linkage") >= 7
    assert kinds.count("blocking") >= 3


LINKAGE_EXAMPLES = [example for example in EXAMPLES if kind(example[1]) == "linkage"]
BLOCKING_EXAMPLES = [example for example in EXAMPLES if kind(example[1]) == "blocking"]


@pytest.mark.parametrize("place,document", LINKAGE_EXAMPLES, ids=[place for place, _ in LINKAGE_EXAMPLES])
def test_linkage_schema_examples_conform(place: str, document: Any, tmp_path: Path) -> None:
    assert errors("linkage-schema.json", document) == []
    assert errors(f"linkage-schema-v{document['version']}.json", document) == []
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(document))
    result = run_cli("validate-schema", schema_file)
    fingerprint = schema_fingerprint(document)
    assert (result.exit_code, result.stdout) == (0, f"schema is valid\nschema fingerprint: {fingerprint}\n")


@pytest.mark.parametrize("place,document", BLOCKING_EXAMPLES, ids=[place for place, _ in BLOCKING_EXAMPLES])
def test_blocking_schema_examples_conform(place: str, document: Any) -> None:
    from anonlinkclient.blocking.schema import blocking_schema_errors

    assert errors("blocking-schema.json", document) == []
    assert blocking_schema_errors(document) == []  # and 'anonlink block' accepts it


@pytest.mark.parametrize("version", [1, 2, 3])
def test_linkage_schemas_refer_to_clkhash_rather_than_copy(version: int) -> None:
    wrapper = published(f"linkage-schema-v{version}.json")
    target = schema_id(clkhash_schema(f"v{version}.json"))
    assert wrapper["allOf"] == [{"$ref": target}]
    assert "definitions" not in wrapper
    # The size of a reference, not of a copy of clkhash's definitions.
    assert len(json.dumps(wrapper)) < len(json.dumps(clkhash_schema(f"v{version}.json"))) / 5


@pytest.mark.parametrize("version", [1, 2, 3])
def test_linkage_schema_accepts_good_and_rejects_bad_files(version: int) -> None:
    good = json.loads((TEST_DATA / f"good-schema-v{version}.json").read_text())
    bad = json.loads((TEST_DATA / f"bad-schema-v{version}.json").read_text())
    assert errors(f"linkage-schema-v{version}.json", good) == []
    assert errors("linkage-schema.json", good) == []
    assert errors(f"linkage-schema-v{version}.json", bad) != []
    assert errors("linkage-schema.json", bad) != []


def test_linkage_schema_checks_the_version() -> None:
    v2 = json.loads((TEST_DATA / "good-schema-v2.json").read_text())
    assert any("3 was expected" in e for e in errors("linkage-schema-v3.json", v2))
    v2["version"] = 7
    assert errors("linkage-schema.json", v2) != []


def test_published_schemas_are_json_schemas_with_ids() -> None:
    names = sorted(path.name for path in SCHEMAS_DIR.glob("*.json"))
    assert {"linkage-schema.json", "linkage-schema-v3.json", "blocking-schema.json"} <= set(names)
    ids = [schema_id(published(name)) for name in names]
    assert len(set(ids)) == len(ids)


def test_blocking_schema_rejects_a_broken_config() -> None:
    lambda_fold = json.loads((DOCS / "tutorial" / "data" / "blocking_schema.json").read_text())
    assert errors("blocking-schema.json", lambda_fold) == []
    del lambda_fold["config"]["Lambda"]
    assert errors("blocking-schema.json", lambda_fold) != []
    assert errors("blocking-schema.json", {"type": "no-such-method", "version": 1, "config": {}}) != []


def test_validate_schema_as_a_subprocess_on_a_tutorial_schema() -> None:
    path = DOCS / "tutorial" / "data" / "novt_schema.json"
    result = run_anonlink("validate-schema", path)
    shown = f"schema is valid\nschema fingerprint: {schema_file_fingerprint(str(path))}\n"
    assert (result.returncode, result.stdout, result.stderr) == (0, shown, "")


# Runs anonlink in a subprocess, then says whether NumPy was imported (after click's exit).
NUMPY_PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("numpy imported:", "numpy" in sys.modules))
sys.argv = ["anonlink", *sys.argv[1:]]
runpy.run_module("anonlinkclient", run_name="__main__")
"""


def test_validate_schema_does_not_import_numpy(tmp_path: Path) -> None:
    """The schema checks need no NumPy: validate-schema starts without it (hash needs it)."""
    schemas = [TEST_DATA / "good-schema-v3.json", DOCS / "tutorial" / "data" / "novt_schema.json"]
    for schema in schemas:
        result = subprocess.run(
            [sys.executable, "-c", NUMPY_PROBE, "validate-schema", str(schema)], capture_output=True, text=True
        )
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.startswith("schema is valid\n")
        assert result.stdout.endswith("numpy imported: False\n")
    clks = tmp_path / "clks.json"
    pii, schema = TEST_DATA / "dirty_1000_50_1.csv", TEST_DATA / "dirty-data-schema.json"
    command = ["hash", pii, "secret", schema, clks, "--workers", "1", "--quiet"]
    result = subprocess.run([sys.executable, "-c", NUMPY_PROBE, *map(str, command)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "numpy imported: True\n"), result.stderr
