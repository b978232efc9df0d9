"""pytest fixtures: the test Entity Service and the local S3 server (loaded by ``tests/conftest.py``).

Everything listens on 127.0.0.1 only, on ephemeral ports.

Fixtures
========

``s3_server`` (session scope) -> :class:`tests.entity_service.objectstore.S3Server`
    A moto S3 server in this process.

    - ``.endpoint`` ``"127.0.0.1:PORT"`` (for ``minio.Minio(endpoint, secure=False)``),
      ``.url`` ``"http://127.0.0.1:PORT"`` (for boto3's ``endpoint_url``), ``.host``, ``.port``;
    - ``.access_key``, ``.secret_key`` (``"testing"``), ``.region`` (``"us-east-1"``):
      admin credentials (moto accepts any credentials anyway);
    - ``.boto3_client(access_key=None, secret_key=None, session_token=None)``,
      ``.minio_client(access_key=None, secret_key=None, session_token=None)``;
    - ``.ensure_bucket(bucket)``, ``.list_objects(bucket, prefix="") -> [key, ...]``,
      ``.reset()`` (drop all buckets; shared by the whole session, so only if you must).

``entity_service`` (function scope) -> :class:`tests.entity_service.server.EntityService`
    A fresh service per test, using ``s3_server`` for object-store uploads. At
    teardown the test fails if the service answered anything that breaks the
    OpenAPI contract or crashed (see ``.check()``).

    Addresses:
      ``.url`` ``"http://127.0.0.1:PORT"`` (the client's ``--server``; the API is at
      ``.api_url`` = ``.url + "/api/v1"``), ``.port``, ``.s3`` (the ``S3Server``).

    Faults (``.faults``, :class:`tests.entity_service.faults.Faults`); each call
    adds a rule; per request the first matching unused rule applies; ``n=None``
    means every matching request; ``path_contains`` is a substring of the URL
    path (e.g. ``"/clks"``, ``"/status"``), ``method`` e.g. ``"POST"``:
      - ``.fail_next(n=1, status=503, path_contains=None, method=None, body=None,
        content_type=None, headers=None)``: answer ``status`` (a problem+json body unless
        ``body`` bytes are given), the request is *not* processed;
      - ``.delay(seconds, n=None, path_contains=None, method=None)``: slow answers;
      - ``.hang(n=1, path_contains=None, method=None)``: accept, never answer until
        ``.release()``, then close the connection unanswered; ``.wait_hung(count=1, timeout=10)``
        waits until requests are hung, ``.hung`` counts them;
      - ``.drop(n=1, ...)``: close the connection without an answer;
      - ``.garbage(n=1, kind="html"|"truncated"|"empty"|"not-json", status=200, path_contains=None,
        method=None, process=False)``: a garbage body (``process=True``: the request takes
        effect first, only its answer is lost);
      - ``.fail_runs(n=1, message="Injected failure")``: the next runs end in state ``error``;
      - ``.clear()``; ``.rules`` (pending rules, each with ``.hits`` and ``.remaining``).

    Runs:
      ``.stage_delay`` (seconds before each run state change, default 0.05; settable),
      ``.pause_runs(at="running")`` (hold runs ``"queued"`` or ``"running"`` at stage 2),
      ``.resume_runs()``, ``.wait_for_run(project_id, run_id, timeout=30) -> Run``.

    Inspection:
      - ``.requests``: every request received, in order, as ``RecordedRequest`` with
        ``.method``, ``.path`` (no query), ``.query``, ``.headers`` (as sent),
        ``.header(name)`` (case-insensitive), ``.body`` (bytes, de-chunked), ``.body_size``,
        ``.chunked``, ``.json()``, ``.status`` (``None`` if unanswered), ``.fault``,
        ``.response_body``;
      - ``.requests_to(path_contains="", method=None) -> [RecordedRequest]``;
      - ``.projects`` ``{project_id: Project}``, ``.project(project_id)``, ``.run(project_id, run_id)``
        (dataclasses of :mod:`tests.entity_service.state`: ``Project.parties[i].upload``,
        ``.update_token``, ``.dp_id``, ``.object_store_access``; ``Run.state``, ``.stage``, ``.result``);
      - ``.uploads(project_id) -> [Upload | None]`` per party (``Upload.clks`` raw bytes,
        ``.blocks``, ``.count``, ``.encoding_size``, ``.source`` in ``"clks"``, ``"clknblocks"``,
        ``"encodings"``, ``"binaryclks"``, ``"object-store"``, ``.receipt_token``, ``.objects`` = what was read from
        S3: ``{"encodings": {"bucket", "path", "metadata", "size"}, "blocks": ... | None, "credentials"}``);
      - ``.clk_counts(project_id) -> {party_index: count}``,
        ``.received_clks(project_id, party) -> [bytes]``,
        ``.received_blocks(project_id, party) -> [[block_id, ...], ...]``;
      - ``.contract_violations`` (the service's own answers; teardown fails on any),
        ``.request_violations`` (requests that broke the contract, answered 400 as the real
        service would; informational), ``.server_errors`` (tracebacks; teardown fails on any).

    ``.reset()`` forgets projects, requests, faults and violations, keeping the port.

``s3_proxy`` (function scope) -> :class:`tests.entity_service.fault_proxy.FaultProxy`
    A fault-injecting HTTP proxy on 127.0.0.1 in front of ``s3_server``, for object-store
    faults. Point uploads at it with ``UPLOAD_OBJECT_STORE_SERVER=<s3_proxy.url>``.
    ``.deny(n=1, status=403, code="AccessDenied", message=..., method=None, path_contains=None,
    query_contains=None)`` (an S3 XML error, not forwarded), ``.expire_credentials(after=0)``
    (``403 ExpiredToken`` for the first access key seen, after ``after`` requests signed with it),
    ``.cut(n=1, after_bytes=0, ...)`` (reset the connection after that much of the body),
    ``.vanish(after_bytes=0, ...)`` (cut, then stop listening: connections refused from then on),
    ``.hang(n=1, ...)`` / ``.release()``; ``.requests`` / ``.requests_to(method, query_contains,
    path_contains)`` (method, path, query, ``access_key``, ``content_length``, ``body_size``,
    ``status``, ``fault``). ``FaultProxy(host, port, ssl_context)`` serves HTTPS in front of any
    local server (e.g. the test Entity Service with a self-signed certificate).

``entity_service_process`` (session scope) -> :class:`tests.entity_service.process.ServiceProcess`
    ``python -m tests.entity_service --port 0 --s3 start`` in a subprocess (for code
    that cannot share this process, e.g. notebooks): ``.url``, ``.s3_endpoint``,
    ``.process`` (the ``Popen``). No inspection or faults: it is another process.

Without fixtures: ``EntityService(s3=None | S3Server, port=0, stage_delay=0.05).start()``
(``s3=None`` disables object-store uploads: authorize-external-upload answers 500),
``S3Server.start()``, and :func:`tests.entity_service.process.start_service_process`.
"""

from typing import TYPE_CHECKING, Iterator

import pytest

from tests.entity_service.process import ServiceProcess, start_service_process

if TYPE_CHECKING:  # imported when a fixture is used, so that loading this plugin stays cheap
    from tests.entity_service.fault_proxy import FaultProxy
    from tests.entity_service.objectstore import S3Server
    from tests.entity_service.server import EntityService


@pytest.fixture(scope="session")
def s3_server() -> Iterator["S3Server"]:
    """A moto S3 server on 127.0.0.1 for the whole session."""
    from tests.entity_service.objectstore import S3Server

    server = S3Server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def entity_service(s3_server: "S3Server") -> Iterator["EntityService"]:
    """A fresh test Entity Service for one test; fails the test if it broke the API contract."""
    from tests.entity_service.server import EntityService

    service = EntityService(s3=s3_server).start()
    try:
        yield service
    finally:
        service.stop()
    try:
        service.check()
        failure = None
    except AssertionError as exc:
        failure = str(exc)
    if failure:
        pytest.fail(failure, pytrace=False)


@pytest.fixture
def s3_proxy(s3_server: "S3Server") -> Iterator["FaultProxy"]:
    """A fault-injecting proxy in front of the session's S3 server, for one test."""
    from tests.entity_service.fault_proxy import FaultProxy

    proxy = FaultProxy(s3_server.host, s3_server.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def entity_service_process() -> Iterator[ServiceProcess]:
    """The test Entity Service and an S3 server in a subprocess, for the session."""
    service = start_service_process(port=0, s3="start")
    try:
        yield service
    finally:
        service.stop()
