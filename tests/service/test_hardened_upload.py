"""Uploading hardened CLKs to the test Entity Service: lengths the service takes, and projects hardened differently.

The Entity Service takes CLKs of at most 1,024 bytes (a default deployment's
MAX_ENCODING_SIZE); a hardened CLK can be longer (``balance`` doubles it), and ``upload``
refuses it before sending anything, naming the length, whatever the format. A project's
schema (shown to its result token) may harden: the CLK length it makes, its fingerprint and
its hardening must be what the file records.
"""

import copy
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from anonlinkclient.encoding.schema import schema_meta, schema_meta_if_valid
from anonlinkclient.io.clk_file import ClkMeta, check_clk_file, write_clk_file
from anonlinkclient.service.rest_client import RestClient
from anonlinkclient.service.upload import check_against_project
from tests.helpers import schema_document
from tests.service.test_binary_upload import clks_of, upload

HARDENED = dict(schema_document(1024))
HARDENED["clkConfig"] = dict(HARDENED["clkConfig"], hardening=[{"type": "balance"}])


@pytest.fixture
def hardened_project(entity_service) -> Dict[str, Any]:
    return RestClient(entity_service.url).project_create(HARDENED, "groups", "hardened", parties=2)


def file_for(path: Path, document: Dict[str, Any], size: int, count: int = 5, **changes: Any) -> Path:
    meta = schema_meta(document)
    meta = ClkMeta(
        "anonlink-client", "0.4.0", meta.clk_bits, meta.schema_fingerprint, "d2c0", meta.xor_folds, meta.hardening
    )
    fields = {**meta.__dict__, **changes}
    write_clk_file(str(path), clks_of(count, size=size), ClkMeta(**fields))
    return path


@pytest.mark.parametrize("route", [[], ["--to_entityservice"], ["--format", "json"]])
def test_clks_longer_than_the_service_takes_are_refused_before_sending(entity_service, project, tmp_path, route):
    long = copy.deepcopy(schema_document(8192))
    long["clkConfig"]["hardening"] = [{"type": "balance"}]  # 16384 bits: 2048 bytes
    path = file_for(tmp_path / "long.json", long, 2048)
    result = upload(entity_service, project, 0, path, *route)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {path}: its CLKs are 2048 bytes (16384 bits), but the Entity Service takes CLKs of at most "
        "1024 bytes (8192 bits) by default; hash with a schema whose CLKs are shorter (a smaller l, or fewer "
        "balance steps)\n"
    )
    assert [(r.method, r.status) for r in entity_service.requests] == [("POST", 201)]  # only the fixture's


def test_hardened_clks_that_fit_the_hardened_project_pass(entity_service, hardened_project, tmp_path):
    path = file_for(tmp_path / "clks.json", HARDENED, 256)
    notes: List[str] = []
    check_against_project(
        RestClient(entity_service.url),
        hardened_project["project_id"],
        hardened_project["result_token"],
        str(path),
        check_clk_file(str(path)),
        None,
        notes.append,
        expected_meta=schema_meta_if_valid,
    )
    assert notes == []


def test_unhardened_clks_are_refused_by_a_hardened_project_naming_the_difference(
    entity_service, hardened_project, tmp_path
):
    project_id = hardened_project["project_id"]
    plain = file_for(tmp_path / "plain.json", schema_document(1024), 128)
    result = upload(entity_service, hardened_project, 0, plain, token=hardened_project["result_token"])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {plain}: its CLKs are 1024 bits, but project {project_id}'s linkage schema makes 2048-bit CLKs "
        "(it hardens: hardening balance)\n"
    )
    # Same length, hardened another way: the fingerprints differ, and so does what the file records.
    other = copy.deepcopy(HARDENED)
    other["clkConfig"]["hardening"] = [{"type": "permute"}, {"type": "balance"}]
    permuted = file_for(tmp_path / "permuted.json", other, 256)
    result = upload(entity_service, hardened_project, 0, permuted, token=hardened_project["result_token"])
    assert result.exit_code == 3
    expected = schema_meta(HARDENED).schema_fingerprint
    assert result.stderr == (
        f"Error: {permuted}: was hashed with the linkage schema of fingerprint {schema_meta(other).schema_fingerprint}"
        f", but project {project_id}'s schema has fingerprint {expected} (the file records hardening permute, "
        "balance, the project's schema asks for hardening balance); hash with the project's schema\n"
    )


def test_a_file_of_a_tool_that_ignores_hardening_is_refused_by_a_hardened_project(
    entity_service, hardened_project, tmp_path
):
    # anonlink-client 0.3.0 records the fingerprint of the hardened schema, but its CLKs are not hardened
    # (here as long as hardened ones, so that only the hardening tells them apart).
    path = file_for(tmp_path / "old.json", HARDENED, 256, tool_version="0.3.0", hardening=None)
    assert json.loads(path.read_text())["meta"].get("hardening") is None
    result = upload(entity_service, hardened_project, 0, path, token=hardened_project["result_token"])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {path}: was made by anonlink-client 0.3.0, which ignores xorFolds and clkConfig.hardening, but "
        f"project {hardened_project['project_id']}'s schema asks for hardening balance: its CLKs are not folded "
        "or hardened; hash with anonlink-client 0.4.0 or later\n"
    )


def test_a_hardened_schema_is_a_valid_project_schema_for_the_service(entity_service, hardened_project):
    """The test service validates project schemas with clkhash, as the real one: a hardened schema is taken."""
    description = RestClient(entity_service.url).project_get_description(
        hardened_project["project_id"], hardened_project["result_token"]
    )
    assert description["schema"]["clkConfig"]["hardening"] == [{"type": "balance"}]
