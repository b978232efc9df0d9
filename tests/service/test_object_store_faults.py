"""Faults of the object store during ``anonlink upload``, tried on purpose (issue 6, item 3).

The upload goes through ``s3_proxy`` (a fault-injecting proxy in front of the
local S3 server; ``UPLOAD_OBJECT_STORE_SERVER`` points the client at it): 403
answers, credentials that expire mid-upload, connections cut mid-part, the
server going away during a multipart upload, 5xx answers and hung requests.
What is safe to send again (a part's ``PUT``) is sent again; anything else is
a clear failure (exit 7) after which the service is never told that the data
are there, and no receipt is written.
"""

import json
import random

import pytest

from anonlinkclient.service.upload import REFRESH_MESSAGE
from tests.helpers import random_clks, run_cli, write_clk_file

PART = 5 * 2**20  # minio's part size for these files
OBJECT_STORE_ERROR = 7


@pytest.fixture(scope="module")
def big_clks(tmp_path_factory):
    """A CLK file of two multipart parts (5 MiB and about 1.8 MB), and its CLKs."""
    rng = random.Random(6)
    clks = [rng.randbytes(128) for _ in range(40_000)]
    path = write_clk_file(tmp_path_factory.mktemp("big") / "big_clks.json", clks)
    assert PART + 10**6 < path.stat().st_size < 2 * PART
    return path, clks


@pytest.fixture
def small_clks(tmp_path):
    clks = random_clks(25)
    return write_clk_file(tmp_path / "clks.json", clks), clks


def upload(service, proxy, project, clk_file, *args, env=None):
    """``anonlink upload`` of party 0 through the proxy; returns the result and the receipt path."""
    receipt = clk_file.parent / "receipt.json"
    if receipt.exists():
        receipt.unlink()
    environment = {"UPLOAD_OBJECT_STORE_SERVER": proxy.url, "ANONLINK_APIKEY": project["update_tokens"][0]}
    environment.update(env or {})
    command = ["upload", "--server", service.url, "--project", project["project_id"], str(clk_file)]
    command += ["--format", "json"]  # the JSON object's size makes the parts; binary: test_binary_upload.py
    return run_cli(*command, "-o", str(receipt), *args, env=environment), receipt


def encodings_object(service, project, proxy):
    """What the error message calls the encodings object: ``bucket/path on the object store at host:port``."""
    place = service.project(project["project_id"]).parties[0].object_store_access["upload"]
    return f"{place['bucket']}/{place['path']}/encodings.json on the object store at {proxy.endpoint}"


def error_line(stderr):
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    assert sum(line.startswith("Error:") for line in stderr.splitlines()) == 1
    return last


def assert_not_uploaded(service, project, result, receipt):
    """Exit 7, no receipt, and the service was never told about the objects."""
    assert result.exit_code == OBJECT_STORE_ERROR, result.stderr
    assert not receipt.exists()
    assert service.requests_to("/clks") == []
    assert service.uploads(project["project_id"]) == [None, None]


def received(service, project):
    upload = service.uploads(project["project_id"])[0]
    assert upload is not None and upload.source == "object-store"
    return upload


# ---- what is safe to send again ----


def test_a_part_whose_connection_is_cut_is_sent_again(entity_service, s3_proxy, project, big_clks):
    clk_file, clks = big_clks
    s3_proxy.cut(1, after_bytes=10**6, method="PUT", query_contains="partNumber=2")
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert result.exit_code == 0, result.stderr
    first, second = s3_proxy.requests_to("PUT", "partNumber=2")
    assert (first.fault, first.body_size, first.status) == ("cut", 10**6, None)
    assert (second.fault, second.body_size, second.status) == (None, clk_file.stat().st_size - PART, 200)
    assert [r.status for r in s3_proxy.requests_to("PUT", "partNumber=1")] == [200]
    assert received(entity_service, project).clks == clks
    assert json.loads(receipt.read_text())["message"] == "Updated"


def test_a_store_asking_to_slow_down_is_asked_again(entity_service, s3_proxy, project, small_clks):
    clk_file, clks = small_clks
    s3_proxy.deny(2, status=503, code="SlowDown", message="Please reduce your request rate.", method="PUT")
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in s3_proxy.requests_to("PUT")] == [503, 503, 200]
    assert received(entity_service, project).clks == clks


def test_expired_credentials_are_renewed_and_the_file_sent_again(entity_service, s3_proxy, project, big_clks):
    clk_file, clks = big_clks
    s3_proxy.expire_credentials(after=2)  # starting the upload and part 1 pass; part 2 is refused
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert result.exit_code == 0, result.stderr
    assert REFRESH_MESSAGE in result.stderr.splitlines()
    assert len(entity_service.requests_to("authorize-external-upload")) == 2
    expired = s3_proxy.requests_to("PUT", "partNumber=2")[0]
    assert (expired.status, expired.fault) == (403, "expire")
    party = entity_service.project(project["project_id"]).parties[0]
    fresh_key = party.object_store_access["credentials"]["AccessKeyId"]
    assert fresh_key != expired.access_key
    renewed = [r for r in s3_proxy.requests if r.access_key == fresh_key]
    assert [(r.method, r.query.split("&")[0], r.status) for r in renewed] == [
        ("POST", "uploads=", 200),
        ("PUT", "partNumber=1", 200),
        ("PUT", "partNumber=2", 200),
        ("POST", renewed[-1].query, 200),
    ]
    upload_record = received(entity_service, project)
    assert upload_record.clks == clks
    assert upload_record.objects["credentials"]["AccessKeyId"] == fresh_key


# ---- clear failures; the service is never told ----


@pytest.mark.parametrize("refused", ["PUT", "POST"])
def test_access_denied_is_not_asked_again(entity_service, s3_proxy, project, big_clks, refused):
    clk_file, _clks = big_clks
    if refused == "PUT":
        s3_proxy.deny(1, method="PUT", query_contains="partNumber=1")
    else:
        s3_proxy.deny(1, method="POST", query_contains="uploads")  # starting the multipart upload
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert error_line(result.stderr) == (
        f"Error: Uploading {encodings_object(entity_service, project, s3_proxy)} failed: AccessDenied: Access Denied."
    )
    assert_not_uploaded(entity_service, project, result, receipt)
    assert len([r for r in s3_proxy.requests if r.status == 403]) == 1
    assert len(entity_service.requests_to("authorize-external-upload")) == 1


def test_credentials_that_stay_expired(entity_service, s3_proxy, project, small_clks):
    clk_file, _clks = small_clks
    s3_proxy.deny(None, status=400, code="ExpiredToken", message="The provided token has expired.")
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert error_line(result.stderr) == (
        f"Error: Uploading {encodings_object(entity_service, project, s3_proxy)} failed: "
        "ExpiredToken: The provided token has expired."
    )
    assert REFRESH_MESSAGE in result.stderr
    assert len(entity_service.requests_to("authorize-external-upload")) == 2  # renewed once, not forever
    assert_not_uploaded(entity_service, project, result, receipt)


def test_expired_profile_credentials_are_not_renewed(entity_service, s3_proxy, project, small_clks, tmp_path):
    clk_file, _clks = small_clks
    credentials_file = tmp_path / "aws-credentials"
    credentials_file.write_text("[linkage]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profilesecret\n")
    s3_proxy.deny(None, status=400, code="ExpiredToken", message="The provided token has expired.")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials_file)}
    result, receipt = upload(entity_service, s3_proxy, project, clk_file, "--profile", "linkage", env=env)
    assert error_line(result.stderr).endswith("failed: ExpiredToken: The provided token has expired.")
    assert REFRESH_MESSAGE not in result.stderr
    assert len(entity_service.requests_to("authorize-external-upload")) == 1
    assert_not_uploaded(entity_service, project, result, receipt)


def test_the_store_going_away_during_a_multipart_upload(entity_service, s3_proxy, project, big_clks, terminal):
    clk_file, _clks = big_clks
    s3_proxy.vanish(after_bytes=10**6, method="PUT", query_contains="partNumber=2")
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert error_line(result.stderr) == (
        f"Error: Uploading {encodings_object(entity_service, project, s3_proxy)} failed: "
        "cannot connect (Connection refused)"
    )
    assert_not_uploaded(entity_service, project, result, receipt)
    assert s3_proxy.gone
    (part,) = s3_proxy.requests_to("PUT", "partNumber=2")
    assert part.body_size == 10**6 < part.content_length
    bar = result.stderr.split("Upload big_clks.json: ")[-1].splitlines()[0]  # only the accepted part 1 shows
    assert f"| {PART / 1e6:.2f} MB/{clk_file.stat().st_size / 1e6:.2f} MB  74% [" in bar


def test_persistent_server_errors_are_asked_again_three_times_then_fail(entity_service, s3_proxy, project, small_clks):
    clk_file, _clks = small_clks
    message = "We encountered an internal error. Please try again."
    s3_proxy.deny(None, status=500, code="InternalError", message=message, method="PUT")
    result, receipt = upload(entity_service, s3_proxy, project, clk_file)
    assert error_line(result.stderr) == (
        f"Error: Uploading {encodings_object(entity_service, project, s3_proxy)} failed: InternalError: {message}"
    )
    assert [r.status for r in s3_proxy.requests_to("PUT")] == [500] * 4
    assert_not_uploaded(entity_service, project, result, receipt)


def test_a_store_that_stops_answering_times_out(entity_service, s3_proxy, project, small_clks):
    clk_file, _clks = small_clks
    s3_proxy.hang(None, method="PUT")
    try:
        result, receipt = upload(entity_service, s3_proxy, project, clk_file, "--timeout", "0.4")
    finally:
        s3_proxy.release()
    assert error_line(result.stderr) == (
        f"Error: Uploading {encodings_object(entity_service, project, s3_proxy)} failed: "
        "the object store did not answer within 0.4 s"
    )
    assert len(s3_proxy.requests_to("PUT")) == 4  # a PUT is safe to send again
    assert_not_uploaded(entity_service, project, result, receipt)
