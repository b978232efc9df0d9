"""``anonlink upload``: checks, the object store route, the direct route, and the fallback between them."""

import dataclasses
import json
import logging
import os
import stat

import pytest

from anonlinkclient.errors import UsageError
from anonlinkclient.io.clk_file import no_metadata_note
from anonlinkclient.service.objectstore import credentials_provider, parse_endpoint, upload_place
from anonlinkclient.service.rest_client import RestClient
from anonlinkclient.service.upload import (
    DIRECT_MESSAGE,
    OBJECT_STORE_MESSAGE,
    SAME_ROUTE_WARNING,
    UploadOptions,
    upload_encodings,
)
from tests.entity_service.server import EntityService
from tests.helpers import noisy, random_clks, run_anonlink, run_cli, write_block_file, write_clk_file
from tests.service.helpers import new_project, secrets_of

ObjectStoreError_EXIT = 7


def upload(service, credentials, party, *args, env=None):
    """``anonlink upload`` in-process for ``party`` of the project."""
    base = ["upload", "--server", service.url, "--project", credentials["project_id"]]
    return run_cli(*base, "--apikey", credentials["update_tokens"][party], *args, env=env)


def assert_no_secret(output, credentials, service=None):
    for token in secrets_of(credentials):
        assert token not in output
    if service is not None:
        for project in service.projects.values():
            for party in project.parties:
                for key, secret in party.issued_access_keys.items():
                    assert key not in output and secret not in output


# ---- object store ----


def test_upload_through_the_object_store(entity_service, project, tmp_path, terminal):
    clks = random_clks(40)
    clk_file = write_clk_file(tmp_path / "clks_a.json", clks)
    result = upload(entity_service, project, 0, str(clk_file), "-o", str(tmp_path / "upload_a.json"))
    assert result.exit_code == 0, result.output
    assert OBJECT_STORE_MESSAGE in result.stderr
    assert "Upload clks_a.json: |##########| 0.01 MB/0.01 MB 100%" in result.stderr
    assert_no_secret(result.output + result.stderr, project, entity_service)

    (received,) = [u for u in entity_service.uploads(project["project_id"]) if u is not None]
    assert received.source == "object-store"
    assert received.clks == clks
    party = entity_service.project(project["project_id"]).parties[0]
    place = party.object_store_access["upload"]
    encodings = received.objects["encodings"]
    assert encodings["bucket"] == place["bucket"]
    assert encodings["path"] == f"{place['path']}/encodings.bin"
    assert encodings["metadata"] == {"hash-count": "40", "hash-size": "128"}
    assert encodings["size"] == 40 * 128  # the binary format: the CLKs' bytes
    assert received.objects["blocks"] is None
    assert received.objects["credentials"]["AccessKeyId"] == party.object_store_access["credentials"]["AccessKeyId"]

    receipt_file = tmp_path / "upload_a.json"
    assert json.loads(receipt_file.read_text()) == {"message": "Updated", "receipt_token": received.receipt_token}
    assert stat.S_IMODE(receipt_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("with_blocks", [False, True])
def test_verbose_upload_prints_the_lines_of_0_1_5(entity_service, project, blocked_project, tmp_path, with_blocks):
    credentials = blocked_project if with_blocks else project
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(6))
    extra = ["--blocks", str(write_block_file(tmp_path / "blocks.json", [["x"]] * 6))] if with_blocks else []
    base = ["-v", "upload", "--server", entity_service.url, "--project", credentials["project_id"], str(clk_file)]
    result = run_cli(*base, *extra, env={"ANONLINK_APIKEY": credentials["update_tokens"][0]})
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[:3] == [
        f"Uploading CLK data from {clk_file}",
        f"Project ID: {credentials['project_id']}",
        f"Uploading {'CLK and Blocks' if with_blocks else 'CLK'} data to the server",
    ]
    assert result.stderr.splitlines()[-1] == "Upload complete: Updated"


def test_upload_with_blocks_through_the_object_store(entity_service, blocked_project, tmp_path, terminal):
    clks = random_clks(30)
    blocks = [[f"b{i % 3}", "all"] if i % 5 else [] for i in range(30)]
    clk_file = write_clk_file(tmp_path / "clks.json", clks)
    block_file = write_block_file(tmp_path / "blocks_a.json", blocks)
    result = upload(entity_service, blocked_project, 0, str(clk_file), "--blocks", str(block_file))
    assert result.exit_code == 0, result.stderr
    assert "Upload blocks_a.json: |##########|" in result.stderr
    received = entity_service.uploads(blocked_project["project_id"])[0]
    assert received.clks == clks
    assert received.blocks == blocks
    assert received.objects["blocks"]["path"].endswith("/blocks.json")
    assert received.objects["blocks"]["size"] == block_file.stat().st_size


def test_object_store_address_can_be_overridden(entity_service, project, tmp_path, s3_server):
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(5))
    result = upload(entity_service, project, 0, str(clk_file), env={"UPLOAD_OBJECT_STORE_SERVER": "http://127.0.0.1:9"})
    assert result.exit_code == ObjectStoreError_EXIT
    assert result.stderr.startswith(f"{no_metadata_note(str(clk_file))}\n{OBJECT_STORE_MESSAGE}\n")
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: Uploading uploads/{project['project_id']}/")
    assert "encodings.bin on the object store at 127.0.0.1:9 failed" in error
    assert "Traceback" not in result.stderr
    assert entity_service.uploads(project["project_id"]) == [None, None]

    result = upload(entity_service, project, 0, str(clk_file), env={"UPLOAD_OBJECT_STORE_SERVER": s3_server.url})
    assert result.exit_code == 0, result.stderr


def test_upload_place_and_endpoints():
    info = {"endpoint": "minio.example.org:9000", "secure": True, "bucket": "b", "path": "p/1"}
    place = upload_place(info, environ={})
    assert (place.endpoint, place.secure, place.object_name("encodings.json")) == (
        "minio.example.org:9000",
        True,
        "p/1/encodings.json",
    )
    place = upload_place(info, environ={"UPLOAD_OBJECT_STORE_SERVER": "http://localhost:9000"})
    assert (place.endpoint, place.secure) == ("localhost:9000", False)
    place = upload_place(info, environ={"UPLOAD_OBJECT_STORE_SERVER": "localhost:9000"})
    assert (place.endpoint, place.secure) == ("localhost:9000", True)
    assert parse_endpoint("https://s3.amazonaws.com/") == ("s3.amazonaws.com", True)


def test_profile_credentials_sign_the_upload(entity_service, project, tmp_path, monkeypatch):
    credentials_file = tmp_path / "aws-credentials"
    credentials_file.write_text("[linkage]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profilesecret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    assert credentials_provider(profile="linkage").retrieve().access_key == "AKIAPROFILE"

    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(5))
    result = upload(entity_service, project, 0, str(clk_file), "--profile", "linkage")
    assert result.exit_code == 0, result.stderr
    assert "profilesecret" not in result.stderr + result.stdout
    assert entity_service.uploads(project["project_id"])[0].source == "object-store"

    result = upload(entity_service, project, 1, str(clk_file), "--profile", "nope")
    assert result.exit_code == ObjectStoreError_EXIT
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: AWS profile 'nope' has no aws_access_key_id/aws_secret_access_key in {credentials_file}"
    )


# ---- direct ----


def test_direct_json_upload_streams_the_clk_file(entity_service, project, tmp_path):
    clks = random_clks(25)
    clk_file = write_clk_file(tmp_path / "clks.json", clks)
    result = upload(entity_service, project, 1, str(clk_file), "--to_entityservice", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"{no_metadata_note(str(clk_file))}\n{DIRECT_MESSAGE}\n"
    (request,) = entity_service.requests_to("/clks")
    assert request.body == clk_file.read_bytes()
    assert request.header("Content-Length") == str(clk_file.stat().st_size)
    assert entity_service.requests_to("authorize-external-upload") == []
    received = entity_service.uploads(project["project_id"])[1]
    assert (received.source, received.clks) == ("clks", clks)


def test_direct_upload_with_blocks_sends_clknblocks(entity_service, blocked_project, tmp_path):
    clks = random_clks(12)
    blocks = [["x"] if i < 6 else ["y", 7] for i in range(12)]
    clk_file = write_clk_file(tmp_path / "clks.json", clks)
    block_file = write_block_file(tmp_path / "blocks.json", blocks)
    entity_service.faults.fail_next(1, status=503, path_contains="/clks")  # the retry sends it all again
    result = upload(
        entity_service, blocked_project, 0, str(clk_file), "--blocks", str(block_file), "--to_entityservice"
    )
    assert result.exit_code == 0, result.stderr
    first, second = entity_service.requests_to("/clks")
    assert first.body == second.body
    rows = second.json()["clknblocks"]
    assert [row[1:] for row in rows] == blocks
    received = entity_service.uploads(blocked_project["project_id"])[0]
    assert received.source == "clknblocks"
    assert received.clks == clks
    assert received.blocks == [[str(b) for b in ids] for ids in blocks]


def test_fallback_to_direct_upload_when_the_service_has_no_object_store(tmp_path):
    with EntityService(s3=None) as service:
        credentials = new_project(RestClient(service.url))
        clk_file = write_clk_file(tmp_path / "clks.json", random_clks(8))
        result = upload(service, credentials, 0, str(clk_file))
        assert result.exit_code == 0, result.stderr
        lines = result.stderr.splitlines()
        assert lines.pop(0) == no_metadata_note(str(clk_file))
        assert lines[0] == (
            "Anonlink client: the service offers no object store upload (HTTP 500: Retrieving temporary object "
            "store credentials feature disabled); uploading directly instead."
        )
        assert lines[1] == SAME_ROUTE_WARNING
        assert lines[2] == DIRECT_MESSAGE
        assert service.uploads(credentials["project_id"])[0].source == "binaryclks"

        blocked = new_project(RestClient(service.url), blocked=True)
        block_file = write_block_file(tmp_path / "blocks.json", [["x"]] * 8)
        result = upload(service, blocked, 0, str(clk_file), "--blocks", str(block_file))
        assert result.exit_code == 0, result.stderr
        assert SAME_ROUTE_WARNING not in result.stderr  # own blocks: either route links
        assert result.stderr.splitlines()[-1] == DIRECT_MESSAGE
        service.check()


def test_result_token_as_upload_token(entity_service, project, tmp_path):
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(8))
    base = ["upload", "--server", entity_service.url, "--project", project["project_id"], str(clk_file)]
    result = run_cli(*base, env={"ANONLINK_APIKEY": project["result_token"]})
    assert result.exit_code == 6
    assert result.stderr == no_metadata_note(str(clk_file)) + "\n" + (
        "Error: Getting object store credentials failed: this token is not an upload token for project "
        f"{project['project_id']} (the service answered HTTP 500, as it does to a wrong token or to the result "
        "token); use one of the project's update_tokens as --apikey (or ANONLINK_APIKEY)\n"
    )
    assert entity_service.requests_to("/clks") == []  # not tried directly: the token would fail there too
    assert_no_secret(result.stderr + result.stdout, project, entity_service)


def test_mixed_routes_link_nothing(entity_service, project, tmp_path):
    """The real service's behaviour the upload help warns about: one party direct, one through the object store."""
    clks = random_clks(20)
    assert upload(entity_service, project, 0, str(write_clk_file(tmp_path / "a.json", clks))).exit_code == 0
    clk_b = write_clk_file(tmp_path / "b.json", noisy(clks))
    assert upload(entity_service, project, 1, str(clk_b), "--to_entityservice").exit_code == 0
    client = RestClient(entity_service.url)
    run = client.run_create(project["project_id"], project["result_token"], 0.8, "mixed")
    client.wait_for_run(project["project_id"], run["run_id"], project["result_token"], 30, 0.05)
    result = json.loads(client.run_get_result_text(project["project_id"], run["run_id"], project["result_token"]))
    assert result == {"groups": []}


def test_mixed_routes_with_blocks_link(entity_service, blocked_project, tmp_path):
    clks = random_clks(20)
    blocks = [["even" if i % 2 == 0 else "odd"] for i in range(20)]
    block_file = write_block_file(tmp_path / "blocks.json", blocks)
    clk_a = write_clk_file(tmp_path / "a.json", clks)
    clk_b = write_clk_file(tmp_path / "b.json", noisy(clks))
    assert upload(entity_service, blocked_project, 0, str(clk_a), "--blocks", str(block_file)).exit_code == 0
    result = upload(entity_service, blocked_project, 1, str(clk_b), "--blocks", str(block_file), "--to_entityservice")
    assert result.exit_code == 0
    client = RestClient(entity_service.url)
    project_id, token = blocked_project["project_id"], blocked_project["result_token"]
    run = client.run_create(project_id, token, 0.8, "mixed with blocks")
    client.wait_for_run(project_id, run["run_id"], token, 30, 0.05)
    groups = json.loads(client.run_get_result_text(project_id, run["run_id"], token))["groups"]
    assert sorted(sorted(map(tuple, g)) for g in groups) == [[(0, i), (1, i)] for i in range(20)]


# ---- bad input: nothing is sent ----


@pytest.mark.parametrize(
    "content, message",
    [
        ("this is not json", "not valid JSON"),
        (
            '{"clks": ["AAAA", "AAAAAAAA"]}',
            "CLK 1: is 6 bytes but the first CLK is 3 bytes; all CLKs must have one size",
        ),
        ('{"clks": ["AAAA", "not base64!"]}', "CLK 1: not a valid base64 CLK"),
        ('{"clks": []}', "contains no CLKs"),
    ],
)
def test_bad_clk_file_is_refused_before_anything_is_sent(entity_service, project, tmp_path, content, message):
    clk_file = tmp_path / "clks.json"
    clk_file.write_text(content)
    result = upload(entity_service, project, 0, str(clk_file))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {clk_file}")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert [r.path for r in entity_service.requests] == ["/api/v1/projects"]  # only the fixture's


def test_blocks_for_another_clk_file_are_refused(entity_service, blocked_project, tmp_path):
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(10))
    declared = write_block_file(tmp_path / "blocks.json", [["a"]] * 10, declared=12)
    result = upload(entity_service, blocked_project, 0, str(clk_file), "--blocks", str(declared))
    assert result.exit_code == 3
    assert result.stderr == f"Error: {declared}: was made for 12 records but {clk_file} has 10 CLKs\n"
    too_far = write_block_file(tmp_path / "far.json", [["a"]] * 11, declared=10)
    result = upload(entity_service, blocked_project, 0, str(clk_file), "--blocks", str(too_far), "--to_entityservice")
    assert result.exit_code == 3
    assert result.stderr == f"Error: {too_far}: has blocks for record 10, but there are only 10 CLKs\n"
    assert [r.path for r in entity_service.requests] == ["/api/v1/projects"]  # only the fixture's


def test_missing_clk_file(entity_service, project, tmp_path):
    result = upload(entity_service, project, 0, str(tmp_path / "nope.json"))
    assert result.exit_code == 3
    assert result.stderr == f"Error: {tmp_path / 'nope.json'}: no such file\n"


def test_upload_as_a_subprocess_with_token_from_the_environment(entity_service, project, tmp_path):
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(10))
    env = {"ANONLINK_APIKEY": project["update_tokens"][0], "ANONLINK_SERVER": entity_service.url}
    result = run_anonlink("upload", "-v", "--project", project["project_id"], clk_file, env=env)
    assert result.returncode == 0, result.stderr
    assert f"Connecting to Entity Matching Server: {entity_service.url}" in result.stderr
    assert f"{clk_file}: 10 CLKs of 128 bytes" in result.stderr
    assert "Upload complete: Updated" in result.stderr
    assert_no_secret(result.stdout + result.stderr, project, entity_service)
    assert entity_service.uploads(project["project_id"])[0].count == 10
    assert os.path.exists(clk_file)


# ---- the library: UploadOptions and messages ----


def ours(caplog):
    """The records of the package's loggers (pytest also catches other libraries' own, e.g. retrying's)."""
    return [record for record in caplog.records if record.name.startswith("anonlinkclient.")]


def test_upload_options_are_frozen_and_named(entity_service, project, tmp_path):
    options = UploadOptions(to_entityservice=True, progress=False, wire_format="json")
    with pytest.raises(TypeError):
        UploadOptions(True)  # type: ignore[misc]  # keyword-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.progress = True  # type: ignore[misc]
    with pytest.raises(UsageError, match="unknown upload format 'xml' \\(expected binary or json\\)"):
        UploadOptions(wire_format="xml")
    clk_file = str(write_clk_file(tmp_path / "clks.json", random_clks(3)))
    client = RestClient(entity_service.url)
    with pytest.raises(TypeError):  # options only by name
        upload_encodings(client, project["project_id"], project["update_tokens"][0], clk_file, None, options)  # type: ignore[misc]
    receipt = upload_encodings(client, project["project_id"], project["update_tokens"][0], clk_file, options=options)
    assert receipt["message"] == "Updated"
    assert entity_service.uploads(project["project_id"])[0].source == "clks"  # directly, as JSON


def test_the_library_upload_says_things_through_its_logger(entity_service, project, tmp_path, caplog):
    clk_file = str(write_clk_file(tmp_path / "clks.json", random_clks(5)))
    client = RestClient(entity_service.url)
    with caplog.at_level(logging.INFO, logger="anonlinkclient"):
        upload_encodings(
            client, project["project_id"], project["update_tokens"][0], clk_file, options=UploadOptions(progress=False)
        )
    upload_logger = "anonlinkclient.service.upload"
    assert [(record.name, record.levelname, record.getMessage()) for record in ours(caplog)] == [
        (upload_logger, "INFO", f"{clk_file}: 5 CLKs of 128 bytes (json file, sent as binary)"),
        (
            upload_logger,
            "INFO",
            "Note: the service does not show the project's linkage schema to this token (HTTP 403; only the result "
            f"token may see it), so {clk_file} was not checked against it",
        ),
        (upload_logger, "WARNING", no_metadata_note(clk_file)),
        (upload_logger, "WARNING", OBJECT_STORE_MESSAGE),
    ]
