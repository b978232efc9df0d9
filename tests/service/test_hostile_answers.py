"""A hostile or broken server cannot crash, hang or flood the client.

Answers nested a hundred thousand levels deep, numbers of thousands of digits,
endless bodies, bodies claiming terabytes, and answers trickled a byte at a
time (headers included) come from the tiny server of ``hostile_server.py``.
Each gets one ``Error:`` line naming the server, exit code 6, no traceback, no
output file; trickles end at ``--timeout`` (the test's own subprocess timeout
is only there to catch a hang).
"""

import io
import json

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minio.credentials import StaticProvider

from anonlinkclient.errors import AnswerTooLarge, ObjectStoreError, ServiceError
from anonlinkclient.service.http import AnswerClock, bounded_pool_manager, create_session
from anonlinkclient.service.objectstore import ObjectStore
from anonlinkclient.service.rest_client import RestClient
from tests.helpers import data, random_clks, run_anonlink, run_cli, write_clk_file
from tests.service.helpers import new_project
from tests.service.hostile_server import HostileServer

DEEP = b"[" * 100_000
HUGE_NUMBER = b'{"status": ' + b"9" * 5000 + b"}"
SPACES = b" " * 65536  # endless whitespace: valid JSON so far, forever


@pytest.fixture
def server():
    with HostileServer() as hostile:
        yield hostile


def only_error(stderr: str) -> str:
    """The one ``Error:`` line, the last of stderr (status lines may come before it)."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


def where(server: HostileServer) -> str:
    return f"the Entity Service at {server.url}"


# ---- JSON answers (status, project, run) ----


@pytest.mark.parametrize(
    "body, problem",
    [
        (DEEP, "is not usable JSON (line 1, column 65: nesting deeper than 64 levels)"),
        (HUGE_NUMBER, "is not usable JSON (line 1, column 112: a number longer than 100 characters)"),
        (b'{"status": NaN}', "is not usable JSON (NaN is not a JSON number)"),
    ],
)
def test_a_hostile_json_answer_is_one_line_naming_the_server(server, body, problem):
    server.answer("/status", body=body)
    result = run_anonlink("status", "--server", server.url)
    assert result.returncode == 6  # not -11: no segmentation fault, no RecursionError
    expected = f"Error: Getting the service status failed: the answer of {where(server)} {problem}"
    assert only_error(result.stderr) == expected
    assert result.stdout == ""


@pytest.mark.parametrize("answer", [dict(body=SPACES, endless=True), dict(body=b"{}", claimed_length=10**13)])
def test_an_endless_or_enormous_answer_is_not_read_into_memory(server, answer):
    server.answer("/status", **answer)
    result = run_cli("status", "--server", server.url)
    assert result.exit_code == 6
    assert only_error(result.stderr) == (
        f"Error: Getting the service status failed: the answer of {where(server)} is larger than 16 MiB"
    )


def test_an_error_detail_of_many_lines_is_shown_as_one(server):
    server.answer("/status", status=500, body=json.dumps({"detail": "first line\nsecond line\n" * 1000}).encode())
    result = run_cli("status", "--server", server.url)
    assert result.exit_code == 6
    assert only_error(result.stderr) == "Error: Getting the service status failed (HTTP 500): first line"


def test_a_deep_error_answer_is_shown_as_text_without_a_traceback(server):
    server.answer("/projects", status=500, body=DEEP)
    result = run_cli("create-project", "--server", server.url, "--schema", data("good-schema-v3.json"), "-o", "-")
    assert result.exit_code == 6
    assert only_error(result.stderr) == "Error: Project creation failed (HTTP 500): " + "[" * 200


@pytest.mark.parametrize(
    "answer",
    [
        dict(body=b'{"status": "ok"}', trickle=0.2),  # status line and headers a byte at a time
        dict(body=SPACES, endless=True, trickle=0.01),  # a body that never ends, slowly
    ],
)
def test_a_trickling_server_is_given_up_at_the_timeout(server, answer):
    server.answer("/status", **answer)
    result = run_anonlink("status", "--server", server.url, "--timeout", "1", timeout=60)
    assert result.returncode == 6
    expected = f"Error: Getting the service status failed: {where(server)} did not answer within 1 s"
    assert only_error(result.stderr) == expected


def test_a_trickled_answer_within_the_timeout_is_read(server):
    server.answer("/status", body=b'{"status": "ok"}', trickle=0.001)
    assert RestClient(server.url, timeout=30).server_get_status() == {"status": "ok"}


# ---- run results: streamed to a file, checked as they come ----


def results(server, *args, timeout=None):
    server.answer("/runs/r1/status", body=b'{"state": "completed", "stages": 3, "current_stage": {"number": 3}}')
    command = ["results", "--server", server.url, "--project", "p1", "--run", "r1", "--retry-max-time", "0", *args]
    done = run_anonlink(*command, env={"ANONLINK_APIKEY": "result-token-123"}, timeout=timeout or 60)
    assert "result-token-123" not in done.stderr
    return done


@pytest.mark.parametrize(
    "body, problem",
    [
        (
            '{"groups": ' + "[" * 100_000,
            "the answer of {where} is not usable JSON (line 1, column 75: nesting deeper than 64 levels)",
        ),
        (
            '{"groups": [[[0, ' + "1" * 5000 + "]]]}",
            "the answer of {where} is not usable JSON (line 1, column 118: a number longer than 100 characters)",
        ),
        (
            '{"groups": [[[0, 1e' + "9" * 98 + "]]]}",
            "the answer of {where} is not usable JSON (a number out of range)",
        ),
        (
            '{"groups": [[[0, 1], [1, 1]]',
            'the service\'s answer is not complete JSON (HTTP 200): {"groups": [[[0, 1], [1, 1]]',
        ),
    ],
)
def test_a_hostile_result_is_never_written(server, tmp_path, body, problem):
    server.answer("/runs/r1/result", body=body.encode())
    output = tmp_path / "result.json"
    result = results(server, "-o", output)
    assert result.returncode == 6
    expected = f"Error: Getting the run result failed: {problem.replace('{where}', where(server))}"
    assert only_error(result.stderr) == expected
    assert list(tmp_path.iterdir()) == []


def test_an_endless_result_stops_at_the_limit(server, tmp_path):
    server.answer("/runs/r1/result", body=SPACES, endless=True)
    client = RestClient(server.url)
    client.max_result_bytes = 1 << 20
    with pytest.raises(AnswerTooLarge) as caught:
        client.run_get_result_file("p1", "r1", "token")
    assert str(caught.value) == f"Getting the run result failed: the answer of {where(server)} is larger than 1 MiB"


def test_a_trickled_result_is_given_up_at_the_timeout(server, tmp_path):
    server.answer("/runs/r1/result", body=SPACES, endless=True, trickle=0.01)
    output = tmp_path / "result.json"
    result = results(server, "-o", output, "--timeout", "1")
    assert result.returncode == 6
    assert only_error(result.stderr) == (
        f"Error: Getting the run result failed: {where(server)} did not answer within 1 s"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_result_larger_than_the_memory_limit_is_streamed_to_the_output(server, tmp_path):
    groups = [[[0, i], [1, i]] for i in range(1_200_000)]  # about 26 MB, more than the 16 MiB held in memory
    body = json.dumps({"groups": groups}).encode()
    server.answer("/runs/r1/result", body=body)
    output = tmp_path / "result.json"
    result = results(server, "-o", output, timeout=120)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == body + b"\n"


hostile_bytes = st.lists(
    st.sampled_from([b"[", b"]", b"{", b'"a":', b"9" * 60, b"-", b"1e9", b'"x"', b",", b" ", b"\\", b"null", b"NaN"]),
    max_size=400,
).map(b"".join)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=hostile_bytes, status=st.sampled_from([200, 500]))
def test_any_answer_is_a_result_or_one_service_error(server, body, status):
    server.answer("/status", status=status, body=body)
    try:
        answer = RestClient(server.url, timeout=10).server_get_status()
    except ServiceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("Getting the service status failed")
    else:
        assert status == 200 and isinstance(answer, dict) and "status" in answer


# ---- the session itself ----


def test_an_answer_cut_in_its_head_is_a_timeout_not_an_empty_answer(server):
    # Cut off within its headers, an answer looks whole to http.client (status 200, no body).
    server.answer("/status", body=b'{"status": "ok"}', trickle=0.01)
    with pytest.raises(requests.exceptions.ReadTimeout):
        create_session(timeout=0.25).get(server.url + "/status")


def test_a_redirect_with_an_endless_body_is_bounded(server):
    server.answer("/old", status=302, headers={"Location": "/new"}, body=SPACES, endless=True)
    session = create_session(timeout=5)
    with pytest.raises(AnswerTooLarge, match="the answer is larger than 16 MiB"):
        session.get(server.url + "/old")


def test_a_sink_gets_a_large_body_and_an_error_body_stays_in_memory(server):
    server.answer("/big", body=b"x" * (20 << 20))
    server.answer("/missing", status=404, body=b'{"detail": "no such run"}')
    received = io.BytesIO()
    session = create_session(timeout=30)
    response = session.get(server.url + "/big", sink=lambda _r, chunk: received.write(chunk), sink_limit=32 << 20)
    assert (response.status_code, response.content, received.getbuffer().nbytes) == (200, b"", 20 << 20)
    missing = session.get(server.url + "/missing", sink=lambda _r, chunk: received.write(chunk))
    assert (missing.status_code, missing.json()) == (404, {"detail": "no such run"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        server.answer("/slow", body=b"{}", trickle=0.3)
        create_session(timeout=1).get(server.url + "/slow")


# ---- the files an upload reads, and the object store ----


def test_upload_of_a_hostile_block_file_sends_nothing(entity_service, tmp_path):
    project = new_project(RestClient(entity_service.url), blocked=True)
    clks = write_clk_file(tmp_path / "clks.json", random_clks(3))
    blocks = tmp_path / "blocks.json"
    blocks.write_bytes(b'{"blocks": {"0": [' + b"7" * 5000 + b"]}}")
    sent = len(entity_service.requests)
    result = run_anonlink(
        "upload",
        "--server",
        entity_service.url,
        "--project",
        project["project_id"],
        clks,
        "--blocks",
        blocks,
        env={"ANONLINK_APIKEY": project["update_tokens"][0]},
    )
    assert result.returncode == 3
    assert only_error(result.stderr) == (
        f"Error: {blocks}: not usable JSON (line 1, column 119: a number longer than 100 characters); expected a block "
        'file made by "anonlink block": {"blocks": {...}, "meta": {...}}'
    )
    assert len(entity_service.requests) == sent


def store(server, timeout=1.0) -> ObjectStore:
    return ObjectStore(server.endpoint, False, StaticProvider("key", "secret-key-42"), progress=False, timeout=timeout)


@pytest.mark.parametrize(
    "answer, reason",
    [
        (dict(body=b"", trickle=0.2), "the object store did not answer within 1 s"),
        (dict(body=b"<x/>", claimed_length=10**12), "the object store's answer is larger than 16 MiB"),
        (dict(body=b"<x>" * 20000, endless=True), "the object store's answer is larger than 16 MiB"),
    ],
)
def test_a_hostile_object_store_is_one_error_naming_it(server, tmp_path, answer, reason):
    server.answer("/bucket/", headers={"ETag": '"abc"'}, **answer)
    upload = tmp_path / "clks.json"
    upload.write_text('{"clks": []}')
    with pytest.raises(ObjectStoreError) as caught:
        store(server).upload_file("bucket", "path/encodings.json", str(upload))
    assert str(caught.value) == (
        f"Uploading bucket/path/encodings.json on the object store at {server.endpoint} failed: {reason}"
    )
    assert "secret-key-42" not in str(caught.value)


def test_a_clock_bounds_only_the_answers_given_while_it_runs(server):
    server.answer("/slow", body=b"ok", trickle=0.01)
    manager = bounded_pool_manager()
    assert manager.request("GET", server.url + "/slow").data == b"ok"  # no clock: per-read timeouts only
    with AnswerClock(0.2) as clock:
        try:
            manager.request("GET", server.url + "/slow", retries=False)
        except urllib3.exceptions.ProtocolError:
            pass  # cut in the body; cut in the head, http.client may take it for a whole answer
    assert clock.expired
    with AnswerClock(30) as clock:
        assert manager.request("GET", server.url + "/slow").data == b"ok"
    assert not clock.expired
