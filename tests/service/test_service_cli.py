"""The service commands of the CLI: status, create-project, create, results, delete, delete-project."""

import json
import stat

import pytest

from tests.helpers import data, run_anonlink, run_cli
from tests.service.helpers import secrets_of
from tests.service.test_rest_client import closed_port


def service_args(service):
    return [
        "--server",
        service.url,
        "--retry-multiplier",
        "1",
        "--retry-exponential-max",
        "10",
        "--retry-max-time",
        "300",
    ]


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    return lines[-1]


def create_run(service, credentials, tmp_path, threshold="0.8"):
    output = tmp_path / "run_info.json"
    result = run_cli(
        "create",
        *service_args(service),
        "--project",
        credentials["project_id"],
        "--apikey",
        credentials["result_token"],
        "--threshold",
        threshold,
        "--name",
        "CLI run",
        "--output",
        output,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(output.read_text())


# ---- status ----


def test_status_prints_the_service_answer(entity_service):
    result = run_cli("status", "--server", entity_service.url)
    assert result.exit_code == 0
    assert result.stdout == '{"project_count": 0, "rate": 0, "status": "ok"}\n'
    assert result.stderr == ""


def test_status_as_a_subprocess_with_server_from_the_environment(entity_service):
    result = run_anonlink("status", "-v", env={"ANONLINK_SERVER": entity_service.url})
    assert result.returncode == 0
    assert json.loads(result.stdout)["status"] == "ok"
    assert result.stderr == f"Connecting to Entity Matching Server: {entity_service.url}\n"


def test_status_of_a_server_that_is_down():
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_cli("status", "--server", url)
    assert result.exit_code == 6
    assert result.stderr == (
        f"Error: Getting the service status failed: cannot connect to the Entity Service at {url} "
        "(Connection refused)\n"
    )


def test_status_of_a_busy_server_gives_up_within_the_retry_limit(entity_service):
    entity_service.faults.fail_next(None, status=503, path_contains="/status")
    result = run_cli("status", *service_args(entity_service))
    assert result.exit_code == 6
    assert one_error_line(result).startswith(
        "Error: Getting the service status failed: the service was still busy after retrying for 0.3 s (HTTP 503)"
    )
    assert len(entity_service.requests) > 2


def test_status_of_a_server_answering_garbage(entity_service):
    entity_service.faults.garbage(1, kind="not-json", path_contains="/status")
    result = run_cli("status", "--server", entity_service.url)
    assert result.exit_code == 6
    assert result.stderr == (
        "Error: Getting the service status failed: the service's answer is not JSON (HTTP 200): this is not JSON\n"
    )


def test_server_must_be_a_url():
    result = run_cli("status", "--server", "localhost:8851")
    assert result.exit_code == 2
    assert "'localhost:8851' is not an http:// or https:// URL" in result.stderr


# ---- create-project ----


def test_create_project_writes_owner_only_credentials(entity_service, tmp_path):
    output = tmp_path / "credentials.json"
    schema = data("good-schema-v3.json")
    args = ["--schema", schema, "--output", output, "--type", "groups", "--name", "tutorial", "--blocked"]
    result = run_cli("create-project", *service_args(entity_service), *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "Project created\n"
    assert result.stdout == ""
    credentials = json.loads(output.read_text())
    assert set(credentials) == {"project_id", "result_token", "update_tokens"}
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    project = entity_service.project(credentials["project_id"])
    assert (project.name, project.result_type, project.uses_blocking, project.number_parties) == (
        "tutorial",
        "groups",
        True,
        2,
    )
    with open(schema) as handle:
        assert project.schema == json.load(handle)


def test_create_project_validates_the_schema_before_sending(entity_service, tmp_path):
    result = run_cli(
        "create-project", "--server", entity_service.url, "--schema", data("bad-schema-v3.json"), "-o", tmp_path / "c"
    )
    assert result.exit_code == 4
    assert one_error_line(result).startswith(f"Error: {data('bad-schema-v3.json')}: the linkage schema is not valid: ")
    assert entity_service.requests == []
    assert not (tmp_path / "c").exists()


def test_more_than_two_parties_need_groups(entity_service, tmp_path):
    args = ["--schema", data("good-schema-v3.json"), "-o", tmp_path / "c", "--parties", "3", "--type", "permutations"]
    result = run_cli("create-project", "--server", entity_service.url, *args)
    assert result.exit_code == 2
    assert "Invalid value for '--parties': 3 parties need --type groups" in result.stderr
    assert entity_service.requests == []


def test_create_project_for_three_parties(entity_service, tmp_path):
    args = ["--schema", data("good-schema-v3.json"), "-o", tmp_path / "c.json", "--parties", "3", "--type", "groups"]
    assert run_cli("create-project", "--server", entity_service.url, *args).exit_code == 0
    credentials = json.loads((tmp_path / "c.json").read_text())
    assert len(credentials["update_tokens"]) == 3


def test_create_project_refused_by_the_service(entity_service, tmp_path):
    body = b'{"detail": "Invalid schema", "status": 400, "title": "Bad Request", "type": "about:blank"}'
    entity_service.faults.fail_next(1, status=400, path_contains="/projects", body=body)
    args = ["--schema", data("good-schema-v3.json"), "-o", tmp_path / "c.json"]
    result = run_cli("create-project", "--server", entity_service.url, *args)
    assert result.exit_code == 6
    assert result.stderr == "Error: Project creation failed (HTTP 400): Invalid schema\n"
    assert not (tmp_path / "c.json").exists()


# ---- runs ----


def test_create_and_fetch_results_while_watching(entity_service, linked_project, tmp_path):
    run_info = create_run(entity_service, linked_project, tmp_path)
    assert run_info["name"] == "CLI run" and run_info["threshold"] == 0.8
    result_file = tmp_path / "results.txt"
    result = run_cli(
        "results",
        "--watch",
        *service_args(entity_service),
        "--project",
        linked_project["project_id"],
        "--run",
        run_info["run_id"],
        "--output",
        result_file,
        env={"ANONLINK_APIKEY": linked_project["result_token"]},
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-4:] == ["State: completed", "Stage (3/3): compute output", "Downloading result", "Received result"]
    assert lines[0].startswith("State: ")
    groups = json.loads(result_file.read_text())["groups"]
    assert sorted(sorted(map(tuple, g)) for g in groups) == [[(0, i), (1, i)] for i in range(20)]


def test_results_of_an_unfinished_run_without_watching(entity_service, linked_project, tmp_path):
    entity_service.pause_runs("running")
    run_info = create_run(entity_service, linked_project, tmp_path)
    args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"]]
    result = run_cli(
        "results", "--server", entity_service.url, *args, "--run", run_info["run_id"], "-o", tmp_path / "r"
    )
    assert result.exit_code == 6
    assert one_error_line(result).startswith(f"Error: No result yet: run {run_info['run_id']} is ")
    assert one_error_line(result).endswith("; use --watch to wait for it")
    assert not (tmp_path / "r").exists()
    entity_service.resume_runs()


def test_results_of_a_failed_run(entity_service, linked_project, tmp_path):
    entity_service.faults.fail_runs(1, message="Injected failure")
    run_info = create_run(entity_service, linked_project, tmp_path)
    args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"], "-w"]
    result = run_cli("results", "--server", entity_service.url, *args, "--run", run_info["run_id"])
    assert result.exit_code == 6
    assert f"Error: Run {run_info['run_id']} failed on the service: Injected failure" in one_error_line(result)
    assert "State: error" in result.stderr


def test_unknown_run(entity_service, linked_project):
    args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"], "--run", "nope"]
    result = run_cli("results", "--server", entity_service.url, *args)
    assert result.exit_code == 6
    assert one_error_line(result).startswith("Error: Getting the run status failed (HTTP 40")


def test_create_with_a_wrong_token(entity_service, linked_project):
    args = ["--project", linked_project["project_id"], "--apikey", linked_project["update_tokens"][0], "-t", "0.8"]
    result = run_cli("create", "--server", entity_service.url, *args)
    assert result.exit_code == 6
    assert result.stderr == "Error: Run creation failed (HTTP 403): Invalid access token or project doesn't exist\n"
    assert linked_project["update_tokens"][0] not in result.stderr


@pytest.mark.parametrize("threshold", ["0", "1.5", "high"])
def test_create_needs_a_threshold_in_range(entity_service, linked_project, threshold):
    args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"], "-t", threshold]
    result = run_cli("create", "--server", entity_service.url, *args)
    assert result.exit_code == 2
    assert "Invalid value for '-t' / '--threshold'" in result.stderr


def test_apikey_is_required(entity_service):
    result = run_cli("delete-project", "--server", entity_service.url, "--project", "p")
    assert result.exit_code == 2
    assert "Missing option '--apikey'" in result.stderr


# ---- delete ----


def test_delete_run_and_project(entity_service, linked_project, tmp_path):
    run_info = create_run(entity_service, linked_project, tmp_path)
    project_args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"]]
    result = run_cli("delete", "--server", entity_service.url, *project_args, "--run", run_info["run_id"])
    assert (result.exit_code, result.stderr) == (0, "Run deleted\n")
    assert entity_service.run(linked_project["project_id"], run_info["run_id"]).deleted

    result = run_cli("delete-project", "--server", entity_service.url, *project_args)
    assert (result.exit_code, result.stderr) == (0, "Project deleted\n")

    result = run_cli("delete-project", "--server", entity_service.url, *project_args)
    assert result.exit_code == 6
    assert result.stderr == (
        "Error: Project deletion failed (HTTP 403): Invalid access token or project doesn't exist\n"
    )


def test_verbose_output_never_shows_a_token(entity_service, linked_project, tmp_path):
    run_info = create_run(entity_service, linked_project, tmp_path)
    project_args = ["--project", linked_project["project_id"], "--apikey", linked_project["result_token"]]
    outputs = []
    for command in (
        ["create", "-t", "0.9", "-o", tmp_path / "run2.json"],
        ["results", "-w", "--run", run_info["run_id"], "-o", tmp_path / "r.json"],
        ["delete", "--run", run_info["run_id"]],
        ["delete-project"],
    ):
        result = run_cli("-v", command[0], *service_args(entity_service), *project_args, *command[1:])
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    text = "".join(outputs)
    assert "Connecting to Entity Matching Server" in text
    for token in secrets_of(linked_project):
        assert token not in text
