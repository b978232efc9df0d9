"""The Entity Service API itself: its views, with the real service's auth rules and answers.

Each view is registered with :func:`~.framework.route` for an operation of the
OpenAPI definition; :class:`~.framework.Framework` (what connexion and flask do
for the real service: contract checks, problem bodies) calls it. Uploads are
read by :mod:`.uploads`, runs are computed by the scheduler of :mod:`.runs`.
"""

import platform
import secrets
import string
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import anonlink

from tests.entity_service.contract import RESULT_SCHEMAS
from tests.entity_service.faults import Faults
from tests.entity_service.framework import INTERNAL_ERROR, Framework, Problem, Response, route
from tests.entity_service.objectstore import S3Server
from tests.entity_service.runs import RunScheduler
from tests.entity_service.state import (
    RUN_STAGES,
    STAGE_DESCRIPTIONS,
    Party,
    Project,
    Run,
    Upload,
    new_token,
)
from tests.entity_service.uploads import (
    BinaryBody,
    ObjectStoreAccess,
    UploadError,
    parse_binary_upload,
    parse_upload,
)

INVALID_ACCESS = "Invalid access token or project doesn't exist"
#: The object-store bucket of a default deployment of the real service.
UPLOAD_BUCKET = "uploads"
#: The real service's answer (500) to authorize-external-upload when its object store is turned off.
OBJECT_STORE_DISABLED = "Retrieving temporary object store credentials feature disabled"
BLOCKING_DISABLED = "Blocking has been disabled for this project, but received blocking information"
PROJECT_IN_ERROR = "Can't post run as project has errors"
ENTITY_SERVICE_VERSION = "v1.15.1"


class Api(Framework):
    """The service's state and views.

    :param s3: the object store for external uploads (``None``: disabled, as an
        administrator can do; authorize-external-upload then answers 500).
    :param faults: the fault injection (run faults are taken from it).
    :param stage_delay: seconds a run waits before each state change, so that
        polling clients see queued, running (stage 2, 3) and completed.
    """

    def __init__(self, s3: Optional[S3Server], faults: Faults, stage_delay: float = 0.05) -> None:
        super().__init__()
        self.s3 = s3
        self.faults = faults
        self.projects: Dict[str, Project] = {}
        self.runs = RunScheduler(self.lock, faults, self.server_errors, stage_delay)
        self._next_dp_id = 1
        self._uploading: set = set()

    @property
    def stage_delay(self) -> float:
        """Seconds a run waits before each state change (settable)."""
        return self.runs.stage_delay

    @stage_delay.setter
    def stage_delay(self, seconds: float) -> None:
        self.runs.stage_delay = seconds

    def pause_runs(self, at: str = "running") -> None:
        """Hold runs in state ``at`` (``"queued"``, or ``"running"`` at stage 2) until :meth:`resume_runs`."""
        self.runs.pause_runs(at)

    def resume_runs(self) -> None:
        """Let paused runs go on."""
        self.runs.resume_runs()

    def stop(self) -> None:
        """Make every run thread give up (the service is shutting down or being reset)."""
        self.runs.stop()

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

    def _upload_party(self, project: Project, token: Optional[str]) -> Party:
        """The party whose upload token this is. Any other token (a wrong one, the result
        token) makes the real service fail looking up the data provider: a bare 500."""
        party = project.party_by_update_token(token)
        if party is None:
            raise Problem.framework(500, INTERNAL_ERROR, checked=True)
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
        return Response(200, {"status": "ok", "project_count": count, "rate": self.runs.rate})

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
            "error": project.error,
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
        if self.s3 is None:  # checked first, as the real service does
            raise Problem(500, OBJECT_STORE_DISABLED, "Feature Disabled")
        project = self._project(params["project_id"])
        party = self._upload_party(project, token)
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
        party = self._upload_party(project, token)
        key = (project.project_id, party.index)
        with self.lock:
            if party.upload is not None or key in self._uploading:
                raise Problem(403, "This token has already been used to upload clks.")
            self._uploading.add(key)
        try:
            if not project.uses_blocking and ("clknblocks" in body or "blocks" in body):
                raise Problem(403, BLOCKING_DISABLED)
            access = ObjectStoreAccess(
                self.s3,
                f"{project.project_id}/{party.dp_id}" if party.issued_access_keys else None,
                dict(party.issued_access_keys),
            )
            try:
                parsed = parse_upload(body, project.uses_blocking, access)
            except UploadError as exc:
                raise Problem(400, str(exc)) from None
            with self.lock:
                receipt = new_token()
                party.upload = Upload(parsed.clks, parsed.blocks, parsed.source, receipt, parsed.objects)
                self.runs.start_ready_runs(project)  # sizes are checked once every party has uploaded
        finally:
            with self.lock:
                self._uploading.discard(key)
        return Response(201, {"message": "Updated", "receipt_token": receipt})

    @route("POST", "/projects/{project_id}/binaryclks")
    def post_binaryclks(self, params: Dict[str, str], token: Optional[str], body: BinaryBody) -> Response:
        project = self._project(params["project_id"])
        party = self._upload_party(project, token)
        with self.lock:
            if party.upload is not None or (project.project_id, party.index) in self._uploading:
                raise Problem(403, "This token has already been used to upload clks.")
            try:
                parsed = parse_binary_upload(body, project.schema_encoding_size())
            except UploadError as exc:
                raise Problem(400, str(exc)) from None
            receipt = new_token()
            party.upload = Upload(parsed.clks, parsed.blocks, parsed.source, receipt)
            self.runs.start_ready_runs(project)  # sizes are checked once every party has uploaded
        return Response(201, {"message": "Updated", "receipt_token": receipt})

    # Runs -------------------------------------------------------------------

    @route("POST", "/projects/{project_id}/runs")
    def post_runs(self, params: Dict[str, str], token: Optional[str], body: Dict[str, Any]) -> Response:
        project = self._project(params["project_id"])
        self._require_result_token(project, token)
        if project.error:
            raise Problem(500, PROJECT_IN_ERROR)
        threshold = body["threshold"]
        if not 0.0 < threshold <= 1.0:
            # The real service's run model raises, unhandled: a bare internal error.
            raise Problem.framework(500, INTERNAL_ERROR, checked=True)
        run = Run(new_token(), float(threshold), body.get("name", ""), body.get("notes", ""))
        with self.lock:
            project.runs[run.run_id] = run
            self.runs.start_ready_runs(project)
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
            if run.state == "error":  # never with time_started, as the real service answers it
                status["message"] = run.message
                if run.detail:
                    status["detail"] = run.detail
            else:
                status["time_started"] = run.time_started  # null until the run starts
            if run.state == "completed":
                status["time_completed"] = run.time_completed
                status["total_number_comparisons"] = run.comparisons
        return Response(200, status, extra_schema=self.contract.run_status_schema(run.state))

    @route("GET", "/projects/{project_id}/runs/{run_id}/result")
    def get_run_result(self, params: Dict[str, str], token: Optional[str], body: Any) -> Response:
        project = self._project(params["project_id"])
        run = self._run(project, params["run_id"])
        with self.lock:
            state, result = run.state, run.result
        # Like the real service: the token is checked only once the run is complete.
        if state == "error":
            raise Problem(500, "Error during computation of run")
        if state != "completed" or result is None:
            raise Problem(404, "run is not complete")
        party = self._authorise_get(project, token)
        if project.result_type != "permutations":
            return Response(200, result, extra_schema=RESULT_SCHEMAS[project.result_type])
        if party is None:
            return Response(200, {"mask": result["mask"]}, extra_schema=RESULT_SCHEMAS["mask"])
        answer = {"permutation": result["permutations"][party.index], "rows": result["rows"]}
        return Response(200, answer, extra_schema=RESULT_SCHEMAS["permutation"])

    @staticmethod
    def _describe_run(run: Run) -> Dict[str, Any]:
        """A run's description: always with ``name`` and ``notes`` (``""`` when not given)."""
        return {"run_id": run.run_id, "threshold": run.threshold, "name": run.name, "notes": run.notes}
