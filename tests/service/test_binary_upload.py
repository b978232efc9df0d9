"""``anonlink upload`` sending the binary format, against the test Entity Service and its moto S3 store.

Direct uploads without blocks go to ``POST /projects/{id}/binaryclks`` with
``Hash-Count``/``Hash-Size``; object-store uploads put ``encodings.bin`` with
``hash-count``/``hash-size`` metadata. Only what the service takes is sent
(never a file's metadata or header), checked here byte for byte; bad files,
CLKs the service would refuse and files that do not fit the project are
refused before anything is sent.
"""

import base64
import json
import random
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from anonlinkclient.encoding.schema import fingerprint_if_valid, schema_fingerprint
from anonlinkclient.io.clk_file import ClkMeta, check_clk_file, no_metadata_note, write_clk_file
from anonlinkclient.service.rest_client import RestClient
from anonlinkclient.service.upload import (
    DIRECT_MESSAGE,
    OBJECT_STORE_MESSAGE,
    UNKNOWN_OUTCOME,
    check_against_project,
)
from tests.helpers import noisy, run_anonlink, run_cli, schema_document, write_block_file
from tests.service.helpers import new_project

PROJECT_SCHEMA = schema_document(1024)
META = ClkMeta("anonlink-client", "0.2.0", 1024, schema_fingerprint(PROJECT_SCHEMA), "0667")
PART = 5 * 2**20  # minio's part size


def clks_of(count: int, size: int = 128, seed: int = 0) -> List[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


def clk_file(path: Path, clks: List[bytes], clk_format: str = "json", meta: Optional[ClkMeta] = META) -> Path:
    """A CLK file as ``anonlink hash`` writes it for the project's schema."""
    if meta is not None and meta.clk_bits != len(clks[0]) * 8:
        meta = ClkMeta(meta.tool, meta.tool_version, len(clks[0]) * 8, meta.schema_fingerprint, meta.secret_check)
    write_clk_file(str(path), clks, meta, clk_format)
    return path


def json_body(clks: List[bytes]) -> bytes:
    return json.dumps({"clks": [base64.b64encode(c).decode("ascii") for c in clks]}).encode()


@pytest.fixture
def project(entity_service) -> Dict[str, Any]:
    return new_project(RestClient(entity_service.url))


def upload(service, credentials, party, *args, token=None, env=None):
    """``anonlink upload`` in-process for ``party`` of the project (or with ``token``)."""
    base = ["upload", "--server", service.url, "--project", credentials["project_id"]]
    return run_cli(*base, "--apikey", token or credentials["update_tokens"][party], *[str(a) for a in args], env=env)


def only_the_fixtures_requests(service) -> bool:
    return [r.path for r in service.requests] == ["/api/v1/projects"]


# ---- direct: /binaryclks ----


@pytest.mark.parametrize("clk_format", ["json", "binary"])
def test_a_direct_upload_sends_the_clks_bytes_to_binaryclks(entity_service, project, tmp_path, clk_format):
    clks = clks_of(25)
    path = clk_file(tmp_path / f"clks.{clk_format}", clks, clk_format)
    result = upload(entity_service, project, 1, path, "--to_entityservice")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == DIRECT_MESSAGE + "\n"  # a file with metadata: no note
    (request,) = entity_service.requests_to("/binaryclks")
    assert request.method == "POST"
    assert request.header("Content-Type") == "application/octet-stream"
    assert (request.header("Hash-Count"), request.header("Hash-Size")) == ("25", "128")
    assert request.header("Content-Length") == str(25 * 128) and not request.chunked
    assert request.body == b"".join(clks)
    assert entity_service.requests_to("/clks") == []
    received = entity_service.uploads(project["project_id"])[1]
    assert (received.source, received.clks, received.blocks) == ("binaryclks", clks, [["1"]] * 25)


def test_a_headerless_file_is_uploaded_with_its_size_given(entity_service, project, tmp_path):
    clks = clks_of(9)
    raw = tmp_path / "clks.raw"
    raw.write_bytes(b"".join(clks))
    result = upload(entity_service, project, 0, raw, "--to_entityservice", "--raw-clk-size", 128, "-v")
    assert result.exit_code == 0, result.stderr
    assert f"{raw}: 9 CLKs of 128 bytes (raw file, sent as binary)" in result.stderr
    assert no_metadata_note(str(raw)) in result.stderr.splitlines()
    (request,) = entity_service.requests_to("/binaryclks")
    assert (request.header("Hash-Count"), request.header("Hash-Size"), request.body) == ("9", "128", raw.read_bytes())


def test_a_busy_service_gets_the_whole_binary_body_again(entity_service, project, tmp_path):
    clks = clks_of(30)
    path = clk_file(tmp_path / "clks.json", clks)
    entity_service.faults.fail_next(2, status=503, path_contains="/binaryclks")
    result = upload(entity_service, project, 0, path, "--to_entityservice", "--retry-multiplier", 1)
    assert result.exit_code == 0, result.stderr
    attempts = entity_service.requests_to("/binaryclks")
    assert [r.status for r in attempts] == [503, 503, 201]
    assert all(r.body == b"".join(clks) and r.header("Hash-Count") == "30" for r in attempts)


def test_a_dropped_binary_upload_is_not_sent_again(entity_service, project, tmp_path):
    path = clk_file(tmp_path / "clks.json", clks_of(10))
    entity_service.faults.drop(1, path_contains="/binaryclks")
    result = upload(entity_service, project, 0, path, "--to_entityservice")
    assert result.exit_code == 6
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Upload failed: the Entity Service at {entity_service.url} closed the connection without answering "
        "(RemoteDisconnected)" + UNKNOWN_OUTCOME
    )
    assert len(entity_service.requests_to("/binaryclks")) == 1
    assert entity_service.uploads(project["project_id"]) == [None, None]


def test_a_hash_size_the_service_refuses(entity_service, project, tmp_path):
    """The project's schema makes 1024-bit CLKs; an upload token cannot see it, so the service refuses."""
    path = clk_file(tmp_path / "clks.json", clks_of(10, size=64))
    result = upload(entity_service, project, 0, path, "--to_entityservice")
    assert result.exit_code == 6
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Upload failed (HTTP 400): Upload 'Hash-Size' doesn't match project settings"
    )
    assert entity_service.uploads(project["project_id"]) == [None, None]


# ---- object store: encodings.bin ----


def test_the_object_store_gets_a_binary_encodings_object(entity_service, project, tmp_path):
    clks = clks_of(40)
    path = clk_file(tmp_path / "clks_a.json", clks)
    result = upload(entity_service, project, 0, path)
    assert result.exit_code == 0, result.stderr
    assert OBJECT_STORE_MESSAGE in result.stderr
    received = entity_service.uploads(project["project_id"])[0]
    assert (received.source, received.clks) == ("object-store", clks)
    place = entity_service.project(project["project_id"]).parties[0].object_store_access["upload"]
    encodings = received.objects["encodings"]
    assert encodings["path"] == f"{place['path']}/encodings.bin"
    assert encodings["metadata"] == {"hash-count": "40", "hash-size": "128"}
    assert encodings["size"] == 40 * 128
    (told,) = entity_service.requests_to("/clks")
    assert told.json()["encodings"]["file"] == {"bucket": place["bucket"], "path": encodings["path"]}


def test_binary_encodings_beside_a_json_blocks_object(entity_service, tmp_path):
    credentials = new_project(RestClient(entity_service.url), blocked=True)
    clks = clks_of(30)
    blocks = [[f"b{i % 3}"] if i % 4 else [] for i in range(30)]
    path = clk_file(tmp_path / "clks.bin", clks, "binary")
    block_path = write_block_file(tmp_path / "blocks.json", blocks)
    result = upload(entity_service, credentials, 0, path, "--blocks", block_path)
    assert result.exit_code == 0, result.stderr
    received = entity_service.uploads(credentials["project_id"])[0]
    assert (received.clks, received.blocks) == (clks, blocks)
    assert received.objects["encodings"]["path"].endswith("/encodings.bin")
    assert received.objects["encodings"]["size"] == 30 * 128
    assert received.objects["blocks"]["path"].endswith("/blocks.json")
    assert received.objects["blocks"]["size"] == block_path.stat().st_size


def test_a_large_binary_object_goes_in_parts_and_a_cut_part_is_sent_again(entity_service, s3_proxy, project, tmp_path):
    clks = clks_of(45_000)  # 5.76 MB: two parts
    path = clk_file(tmp_path / "big.json", clks)
    s3_proxy.cut(1, after_bytes=10**5, method="PUT", query_contains="partNumber=2")
    result = upload(entity_service, project, 0, path, env={"UPLOAD_OBJECT_STORE_SERVER": s3_proxy.url})
    assert result.exit_code == 0, result.stderr
    first, second = s3_proxy.requests_to("PUT", "partNumber=2")
    assert (first.fault, second.status, second.body_size) == ("cut", 200, 45_000 * 128 - PART)
    assert [r.body_size for r in s3_proxy.requests_to("PUT", "partNumber=1")] == [PART]
    assert entity_service.uploads(project["project_id"])[0].clks == clks


# ---- --format json: only {"clks": [...]} ----


@pytest.mark.parametrize("clk_format", ["json", "binary"])
def test_format_json_sends_only_the_clks_list(entity_service, project, tmp_path, clk_format):
    clks = clks_of(12)
    path = clk_file(tmp_path / f"clks.{clk_format}", clks, clk_format)
    result = upload(entity_service, project, 0, path, "--to_entityservice", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (request,) = entity_service.requests_to("/clks")
    assert request.body == json_body(clks)  # no "meta", no "clk_count"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Content-Length") == str(len(json_body(clks)))
    result = upload(entity_service, project, 1, path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    encodings = entity_service.uploads(project["project_id"])[1].objects["encodings"]
    assert encodings["path"].endswith("/encodings.json") and encodings["size"] == len(json_body(clks))


def test_format_json_sends_a_file_of_an_older_tool_as_it_is(entity_service, project, tmp_path):
    clks = clks_of(6)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"clks": [base64.b64encode(c).decode() for c in clks]}, indent=1))
    result = upload(entity_service, project, 0, old, "--to_entityservice", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (request,) = entity_service.requests_to("/clks")
    assert request.body == old.read_bytes()  # as earlier versions sent it
    result = upload(entity_service, project, 1, old)  # binary, converted on the way
    assert result.exit_code == 0, result.stderr
    assert entity_service.uploads(project["project_id"])[1].objects["encodings"]["size"] == 6 * 128


def test_json_and_binary_direct_uploads_link(entity_service, project, tmp_path):
    clks = clks_of(20)
    a = clk_file(tmp_path / "a.json", clks)
    b = clk_file(tmp_path / "b.bin", noisy(clks), "binary")
    assert upload(entity_service, project, 0, a, "--to_entityservice", "--format", "json").exit_code == 0
    assert upload(entity_service, project, 1, b, "--to_entityservice").exit_code == 0
    client = RestClient(entity_service.url)
    run = client.run_create(project["project_id"], project["result_token"], 0.8, "json and binary")
    client.wait_for_run(project["project_id"], run["run_id"], project["result_token"], 30, 0.05)
    groups = json.loads(client.run_get_result_text(project["project_id"], run["run_id"], project["result_token"]))
    assert sorted(sorted(map(tuple, g)) for g in groups["groups"]) == [[(0, i), (1, i)] for i in range(20)]


# ---- bad input: one line, exit 3, nothing sent ----


def bad_files(tmp_path: Path) -> List[Any]:
    clks = clks_of(10)
    raw = tmp_path / "clks.raw"
    raw.write_bytes(b"".join(clks)[:-28])
    cut = clk_file(tmp_path / "cut.bin", clks, "binary")
    cut.write_bytes(cut.read_bytes()[:-1])
    counted = clk_file(tmp_path / "counted.json", clks)
    counted.write_text(counted.read_text().replace('"clk_count": 10', '"clk_count": 11'))
    long = clk_file(tmp_path / "long.json", clks)
    long.write_text(long.read_text().replace('"clk_bits": 1024', '"clk_bits": 2048'))
    truncated = clk_file(tmp_path / "truncated.json", clks)
    truncated.write_text(truncated.read_text()[:-40])
    huge = clk_file(tmp_path / "huge.json", clks_of(2, size=1032))
    return [
        (raw, ["--raw-clk-size", 128], "is 1252 bytes, not a multiple of the 128-byte CLK size"),
        (cut, [], "is truncated: its header says 10 CLKs of 128 bytes (1280 bytes), but 1279 bytes follow the header"),
        (counted, [], "has 10 CLKs, but its metadata says 11 (clk_count)"),
        (long, [], "CLK 0: is 128 bytes, but the file's metadata says 2048-bit CLKs (256 bytes)"),
        (truncated, [], "is truncated: its JSON ends before the CLK file does"),
        (
            huge,
            [],
            "its CLKs are 1032 bytes (8256 bits), but the Entity Service takes CLKs of at most 1024 bytes "
            "(8192 bits) by default; hash with a schema whose CLKs are shorter (a smaller l, or fewer balance steps)",
        ),
    ]


@pytest.mark.parametrize("route", [[], ["--to_entityservice"]])
def test_bad_files_are_refused_before_anything_is_sent(entity_service, project, tmp_path, route):
    for path, extra, message in bad_files(tmp_path):
        result = upload(entity_service, project, 0, path, *extra, *route)
        assert result.exit_code == 3, (path, result.stderr)
        separator = ", " if message.startswith("CLK 0") else ": "
        assert result.stderr == f"Error: {path}{separator}{message}\n"
        assert only_the_fixtures_requests(entity_service)


def test_a_bad_binary_file_as_a_subprocess(entity_service, project, tmp_path):
    path, _extra, message = bad_files(tmp_path)[1]
    done = run_anonlink(
        "upload", "--server", entity_service.url, "--project", project["project_id"], path,
        env={"ANONLINK_APIKEY": project["update_tokens"][0]},
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (3, "", f"Error: {path}: {message}\n")
    assert only_the_fixtures_requests(entity_service)


# ---- checked against the project, where the token may see its schema ----


def test_a_file_of_another_schema_is_refused_where_the_token_sees_the_project(entity_service, project, tmp_path):
    other = dict(PROJECT_SCHEMA, features=PROJECT_SCHEMA["features"][:1] + [dict(PROJECT_SCHEMA["features"][1])])
    other["features"][1]["hashing"] = dict(other["features"][1]["hashing"], strategy={"bitsPerToken": 7})
    meta = ClkMeta("anonlink-client", "0.2.0", 1024, schema_fingerprint(other), "0667")
    path = clk_file(tmp_path / "clks.json", clks_of(5), meta=meta)
    result = upload(entity_service, project, 0, path, token=project["result_token"])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {path}: was hashed with the linkage schema of fingerprint {meta.schema_fingerprint}, but project "
        f"{project['project_id']}'s schema has fingerprint {META.schema_fingerprint}; hash with the project's schema\n"
    )
    assert [(r.method, r.status) for r in entity_service.requests] == [("POST", 201), ("GET", 200)]


def test_clks_of_another_length_are_refused_where_the_token_sees_the_project(entity_service, project, tmp_path):
    path = clk_file(tmp_path / "clks.bin", clks_of(5, size=64), "binary", meta=ClkMeta(clk_bits=512))
    result = upload(entity_service, project, 0, path, token=project["result_token"])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {path}: its CLKs are 512 bits, but project {project['project_id']}'s linkage schema makes "
        "1024-bit CLKs\n"
    )
    assert [(r.method, r.status) for r in entity_service.requests] == [("POST", 201), ("GET", 200)]


def test_a_file_that_fits_the_project_passes_the_check(entity_service, project, tmp_path):
    path = clk_file(tmp_path / "clks.json", clks_of(5))
    summary = check_clk_file(str(path))
    client = RestClient(entity_service.url)
    notes: List[str] = []
    check_against_project(
        client, project["project_id"], project["result_token"], str(path), summary, None, notes.append
    )
    check_against_project(
        client, project["project_id"], project["result_token"], str(path), summary, fingerprint_if_valid, notes.append
    )
    assert notes == []
    # The result token passes the check, then cannot upload (as the service says).
    result = upload(entity_service, project, 0, path, token=project["result_token"])
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: Getting object store credentials failed: this token is not an upload")
    assert [(r.method, r.status) for r in entity_service.requests][1] == ("GET", 200)  # the check passed


def test_an_upload_token_cannot_see_the_project_so_the_check_is_skipped(entity_service, project, tmp_path):
    path = clk_file(tmp_path / "clks.json", clks_of(5, size=64))  # 512 bits: the service refuses them later
    result = upload(entity_service, project, 0, path, "-v", "--to_entityservice")
    assert (
        "Note: the service does not show the project's linkage schema to this token (HTTP 403; only the result "
        f"token may see it), so {path} was not checked against it"
    ) in result.stderr.splitlines()
    gets = [r for r in entity_service.requests if r.method == "GET"]
    assert [(r.path, r.status) for r in gets] == [(f"/api/v1/projects/{project['project_id']}", 403)]


# ---- the test Entity Service's /binaryclks, as the real one answers ----


def post_binary(service, project, body: bytes, headers: Dict[str, str], party: int = 0) -> requests.Response:
    sent = {"Authorization": project["update_tokens"][party], "Content-Type": "application/octet-stream"}
    sent.update(headers)
    url = f"{service.api_url}/projects/{project['project_id']}/binaryclks"
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url, data=body, headers={k: v for k, v in sent.items() if v is not None}, timeout=10)


@pytest.mark.parametrize(
    "headers, body, status, detail",
    [
        ({"Hash-Size": "128"}, bytes(128), 400, "Missing header parameter 'Hash-Count'"),
        ({"Hash-Count": "1"}, bytes(128), 400, "Missing header parameter 'Hash-Size'"),
        ({"Hash-Count": "1", "Hash-Size": "abc"}, bytes(128), 400, "Invalid value for Hash-Size header"),
        ({"Hash-Count": "1", "Hash-Size": "0"}, bytes(1), 400, "Invalid value for Hash-Size header"),
        ({"Hash-Count": "1", "Hash-Size": "1025"}, bytes(1025), 400, "Invalid value for Hash-Size header"),
        ({"Hash-Count": "0", "Hash-Size": "128"}, bytes(128), 400, "Invalid value for Hash-Count header"),
        ({"Hash-Count": "1", "Hash-Size": "64"}, bytes(64), 400, "Upload 'Hash-Size' doesn't match project settings"),
        (
            {"Hash-Count": "2", "Hash-Size": "128"},
            bytes(255),
            400,
            "Uploaded data did not match the expected size. Check request headers are correct",
        ),
    ],
)
def test_the_test_service_checks_binary_uploads_as_the_real_one(entity_service, project, headers, body, status, detail):
    answer = post_binary(entity_service, project, body, headers)
    assert (answer.status_code, answer.json()["detail"]) == (status, detail)
    assert entity_service.uploads(project["project_id"]) == [None, None]


def test_the_test_service_takes_a_binary_upload_once(entity_service, project):
    body = b"".join(clks_of(3))
    wrong_type = post_binary(
        entity_service, project, body, {"Hash-Count": "3", "Hash-Size": "128", "Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    answer = post_binary(entity_service, project, body, {"Hash-Count": "3", "Hash-Size": "128"})
    assert answer.status_code == 201 and answer.json()["message"] == "Updated"
    again = post_binary(entity_service, project, body, {"Hash-Count": "3", "Hash-Size": "128"})
    assert (again.status_code, again.json()["detail"]) == (403, "This token has already been used to upload clks.")
    assert entity_service.received_clks(project["project_id"], 0) == clks_of(3)
