"""The Entity Service API itself: routing, the real service's auth rules, uploads and runs.

:meth:`Api.handle` takes a request (method, path, headers, body bytes) and
returns a :class:`Response`; it knows nothing of sockets (see :mod:`.server`).
Like the real service (connexion), it first checks the request against the
OpenAPI contract (400 problem on failure), then runs the view, and finally
checks its own response against the contract, recording any violation in
:attr:`Api.contract_violations` (the fixtures fail the test on those).
"""

import http
import json
import platform
import secrets
import string
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

import anonlink

from tests.entity_service import linkage
from tests.entity_service.contract import API_PREFIX, RESULT_SCHEMAS, shared_contract
from tests.entity_service.faults import Faults
from tests.entity_service.objectstore import S3Server
from tests.entity_service.state import (
    RUN_STAGES,
    STAGE_DESCRIPTIONS,
    Party,
    Project,
    Run,
    Upload,
    new_token,
    utc_now,
)
from tests.entity_service.uploads import (
    BinaryBody,
    ObjectStoreAccess,
    UploadError,
    parse_binary_upload,
    parse_upload,
)

INVALID_ACCESS = "Invalid access token or project doesn't exist"
INTERNAL_ERROR = (
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)
UPLOAD_BUCKET = "anonlink-uploads"
ENTITY_SERVICE_VERSION = "v1.15.1"


@dataclass
class Response:
    """An answer: status, JSON body (or ``raw`` bytes), content type, extra headers.

    :ivar extra_schema: a schema the body must fit besides the contract's (results, run status).
    :ivar checked: whether the contract applies (not for framework answers: unknown path, 405, 415).
    """

    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: Dict[str, str] = field(default_factory=dict)
    raw: Optional[bytes] = None
    extra_schema: Optional[Dict[str, Any]] = None
    checked: bool = True

    def payload(self) -> bytes:
        """The body bytes to send."""
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


class Problem(Exception):
    """An error answer, ``application/problem+json`` ``{"detail", "status", "title", "type"}``."""

    def __init__(self, status: int, detail: str, checked: bool = True) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.checked = checked

    def response(self) -> Response:
        """The problem as a response."""
        body = {
            "detail": self.detail,
            "status": self.status,
            "title": http.HTTPStatus(self.status).phrase,
            "type": "about:blank",
        }
        return Response(self.status, body, "application/problem+json", checked=self.checked)


@dataclass
class Violation:
    """A request or response that broke the OpenAPI contract."""

    method: str
    path: str
    status: Optional[int]
    problems: List[str]

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.method} {self.path}{status}: " + "; ".join(self.problems)


Handler = Callable[["Api", Dict[str, str], Optional[str], Any], Response]
ROUTES: Dict[Tuple[str, str], Handler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a view for ``method`` on an OpenAPI path template."""

    def register(view: Handler) -> Handler:
        ROUTES[(method, template)] = view
        return view

    return register


class Api:
    """The service's state and views.

    :param s3: the object store for external uploads (``None``: disabled, as an
        administrator can do; authorize-external-upload then answers 500).
    :param faults: the fault injection (run faults are taken from it).
    :param stage_delay: seconds a run waits before each state change, so that
        polling clients see queued, running (stage 2, 3) and completed.
    """

    def __init__(self, s3: Optional[S3Server], faults: Faults, stage_delay: float = 0.05) -> None:
        self.s3 = s3
        self.faults = faults
        self.stage_delay = stage_delay
        self.contract = shared_contract()
        self.lock = threading.RLock()
        self.projects: Dict[str, Project] = {}
        self.contract_violations: List[Violation] = []
        self.request_violations: List[Violation] = []
        self.server_errors: List[str] = []
        self.rate = 0
        self._next_dp_id = 1
        self._uploading: set = set()
        self._gates = {"queued": threading.Event(), "running": threading.Event()}
        for gate in self._gates.values():
            gate.set()
        self._stopped = threading.Event()

    # Requests ---------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> Response:
        """Answer one request. ``headers`` keys must be lower case; ``path`` has no query string."""
        template: Optional[str]
        try:
            template, params, parsed = self._check_request(method, path, headers, body)
            response = ROUTES[(method, template)](self, params, headers.get("authorization"), parsed)
        except Problem as problem:
            response = problem.response()
            template = self._template(path)
        except Exception:
            with self.lock:
                self.server_errors.append(f"{method} {path}\n{traceback.format_exc()}")
            return Problem(500, INTERNAL_ERROR, checked=False).response()
        if response.checked and template is not None:
            self._check_response(method, path, template, response)
        return response

    def _template(self, path: str) -> Optional[str]:
        matched = self.contract.match(path[len(API_PREFIX) :]) if path.startswith(API_PREFIX + "/") else None
        return matched[0] if matched else None

    def _check_request(
        self, method: str, path: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[str, Dict[str, str], Any]:
        matched = self.contract.match(path[len(API_PREFIX) :]) if path.startswith(API_PREFIX + "/") else None
        if matched is None:
            raise Problem(
                404,
                "The requested URL was not found on the server. If you entered the URL manually please check "
                "your spelling and try again.",
                checked=False,
            )
        template, params = matched
        operation = self.contract.operation(method, template)
        if operation is None:
            raise Problem(405, "The method is not allowed for the requested URL.", checked=False)
        if (method, template) not in ROUTES:
            raise Problem(501, f"{method} {template} is not implemented by the test Entity Service", checked=False)
        parsed: Any = None
        has_body = bool(body.strip())
        declared = operation.get("requestBody", {}).get("content", {})
        if has_body and "application/octet-stream" in declared:  # binaryclks: the raw bytes
            content_type = headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/octet-stream":
                raise Problem(415, f"Invalid Content-type ({content_type}), expected binary data", checked=False)
            parsed = BinaryBody(headers, body)
        elif operation.get("requestBody") and has_body:
            content_type = headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise Problem(415, f"Invalid Content-type ({content_type}), expected JSON data", checked=False)
            try:
                parsed = json.loads(body)
            except ValueError:
                self._violation(self.request_violations, method, path, None, ["Request body is not valid JSON"])
                raise Problem(400, "Request body is not valid JSON") from None
        problems = self.contract.request_problems(method, template, headers, parsed, has_body)
        if problems:
            self._violation(self.request_violations, method, path, None, problems)
            raise Problem(400, problems[0])
        return template, params, parsed

    def _check_response(self, method: str, path: str, template: str, response: Response) -> None:
        problems = self.contract.response_problems(
            method, template, response.status, response.content_type, response.body, response.extra_schema
        )
        if isinstance(response.body, dict) and response.status >= 400:
            if response.content_type != "application/problem+json":
                problems.append("an error must be application/problem+json")
        if problems:
            self._violation(self.contract_violations, method, path, response.status, problems)

    def _violation(
        self, where: List[Violation], method: str, path: str, status: Optional[int], problems: List[str]
    ) -> None:
        with self.lock:
            where.append(Violation(method, path, status, problems))

    # Auth -------------------------------------------------------------------

    def _project(self, project_id: str) -> Project:
        with self.lock:
            project = self.projects.get(project_id)
        if project is None or project.deleted:
            raise Problem(403, INVALID_ACCESS)
        return project

    def _require_result_token(self, project: Project, token: Optional[str]) -> None:
        if token != project.result_token:
            raise Problem(403, INVALID_ACCESS)

    def _authorise_get(self, project: Project, token: Optional[str]) -> Optional[Party]:
        """Reading a project, its runs or results: the result token, or for
        permutations also a party's receipt token (that party is returned)."""
        if token == project.result_token:
            return None
        party = project.party_by_receipt_token(token) if project.result_type == "permutations" else None
        if party is None:
            raise Problem(403, INVALID_ACCESS)
        return party

    def _run(self, project: Project, run_id: str) -> Run:
        run = project.runs.get(run_id)
        if run is None or run.deleted:
            raise Problem(403, INVALID_ACCESS)
        return run

    # General ----------------------------------------------------------------

    @route("GET", "/status")
    def get_status(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        with self.lock:
            count = len(self.projects)
        return Response(200, {"status": "ok", "project_count": count, "rate": self.rate})

    @route("GET", "/version")
    def get_version(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        versions = {"anonlink": anonlink.__version__, "entityservice": ENTITY_SERVICE_VERSION}
        return Response(200, dict(versions, python=platform.python_version()))

    # Projects ---------------------------------------------------------------

    @route("GET", "/projects")
    def get_projects(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        with self.lock:
            listing = [
                {"project_id": p.project_id, "time_added": p.time_added}
                for p in self.projects.values()
                if not p.deleted
            ]
        return Response(200, listing)

    @route("POST", "/projects")
    def post_projects(self, params: Dict[str, str], token: Optional[str], body: Dict[str, Any]) -> Response:
        number_parties = body.get("number_parties", 2)
        if body["result_type"] != "groups" and number_parties != 2:
            raise Problem(400, 'Multi-party linkage requires result type "groups".')
        with self.lock:
            first_dp = self._next_dp_id
            self._next_dp_id += number_parties
            project = Project(
                project_id=new_token(),
                result_token=new_token(),
                schema=body["schema"],
                result_type=body["result_type"],
                number_parties=number_parties,
                uses_blocking=bool(body.get("uses_blocking", False)),
                name=body.get("name", ""),
                notes=body.get("notes", ""),
                parties=[Party(i, new_token(), first_dp + i) for i in range(number_parties)],
            )
            self.projects[project.project_id] = project
        return Response(
            201,
            {
                "project_id": project.project_id,
                "result_token": project.result_token,
                "update_tokens": project.update_tokens,
            },
        )

    @route("GET", "/projects/{project_id}")
    def get_project(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        self._authorise_get(project, token)
        description = {
            "project_id": project.project_id,
            "name": project.name,
            "notes": project.notes,
            "schema": project.schema,
            "result_type": project.result_type,
            "number_parties": project.number_parties,
            "uses_blocking": project.uses_blocking,
            "parties_contributed": project.parties_contributed,
            "error": False,
        }
        return Response(200, description)

    @route("DELETE", "/projects/{project_id}")
    def delete_project(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        self._require_result_token(project, token)
        with self.lock:
            project.deleted = True
            for run in project.runs.values():
                run.deleted = True
        return Response(204)

    @route("GET", "/projects/{project_id}/authorize-external-upload")
    def authorize_external_upload(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        party = project.party_by_update_token(token)
        if party is None:
            if token == project.result_token:
                # The real service fails looking up a data provider for a result token.
                raise Problem(500, INTERNAL_ERROR)
            raise Problem(403, INVALID_ACCESS)
        if self.s3 is None:
            raise Problem(500, "The object store upload feature is disabled on this server.")
        self.s3.ensure_bucket(UPLOAD_BUCKET)
        access_key = "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        secret_key = secrets.token_urlsafe(30)
        expiration = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(hours=12)
        answer = {
            "credentials": {
                "AccessKeyId": access_key,
                "SecretAccessKey": secret_key,
                "SessionToken": secrets.token_urlsafe(96),
                "Expiration": expiration.isoformat(),
            },
            "upload": {
                "bucket": UPLOAD_BUCKET,
                "endpoint": self.s3.endpoint,
                "path": f"{project.project_id}/{party.dp_id}",
                "secure": False,
            },
        }
        with self.lock:
            party.object_store_access = answer
            party.issued_access_keys[access_key] = secret_key
        return Response(201, answer)

    @route("POST", "/projects/{project_id}/clks")
    def post_clks(self, params: Dict[str, str], token: Optional[str], body: Dict[str, Any]) -> Response:
        project = self._project(params["project_id"])
        party = project.party_by_update_token(token)
        if party is None:
            raise Problem(403, INVALID_ACCESS)
        key = (project.project_id, party.index)
        with self.lock:
            if party.upload is not None or key in self._uploading:
                raise Problem(403, "This token has already been used to upload clks.")
            self._uploading.add(key)
        try:
            access = ObjectStoreAccess(
                self.s3,
                f"{project.project_id}/{party.dp_id}" if party.issued_access_keys else None,
                dict(party.issued_access_keys),
            )
            try:
                parsed = parse_upload(body, project.uses_blocking, access)
            except UploadError as exc:
                raise Problem(400, str(exc)) from None
            size = len(parsed.clks[0])
            expected = project.schema_encoding_size()
            if expected is not None and size != expected:
                raise Problem(400, f"encodings are {size} bytes, but the linkage schema says {expected} bytes")
            with self.lock:
                others = [p.upload.encoding_size for p in project.parties if p.upload is not None]
                if others and others[0] != size:
                    raise Problem(400, f"encodings are {size} bytes, but another party's are {others[0]} bytes")
                receipt = new_token()
                party.upload = Upload(parsed.clks, parsed.blocks, parsed.source, receipt, parsed.objects)
                if project.all_uploaded:
                    for run in project.runs.values():
                        if run.state == "created" and not run.deleted:
                            self._queue(project, run)
        finally:
            with self.lock:
                self._uploading.discard(key)
        return Response(201, {"message": "Updated", "receipt_token": receipt})

    @route("POST", "/projects/{project_id}/binaryclks")
    def post_binaryclks(self, params: Dict[str, str], token: Optional[str], body: BinaryBody) -> Response:
        project = self._project(params["project_id"])
        party = project.party_by_update_token(token)
        if party is None:
            raise Problem(403, INVALID_ACCESS)
        with self.lock:
            if party.upload is not None or (project.project_id, party.index) in self._uploading:
                raise Problem(403, "This token has already been used to upload clks.")
            try:
                parsed = parse_binary_upload(body, project.schema_encoding_size())
            except UploadError as exc:
                raise Problem(400, str(exc)) from None
            size = len(parsed.clks[0])
            others = [p.upload.encoding_size for p in project.parties if p.upload is not None]
            if others and others[0] != size:
                raise Problem(400, f"encodings are {size} bytes, but another party's are {others[0]} bytes")
            receipt = new_token()
            party.upload = Upload(parsed.clks, parsed.blocks, parsed.source, receipt)
            if project.all_uploaded:
                for run in project.runs.values():
                    if run.state == "created" and not run.deleted:
                        self._queue(project, run)
        return Response(201, {"message": "Updated", "receipt_token": receipt})

    # Runs -------------------------------------------------------------------

    @route("POST", "/projects/{project_id}/runs")
    def post_runs(self, params: Dict[str, str], token: Optional[str], body: Dict[str, Any]) -> Response:
        project = self._project(params["project_id"])
        self._require_result_token(project, token)
        threshold = body["threshold"]
        if not 0.0 < threshold <= 1.0:
            raise Problem(400, "Threshold parameter out of range")
        run = Run(new_token(), float(threshold), body.get("name"), body.get("notes"))
        with self.lock:
            project.runs[run.run_id] = run
            if project.all_uploaded:
                self._queue(project, run)
        return Response(201, self._describe_run(run))

    @route("GET", "/projects/{project_id}/runs")
    def get_runs(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        self._authorise_get(project, token)
        with self.lock:
            runs = [r for r in project.runs.values() if not r.deleted]
            listing = [{"run_id": r.run_id, "time_added": r.time_added, "state": r.state} for r in runs]
        return Response(200, listing)

    @route("GET", "/projects/{project_id}/runs/{run_id}")
    def get_run(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        run = self._run(project, params["run_id"])
        self._authorise_get(project, token)
        return Response(200, self._describe_run(run))

    @route("DELETE", "/projects/{project_id}/runs/{run_id}")
    def delete_run(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        run = self._run(project, params["run_id"])
        self._require_result_token(project, token)
        with self.lock:
            run.deleted = True
        return Response(204)

    @route("GET", "/projects/{project_id}/runs/{run_id}/status")
    def get_run_status(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        run = self._run(project, params["run_id"])
        self._authorise_get(project, token)
        with self.lock:
            stage: Dict[str, Any] = {"number": run.stage, "description": STAGE_DESCRIPTIONS[run.stage]}
            if run.stage == 1:
                done = project.parties_contributed
                stage["progress"] = {
                    "absolute": done,
                    "relative": done / project.number_parties,
                    "description": "number of parties already contributed",
                }
            elif run.stage == 2 and run.progress is not None:
                stage["progress"] = dict(run.progress)
            status: Dict[str, Any] = {
                "time_added": run.time_added,
                "state": run.state,
                "stages": RUN_STAGES,
                "current_stage": stage,
            }
            if run.time_started is not None:
                status["time_started"] = run.time_started
            if run.state == "completed":
                status["time_completed"] = run.time_completed
            if run.state == "error":
                status["message"] = run.message
                if run.detail:
                    status["detail"] = run.detail
        return Response(200, status, extra_schema=self.contract.run_status_schema(run.state))

    @route("GET", "/projects/{project_id}/runs/{run_id}/result")
    def get_run_result(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        run = self._run(project, params["run_id"])
        party = self._authorise_get(project, token)
        with self.lock:
            state, result = run.state, run.result
        if state == "error":
            raise Problem(500, "Error during computation of run")
        if state != "completed" or result is None:
            raise Problem(404, "run is not complete")
        if project.result_type != "permutations":
            return Response(200, result, extra_schema=RESULT_SCHEMAS[project.result_type])
        if party is None:
            return Response(200, {"mask": result["mask"]}, extra_schema=RESULT_SCHEMAS["mask"])
        answer = {"permutation": result["permutations"][party.index], "rows": result["rows"]}
        return Response(200, answer, extra_schema=RESULT_SCHEMAS["permutation"])

    @staticmethod
    def _describe_run(run: Run) -> Dict[str, Any]:
        description: Dict[str, Any] = {"run_id": run.run_id, "threshold": run.threshold}
        for key in ("name", "notes"):
            if getattr(run, key) is not None:
                description[key] = getattr(run, key)
        return description

    # Run execution ------------------------------------------------------------

    def pause_runs(self, at: str = "running") -> None:
        """Hold runs in state ``at`` (``"queued"``, or ``"running"`` at stage 2) until :meth:`resume_runs`."""
        self._gates[at].clear()

    def resume_runs(self) -> None:
        """Let paused runs go on."""
        for gate in self._gates.values():
            gate.set()

    def stop(self) -> None:
        """Make every run thread give up (the service is shutting down or being reset)."""
        self._stopped.set()
        self.resume_runs()

    def _queue(self, project: Project, run: Run) -> None:
        """Queue a run and start computing it (call with the lock held)."""
        run.state = "queued"
        thread = threading.Thread(target=self._execute, args=(project, run), name=f"run-{run.run_id[:8]}", daemon=True)
        thread.start()

    def _proceed(self, run: Run, gate: Optional[str] = None) -> bool:
        """Wait the stage delay (and for ``gate``, if paused); False if the run is gone."""
        deadline = time.monotonic() + self.stage_delay
        while time.monotonic() < deadline or (gate is not None and not self._gates[gate].is_set()):
            if run.deleted or self._stopped.is_set():
                return False
            time.sleep(0.01)
        return not (run.deleted or self._stopped.is_set())

    def _execute(self, project: Project, run: Run) -> None:
        try:
            if not self._proceed(run, "queued"):
                return
            with self.lock:
                run.state, run.stage, run.time_started = "running", 2, utc_now()
                datasets = [p.upload.clks for p in project.parties if p.upload is not None]
                blocks = [p.upload.blocks for p in project.parties if p.upload is not None]
                total = linkage.comparison_count(blocks)
                run.progress = {"absolute": 0, "relative": 0.0, "description": "number of already computed comparisons"}
            if not self._proceed(run, "running"):
                return
            failure = self.faults.take_run_fault()
            if failure is not None:
                self._fail(run, failure)
                return
            started = time.monotonic()
            candidates = linkage.find_candidates(datasets, blocks, run.threshold)
            self.rate = int(total / max(time.monotonic() - started, 1e-6))
            with self.lock:
                run.progress = dict(run.progress or {}, absolute=total, relative=1.0)
            if not self._proceed(run):
                return
            with self.lock:
                run.stage, run.progress = 3, None
            if project.result_type == "groups":
                result = linkage.groups_result(candidates)
            elif project.result_type == "similarity_scores":
                result = linkage.similarity_scores_result(candidates)
            else:
                sizes = [len(clks) for clks in datasets]
                result = linkage.permutations_result(candidates, sizes, secrets.randbits(32))
            if not self._proceed(run):
                return
            with self.lock:
                run.result, run.state, run.time_completed = result, "completed", utc_now()
        except Exception as exc:
            with self.lock:
                self.server_errors.append(f"run {run.run_id}\n{traceback.format_exc()}")
            self._fail(run, "Error during computation of run", f"{type(exc).__name__}: {exc}")

    def _fail(self, run: Run, message: str, detail: Optional[str] = None) -> None:
        with self.lock:
            run.state, run.message, run.detail = "error", message, detail
            run.time_started = run.time_started or utc_now()
