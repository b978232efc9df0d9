"""Faults on the wire between ``anonlink`` and the Entity Service, tried on purpose (issue 6, item 3).

A busy service (503 storms), slow answers and hung connections, a refused
connection, HTTP 500, HTML and cut-off JSON bodies and dropped connections,
injected with the test Entity Service's fault rules. Each must give a non-zero
exit and one ``Error:`` line naming the server, leave no output file, and never
report an upload as done unless the service answered it with a receipt. Only
what is safe is sent again: a 503 (the service did nothing), and status polls
while watching a run. Object-store faults are in ``test_object_store_faults.py``.
"""

import json
import socket

import pytest

from anonlinkclient.service.rest_client import ClientWaitingConfiguration, NoAnswer, RateLimitedClient, RestClient
from anonlinkclient.service.upload import DIRECT_MESSAGE, UNKNOWN_OUTCOME
from tests.helpers import data, random_clks, run_anonlink, run_cli, write_clk_file


def fast(service, max_time_ms=500, timeout=None):
    """``--server`` and small retry limits (and a short ``--timeout``) for the test service."""
    args = ["--server", service.url, "--retry-multiplier", "1", "--retry-exponential-max", "20"]
    args += ["--retry-max-time", str(max_time_ms)]
    return args + (["--timeout", str(timeout)] if timeout is not None else [])


def error_line(stderr):
    """The one ``Error:`` line of a failed command (and no traceback)."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert stderr.strip().splitlines()[-1] == errors[0]
    return errors[0]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clk_file(tmp_path):
    return write_clk_file(tmp_path / "clks.json", random_clks(30))


def upload(service, project, clk_file, *args, party=0, max_time_ms=500, timeout=None):
    """``anonlink upload -v`` for ``party`` with its token in the environment, writing the receipt to ``-o``."""
    receipt = clk_file.parent / "receipt.json"
    command = ["-v", "upload", *fast(service, max_time_ms, timeout), "--project", project["project_id"]]
    command += [str(clk_file), "-o", str(receipt), "--format", "json", *args]  # binary: test_binary_upload.py
    return run_cli(*command, env={"ANONLINK_APIKEY": project["update_tokens"][party]}), receipt


def assert_not_uploaded(service, project, result, receipt):
    """The upload failed visibly: exit 6, no receipt, no success message, nothing stored."""
    assert result.exit_code == 6, result.stderr
    assert not receipt.exists()
    assert "Upload complete" not in result.stderr
    assert service.uploads(project["project_id"]) == [None, None]


def results(service, linked, output, *args, max_time_ms=500):
    command = ["results", *fast(service, max_time_ms), "--project", linked["project_id"], "--run", linked["run_id"]]
    return run_cli(*command, "-o", str(output), *args, env={"ANONLINK_APIKEY": linked["result_token"]})


def all_pairs(result_file):
    groups = json.loads(result_file.read_text())["groups"]
    return sorted(sorted(map(tuple, group)) for group in groups)


# ---- a busy service: 503 storms ----


def test_a_503_storm_on_a_direct_upload_is_retried_with_the_whole_body_then_fails(entity_service, project, clk_file):
    entity_service.faults.fail_next(None, status=503, path_contains="/clks")
    result, receipt = upload(entity_service, project, clk_file, "--to_entityservice")
    assert error_line(result.stderr).startswith(
        "Error: Upload failed: the service was still busy after retrying for 0.5 s (HTTP 503)"
    )
    assert_not_uploaded(entity_service, project, result, receipt)
    attempts = entity_service.requests_to("/clks", "POST")
    assert len(attempts) >= 3
    assert all(attempt.body == clk_file.read_bytes() for attempt in attempts)
    assert "the service is busy (HTTP 503), asking again (retry 1)" in result.stderr


def test_a_503_storm_on_object_store_credentials_fails_without_falling_back_to_a_direct_upload(
    entity_service, project, clk_file
):
    entity_service.faults.fail_next(None, status=503, path_contains="authorize-external-upload")
    result, receipt = upload(entity_service, project, clk_file)
    assert error_line(result.stderr).startswith(
        "Error: Getting object store credentials failed: the service was still busy after retrying for 0.5 s"
    )
    assert DIRECT_MESSAGE not in result.stderr
    assert entity_service.requests_to("/clks") == []
    assert_not_uploaded(entity_service, project, result, receipt)


def test_a_short_503_storm_is_ridden_out(entity_service, project, clk_file):
    entity_service.faults.fail_next(3, status=503, path_contains="/clks")
    result, receipt = upload(entity_service, project, clk_file, "--to_entityservice", max_time_ms=5000)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in entity_service.requests_to("/clks")] == [503, 503, 503, 201]
    assert json.loads(receipt.read_text())["message"] == "Updated"
    assert entity_service.uploads(project["project_id"])[0].count == 30


# ---- slow answers and hung connections ----


def test_a_slow_answer_times_out_with_the_server_named(entity_service, tmp_path):
    entity_service.faults.delay(1.0, path_contains="/projects")
    output = tmp_path / "credentials.json"
    args = ["--schema", data("good-schema-v3.json"), "-o", output]
    result = run_cli("create-project", *fast(entity_service, timeout=0.3), *args)
    assert result.exit_code == 6
    assert error_line(result.stderr) == (
        f"Error: Project creation failed: the Entity Service at {entity_service.url} did not answer within 0.3 s"
    )
    assert not output.exists()
    assert len(entity_service.requests_to("/projects", "POST")) == 1  # a POST is not sent twice


def test_a_slow_answer_within_the_timeout_is_waited_for(entity_service):
    entity_service.faults.delay(0.3, path_contains="/status")
    result = run_cli("status", *fast(entity_service, timeout=3))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"


def test_the_timeout_can_be_set_in_the_environment(entity_service):
    entity_service.faults.hang(1, path_contains="/status")
    try:
        result = run_anonlink("status", env={"ANONLINK_SERVER": entity_service.url, "ANONLINK_TIMEOUT": "0.5"})
    finally:
        entity_service.faults.release()
    assert result.returncode == 6
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: Getting the service status failed: the Entity Service at {entity_service.url} "
        "did not answer within 0.5 s\n"
    )


def test_a_hung_upload_fails_once_and_says_the_outcome_is_unknown(entity_service, project, clk_file):
    entity_service.faults.hang(1, path_contains="/clks")
    try:
        result, receipt = upload(entity_service, project, clk_file, "--to_entityservice", timeout=0.5)
    finally:
        entity_service.faults.release()
    assert error_line(result.stderr) == (
        f"Error: Upload failed: the Entity Service at {entity_service.url} did not answer within 0.5 s"
        + UNKNOWN_OUTCOME
    )
    assert_not_uploaded(entity_service, project, result, receipt)
    (request,) = entity_service.requests_to("/clks")
    assert request.body == clk_file.read_bytes()


def test_timeout_must_be_positive(entity_service):
    result = run_cli("status", "--server", entity_service.url, "--timeout", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--timeout'" in result.stderr


# ---- refused, dropped, 500, garbage ----


def test_connection_refused_as_a_subprocess(tmp_path, clk_file):
    url = f"http://127.0.0.1:{closed_port()}"
    output = tmp_path / "credentials.json"
    result = run_anonlink("create-project", "--server", url, "--schema", data("good-schema-v3.json"), "-o", output)
    assert result.returncode == 6
    assert result.stderr == (
        f"Error: Project creation failed: cannot connect to the Entity Service at {url} (Connection refused)\n"
    )
    assert not output.exists()
    result = run_anonlink("upload", "--server", url, "--project", "p", "--apikey", "t" * 48, clk_file)
    assert result.returncode == 6
    assert result.stderr.startswith("Error: Getting the project description failed: cannot connect to the Entity")
    assert clk_file.exists()


def test_a_dropped_upload_is_not_sent_again_and_says_the_outcome_is_unknown(entity_service, project, clk_file):
    entity_service.faults.drop(1, path_contains="/clks")
    result, receipt = upload(entity_service, project, clk_file, "--to_entityservice")
    assert error_line(result.stderr) == (
        f"Error: Upload failed: the Entity Service at {entity_service.url} closed the connection without "
        "answering (RemoteDisconnected)" + UNKNOWN_OUTCOME
    )
    assert_not_uploaded(entity_service, project, result, receipt)
    assert len(entity_service.requests_to("/clks")) == 1


def test_an_answer_lost_after_the_upload_was_stored(entity_service, project, clk_file):
    """The service stored the upload but its answer was cut off: no success is claimed, and
    uploading again shows what happened, as the message says."""
    entity_service.faults.garbage(1, kind="truncated", status=201, path_contains="/clks", process=True)
    result, receipt = upload(entity_service, project, clk_file, "--to_entityservice")
    assert result.exit_code == 6
    assert error_line(result.stderr) == (
        "Error: Upload failed: the service's answer is not JSON (HTTP 201): "
        '{"project_id": "3fa85f64c1d2", "result_tok' + UNKNOWN_OUTCOME
    )
    assert not receipt.exists()
    assert entity_service.uploads(project["project_id"])[0].count == 30

    again, receipt = upload(entity_service, project, clk_file, "--to_entityservice")
    assert again.exit_code == 6
    assert error_line(again.stderr) == (
        "Error: Upload failed (HTTP 403): This token has already been used to upload clks."
        " (each upload token uploads once, and this one has: the service has this party's encodings)"
    )
    assert not receipt.exists()


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"status": 500}, "Upload failed (HTTP 500): Injected fault: HTTP 500"),
        ({"kind": "html", "status": 502}, "Upload failed (HTTP 502): <html><head><title>502 Bad Gateway</title>"),
    ],
)
def test_a_failing_service_is_not_asked_again_for_an_upload(entity_service, project, clk_file, fault, message):
    if "kind" in fault:
        entity_service.faults.garbage(1, path_contains="/clks", **fault)
    else:
        entity_service.faults.fail_next(1, path_contains="/clks", **fault)
    result, receipt = upload(entity_service, project, clk_file, "--to_entityservice")
    assert error_line(result.stderr).startswith(f"Error: {message}")
    assert UNKNOWN_OUTCOME not in result.stderr  # the service answered: it failed
    assert_not_uploaded(entity_service, project, result, receipt)
    assert len(entity_service.requests_to("/clks")) == 1


def test_the_service_failing_after_an_object_store_upload(entity_service, project, clk_file, s3_server):
    entity_service.faults.fail_next(1, status=500, path_contains="/clks")
    result, receipt = upload(entity_service, project, clk_file)
    assert "Anonlink client: Uploading to the external object store - MINIO" in result.stderr
    assert error_line(result.stderr) == "Error: Upload failed (HTTP 500): Injected fault: HTTP 500"
    assert_not_uploaded(entity_service, project, result, receipt)
    party = entity_service.project(project["project_id"]).parties[0]
    place = party.object_store_access["upload"]
    assert s3_server.list_objects(place["bucket"], place["path"]) == [f"{place['path']}/encodings.json"]


def test_a_500_on_create_project_leaves_no_credentials_file(entity_service, tmp_path):
    entity_service.faults.fail_next(1, status=500, path_contains="/projects")
    output = tmp_path / "credentials.json"
    result = run_cli("create-project", *fast(entity_service), "--schema", data("good-schema-v3.json"), "-o", output)
    assert result.exit_code == 6
    assert error_line(result.stderr) == "Error: Project creation failed (HTTP 500): Injected fault: HTTP 500"
    assert not output.exists()


@pytest.mark.parametrize("kind", ["truncated", "html"])
def test_a_garbled_result_is_never_written_as_the_result(entity_service, linked_run, tmp_path, kind):
    entity_service.wait_for_run(linked_run["project_id"], linked_run["run_id"])
    output = tmp_path / "result.json"
    output.write_text("previous result\n")
    entity_service.faults.garbage(1, kind=kind, status=200, path_contains="/result")
    result = results(entity_service, linked_run, output)
    assert result.exit_code == 6
    assert error_line(result.stderr).startswith(
        "Error: Getting the run result failed: the service's answer is not complete JSON (HTTP 200)"
    )
    assert output.read_text() == "previous result\n"


# ---- results --watch ----


def test_watch_survives_transient_errors_while_polling_and_downloading(entity_service, linked_run, tmp_path):
    faults = entity_service.faults
    faults.drop(1, path_contains="/status")
    faults.fail_next(1, status=500, path_contains="/status")
    faults.garbage(1, kind="html", status=502, path_contains="/status")
    faults.fail_next(2, status=503, path_contains="/status")  # retried within the poll
    faults.garbage(1, kind="truncated", status=200, path_contains="/result")
    output = tmp_path / "result.json"
    result = results(entity_service, linked_run, output, "--watch", max_time_ms=5000)
    assert result.exit_code == 0, result.stderr
    where = f"the Entity Service at {entity_service.url}"
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        f"Getting the run status failed: {where} closed the connection without answering (RemoteDisconnected); "
        "asking again in 1 s",
        "Getting the run status failed (HTTP 500): Injected fault: HTTP 500; asking again in 1 s",
        "Getting the run status failed (HTTP 502): <html><head><title>502 Bad Gateway</title></head><body>nginx"
        "</body></html>; asking again in 1 s",
    ]
    assert lines[-5:] == [
        "State: completed",
        "Stage (3/3): compute output",
        "Downloading result",
        "Getting the run result failed: the service's answer is not complete JSON (HTTP 200): "
        '{"project_id": "3fa85f64c1d2", "result_tok; asking again in 1 s',
        "Received result",
    ]
    assert all_pairs(output) == [[(0, i), (1, i)] for i in range(20)]
    statuses = [r.status for r in entity_service.requests_to("/status")]
    assert statuses[:5] == [None, 500, 502, 503, 503]


def test_watch_gives_up_when_the_service_stays_away(entity_service, linked_run, tmp_path):
    entity_service.faults.drop(None, path_contains="/status")
    output = tmp_path / "result.json"
    result = results(entity_service, linked_run, output, "--watch", max_time_ms=1500)
    assert result.exit_code == 6
    assert error_line(result.stderr) == (
        f"Error: Getting the run status failed: the Entity Service at {entity_service.url} closed the connection "
        "without answering (RemoteDisconnected)"
    )
    assert 2 <= len(entity_service.requests_to("/status")) <= 3
    assert not output.exists()


def test_watch_stops_at_once_when_refused(entity_service, linked_run, tmp_path):
    body = b'{"detail": "Invalid access token or project doesn\'t exist", "status": 403, "title": "Forbidden"}'
    entity_service.faults.fail_next(1, status=403, path_contains="/status", body=body)
    result = results(entity_service, linked_run, tmp_path / "r.json", "--watch", max_time_ms=5000)
    assert result.exit_code == 6
    assert error_line(result.stderr) == (
        "Error: Getting the run status failed (HTTP 403): Invalid access token or project doesn't exist"
    )
    assert len(entity_service.requests_to("/status")) == 1


def test_watch_stops_on_error_with_the_services_message_after_a_transient_fault(entity_service, linked_run, tmp_path):
    client = RestClient(entity_service.url)
    entity_service.wait_for_run(linked_run["project_id"], linked_run["run_id"])
    entity_service.faults.fail_runs(1, message="Out of memory comparing blocks")
    run = client.run_create(linked_run["project_id"], linked_run["result_token"], 0.9, "doomed")
    entity_service.faults.drop(1, path_contains="/status")
    failing = dict(linked_run, run_id=run["run_id"])
    result = results(entity_service, failing, tmp_path / "r.json", "--watch", max_time_ms=5000)
    assert result.exit_code == 6
    assert "closed the connection without answering (RemoteDisconnected); asking again in 1 s" in result.stderr
    assert "State: error" in result.stderr
    assert error_line(result.stderr) == (
        f"Error: Run {run['run_id']} failed on the service: Out of memory comparing blocks"
    )
    assert not (tmp_path / "r.json").exists()


def test_watch_in_python_gives_up_on_a_503_storm_within_the_retry_limit(entity_service, linked_run):
    """The library's watch: a storm longer than ``stop_max_delay_ms`` ends it with the 503 error."""
    waiting = ClientWaitingConfiguration(
        wait_exponential_multiplier_ms=1, wait_exponential_max_ms=10, stop_max_delay_ms=300
    )
    client = RestClient(entity_service.url, waiting)
    entity_service.faults.fail_next(None, status=503, path_contains="/status")
    reported = []
    watch = client.watch_run_status(
        linked_run["project_id"],
        linked_run["run_id"],
        linked_run["result_token"],
        update_period=0.05,
        on_error=reported.append,
    )
    with pytest.raises(RateLimitedClient, match="still busy after retrying for 0.3 s"):
        next(watch)
    assert reported == []  # the first poll's own retries used up the window


def test_watch_in_python_survives_dropped_polls_but_a_single_query_fails(entity_service, linked_run):
    client = RestClient(entity_service.url)
    ids = (linked_run["project_id"], linked_run["run_id"], linked_run["result_token"])
    entity_service.faults.drop(2, path_contains="/status")
    reported = []
    statuses = list(client.watch_run_status(*ids, update_period=0.05, on_error=reported.append))
    assert statuses[-1]["state"] == "completed"
    assert len(reported) == 2
    assert all(message.endswith("(RemoteDisconnected); asking again in 0.05 s") for message in reported)
    assert [r.status for r in entity_service.requests_to("/status")][:3] == [None, None, 200]
    entity_service.faults.drop(1, path_contains="/status")
    with pytest.raises(NoAnswer):  # outside a watch, a query is not asked again
        client.run_get_status(*ids)
