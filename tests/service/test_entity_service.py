"""Contract checks of the test Entity Service itself (tests/entity_service), with plain ``requests``.

They pin the behaviours of the real v1.15 service the client relies on (status
codes, auth rules, problem bodies, run states) and that runs really link.
"""

import base64
import io
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
import requests

from tests.entity_service.contract import Contract
from tests.entity_service.framework import ROUTES, Response
from tests.entity_service.objectstore import S3Server
from tests.entity_service.process import REPO_ROOT, start_service_process
from tests.entity_service.server import EntityService
from tests.entity_service.state import DIRECT_DEFAULT_BLOCK, OBJECT_STORE_DEFAULT_BLOCK

DATA = Path(__file__).parent.parent / "data"
HEX48 = re.compile(r"^[0-9a-f]{48}$")
INVALID_ACCESS = "Invalid access token or project doesn't exist"
INTERNAL_ERROR = (
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)
BLOCKING_DISABLED = "Blocking has been disabled for this project, but received blocking information"
SIZE_MISMATCH = "Mismatch in encoding sizes. Stopping"
ANY = object()


# Helpers ------------------------------------------------------------------------


class Api:
    """A minimal raw client of the test service (not the project's client)."""

    def __init__(self, service: EntityService) -> None:
        self.base = service.api_url
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy

    def call(self, method: str, path: str, token: Optional[str] = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = token
        return self.session.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def project(self, result_type: str = "groups", parties: int = 2, **extra: Any) -> Dict[str, Any]:
        body = dict({"schema": {}, "result_type": result_type, "number_parties": parties}, **extra)
        response = self.call("POST", "/projects", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, project: Dict[str, Any], party: int, body: Dict[str, Any]) -> requests.Response:
        return self.call("POST", f"/projects/{project['project_id']}/clks", project["update_tokens"][party], json=body)

    def run(self, project: Dict[str, Any], threshold: float = 0.8) -> str:
        response = self.call(
            "POST", f"/projects/{project['project_id']}/runs", project["result_token"], json={"threshold": threshold}
        )
        assert response.status_code == 201, response.text
        return response.json()["run_id"]

    def status(self, project: Dict[str, Any], run_id: str) -> Dict[str, Any]:
        path = f"/projects/{project['project_id']}/runs/{run_id}/status"
        response = self.call("GET", path, project["result_token"])
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, project: Dict[str, Any], run_id: str, timeout: float = 20) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(project, run_id)
            if status["state"] in ("completed", "error"):
                return status
            time.sleep(0.02)
        raise AssertionError(f"run still {status['state']}")

    def result(self, project: Dict[str, Any], run_id: str, token: Optional[str] = None) -> requests.Response:
        path = f"/projects/{project['project_id']}/runs/{run_id}/result"
        return self.call("GET", path, token or project["result_token"])


@pytest.fixture
def api(entity_service: EntityService) -> Api:
    return Api(entity_service)


def b64(clks: Sequence[bytes]) -> List[str]:
    return [base64.b64encode(c).decode() for c in clks]


def noisy_copy(clk: bytes, rng: random.Random, flips: int = 12) -> bytes:
    data = bytearray(clk)
    for bit in rng.sample(range(len(data) * 8), flips):
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def random_clk(rng: random.Random) -> bytes:
    return rng.getrandbits(1024).to_bytes(128, "big")


def datasets(sizes: Sequence[int], shared: int, seed: int = 1) -> Tuple[List[List[bytes]], List[List[int]]]:
    """Random 128-byte CLKs for each party; entity ``e < shared`` is in every party (noisy
    copies) at a shuffled row. Returns the datasets and, per entity, its row in each party."""
    rng = random.Random(seed)
    entities = [random_clk(rng) for _ in range(shared)]
    data, rows = [], []
    for size in sizes:
        clks = [noisy_copy(e, rng) for e in entities] + [random_clk(rng) for _ in range(size - shared)]
        order = list(range(size))
        rng.shuffle(order)
        data.append([clks[i] for i in order])
        rows.append([order.index(e) for e in range(shared)])
    return data, [[party_rows[e] for party_rows in rows] for e in range(shared)]


def upload_all(api: Api, project: Dict[str, Any], data: List[List[bytes]]) -> None:
    for party, clks in enumerate(data):
        response = api.upload(project, party, {"clks": b64(clks)})
        assert response.status_code == 201, response.text


def is_problem(response: requests.Response, status: int, detail: Optional[str] = None, title: Any = ANY) -> bool:
    """The answer is a problem of ``status`` (with this ``detail`` and ``title``, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"detail", "status", "title", "type"} and body["status"] == status
    assert detail is None or body["detail"] == detail, body["detail"]
    assert title is ANY or body["title"] == title, body["title"]
    return True


def is_internal_error(response: requests.Response) -> bool:
    """The bare 500 of an unhandled exception in the real service."""
    return is_problem(response, 500, INTERNAL_ERROR, "Internal Server Error")


def s3_put(s3: S3Server, access: Dict[str, Any], name: str, data: bytes, metadata: Dict[str, str]) -> str:
    """Upload like the client: minio, with the issued temporary credentials."""
    creds, upload = access["credentials"], access["upload"]
    assert upload["endpoint"] == s3.endpoint and upload["secure"] is False
    client = s3.minio_client(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    path = f"{upload['path']}/{name}"
    client.put_object(upload["bucket"], path, io.BytesIO(data), len(data), metadata=metadata)
    return path


def external(access: Dict[str, Any], path: str) -> Dict[str, Any]:
    creds = access["credentials"]
    return {
        "file": {"bucket": access["upload"]["bucket"], "path": path},
        "credentials": {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
    }


def authorize(api: Api, project: Dict[str, Any], party: int) -> Dict[str, Any]:
    path = f"/projects/{project['project_id']}/authorize-external-upload"
    response = api.call("GET", path, project["update_tokens"][party])
    assert response.status_code == 201, response.text
    return response.json()


# The contract itself ------------------------------------------------------------


def test_openapi_definition_is_valid_and_checker_catches_violations() -> None:
    contract = Contract()
    contract.validate_definition()
    assert contract.match("/projects/abc/runs/def/status") == (
        "/projects/{project_id}/runs/{run_id}/status",
        {"project_id": "abc", "run_id": "def"},
    )
    ok = {"project_id": "a", "result_token": "b", "update_tokens": ["c", "d"]}
    assert contract.response_problems("POST", "/projects", 201, "application/json", ok) == []
    assert contract.response_problems("POST", "/projects", 418, "application/json", ok)
    bad = dict(ok, update_tokens="c")
    assert contract.response_problems("POST", "/projects", 201, "application/json", bad)
    status = {"time_added": "2024-01-01T00:00:00+00:00", "state": "completed", "stages": 3, "current_stage": {}}
    schema = contract.run_status_schema("completed")
    problems = contract.response_problems("GET", "/projects/{project_id}/runs/{run_id}/status", 200, None, status)
    assert problems  # not JSON content type, and current_stage lacks "number"
    assert contract.schema_problems(schema, dict(status, current_stage={"number": 3}))  # no time_started


def test_service_check_fails_on_its_own_contract_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROUTES, ("GET", "/version"), lambda *_: Response(200, {"anonlink": 15}))
    with EntityService() as service:
        assert Api(service).call("GET", "/version").status_code == 200
        assert [v.problems for v in service.contract_violations] == [["anonlink: 15 is not of type 'string'"]]
        with pytest.raises(AssertionError, match="contract violation"):
            service.check()


# Reference behaviours -------------------------------------------------------------


def test_status_version_and_unknown_paths(api: Api) -> None:
    status = api.call("GET", "/status")
    assert status.status_code == 200 and status.json()["status"] == "ok"
    assert set(api.call("GET", "/version").json()) == {"anonlink", "entityservice", "python"}
    assert api.call("GET", "/nothing-here").status_code == 404
    assert api.call("PUT", "/status").status_code == 405


def test_create_project(api: Api, entity_service: EntityService) -> None:
    project = api.project("groups", parties=3, name="p", notes="n")
    assert HEX48.match(project["project_id"]) and HEX48.match(project["result_token"])
    assert len(project["update_tokens"]) == 3 and all(HEX48.match(t) for t in project["update_tokens"])
    described = api.call("GET", f"/projects/{project['project_id']}", project["result_token"]).json()
    assert described["number_parties"] == 3 and described["parties_contributed"] == 0
    assert described["name"] == "p" and described["error"] is False
    upload_token = project["update_tokens"][0]
    assert is_problem(api.call("GET", f"/projects/{project['project_id']}", upload_token), 403, INVALID_ACCESS)
    assert entity_service.project(project["project_id"]).number_parties == 3


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"schema": {}}, "'result_type' is a required property"),
        ({"schema": {}, "result_type": "clusters"}, None),
        ({"schema": {}, "result_type": "groups", "number_parties": 1}, None),
        ({"schema": {}, "result_type": "permutations", "number_parties": 3}, None),
        ({"schema": {}, "result_type": "similarity_scores", "number_parties": 4}, None),
    ],
)
def test_create_project_bad_input(api: Api, body: Dict[str, Any], detail: Optional[str]) -> None:
    assert is_problem(api.call("POST", "/projects", json=body), 400, detail)


def test_bad_json_and_missing_token(api: Api, entity_service: EntityService) -> None:
    not_json = api.call("POST", "/projects", data=b"{", headers={"Content-Type": "application/json"})
    assert is_problem(not_json, 400, "Request body is not valid JSON")
    project = api.project()
    missing = api.call("GET", f"/projects/{project['project_id']}")
    assert is_problem(missing, 400, "Missing header parameter 'Authorization'")
    assert len(entity_service.request_violations) == 2


def test_upload_token_rules(api: Api, entity_service: EntityService) -> None:
    project = api.project()
    other = api.project()
    clks = b64(json_clks())
    pid = project["project_id"]
    # Not an upload token of this project (the result token, another project's, a made-up one): the real
    # service fails looking up the data provider, a bare 500.
    for token in (project["result_token"], other["update_tokens"][0], "f" * 48):
        assert is_internal_error(api.call("POST", f"/projects/{pid}/clks", token, json={"clks": clks}))
    assert is_problem(api.upload(project, 0, {"clks": []}), 400, "Missing CLKs information", title=None)
    assert is_problem(api.upload(project, 0, {"clks": ["not base64!"]}), 400)
    first = api.upload(project, 0, {"clks": clks})  # a failed upload does not use the token up
    assert first.status_code == 201 and first.json()["message"] == "Updated"
    assert HEX48.match(first.json()["receipt_token"])
    used = "This token has already been used to upload clks."
    assert is_problem(api.upload(project, 0, {"clks": clks}), 403, used, title=None)
    assert entity_service.clk_counts(pid) == {0: 4}
    assert entity_service.received_blocks(pid, 0) == [[DIRECT_DEFAULT_BLOCK]] * 4


def test_blocks_sent_to_a_project_without_blocking(api: Api) -> None:
    project = api.project()
    clks = b64(json_clks())
    refusals = [
        api.upload(project, 0, {"clknblocks": [[clk, "1"] for clk in clks]}),
        api.upload(project, 0, {"encodings": clks, "blocks": {"0": ["1"]}}),
    ]
    for refused in refusals:
        assert is_problem(refused, 403, BLOCKING_DISABLED, title=None)
    assert api.upload(project, 0, {"clks": clks}).status_code == 201  # refusals do not use the token up


def json_clks() -> List[bytes]:
    return [base64.b64decode(c) for c in json.loads((DATA / "small_clk.json").read_text())["clks"]]


def test_authorize_external_upload(api: Api, entity_service: EntityService, s3_server: S3Server) -> None:
    project = api.project()
    pid = project["project_id"]
    access = authorize(api, project, 1)
    creds, upload = access["credentials"], access["upload"]
    assert set(creds) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", creds["Expiration"])  # ISO, no timezone
    dp_id = entity_service.project(pid).parties[1].dp_id
    assert upload == {
        "bucket": "uploads",
        "endpoint": s3_server.endpoint,
        "path": f"{pid}/{dp_id}",
        "secure": False,
    }
    path = f"/projects/{pid}/authorize-external-upload"
    assert is_internal_error(api.call("GET", path, project["result_token"]))  # the real service's quirk
    assert is_internal_error(api.call("GET", path, "f" * 48))
    assert is_problem(api.call("GET", f"/projects/{'0' * 48}/authorize-external-upload", "f" * 48), 403)


def test_authorize_external_upload_without_object_store() -> None:
    with EntityService(s3=None) as service:
        api = Api(service)
        project = api.project()
        path = f"/projects/{project['project_id']}/authorize-external-upload"
        disabled = "Retrieving temporary object store credentials feature disabled"
        assert is_problem(api.call("GET", path, project["update_tokens"][0]), 500, disabled, "Feature Disabled")
        service.check()


def test_run_states_and_result_before_completion(api: Api, entity_service: EntityService) -> None:
    project = api.project()
    run_id = api.run(project, 0.9)
    created = api.status(project, run_id)
    assert created["state"] == "created" and created["stages"] == 3 and created["time_started"] is None
    assert created["current_stage"] == {
        "number": 1,
        "description": "waiting for CLKs",
        "progress": {"absolute": 0, "relative": 0.0, "description": "number of parties already contributed"},
    }
    assert is_problem(api.result(project, run_id), 404, "run is not complete")
    entity_service.pause_runs("running")
    upload_all(api, project, [json_clks(), json_clks()])
    deadline = time.monotonic() + 5
    while api.status(project, run_id)["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    running = api.status(project, run_id)
    assert running["state"] == "running" and running["current_stage"]["number"] == 2 and "time_started" in running
    assert running["current_stage"]["description"] == "compute similarity scores"
    assert is_problem(api.result(project, run_id), 404, "run is not complete")
    entity_service.resume_runs()
    done = api.wait(project, run_id)
    assert done["state"] == "completed" and {"time_started", "time_completed"} <= set(done)
    assert done["total_number_comparisons"] == 16  # 4 x 4 records, all in one block
    assert api.result(project, run_id).json() == {"groups": [[[0, i], [1, i]] for i in range(4)]}
    listing = api.call("GET", f"/projects/{project['project_id']}/runs", project["result_token"]).json()
    assert [(r["run_id"], r["state"]) for r in listing] == [(run_id, "completed")]
    upload_token = project["update_tokens"][0]
    assert is_problem(api.result(project, run_id, upload_token), 403, INVALID_ACCESS)


def test_the_token_of_a_result_is_checked_only_once_the_run_is_complete(
    api: Api, entity_service: EntityService
) -> None:
    project = api.project()
    run_id = api.run(project)
    for token in (project["result_token"], project["update_tokens"][0], "f" * 48):
        assert is_problem(api.result(project, run_id, token), 404, "run is not complete", title=None)
    entity_service.faults.fail_runs(message="out of memory")
    upload_all(api, project, [json_clks(), json_clks()])
    assert api.wait(project, run_id)["state"] == "error"
    for token in (project["result_token"], "f" * 48):
        assert is_problem(api.result(project, run_id, token), 500, "Error during computation of run", title=None)


def test_bad_threshold_and_run_token(api: Api) -> None:
    project = api.project()
    runs = f"/projects/{project['project_id']}/runs"
    for threshold in (1.5, 0, -0.2):  # the real service's run model raises: a bare 500
        assert is_internal_error(api.call("POST", runs, project["result_token"], json={"threshold": threshold}))
    assert api.call("POST", runs, project["result_token"], json={"threshold": 1}).status_code == 201
    missing = api.call("POST", runs, project["result_token"], json={})
    assert is_problem(missing, 400, "'threshold' is a required property", "Bad Request")
    assert is_problem(api.call("POST", runs, project["update_tokens"][0], json={"threshold": 0.5}), 403)


def test_run_descriptions_always_have_a_name_and_notes(api: Api) -> None:
    project = api.project()
    runs = f"/projects/{project['project_id']}/runs"
    bare = api.call("POST", runs, project["result_token"], json={"threshold": 0.7}).json()
    assert bare == {"run_id": bare["run_id"], "threshold": 0.7, "name": "", "notes": ""}
    named = api.call("POST", runs, project["result_token"], json={"threshold": 0.7, "name": "n", "notes": "x"})
    described = api.call("GET", f"{runs}/{named.json()['run_id']}", project["result_token"]).json()
    assert described == {"run_id": named.json()["run_id"], "threshold": 0.7, "name": "n", "notes": "x"}


def test_problem_bodies_are_the_real_services(api: Api) -> None:
    project = api.project()
    pid, token = project["project_id"], project["result_token"]
    # The service's own checks: "title": null.
    assert is_problem(api.call("GET", f"/projects/{pid}", "f" * 48), 403, INVALID_ACCESS, title=None)
    # connexion's request validation: "Bad Request", and the field after " - ".
    wrong_type = api.call("POST", f"/projects/{pid}/runs", token, json={"threshold": "high"})
    assert is_problem(wrong_type, 400, "'high' is not of type 'number' - 'threshold'", "Bad Request")
    missing = api.call("POST", "/projects", json={"schema": {}})
    assert is_problem(missing, 400, "'result_type' is a required property", "Bad Request")
    # 415: the message is the title, and there is no detail.
    form = api.call(
        "POST", f"/projects/{pid}/runs", token, data=b"threshold=0.5", headers={"Content-Type": "text/plain"}
    )
    assert form.status_code == 415 and form.headers["Content-Type"] == "application/problem+json"
    assert form.json() == {
        "detail": None,
        "status": 415,
        "title": "Invalid Content-type (text/plain), expected JSON data",
        "type": "about:blank",
    }


def test_encodings_of_different_sizes_put_the_project_in_error(api: Api, entity_service: EntityService) -> None:
    project = api.project()
    pid, token = project["project_id"], project["result_token"]
    run_id = api.run(project)
    assert api.upload(project, 0, {"clks": b64(json_clks())}).status_code == 201  # 128 bytes each
    assert api.upload(project, 1, {"clks": b64([b"\1" * 64] * 3)}).status_code == 201
    status = api.status(project, run_id)
    assert status["state"] == "error" and status["message"] == SIZE_MISMATCH
    assert status["current_stage"]["number"] == 1 and "time_started" not in status
    assert api.call("GET", f"/projects/{pid}", token).json()["error"] is True
    assert is_problem(api.result(project, run_id), 500, "Error during computation of run", title=None)
    again = api.call("POST", f"/projects/{pid}/runs", token, json={"threshold": 0.5})
    assert is_problem(again, 500, "Can't post run as project has errors", title=None)
    listing = api.call("GET", f"/projects/{pid}/runs", token).json()
    assert [(r["run_id"], r["state"]) for r in listing] == [(run_id, "error")]


def test_encodings_not_of_the_schemas_size_put_the_project_in_error(api: Api) -> None:
    project = api.project(schema={"clkConfig": {"l": 512}})  # 64 bytes
    upload_all(api, project, [json_clks(), json_clks()])  # both 128 bytes: they agree, but not with the schema
    assert api.call("GET", f"/projects/{project['project_id']}", project["result_token"]).json()["error"] is True
    runs = f"/projects/{project['project_id']}/runs"
    refused = api.call("POST", runs, project["result_token"], json={"threshold": 0.5})
    assert is_problem(refused, 500, "Can't post run as project has errors")


def test_deletes_then_403(api: Api) -> None:
    project = api.project()
    pid, token = project["project_id"], project["result_token"]
    run_id = api.run(project)
    assert api.call("DELETE", f"/projects/{pid}/runs/{run_id}", token).status_code == 204
    assert is_problem(api.call("GET", f"/projects/{pid}/runs/{run_id}/status", token), 403, INVALID_ACCESS)
    assert is_problem(api.call("DELETE", f"/projects/{pid}", project["update_tokens"][0]), 403)
    deleted = api.call("DELETE", f"/projects/{pid}", token)
    assert deleted.status_code == 204 and deleted.content == b""
    assert is_problem(api.call("GET", f"/projects/{pid}", token), 403, INVALID_ACCESS)
    assert is_problem(api.upload(project, 0, {"clks": b64(json_clks())}), 403, INVALID_ACCESS)


# Real linkage ------------------------------------------------------------------------


def test_two_party_groups_are_correct(api: Api, entity_service: EntityService) -> None:
    data, truth = datasets([300, 250], shared=120)
    project = api.project("groups")
    upload_all(api, project, data)
    run_id = api.run(project, 0.8)
    assert api.wait(project, run_id)["state"] == "completed"
    groups = api.result(project, run_id).json()["groups"]
    assert sorted(groups) == sorted([[0, a], [1, b]] for a, b in truth)
    assert entity_service.clk_counts(project["project_id"]) == {0: 300, 1: 250}


def test_three_party_groups(api: Api) -> None:
    data, truth = datasets([60, 50, 40], shared=30, seed=3)
    project = api.project("groups", parties=3)
    upload_all(api, project, data)
    run_id = api.run(project, 0.8)
    assert api.wait(project, run_id)["state"] == "completed"
    groups = api.result(project, run_id).json()["groups"]
    assert sorted(groups) == sorted([[0, a], [1, b], [2, c]] for a, b, c in truth)


def test_similarity_scores_and_permutations(api: Api) -> None:
    data, truth = datasets([40, 30], shared=20, seed=5)
    scores_project = api.project("similarity_scores")
    upload_all(api, scores_project, data)
    run_id = api.run(scores_project, 0.8)
    api.wait(scores_project, run_id)
    scores = api.result(scores_project, run_id).json()["similarity_scores"]
    assert sorted((a[1], b[1]) for a, b, _ in scores) == sorted((a, b) for a, b in truth)
    assert all(0.8 <= s <= 1 for _, _, s in scores) and scores == sorted(scores, key=lambda x: -x[2])

    project = api.project("permutations")
    receipts = []
    for party, clks in enumerate(data):
        receipts.append(api.upload(project, party, {"clks": b64(clks)}).json()["receipt_token"])
    run_id = api.run(project, 0.8)
    api.wait(project, run_id)
    mask = api.result(project, run_id).json()["mask"]
    perm_a, perm_b = (api.result(project, run_id, r).json() for r in receipts)
    assert perm_a["rows"] == perm_b["rows"] == 40 == len(mask) and sum(mask) == 20
    assert sorted(perm_a["permutation"]) == list(range(40)) and len(set(perm_b["permutation"])) == 30
    for a, b in truth:
        assert perm_a["permutation"][a] == perm_b["permutation"][b] and mask[perm_a["permutation"][a]] == 1


def test_blocking_compares_only_within_blocks(api: Api, entity_service: EntityService) -> None:
    data, truth = datasets([20, 20], shared=20, seed=7)
    project = api.project("groups", uses_blocking=True)
    rows_a = {a: i for i, (a, _) in enumerate(truth)}
    rows_b = {b: i for i, (_, b) in enumerate(truth)}
    # Entities 0-9 share a block; for 10-19 the parties put them in different blocks.
    block_a = [[clk, "x" if rows_a[r] < 10 else "a"] for r, clk in enumerate(b64(data[0]))]
    block_b = [[clk, "x" if rows_b[r] < 10 else "b"] for r, clk in enumerate(b64(data[1]))]
    assert is_problem(api.upload(project, 0, {"clks": b64(data[0])}), 400)  # blocking needs clknblocks
    assert api.upload(project, 0, {"clknblocks": block_a}).status_code == 201
    assert api.upload(project, 1, {"clknblocks": block_b}).status_code == 201
    assert entity_service.received_blocks(project["project_id"], 1)[0] in (["x"], ["b"])
    run_id = api.run(project, 0.8)
    api.wait(project, run_id)
    groups = api.result(project, run_id).json()["groups"]
    assert sorted(groups) == sorted([[0, a], [1, b]] for a, b in truth[:10])


# Object store -----------------------------------------------------------------------------


def test_object_store_upload(api: Api, entity_service: EntityService, s3_server: S3Server) -> None:
    data, truth = datasets([30, 25], shared=10, seed=11)
    project = api.project("groups", uses_blocking=True)
    pid = project["project_id"]
    blocks = {"blocks": {str(i): ["all"] for i in range(30)}, "meta": {"source": {"clk_count": [30]}}}
    access = authorize(api, project, 0)
    enc = s3_put(
        s3_server,
        access,
        "encodings.json",
        json.dumps({"clks": b64(data[0])}).encode(),
        {"hash-count": "30", "hash-size": "128"},
    )
    blk = s3_put(s3_server, access, "blocks.json", json.dumps(blocks).encode(), {})
    body = {"encodings": external(access, enc), "blocks": external(access, blk)}
    assert api.upload(project, 0, body).status_code == 201
    upload = entity_service.uploads(pid)[0]
    assert upload is not None and upload.source == "object-store" and upload.count == 30
    assert upload.objects is not None and upload.objects["encodings"]["metadata"] == {
        "hash-count": "30",
        "hash-size": "128",
    }
    assert upload.blocks == [["all"]] * 30
    assert s3_server.list_objects("uploads", f"{pid}/") == []  # read, then deleted

    # Binary encodings, with metadata that does not fit, then fits.
    access = authorize(api, project, 1)
    raw = b"".join(data[1])
    bad = s3_put(s3_server, access, "encodings.bin", raw, {"hash-count": "24", "hash-size": "128"})
    assert is_problem(api.upload(project, 1, {"encodings": external(access, bad)}), 400)
    good = s3_put(s3_server, access, "encodings.bin", raw, {"hash-count": "25", "hash-size": "128"})
    blocks_b = {str(i): ["all"] for i in range(25)}
    assert api.upload(project, 1, {"encodings": external(access, good), "blocks": blocks_b}).status_code == 201
    assert entity_service.received_clks(pid, 1) == data[1]
    run_id = api.run(project, 0.8)
    api.wait(project, run_id)
    assert sorted(api.result(project, run_id).json()["groups"]) == sorted([[0, a], [1, b]] for a, b in truth)


def test_object_store_upload_refusals(api: Api, s3_server: S3Server) -> None:
    project = api.project()
    access = authorize(api, project, 0)
    clks = json.dumps({"clks": b64(json_clks())}).encode()
    path = s3_put(s3_server, access, "encodings.json", clks, {"hash-count": "4", "hash-size": "64"})
    assert is_problem(api.upload(project, 0, {"encodings": external(access, path)}), 400)  # wrong hash-size
    wrong_creds = external(access, path)
    wrong_creds["credentials"]["SecretAccessKey"] = "guess"
    assert is_problem(api.upload(project, 0, {"encodings": wrong_creds}), 400)
    missing = external(access, access["upload"]["path"] + "/nothing.json")
    assert is_problem(api.upload(project, 0, {"encodings": missing}), 400)


def test_mixed_direct_and_object_store_links_nothing(
    api: Api, entity_service: EntityService, s3_server: S3Server
) -> None:
    project = api.project("groups")
    clks = json_clks()
    assert api.upload(project, 0, {"clks": b64(clks)}).status_code == 201
    access = authorize(api, project, 1)
    path = s3_put(
        s3_server,
        access,
        "encodings.json",
        json.dumps({"clks": b64(clks)}).encode(),
        {"hash-count": "4", "hash-size": "128"},
    )
    assert api.upload(project, 1, {"encodings": external(access, path)}).status_code == 201
    assert entity_service.received_blocks(project["project_id"], 1) == [[OBJECT_STORE_DEFAULT_BLOCK]] * 4
    run_id = api.run(project, 0.5)
    assert api.wait(project, run_id)["state"] == "completed"
    assert api.result(project, run_id).json() == {"groups": []}


# Faults and recording ----------------------------------------------------------------------


def test_fault_injection(api: Api, entity_service: EntityService) -> None:
    faults = entity_service.faults
    rule = faults.fail_next(2, status=503, path_contains="/status", headers={"Retry-After": "1"})
    first = api.call("GET", "/status")
    assert is_problem(first, 503) and first.headers["Retry-After"] == "1"
    assert api.call("GET", "/status").status_code == 503
    assert api.call("GET", "/status").status_code == 200 and rule.hits == 2 and faults.rules == []

    faults.garbage(kind="html", status=502)
    html = api.call("GET", "/version")
    assert html.status_code == 502 and html.headers["Content-Type"] == "text/html"
    faults.garbage(kind="truncated", path_contains="/projects", process=True)
    truncated = api.call("POST", "/projects", json={"schema": {}, "result_type": "groups"})
    with pytest.raises(ValueError):
        truncated.json()
    assert len(entity_service.projects) == 1  # processed, only the answer was lost

    faults.drop(path_contains="/version")
    with pytest.raises(requests.ConnectionError):
        api.call("GET", "/version")

    faults.delay(0.3, n=1)
    started = time.monotonic()
    assert api.call("GET", "/status").status_code == 200 and time.monotonic() - started >= 0.3

    faults.hang(path_contains="/status")
    with pytest.raises(requests.Timeout):
        api.session.get(entity_service.api_url + "/status", timeout=0.3)
    assert faults.wait_hung(1, timeout=2)
    faults.release()
    assert api.call("GET", "/status").status_code == 200

    recorded = entity_service.requests_to("/status", method="GET")
    assert [r.status for r in recorded] == [503, 503, 200, 200, None, 200]
    assert [r.fault for r in recorded][:2] == ["status", "status"]


def test_run_error_fault(api: Api, entity_service: EntityService) -> None:
    entity_service.faults.fail_runs(message="out of memory")
    project = api.project()
    upload_all(api, project, [json_clks(), json_clks()])
    run_id = api.run(project)
    status = api.wait(project, run_id)
    assert status["state"] == "error" and status["message"] == "out of memory" and "time_started" not in status
    assert is_problem(api.result(project, run_id), 500, "Error during computation of run", title=None)


def test_records_bytes_on_the_wire(api: Api, entity_service: EntityService) -> None:
    project = api.project()
    body = json.dumps({"clks": b64(json_clks())}).encode()

    def chunks() -> Iterator[bytes]:
        yield body[:100]
        yield body[100:]

    path = f"/projects/{project['project_id']}/clks"
    headers = {"Content-Type": "application/json"}
    response = api.call("POST", path, project["update_tokens"][0], data=chunks(), headers=headers)
    assert response.status_code == 201
    (recorded,) = entity_service.requests_to("/clks", method="POST")
    assert recorded.chunked and recorded.body_size == len(body) and recorded.json() == json.loads(body)
    assert recorded.header("authorization") == project["update_tokens"][0]
    entity_service.reset()
    assert entity_service.requests == [] and entity_service.projects == {}


def test_started_by_hand() -> None:
    service = start_service_process(port=0, s3="start")
    try:
        assert re.match(r"^http://127\.0\.0\.1:\d+$", service.url)
        assert service.s3_endpoint and service.s3_endpoint.startswith("127.0.0.1:")
        assert requests.get(service.url + "/api/v1/status", timeout=5).json()["status"] == "ok"
    finally:
        service.stop()
    assert service.process.returncode == 0


@pytest.mark.parametrize("missing, arguments", [("yaml", ["--port", "0"]), ("moto", ["--port", "0", "--s3", "start"])])
def test_started_by_hand_without_the_test_requirements_says_what_to_install(missing: str, arguments: List[str]) -> None:
    """As after the README's set-up 1 (``pip install .``): one line saying what to install, exit 1."""
    hide = (
        "import runpy, sys\n"
        f"sys.modules[{missing!r}] = None  # import {missing} fails as when it is not installed\n"
        f"sys.argv = ['tests.entity_service', *{arguments!r}]\n"
        "runpy.run_module('tests.entity_service', run_name='__main__', alter_sys=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"python -m tests.entity_service needs the test requirements (no module named '{missing}'); "
        "install them with: pip install -e '.[test]'\n"
    )
