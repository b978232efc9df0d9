"""The Entity Service client (``anonlinkclient.service.rest_client``) against the test Entity Service."""

import logging
import socket
import subprocess
import sys
import time

import pytest

from anonlinkclient import __version__
from anonlinkclient.errors import RunNotComplete, ServiceConnectionError
from anonlinkclient.service.rest_client import (
    ClientWaitingConfiguration,
    NoAnswer,
    RateLimitedClient,
    RestClient,
    ServiceError,
    format_run_status,
    normalise_server_url,
)
from anonlinkclient.service.settings import Retry, ServiceSettings
from tests.helpers import ROOT, random_clks, schema_document, write_clk_file
from tests.service.helpers import new_linked_project, new_project

FAST_RETRY = ClientWaitingConfiguration(
    wait_exponential_multiplier_ms=1, wait_exponential_max_ms=20, stop_max_delay_ms=300
)


@pytest.fixture
def client(entity_service):
    return RestClient(entity_service.url, FAST_RETRY)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- configuration ----


def test_waiting_configuration_defaults_are_the_documented_constants():
    config = ClientWaitingConfiguration()
    assert ClientWaitingConfiguration.DEFAULT_WAIT_EXPONENTIAL_MULTIPLIER_MS == 100
    assert ClientWaitingConfiguration.DEFAULT_WAIT_EXPONENTIAL_MAX_MS == 10000
    assert ClientWaitingConfiguration.DEFAULT_STOP_MAX_DELAY_MS == 20000
    assert (config.wait_exponential_multiplier_ms, config.wait_exponential_max_ms, config.stop_max_delay_ms) == (
        100,
        10000,
        20000,
    )
    with pytest.raises(ValueError, match="stop_max_delay_ms must not be negative"):
        ClientWaitingConfiguration(stop_max_delay_ms=-1)


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8851",
        "http://127.0.0.1:8851/",
        "http://127.0.0.1:8851/api/v1",
        "http://127.0.0.1:8851/api/v1/",
    ],
)
def test_server_url_may_be_given_with_or_without_api_prefix(given):
    assert normalise_server_url(given) == "http://127.0.0.1:8851"


def test_server_without_scheme_is_refused():
    with pytest.raises(ValueError, match="not an http:// or https:// URL"):
        RestClient("127.0.0.1:8851")


def test_tls_is_verified_unless_turned_off():
    assert RestClient("https://example.invalid").session.verify is True
    assert RestClient("https://example.invalid", verify_tls=False).session.verify is False


# ---- requests ----


def test_status_is_fetched_from_the_api_path_with_user_agent(client, entity_service):
    assert client.server_get_status()["status"] == "ok"
    (request,) = entity_service.requests
    assert request.path == "/api/v1/status"
    assert request.header("User-Agent") == f"anonlink-client/{__version__}"


def test_project_lifecycle(client, entity_service):
    credentials = new_project(client, parties=3, blocked=True)
    sent = entity_service.requests_to("/projects", "POST")[0].json()
    assert sent["result_type"] == "groups"
    assert sent["number_parties"] == 3
    assert sent["uses_blocking"] is True
    assert sent["schema"] == schema_document()
    assert sent["notes"] == f"Project created by anonlink-client {__version__}"
    assert len(credentials["update_tokens"]) == 3
    project_id, token = credentials["project_id"], credentials["result_token"]

    description = client.project_get_description(project_id, token)
    assert description["number_parties"] == 3
    assert entity_service.requests[-1].header("Authorization") == token

    client.project_delete(project_id, token)
    with pytest.raises(ServiceError) as caught:
        client.project_get_description(project_id, token)
    assert caught.value.status_code == 403
    assert str(caught.value) == (
        "Getting the project description failed (HTTP 403): Invalid access token or project doesn't exist"
    )


def test_run_lifecycle_links_the_uploaded_records(client, entity_service, tmp_path):
    credentials = new_linked_project(client, tmp_path, 30)
    project_id, token = credentials["project_id"], credentials["result_token"]
    run = client.run_create(project_id, token, 0.8, "first")
    assert run["name"] == "first" and run["threshold"] == 0.8
    assert run["notes"] == f"Run created by anonlink-client {__version__}"

    final = client.wait_for_run(project_id, run["run_id"], token, timeout=30, update_period=0.05)
    assert final["state"] == "completed"
    groups = __import__("json").loads(client.run_get_result_text(project_id, run["run_id"], token))["groups"]
    assert sorted(sorted(tuple(r) for r in g) for g in groups) == [[(0, i), (1, i)] for i in range(30)]

    client.run_delete(project_id, run["run_id"], token)
    with pytest.raises(ServiceError, match=r"Getting the run status failed \(HTTP 403\)"):
        client.run_get_status(project_id, run["run_id"], token)


def test_watch_yields_at_once_then_only_changes_until_completed(client, entity_service, tmp_path):
    credentials = new_linked_project(client, tmp_path, 30)
    project_id, token = credentials["project_id"], credentials["result_token"]
    entity_service.pause_runs("running")
    run_id = client.run_create(project_id, token, 0.8, "watched")["run_id"]
    watch = client.watch_run_status(project_id, run_id, token, update_period=0.02)
    first = next(watch)  # at once, although the run is held
    assert first["state"] in {"queued", "running"}
    time.sleep(0.2)  # many polls of an unchanged status
    entity_service.resume_runs()
    statuses = [first, *watch]
    assert statuses[-1]["state"] == "completed"
    assert all(a != b for a, b in zip(statuses, statuses[1:])), "an unchanged status was yielded twice"
    assert len(statuses) <= 6


def test_watch_raises_timeout_error(client, entity_service, tmp_path):
    credentials = new_linked_project(client, tmp_path, 30)
    project_id, token = credentials["project_id"], credentials["result_token"]
    entity_service.pause_runs("running")
    run_id = client.run_create(project_id, token, 0.8, "held")["run_id"]
    with pytest.raises(TimeoutError, match=f"run {run_id} did not finish within 0.3 seconds"):
        client.wait_for_run(project_id, run_id, token, timeout=0.3, update_period=0.05)
    entity_service.resume_runs()


def test_result_of_an_unfinished_run_is_a_404(client, entity_service, tmp_path):
    credentials = new_linked_project(client, tmp_path, 30)
    entity_service.pause_runs("running")
    run_id = client.run_create(credentials["project_id"], credentials["result_token"], 0.8, "held")["run_id"]
    with pytest.raises(RunNotComplete) as caught:
        client.run_get_result_text(credentials["project_id"], run_id, credentials["result_token"])
    assert caught.value.status_code == 404
    assert str(caught.value) == (
        f"Getting the run result failed: run {run_id} is not complete yet (HTTP 404): run is not complete"
    )
    entity_service.resume_runs()


def test_object_store_credentials_need_an_upload_token(client, entity_service):
    credentials = new_project(client)
    answer = client.get_temporary_objectstore_credentials(credentials["project_id"], credentials["update_tokens"][0])
    assert set(answer["credentials"]) >= {"AccessKeyId", "SecretAccessKey", "SessionToken"}
    assert answer["upload"]["path"].startswith(credentials["project_id"] + "/")
    with pytest.raises(ServiceError) as caught:  # the real service's answer to a result token
        client.get_temporary_objectstore_credentials(credentials["project_id"], credentials["result_token"])
    assert caught.value.status_code == 500


# ---- busy service, failures ----


def test_503_is_retried_until_the_service_answers(client, entity_service):
    entity_service.faults.fail_next(2, status=503, path_contains="/status")
    retries = []
    client.on_retry = retries.append
    assert client.server_get_status()["status"] == "ok"
    assert [r.status for r in entity_service.requests] == [503, 503, 200]
    assert len(retries) == 2 and "HTTP 503" in retries[0]


def test_503_retries_stop_within_the_configured_time(entity_service):
    config = ClientWaitingConfiguration(
        wait_exponential_multiplier_ms=10, wait_exponential_max_ms=50, stop_max_delay_ms=400
    )
    entity_service.faults.fail_next(None, status=503, path_contains="/status")
    started = time.monotonic()
    with pytest.raises(RateLimitedClient) as caught:
        RestClient(entity_service.url, config).server_get_status()
    elapsed = time.monotonic() - started
    assert caught.value.status_code == 503
    assert str(caught.value).startswith(
        "Getting the service status failed: the service was still busy after retrying for 0.4 s (HTTP 503)"
    )
    assert 0.35 < elapsed < 3
    attempts = len(entity_service.requests)
    assert 4 <= attempts <= 15  # exponential: 20, 40, 50, 50 ... ms apart


def test_retry_sends_a_file_body_again_from_its_start(client, entity_service, tmp_path):
    credentials = new_project(client)
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(20))
    entity_service.faults.fail_next(1, status=503, path_contains="/clks")
    with open(clk_file, "rb") as handle:
        receipt = client.project_upload_clks(credentials["project_id"], credentials["update_tokens"][0], handle)
    assert receipt["message"] == "Updated"
    first, second = entity_service.requests_to("/clks")
    assert (first.status, second.status) == (503, 201)
    assert first.body == second.body == clk_file.read_bytes()
    assert second.header("Content-Type") == "application/json"
    assert entity_service.uploads(credentials["project_id"])[0].count == 20


def test_a_server_that_does_not_answer_in_time(entity_service):
    entity_service.faults.delay(2, path_contains="/status")
    client = RestClient(entity_service.url, FAST_RETRY, timeout=(2, 0.3))
    with pytest.raises(NoAnswer) as caught:
        client.server_get_status()
    assert str(caught.value) == (
        f"Getting the service status failed: the Entity Service at {entity_service.url} did not answer within 0.3 s"
    )


def test_a_server_that_is_down():
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ServiceConnectionError) as caught:
        RestClient(url).server_get_status()
    assert str(caught.value) == (
        f"Getting the service status failed: cannot connect to the Entity Service at {url} (Connection refused)"
    )
    assert caught.value.exit_code == 6


def test_tls_to_a_server_without_it(entity_service):
    url = f"https://127.0.0.1:{entity_service.port}"
    with pytest.raises(ServiceConnectionError) as caught:
        RestClient(url).server_get_status()
    assert str(caught.value).startswith(
        f"Getting the service status failed: TLS connection to the Entity Service at {url} failed ("
    )


def test_a_server_that_drops_the_connection(client, entity_service):
    entity_service.faults.drop(1, path_contains="/status")
    with pytest.raises(ServiceConnectionError) as caught:
        client.server_get_status()
    assert str(caught.value) == (
        f"Getting the service status failed: the Entity Service at {entity_service.url} closed the connection "
        "without answering (RemoteDisconnected)"
    )


def test_a_server_that_hangs(entity_service):
    entity_service.faults.hang(1, path_contains="/status")
    client = RestClient(entity_service.url, FAST_RETRY, timeout=(2, 0.3))
    with pytest.raises(NoAnswer, match="did not answer within 0.3 s"):
        client.server_get_status()
    entity_service.faults.release()


@pytest.mark.parametrize("kind", ["html", "truncated", "empty", "not-json"])
def test_an_answer_that_is_not_json(client, entity_service, kind):
    entity_service.faults.garbage(1, kind=kind, status=201, path_contains="/projects")
    with pytest.raises(ServiceError) as caught:
        new_project(client)
    assert str(caught.value).startswith("Project creation failed: the service's answer is not JSON (HTTP 201")
    assert "\n" not in str(caught.value)


def test_an_unexpected_status_shows_the_servers_text(client, entity_service):
    entity_service.faults.garbage(1, kind="html", status=502, path_contains="/projects")
    with pytest.raises(ServiceError) as caught:
        new_project(client)
    assert str(caught.value) == (
        "Project creation failed (HTTP 502): <html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )


def test_an_answer_without_the_promised_fields(client, entity_service):
    entity_service.faults.fail_next(1, status=201, path_contains="/projects", body=b'{"project_id": "abc"}')
    with pytest.raises(ServiceError, match="the service's answer has no result_token, update_tokens"):
        new_project(client)


def test_tokens_never_appear_in_error_messages(client, entity_service):
    token = "f" * 48
    body = f'{{"detail": "token {token} is not valid", "status": 403, "title": "Forbidden"}}'.encode()
    entity_service.faults.fail_next(1, status=403, path_contains="/projects/p1", body=body)
    with pytest.raises(ServiceError) as caught:
        client.project_get_description("p1", token)
    assert token not in str(caught.value) and token not in (caught.value.text or "")
    assert "token <hidden> is not valid" in str(caught.value)


# ---- formatting ----


def test_format_run_status():
    status = {
        "state": "running",
        "stages": 3,
        "current_stage": {"number": 2, "description": "compute similarity scores", "progress": {"relative": 1.0}},
    }
    assert format_run_status(status) == "State: running\nStage (2/3): compute similarity scores\nProgress: 100.00%"
    status = {"state": "completed", "stages": 3, "current_stage": {"number": 3, "description": "compute output"}}
    assert format_run_status(status) == "State: completed\nStage (3/3): compute output"


# ---- messages: the module's logger ----


def ours(caplog):
    """The records of the package's loggers (pytest also catches other libraries' own, e.g. retrying's)."""
    return [record for record in caplog.records if record.name.startswith("anonlinkclient.")]


def test_retries_of_a_busy_service_are_info_lines_of_the_clients_logger(client, entity_service, caplog):
    entity_service.faults.fail_next(2, status=503, path_contains="/status")
    with caplog.at_level(logging.INFO, logger="anonlinkclient"):
        assert client.server_get_status()["status"] == "ok"
    busy = "Getting the service status failed: the service is busy (HTTP 503), asking again"
    assert [(record.name, record.levelname, record.getMessage()) for record in ours(caplog)] == [
        ("anonlinkclient.service.rest_client", "INFO", f"{busy} (retry 1)"),
        ("anonlinkclient.service.rest_client", "INFO", f"{busy} (retry 2)"),
    ]


def test_a_failed_query_asked_again_is_a_warning(client, caplog):
    failures = [NoAnswer("Getting the run status failed: no answer")]

    def query():
        if failures:
            raise failures.pop()
        return "ok"

    with caplog.at_level(logging.INFO, logger="anonlinkclient"):
        assert client.keep_asking(query, 0.01) == "ok"
    assert [(record.name, record.levelname, record.getMessage()) for record in ours(caplog)] == [
        (
            "anonlinkclient.service.rest_client",
            "WARNING",
            "Getting the run status failed: no answer; asking again in 0.01 s",
        )
    ]


def test_a_library_user_who_configures_no_logging_sees_the_warnings_alone(entity_service):
    """Python's last-resort handler shows warnings, as the message alone, on stderr; INFO lines are not shown."""
    code = (
        "from anonlinkclient.errors import NoAnswer\n"
        "from anonlinkclient.service.rest_client import RestClient\n"
        "from anonlinkclient.service.settings import Retry\n"
        f"client = RestClient({entity_service.url!r}, Retry(multiplier_ms=1))\n"
        "client.server_get_status()  # a 503 asked again: an INFO line\n"
        "failures = [NoAnswer('Getting the run status failed: no answer')]\n"
        "def query():\n"
        "    if failures:\n"
        "        raise failures.pop()\n"
        "    return 'ok'\n"
        "print(client.keep_asking(query, 0.01))\n"
    )
    entity_service.faults.fail_next(1, status=503, path_contains="/status")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr
    assert done.stderr == "Getting the run status failed: no answer; asking again in 0.01 s\n"
    assert [r.status for r in entity_service.requests] == [503, 200]


def test_the_client_follows_the_settings_retry_policy(entity_service):
    policy = Retry(multiplier_ms=1, exponential_max_ms=5, max_time_ms=150, part_resends=1, credential_renewals=2)
    client = RestClient.from_settings(ServiceSettings(entity_service.url, retry=policy, timeout=7))
    assert (client.retry, client.timeout, client.server) == (policy, 7, entity_service.url)
    assert client.client_waiting_configuration.retry is policy  # the manual's spelling is a view, not a copy
    assert client.client_waiting_configuration.stop_max_delay_ms == 150
    manual = ClientWaitingConfiguration(1, 5, 150)
    assert RestClient(entity_service.url, manual).retry == Retry(1, 5, 150)
    entity_service.faults.fail_next(None, status=503, path_contains="/status")
    with pytest.raises(RateLimitedClient, match="still busy after retrying for 0.15 s"):
        client.server_get_status()
