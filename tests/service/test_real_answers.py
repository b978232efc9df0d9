"""Each answer of the real Entity Service that says little by itself, as the client explains it (issue 11).

The test Entity Service answers as the real v1.15.1 service does (a bare 500 for
a token that is not an upload token, 403 for blocks sent to a project without
blocking, a project in error after uploads of different sizes, ...); each test
checks the exact message and exit code a user gets, from the command line or
the library.
"""

import base64
import json

import pytest

from anonlinkclient.errors import (
    BlockingDisabled,
    EncodingSizeMismatch,
    NotAnUploadToken,
    ProjectInError,
    RunFailed,
    ServiceError,
    UsageError,
)
from anonlinkclient.service.rest_client import RestClient, format_run_status
from anonlinkclient.service.results import NOTHING_COMPARED, fetch_run_result
from tests.helpers import noisy, random_clks, run_cli, schema_document, write_block_file, write_clk_file

SERVICE_ERROR = 6
SIZE_MISMATCH = "Mismatch in encoding sizes. Stopping"


def fast(service):
    return ["--server", service.url, "--retry-multiplier", "1", "--retry-exponential-max", "10"]


def upload(service, project, token, clk_file, *args):
    command = ["upload", *fast(service), "--project", project["project_id"], str(clk_file), *args]
    return run_cli(*command, env={"ANONLINK_APIKEY": token})


def not_an_upload_token(action, project):
    return (
        f"Error: {action}: this token is not an upload token for project {project['project_id']} (the service "
        "answered HTTP 500, as it does to a wrong token or to the result token); use one of the project's "
        "update_tokens as --apikey (or ANONLINK_APIKEY)\n"
    )


def mismatch_message(run_id, schema_size=None):
    which = "the service does not say which"
    if schema_size is not None:
        which += f"; the project's linkage schema makes {schema_size}-byte encodings"
    return (
        f'Run {run_id} failed on the service ("{SIZE_MISMATCH}"): the parties\' encodings have different sizes '
        f"({which}): every party must hash with the same schema, then upload to a new project"
    )


# ---- tokens that are not upload tokens: a bare 500 ----


@pytest.mark.parametrize("which", ["result token", "made up"])
def test_a_direct_upload_with_a_token_that_is_not_an_upload_token(entity_service, project, tmp_path, which):
    token = project["result_token"] if which == "result token" else "f" * 48
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(5))
    result = upload(entity_service, project, token, clk_file, "--to_entityservice")
    assert result.exit_code == SERVICE_ERROR
    assert result.stderr.splitlines()[-1] + "\n" == not_an_upload_token("Upload failed", project)
    assert [r.status for r in entity_service.requests_to("/binaryclks")] == [500]
    assert token not in result.stderr


def test_the_library_raises_not_an_upload_token(entity_service, project):
    client = RestClient(entity_service.url)
    for call in (
        lambda: client.get_temporary_objectstore_credentials(project["project_id"], project["result_token"]),
        lambda: client.project_upload_clks(project["project_id"], project["result_token"], {"clks": ["AAAA"]}),
    ):
        with pytest.raises(NotAnUploadToken) as caught:
            call()
        assert caught.value.status_code == 500 and isinstance(caught.value, ServiceError)
        assert "HTTP 500, as it does to a wrong token or to the result token" in str(caught.value)
        assert "internal error" not in str(caught.value)  # the bare 500's text says nothing useful


def test_an_upload_to_a_deleted_project(entity_service, project, tmp_path):
    RestClient(entity_service.url).project_delete(project["project_id"], project["result_token"])
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(5))
    result = upload(entity_service, project, project["update_tokens"][0], clk_file, "--to_entityservice")
    assert result.exit_code == SERVICE_ERROR
    assert result.stderr.splitlines()[-1] == (
        "Error: Upload failed (HTTP 403): Invalid access token or project doesn't exist "
        f"(there is no project {project['project_id']}, or it was deleted)"
    )


# ---- blocks sent to a project without blocking: 403 ----


@pytest.mark.parametrize("route", [["--to_entityservice"], []])
def test_blocks_sent_to_a_project_without_blocking(entity_service, project, tmp_path, route):
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(6))
    block_file = write_block_file(tmp_path / "blocks.json", [["b"]] * 6)
    result = upload(entity_service, project, project["update_tokens"][0], clk_file, "--blocks", block_file, *route)
    assert result.exit_code == SERVICE_ERROR
    assert result.stderr.splitlines()[-1] == (
        "Error: Upload failed (HTTP 403): Blocking has been disabled for this project, but received blocking "
        f"information: project {project['project_id']} was created without blocking, so it takes encodings "
        "without blocks: upload without --blocks, or to a project created with 'anonlink create-project --blocked'"
    )
    assert entity_service.uploads(project["project_id"]) == [None, None]
    again = upload(entity_service, project, project["update_tokens"][0], clk_file, *route)
    assert again.exit_code == 0, again.stderr  # the refusal did not use the token up


def test_the_library_raises_blocking_disabled(entity_service, project):
    client = RestClient(entity_service.url)
    with pytest.raises(BlockingDisabled) as caught:
        client.project_upload_clks(project["project_id"], project["update_tokens"][0], {"clknblocks": [["AAAA", "1"]]})
    assert caught.value.status_code == 403 and caught.value.project == project["project_id"]


# ---- runs ----


@pytest.mark.parametrize("threshold", [0, -0.5, 1.5, float("nan")])
def test_a_threshold_outside_0_1_is_refused_before_anything_is_sent(entity_service, project, threshold):
    client = RestClient(entity_service.url)
    with pytest.raises(UsageError) as caught:
        client.run_create(project["project_id"], project["result_token"], threshold, "run")
    assert str(caught.value) == f"the threshold must be above 0 and at most 1, not {threshold!r}"
    assert caught.value.argument == "threshold"
    assert entity_service.requests_to("/runs") == []  # the service would fail with a bare 500


def test_a_run_without_a_name_is_described_with_an_empty_one(entity_service, linked_project, tmp_path):
    output = tmp_path / "run.json"
    args = ["--project", linked_project["project_id"], "-t", "0.8", "-o", output]
    result = run_cli("create", *fast(entity_service), *args, env={"ANONLINK_APIKEY": linked_project["result_token"]})
    assert result.exit_code == 0, result.stderr
    described = json.loads(output.read_text())
    assert described["name"] == "" and described["threshold"] == 0.8


def test_the_result_of_a_failed_run_from_the_library(entity_service, linked_project):
    entity_service.faults.fail_runs()
    client = RestClient(entity_service.url)
    pid, token = linked_project["project_id"], linked_project["result_token"]
    run_id = client.run_create(pid, token, 0.9, "failing")["run_id"]
    entity_service.wait_for_run(pid, run_id)
    with pytest.raises(RunFailed) as caught:
        client.run_get_result_text(pid, run_id, token)
    assert str(caught.value) == (
        f"Getting the run result failed: run {run_id} failed on the service; its status says why "
        "(HTTP 500): Error during computation of run"
    )


def test_format_run_status_shows_the_runs_own_message():
    status = {
        "state": "error",
        "stages": 3,
        "current_stage": {"number": 1, "description": "waiting for CLKs"},
        "message": SIZE_MISMATCH,
        "time_added": "2024-01-01T00:00:00",
    }
    assert format_run_status(status) == f"State: error\nStage (1/3): waiting for CLKs\nMessage: {SIZE_MISMATCH}"
    failed = dict(status, message="Error during computation of run", detail="MemoryError")
    assert format_run_status(failed).splitlines()[-1] == "Message: Error during computation of run (MemoryError)"


# ---- encodings of different sizes: both uploads taken, then the project is in error ----


@pytest.fixture
def mismatched(entity_service, project, tmp_path):
    """``project`` with a run created, then party A's 128-byte and party B's 64-byte CLKs uploaded."""
    client = RestClient(entity_service.url)
    run_id = client.run_create(project["project_id"], project["result_token"], 0.8, "mismatched")["run_id"]
    for party, size in ((0, 128), (1, 64)):
        clk_file = write_clk_file(tmp_path / f"clks_{party}.json", random_clks(10, size=size))
        token = project["update_tokens"][party]
        result = upload(entity_service, project, token, clk_file, "--to_entityservice", "--format", "json")
        assert result.exit_code == 0, result.stderr  # the real service takes both as JSON (binary: a 400 at once)
    return dict(project, run_id=run_id)


@pytest.mark.parametrize("watch", [["-w"], []])
def test_results_of_a_run_whose_parties_encodings_differ_in_size(entity_service, mismatched, tmp_path, watch):
    output = tmp_path / "result.json"
    args = ["--project", mismatched["project_id"], "--run", mismatched["run_id"], "-o", output, *watch]
    result = run_cli("results", *fast(entity_service), *args, env={"ANONLINK_APIKEY": mismatched["result_token"]})
    assert result.exit_code == SERVICE_ERROR
    lines = result.stderr.splitlines()
    assert lines[-1] == (
        f"Error: {mismatch_message(mismatched['run_id'], 128)} ('anonlink compare SCHEMA1 SCHEMA2' shows how two "
        "schemas differ)"
    )
    if watch:
        stage = ["Stage (1/3): waiting for CLKs", "Progress: 100.00%"]  # both parties contributed
        assert lines[:-1] == ["State: error", *stage, f"Message: {SIZE_MISMATCH}"]
    assert not output.exists()


def test_a_new_run_of_a_project_in_error(entity_service, mismatched):
    args = ["--project", mismatched["project_id"], "-t", "0.8"]
    result = run_cli("create", *fast(entity_service), *args, env={"ANONLINK_APIKEY": mismatched["result_token"]})
    assert result.exit_code == SERVICE_ERROR
    assert result.stderr == (
        "Error: Run creation failed (HTTP 500): Can't post run as project has errors: the uploads of project "
        f"{mismatched['project_id']} cannot be linked, most likely because the parties' encodings have different "
        "sizes; every party must hash with the same schema, then upload to a new project\n"
    )
    client = RestClient(entity_service.url)
    with pytest.raises(ProjectInError):
        client.run_create(mismatched["project_id"], mismatched["result_token"], 0.8, "again")
    assert client.project_get_description(mismatched["project_id"], mismatched["result_token"])["error"] is True


def test_a_size_mismatch_without_a_size_in_the_schema(entity_service, tmp_path):
    """The service does not say which sizes it received; without clkConfig.l the message has no numbers."""
    client = RestClient(entity_service.url)
    schema = schema_document()
    del schema["clkConfig"]["l"]
    project = client.project_create(schema, "groups", "no size")
    run_id = client.run_create(project["project_id"], project["result_token"], 0.8, "r")["run_id"]
    for token, size in zip(project["update_tokens"], (128, 256)):
        clks = [base64.b64encode(clk).decode() for clk in random_clks(4, size=size)]
        client.project_upload_clks(project["project_id"], token, {"clks": clks})
    with pytest.raises(EncodingSizeMismatch) as caught:
        fetch_run_result(client, project["project_id"], run_id, project["result_token"], watch=True, update_period=0.05)
    assert str(caught.value) == mismatch_message(run_id)
    assert caught.value.schema_size is None


# ---- a run that compared nothing ----


def test_a_completed_run_that_compared_nothing_says_so(entity_service, project, tmp_path):
    """One party direct, one through the object store, without blocks: their default blocks differ."""
    clks = random_clks(10)
    first = upload(entity_service, project, project["update_tokens"][0], write_clk_file(tmp_path / "a.json", clks))
    assert first.exit_code == 0, first.stderr
    clk_b = write_clk_file(tmp_path / "b.json", noisy(clks))
    second = upload(entity_service, project, project["update_tokens"][1], clk_b, "--to_entityservice")
    assert second.exit_code == 0, second.stderr
    client = RestClient(entity_service.url)
    run_id = client.run_create(project["project_id"], project["result_token"], 0.8, "mixed")["run_id"]
    output = tmp_path / "result.json"
    args = ["--project", project["project_id"], "--run", run_id, "-w", "-o", output]
    result = run_cli("results", *fast(entity_service), *args, env={"ANONLINK_APIKEY": project["result_token"]})
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-3:] == [NOTHING_COMPARED, "Downloading result", "Received result"]
    assert NOTHING_COMPARED == (
        "Note: the service compared no pairs of records in this run: the parties' encodings share no block "
        "(without blocks, this happens when one party uploaded directly and another through the object store)"
    )
    assert json.loads(output.read_text()) == {"groups": []}


# ---- problem bodies ----


def test_a_validation_error_names_its_field(entity_service):
    client = RestClient(entity_service.url)
    with pytest.raises(ServiceError) as caught:
        client.project_create(schema_document(), "clusters", "bad type")
    assert str(caught.value) == (
        "Project creation failed (HTTP 400): 'clusters' is not one of ['groups', 'permutations', "
        "'similarity_scores'] (in field result_type)"
    )


def test_a_415_shows_its_title(entity_service, project):
    body = json.dumps({"detail": None, "status": 415, "title": "Invalid Content-type (), expected JSON data"})
    entity_service.faults.fail_next(1, status=415, path_contains="/clks", body=body.encode())
    client = RestClient(entity_service.url)
    with pytest.raises(ServiceError) as caught:
        client.project_upload_clks(project["project_id"], project["update_tokens"][0], {"clks": ["AAAA"]})
    assert str(caught.value) == "Upload failed (HTTP 415): Invalid Content-type (), expected JSON data"
