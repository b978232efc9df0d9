"""The test Entity Service: an HTTP server on 127.0.0.1 in a thread, serving :class:`.api.Api`.

Usage::

    service = EntityService(s3=S3Server.start()).start()
    requests.get(service.url + "/api/v1/status")
    ...
    service.stop()

It records every request it receives (:attr:`EntityService.requests`), applies
the faults tests inject (:attr:`EntityService.faults`) and offers helpers to
inspect what the parties uploaded. See :mod:`tests.entity_service.fixtures`
for the fixtures built on it.
"""

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional, Tuple

from tests.entity_service.api import Api
from tests.entity_service.faults import FaultRule, Faults
from tests.entity_service.framework import API_PREFIX, Problem, Violation
from tests.entity_service.objectstore import S3Server
from tests.entity_service.serving import HOST, LoopbackHTTPServer, LoopbackServer
from tests.entity_service.state import BlockId, Project, Run, Upload


@dataclass
class RecordedRequest:
    """A request as the service received it.

    :ivar path: the URL path (no query string), e.g. ``/api/v1/projects``.
    :ivar headers: the headers as sent (use :meth:`header` for a case-insensitive look-up).
    :ivar body: the body bytes (de-chunked); ``body_size`` is their count.
    :ivar chunked: whether it came with ``Transfer-Encoding: chunked``.
    :ivar status: the status answered (``None``: no answer, the connection was dropped or hung).
    :ivar fault: the kind of fault injected into it, if any.
    :ivar response_body: the body bytes answered.
    """

    method: str
    path: str
    query: str
    headers: Dict[str, str]
    body: bytes
    chunked: bool
    time: float
    status: Optional[int] = None
    fault: Optional[str] = None
    response_body: bytes = b""

    @property
    def body_size(self) -> int:
        """Bytes of body received."""
        return len(self.body)

    def header(self, name: str) -> Optional[str]:
        """A request header, by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer
    timeout = 120
    disable_nagle_algorithm = True  # no 40 ms stalls between header and body writes
    wbufsize = -1  # buffer the answer; http.server flushes it after each request

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.owner.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _read_body(self) -> Tuple[bytes, bool]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks), True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length else b""), False

    def handle_expect_100(self) -> bool:
        answer = super().handle_expect_100()
        self.wfile.flush()  # the 100 Continue must not wait in the buffer
        return answer

    def _serve(self) -> None:
        service: EntityService = self.server.owner
        try:
            body, chunked = self._read_body()
        except ValueError:
            self.close_connection = True
            unreadable = "The request body is not valid chunked encoding or Content-Length"
            problem = Problem.framework(400, unreadable).response()
            self.send_response(400)
            self.send_header("Content-Type", problem.content_type)
            self.send_header("Content-Length", str(len(problem.payload())))
            self.end_headers()
            self.wfile.write(problem.payload())
            return
        path, _, query = self.path.partition("?")
        record = RecordedRequest(self.command, path, query, dict(self.headers.items()), body, chunked, time.time())
        service._record(record)
        rule = service.faults.take(record)
        record.fault = rule.kind if rule else None
        if rule is not None and rule.kind in ("drop", "hang"):
            if rule.kind == "hang":
                service.faults.wait_released()
            self.close_connection = True
            return
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.seconds)
        if rule is not None and rule.kind == "status":
            self._answer(record, *self._fault_answer(rule))
            return
        if rule is not None and rule.kind == "garbage" and not rule.process:
            self._answer(record, rule.status, rule.body or b"", rule.content_type or "", {})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = service.api.handle(self.command, path, headers, body)
        if rule is not None and rule.kind == "garbage":
            self._answer(record, rule.status, rule.body or b"", rule.content_type or "", {})
            return
        self._answer(record, response.status, response.payload(), response.content_type, response.headers)

    @staticmethod
    def _fault_answer(rule: FaultRule) -> Tuple[int, bytes, str, Dict[str, str]]:
        if rule.body is not None:
            return rule.status, rule.body, rule.content_type or "application/json", rule.headers
        problem = Problem.framework(rule.status, f"Injected fault: HTTP {rule.status}", checked=True).response()
        return rule.status, problem.payload(), problem.content_type, rule.headers

    def _answer(
        self, record: RecordedRequest, status: int, body: bytes, content_type: str, headers: Dict[str, str]
    ) -> None:
        record.status, record.response_body = status, body
        try:
            self.send_response(status)
            if status != 204:
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if status != 204:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away


class EntityService:
    """The test Entity Service.

    :param s3: the object store authorize-external-upload points clients at
        (``None``: object-store uploads disabled; that endpoint then answers 500).
    :param port: TCP port on 127.0.0.1 (``0``: an ephemeral one).
    :param stage_delay: seconds a run waits before each state change.
    :param verbose: log each request to stderr.
    """

    def __init__(
        self, s3: Optional[S3Server] = None, port: int = 0, stage_delay: float = 0.05, verbose: bool = False
    ) -> None:
        self.host = HOST
        self.s3 = s3
        self.verbose = verbose
        self.faults = Faults()
        self.api = Api(s3, self.faults, stage_delay)
        self.requests: List[RecordedRequest] = []
        self._serving = LoopbackServer(_Handler, self, port, name="entity-service")
        self._lock = threading.Lock()

    # Life cycle -------------------------------------------------------------

    def start(self) -> "EntityService":
        """Start serving in a daemon thread; returns ``self``."""
        self._serving.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and stop run threads."""
        self.faults.release()
        self.api.stop()
        self._serving.stop()

    def reset(self) -> None:
        """Forget all projects, runs, recorded requests, violations and faults (keeps the port)."""
        old = self.api
        self.faults.clear()
        self.api = Api(self.s3, self.faults, old.stage_delay)
        old.stop()
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> "EntityService":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        assert self._serving.running, "start() the service first"
        return self._serving.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the client's ``--server`` value (the client adds ``/api/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        return self.url + API_PREFIX

    # Runs -------------------------------------------------------------------

    @property
    def stage_delay(self) -> float:
        """Seconds a run waits before each state change (settable)."""
        return self.api.stage_delay

    @stage_delay.setter
    def stage_delay(self, seconds: float) -> None:
        self.api.stage_delay = seconds

    def pause_runs(self, at: str = "running") -> None:
        """Hold runs in state ``at`` (``"queued"``, or ``"running"`` at stage 2) until :meth:`resume_runs`."""
        self.api.pause_runs(at)

    def resume_runs(self) -> None:
        """Let paused runs go on."""
        self.api.resume_runs()

    def wait_for_run(self, project_id: str, run_id: str, timeout: float = 30.0) -> Run:
        """Wait until a run is completed or in error (without HTTP); returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(project_id, run_id)
            if run.state in ("completed", "error"):
                return run
            time.sleep(0.01)
        raise TimeoutError(f"run {run_id} still {self.run(project_id, run_id).state} after {timeout} s")

    # Inspection -------------------------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def requests_to(self, path_contains: str = "", method: Optional[str] = None) -> List[RecordedRequest]:
        """The recorded requests whose path contains ``path_contains`` (and of ``method``, if given)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if path_contains in r.path and (method is None or r.method.upper() == method.upper())
            ]

    @property
    def projects(self) -> Dict[str, Project]:
        """Every project created, by id (deleted ones too, with ``deleted=True``)."""
        return self.api.projects

    def project(self, project_id: str) -> Project:
        """One project (``KeyError`` if there is none)."""
        return self.api.projects[project_id]

    def run(self, project_id: str, run_id: str) -> Run:
        """One run (``KeyError`` if there is none)."""
        return self.project(project_id).runs[run_id]

    def uploads(self, project_id: str) -> List[Optional[Upload]]:
        """Each party's :class:`~.state.Upload` (``None`` if it has not uploaded), in party order."""
        return [party.upload for party in self.project(project_id).parties]

    def clk_counts(self, project_id: str) -> Dict[int, int]:
        """CLKs received per party index, for the parties that uploaded."""
        return {i: u.count for i, u in enumerate(self.uploads(project_id)) if u is not None}

    def received_clks(self, project_id: str, party: int) -> List[bytes]:
        """The raw CLK bytes a party uploaded."""
        upload = self.uploads(project_id)[party]
        return list(upload.clks) if upload else []

    def received_blocks(self, project_id: str, party: int) -> List[List[BlockId]]:
        """The block ids of each record a party uploaded (after the service's defaults)."""
        upload = self.uploads(project_id)[party]
        return [list(b) for b in upload.blocks] if upload else []

    @property
    def contract_violations(self) -> List[Violation]:
        """Responses of this service that broke the OpenAPI contract (should stay empty)."""
        return self.api.contract_violations

    @property
    def request_violations(self) -> List[Violation]:
        """Requests that broke the contract (each was answered 400, like the real service)."""
        return self.api.request_violations

    @property
    def server_errors(self) -> List[str]:
        """Tracebacks of unexpected exceptions in the service (each answered 500; should stay empty)."""
        return self.api.server_errors

    def check(self) -> None:
        """Raise ``AssertionError`` if the service broke its contract or crashed."""
        problems = [f"contract violation: {v}" for v in self.contract_violations]
        problems += [f"server error: {e}" for e in self.server_errors]
        if problems:
            raise AssertionError("test Entity Service:\n" + "\n".join(problems))

    def __repr__(self) -> str:
        where = self.url if self._serving.running else "stopped"
        return f"EntityService({where}, s3={self.s3!r})"
