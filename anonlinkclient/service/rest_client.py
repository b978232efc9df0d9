"""A client for the REST API of the Anonlink Entity Service.

An analyst creates a project, each data provider uploads its encodings with one
of the project's upload tokens, and the analyst creates runs and fetches their
results with the result token::

    from anonlinkclient.service.rest_client import RestClient, format_run_status

    client = RestClient("https://anonlink.easd.data61.xyz")
    project = client.project_create(schema, "groups", "my linkage")
    # ... each data provider calls client.project_upload_clks(...)
    run = client.run_create(project["project_id"], project["result_token"], 0.8, "first run")
    for status in client.watch_run_status(project["project_id"], run["run_id"], project["result_token"]):
        print(format_run_status(status))
    result = client.run_get_result_text(project["project_id"], run["run_id"], project["result_token"])

Every request carries a timeout, which bounds its whole answer (headers and
body), and every answer is read within a size limit (16 MiB; a run's result is
streamed to a temporary file, up to 4 GiB) and the JSON limits of
:mod:`anonlinkclient.io.files`. A busy service (HTTP 503) is asked again with
exponential back-off within the limits of the client's retry policy
(:class:`~anonlinkclient.service.settings.Retry`, or the same numbers as a
:class:`ClientWaitingConfiguration`); a file body is sent again from its start.
Nothing else is sent twice by a single call: after a dropped connection, a
timeout or a garbled answer the service may or may not have acted on a request,
so the call fails (:class:`NoAnswer`, :class:`UnexpectedAnswer`) instead of
risking a second project, run or upload. Only queries that change nothing are
asked again after such failures: :meth:`RestClient.watch_run_status` keeps
polling through them (see :func:`is_transient`) until they have lasted longer
than the policy's ``max_time_ms`` (``stop_max_delay_ms``).

Messages go to this module's logger (``anonlinkclient.service.rest_client``):
each retry of a busy service at ``INFO``, each failed poll that is asked again
at ``WARNING`` (see :mod:`logging`; the command line shows them on stderr). Every failure is a :class:`ServiceError`
(or a subclass) whose message says what failed, names the server, and gives the
HTTP status and the server's own message; tokens never appear in it.

Two behaviours of the service to know about when uploading: without blocks,
every party of a project must upload the same way (all directly with
:meth:`RestClient.project_upload_clks`, or all through the object store), or
the service's default blocks do not line up and runs link nothing; and a
token that is not an upload token gets a bare HTTP 500, not 403. Such answers
of the real service are turned into errors that say what happened (see
:mod:`~anonlinkclient.service.answers`): :class:`~anonlinkclient.errors.NotAnUploadToken`,
:class:`~anonlinkclient.errors.BlockingDisabled`, :class:`~anonlinkclient.errors.ProjectInError`,
:class:`~anonlinkclient.errors.RunNotComplete` and :class:`~anonlinkclient.errors.RunFailed`.
"""

import logging
import re
import tempfile
import time
from typing import IO, Any, Callable, Collection, Dict, Iterator, Mapping, NoReturn, Optional, TypeVar, Union

import ijson
import requests

from anonlinkclient import __version__
from anonlinkclient.errors import (
    AnswerTooLarge,
    JsonLimitError,
    NoAnswer,
    OutputFileError,
    RateLimitedClient,
    ServiceConnectionError,
    ServiceError,
    TLSError,
    UnexpectedAnswer,
    UsageError,
)
from anonlinkclient.io.files import JsonCheck, format_size, loads_json
from anonlinkclient.service import answers
from anonlinkclient.service.http import create_session, exc_reason
from anonlinkclient.service.settings import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT,
    MAX_RESULT_BYTES,
    ClientWaitingConfiguration,
    Retry,
    ServiceSettings,
    Timeout,
    timeout_pair,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SERVER",
    "ClientWaitingConfiguration",
    "RestClient",
    "ServiceError",
    "ServiceConnectionError",
    "RateLimitedClient",
    "NoAnswer",
    "TLSError",
    "UnexpectedAnswer",
    "FailureWindow",
    "format_run_status",
    "is_transient",
    "normalise_server_url",
]

#: Where the API lives on a server (the ``servers`` entry of the OpenAPI definition).
API_PREFIX = "/api/v1"
#: Run states after which a run does not change any more.
TERMINAL_STATES = frozenset({"completed", "error"})

#: Appended to an upload's error when the service may or may not have acted on it.
UNKNOWN_OUTCOME = (
    "; the service may or may not have stored the upload: upload again, and if the token is refused "
    "as already used, it was stored"
)

ClkData = Union[Mapping[str, Any], bytes, str, IO[bytes]]
T = TypeVar("T")
#: ``exc_reason`` values that mean the server was reached but the connection ended without an answer.
DROPPED = ("RemoteDisconnected", "Connection aborted", "Connection reset by peer", "Broken pipe")


def _raise_explained(error: ServiceError, explained: Optional[ServiceError]) -> NoReturn:
    """Raise the error that explains ``error`` (see :mod:`~anonlinkclient.service.answers`), or ``error`` itself."""
    if explained is None:
        raise error
    raise explained from error


def is_transient(error: ServiceError) -> bool:
    """Whether asking again later may succeed: the service was busy (HTTP 503) or
    failing (5xx), could not be reached, gave no answer, or a garbled one.

    Refusals (4xx), TLS failures and failed runs are not transient.
    """
    if isinstance(error, TLSError):
        return False
    if isinstance(error, (ServiceConnectionError, RateLimitedClient, UnexpectedAnswer)):
        return True
    return error.status_code is not None and error.status_code >= 500


class FailureWindow:
    """How long a repeated query (such as polling a run's status) may keep failing before giving up.

    :param limit_seconds: give up once queries have been failing, without a
        success in between, for longer than this (the retry policy's ``max_time_ms``).
    """

    def __init__(self, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds
        self.failing_since: Optional[float] = None

    def tolerate(self, error: ServiceError, started: float) -> bool:
        """Whether to ask again after ``error``, from a query started at ``started`` (``time.monotonic()``)."""
        if not is_transient(error):
            return False
        if self.failing_since is None:
            self.failing_since = started
        return time.monotonic() - self.failing_since < self.limit_seconds

    def reset(self) -> None:
        """A query succeeded: the next failure starts a new window."""
        self.failing_since = None


def result_text(result: IO[bytes]) -> str:
    """A downloaded run result (see :meth:`RestClient.run_get_result_file`) as text; the file is closed.

    :raises UnexpectedAnswer: if it is not UTF-8.
    """
    with result:
        data = result.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnexpectedAnswer("Getting the run result failed: the service's answer is not UTF-8 text") from None


def normalise_server_url(server: str) -> str:
    """The base URL of a service as the user may write it, without ``/api/v1`` or a trailing slash.

    :raises ValueError: if ``server`` is not an ``http://`` or ``https://`` URL.
    """
    url = server.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        raise ValueError(f"{server!r} is not an http:// or https:// URL")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def format_run_status(status: Mapping[str, Any]) -> str:
    """The lines ``anonlink results --watch`` prints for a run status::

        State: running
        Stage (2/3): compute similarity scores
        Progress: 42.00%

    The progress line appears only when the service reports progress; a run in
    state ``error`` gets a last line with the run's own message (and detail),
    e.g. ``Message: Mismatch in encoding sizes. Stopping``.
    """
    stage = status.get("current_stage") or {}
    lines = [
        f"State: {status.get('state')}",
        f"Stage ({stage.get('number')}/{status.get('stages')}): {stage.get('description', '')}".rstrip(),
    ]
    progress = stage.get("progress")
    if isinstance(progress, Mapping) and isinstance(progress.get("relative"), (int, float)):
        lines.append(f"Progress: {progress['relative']:.2%}")
    if status.get("state") == "error":
        detail = f" ({status['detail']})" if status.get("detail") else ""
        lines.append(f"Message: {status.get('message') or 'none given'}{detail}")
    return "\n".join(lines)


class RestClient:
    """A client of one Anonlink Entity Service.

    Made from a :class:`~anonlinkclient.service.settings.ServiceSettings` with
    :meth:`from_settings`, or from its parts (as in the 0.1.5 manual).

    :param server: the service's base URL, e.g. ``https://anonlink.easd.data61.xyz``
        (a trailing ``/api/v1`` is accepted too).
    :param client_waiting_configuration: the retry policy, as a
        :class:`~anonlinkclient.service.settings.Retry` or in the manual's
        spelling, a :class:`ClientWaitingConfiguration`; the defaults if ``None``.
    :param verify_tls: verify the server's TLS certificate (``True``), use the
        CA bundle at this path, or skip verification (``False``).
    :param timeout: seconds to wait for each answer (and at most 10 for a
        connection), or a ``(connect, read)`` pair.
    :ivar retry: the retry policy (:class:`~anonlinkclient.service.settings.Retry`).
    :ivar on_retry: ``None`` (the default): the messages about retries go to this
        module's logger. 0.3.0's hook, kept: a function given here is called with
        them instead (each retry of a busy service, and each failed poll that a
        watch asks again without an ``on_error`` of its own).
    :ivar max_result_bytes: the largest run result downloaded (4 GiB).
    """

    def __init__(
        self,
        server: str,
        client_waiting_configuration: Union[Retry, ClientWaitingConfiguration, None] = None,
        verify_tls: Union[bool, str] = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.server = normalise_server_url(server)
        waiting = client_waiting_configuration
        self.retry = waiting.retry if isinstance(waiting, ClientWaitingConfiguration) else waiting or Retry()
        self.session = create_session(verify_tls, timeout)
        self.verify_tls = verify_tls
        self.timeout = timeout
        self.on_retry: Optional[Callable[[str], None]] = None
        self.max_result_bytes = MAX_RESULT_BYTES

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "RestClient":
        """The client of the service, retry policy, timeout and TLS verification that ``settings`` name."""
        return cls(settings.server, settings.retry, verify_tls=settings.verify_tls, timeout=settings.timeout)

    @property
    def client_waiting_configuration(self) -> ClientWaitingConfiguration:
        """The retry policy in the 0.1.5 manual's spelling (a view of :attr:`retry`)."""
        return ClientWaitingConfiguration.of(self.retry)

    def __repr__(self) -> str:
        return f"RestClient({self.server!r})"

    # ---- requests ----

    def _request(
        self,
        method: str,
        path: str,
        action: str,
        apikey: Optional[str] = None,
        expected: Collection[int] = (200,),
        advice: Optional[Mapping[Optional[int], str]] = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one API request, retrying 503 answers as the retry policy says; raise a
        :class:`ServiceError` on failure.

        :param advice: text to append to the error's message, by HTTP status
            (``None``: when no answer came).
        """
        url = f"{self.server}{API_PREFIX}{path}"
        headers: Dict[str, str] = dict(kwargs.pop("headers", None) or {})
        if apikey is not None:
            headers["Authorization"] = apikey
        body: Any = kwargs.get("data")
        start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None
        secrets = [apikey] if apikey else []
        advice_by_status: Mapping[Optional[int], str] = advice or {}

        def attempt() -> requests.Response:
            if start is not None:
                body.seek(start)  # a retry sends the whole file again
            try:
                response = self.session.request(method, url, headers=headers, **kwargs)
            except requests.exceptions.RequestException as exc:
                raise self._connection_error(action, exc, advice_by_status) from None
            except AnswerTooLarge as exc:
                where = f"the Entity Service at {self.server}"
                raise AnswerTooLarge(
                    f"{action}: the answer of {where} is larger than {format_size(exc.limit)}", exc.limit
                ) from None
            if response.status_code == 503:
                raise answers.answer_error(RateLimitedClient, f"{action}: the service is busy", response, secrets)
            if response.status_code not in expected:
                refused = advice_by_status.get(response.status_code, "")
                raise answers.answer_error(ServiceError, action, response, secrets, refused)
            return response

        def busy(tries: int) -> None:
            say = self.on_retry or logger.info
            say(f"{action}: the service is busy (HTTP 503), asking again (retry {tries})")

        try:
            return self.retry.call(attempt, lambda exc: isinstance(exc, RateLimitedClient), busy)
        except RateLimitedClient as exc:
            gave_up = f"{action}: the service was still busy after retrying for {self.retry.max_time_seconds:g} s"
            raise RateLimitedClient(gave_up, exc.response, secrets, text=exc.text) from None

    def _connection_error(
        self, action: str, exc: requests.exceptions.RequestException, advice: Mapping[Optional[int], str]
    ) -> ServiceConnectionError:
        error = self._describe_connection_error(action, exc)
        if isinstance(error, NoAnswer) and advice.get(None):
            return NoAnswer(f"{error}{advice[None]}")
        return error

    def _describe_connection_error(
        self, action: str, exc: requests.exceptions.RequestException
    ) -> ServiceConnectionError:
        where = f"the Entity Service at {self.server}"
        connect, read = timeout_pair(self.timeout)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return ServiceConnectionError(f"{action}: {where} did not accept a connection within {connect:g} s")
        if isinstance(exc, requests.exceptions.Timeout):
            return NoAnswer(f"{action}: {where} did not answer within {read:g} s")
        if isinstance(exc, requests.exceptions.SSLError):
            return TLSError(f"{action}: TLS connection to {where} failed ({exc_reason(exc)})")
        if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            return NoAnswer(f"{action}: the answer of {where} was cut off ({exc_reason(exc)})")
        reason = exc_reason(exc)
        if isinstance(exc, requests.exceptions.ConnectionError):
            if reason == "timed out":
                return NoAnswer(f"{action}: {where} stopped answering within {read:g} s")
            if reason in DROPPED:
                return NoAnswer(f"{action}: {where} closed the connection without answering ({reason})")
            return ServiceConnectionError(f"{action}: cannot connect to {where} ({reason})")
        return ServiceConnectionError(f"{action}: request to {where} failed ({reason})")

    def _json(
        self, response: requests.Response, action: str, required: Collection[str] = (), advice: str = ""
    ) -> Dict[str, Any]:
        """The JSON object of an answer, checking it has the ``required`` fields.

        :param advice: text to append to the message if the answer is not usable.
        """
        try:
            body = loads_json(response.content)
        except JsonLimitError as exc:
            where = f"the Entity Service at {self.server}"
            raise UnexpectedAnswer(
                f"{action}: the answer of {where} is not usable JSON ({exc})", advice=advice
            ) from None
        except ValueError:
            not_json = f"{action}: the service's answer is not JSON"
            raise answers.answer_error(UnexpectedAnswer, not_json, response, advice=advice) from None
        if not isinstance(body, dict):
            not_object = f"{action}: the service's answer is not a JSON object"
            raise answers.answer_error(UnexpectedAnswer, not_object, response, advice=advice)
        missing = [name for name in required if name not in body]
        if missing:
            lacking = f"{action}: the service's answer has no {', '.join(missing)}"
            raise answers.answer_error(UnexpectedAnswer, lacking, response, advice=advice)
        return body

    def keep_asking(
        self,
        query: Callable[[], T],
        period: float = 1.0,
        on_error: Optional[Callable[[str], None]] = None,
        deadline: Optional[float] = None,
    ) -> T:
        """``query()``, asked again every ``period`` seconds while it fails transiently.

        This is the one polling loop: :meth:`watch_run_status` asks each status
        through it. Only for queries that change nothing on the service (GET
        requests). Gives up, raising the last error, once the query has been
        failing for longer than the retry policy's ``max_time_ms``, or at once
        for an error that is not transient (see :func:`is_transient`). Each
        failure that is asked again is a warning of this module's logger:
        ``<the error>; asking again in <period> s``.

        :param on_error: 0.3.0's hook, kept: called with those warnings instead of logging them
            (default: :attr:`on_retry` if set).
        :param deadline: a ``time.monotonic()`` time after which no new attempt
            starts (the last error is raised instead).
        """
        window = FailureWindow(self.retry.max_time_seconds)
        say = on_error or self.on_retry or logger.warning
        while True:
            started = time.monotonic()
            try:
                return query()
            except ServiceError as exc:
                if not window.tolerate(exc, started) or (deadline is not None and started + period > deadline):
                    raise
                say(f"{exc}; asking again in {period:g} s")
            time.sleep(period)

    # ---- service ----

    def server_get_status(self) -> Dict[str, Any]:
        """The service's health: ``{"status": "ok", "project_count": ..., "rate": ...}``."""
        action = "Getting the service status failed"
        return self._json(self._request("get", "/status", action), action, ["status"])

    # ---- projects ----

    def project_create(
        self,
        schema: Mapping[str, Any],
        result_type: str,
        name: Optional[str],
        notes: Optional[str] = None,
        parties: int = 2,
        uses_blocking: bool = False,
    ) -> Dict[str, Any]:
        """Create a linkage project.

        :param schema: the linkage schema (a JSON object) the parties encode with.
        :param result_type: ``permutations``, ``similarity_scores`` or ``groups``
            (only ``groups`` allows more than two parties).
        :param name: a name for the project (``None``: no name).
        :param notes: free text stored with the project (default: which client created it).
        :param parties: the number of data providers.
        :param uses_blocking: the parties will upload blocks with their
            encodings (sent as ``uses_blocking``, which the v1.15 service reads:
            it takes ``clknblocks`` uploads only in such projects, and ``clks``
            uploads only in the others).
        :return: ``{"project_id", "result_token", "update_tokens": [...]}``.
        """
        if notes is None:
            notes = f"Project created by anonlink-client {__version__}"
        body: Dict[str, Any] = {
            "schema": schema,
            "result_type": result_type,
            "number_parties": parties,
            "notes": notes,
            "uses_blocking": uses_blocking,
        }
        if name is not None:
            body["name"] = name
        action = "Project creation failed"
        response = self._request("post", "/projects", action, json=body, expected=(201,))
        return self._json(response, action, ["project_id", "result_token", "update_tokens"])

    def project_get_description(self, project: str, apikey: str) -> Dict[str, Any]:
        """The project's settings (schema, result type, parties, ...) as the service holds them.

        :param project: the project ID.
        :param apikey: the result token or an upload token of the project.
        """
        action = "Getting the project description failed"
        return self._json(self._request("get", f"/projects/{project}", action, apikey), action)

    def project_delete(self, project: str, apikey: str) -> None:
        """Delete a project with its uploads, runs and results.

        :param project: the project ID.
        :param apikey: the project's result token.
        """
        self._request("delete", f"/projects/{project}", "Project deletion failed", apikey, expected=(204,))

    def get_temporary_objectstore_credentials(self, project: str, apikey: str) -> Dict[str, Any]:
        """Retrieve temporary object store credentials to upload.

        A real service answers HTTP 500 (not 403) when ``apikey`` is not an upload
        token (raised as :class:`~anonlinkclient.errors.NotAnUploadToken`), and
        also when its administrator turned this feature off (a plain
        :class:`ServiceError` whose ``text`` says so).

        :param project: A project ID
        :param apikey: A dataprovider's upload token
        :return: The credentials and upload information from the Anonlink Entity
            Service API: ``{"credentials": {"AccessKeyId", "SecretAccessKey",
            "SessionToken", "Expiration"}, "upload": {"endpoint", "secure",
            "bucket", "path"}}``.
        """
        action = "Getting object store credentials failed"
        try:
            response = self._request(
                "get", f"/projects/{project}/authorize-external-upload", action, apikey, expected=(201,)
            )
        except ServiceError as exc:
            _raise_explained(exc, answers.upload_refusal(exc, project, [apikey]))
        body = self._json(response, action, ["credentials", "upload"])
        upload = body["upload"]
        if not isinstance(upload, dict) or not all(isinstance(upload.get(k), str) for k in ("bucket", "path")):
            nowhere = f"{action}: the service's answer names no bucket and path"
            raise answers.answer_error(UnexpectedAnswer, nowhere, response)
        return body

    def project_upload_clks(self, project: str, apikey: str, clk_data: ClkData) -> Dict[str, Any]:
        """Upload one data provider's encodings (and blocks).

        :param project: the project ID.
        :param apikey: the data provider's upload token.
        :param clk_data: the JSON body: a mapping (sent as JSON), JSON text as
            ``str``/``bytes``, or a binary file holding JSON, which is streamed
            from its current position (and sent again from there on a retry):
            ``{"clks": [...]}``, ``{"clknblocks": [...]}`` or
            ``{"encodings": {"file": ...}, "blocks": {"file": ...}}``.
        :return: ``{"message": ..., "receipt_token": ...}``.
        :raises NotAnUploadToken: / :raises BlockingDisabled: for the service's answers to those mistakes.
        """
        path = f"/projects/{project}/clks"
        if isinstance(clk_data, Mapping):
            return self._upload(project, apikey, path, json=clk_data)
        return self._upload(project, apikey, path, data=clk_data, headers={"Content-Type": "application/json"})

    def project_upload_binary_clks(
        self, project: str, apikey: str, clk_data: Union[bytes, IO[bytes]], count: int, size: int
    ) -> Dict[str, Any]:
        """Upload one data provider's encodings in the binary format (``POST /projects/{id}/binaryclks``).

        :param project: the project ID.
        :param apikey: the data provider's upload token.
        :param clk_data: the CLKs' bytes one after another, as ``bytes`` or a binary
            file streamed from its current position (and sent again from there on a retry).
        :param count: the number of CLKs (sent as ``Hash-Count``).
        :param size: the bytes of each CLK (sent as ``Hash-Size``).
        :return: ``{"message": ..., "receipt_token": ...}``.
        :raises NotAnUploadToken: for the service's answer to a token that is not an upload token.
        """
        headers = {"Content-Type": "application/octet-stream", "Hash-Count": str(count), "Hash-Size": str(size)}
        return self._upload(project, apikey, f"/projects/{project}/binaryclks", data=clk_data, headers=headers)

    def _upload(self, project: str, apikey: str, path: str, **body: Any) -> Dict[str, Any]:
        """``POST`` an upload (``body``: the request's ``json`` or ``data`` and ``headers``); its receipt.

        The service may have stored an upload that got no (usable) answer: the error then says so.
        """
        action = "Upload failed"
        advice: Dict[Optional[int], str] = {None: UNKNOWN_OUTCOME}
        try:
            response = self._request("post", path, action, apikey, expected=(201,), advice=advice, **body)
        except ServiceError as exc:
            _raise_explained(exc, answers.upload_refusal(exc, project, [apikey]))
        return self._json(response, action, advice=UNKNOWN_OUTCOME)

    # ---- runs ----

    def run_create(
        self, project_id: str, apikey: str, threshold: float, name: Optional[str], notes: Optional[str] = None
    ) -> Dict[str, Any]:
        """Start a linkage run at a similarity threshold.

        :param project_id: the project ID.
        :param apikey: the project's result token.
        :param threshold: the similarity (0 to 1) above which two records match.
        :param name: a name for the run (``None``: no name).
        :param notes: free text stored with the run (default: which client created it).
        :return: the run's description, with its ``run_id``.
        :raises UsageError: for a threshold outside (0, 1] (nothing is sent: the service would fail with HTTP 500).
        :raises ProjectInError: if the project's uploads cannot be linked (the service refuses new runs).
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise UsageError(f"the threshold must be above 0 and at most 1, not {threshold!r}", "threshold")
        if notes is None:
            notes = f"Run created by anonlink-client {__version__}"
        body: Dict[str, Any] = {"threshold": threshold, "notes": notes}
        if name is not None:
            body["name"] = name
        action = "Run creation failed"
        try:
            response = self._request("post", f"/projects/{project_id}/runs", action, apikey, json=body, expected=(201,))
        except ServiceError as exc:
            _raise_explained(exc, answers.run_refusal(exc, project_id, [apikey]))
        return self._json(response, action, ["run_id"])

    def run_get_status(self, project: str, run: str, apikey: str) -> Dict[str, Any]:
        """The run's state and stage, e.g. ``{"state": "running", "stages": 3, "current_stage": {...}}``."""
        action = "Getting the run status failed"
        response = self._request("get", f"/projects/{project}/runs/{run}/status", action, apikey)
        return self._json(response, action, ["state"])

    def run_get_result_text(self, project: str, run: str, apikey: str) -> str:
        """The result of a completed run as the JSON text the service sent.

        The service answers 404 while the run is not complete
        (:class:`~anonlinkclient.errors.RunNotComplete`), and 500 for a run that
        failed (:class:`~anonlinkclient.errors.RunFailed`). The text is
        checked as :meth:`run_get_result_file` checks it; it is held in memory
        (up to :attr:`max_result_bytes`), so prefer :meth:`run_get_result_file`
        for large results.
        """
        return result_text(self.run_get_result_file(project, run, apikey))

    def run_get_result_file(self, project: str, run: str, apikey: str) -> IO[bytes]:
        """The result of a completed run, downloaded to a temporary file.

        The answer is streamed to the file, so memory does not grow with it, up
        to :attr:`max_result_bytes` (:class:`AnswerTooLarge` beyond). It is
        checked to be one whole JSON document within the JSON limits (see
        :mod:`anonlinkclient.io.files`), so that a cut-off, garbled or hostile
        answer is an :class:`UnexpectedAnswer`, never a result. The service
        answers 404 while the run is not complete (:class:`~anonlinkclient.errors.RunNotComplete`),
        and 500 for a run that failed (:class:`~anonlinkclient.errors.RunFailed`).

        :return: the file, positioned at its start; it is deleted when closed.
        """
        path = f"/projects/{project}/runs/{run}/result"
        action = "Getting the run result failed"
        result = tempfile.TemporaryFile()
        check = JsonCheck()
        answer: Dict[str, Any] = {"head": b""}  # the response, and the start of its body for messages

        def keep(response: requests.Response, chunk: bytes) -> None:
            answer["response"] = response
            if len(answer["head"]) < 200:
                answer["head"] += chunk[:200]
            check.feed(chunk)
            try:
                result.write(chunk)
            except OSError as exc:
                where = tempfile.gettempdir()
                raise OutputFileError(where, f"cannot store the downloaded result ({exc.strerror})") from None

        try:
            try:
                self._request("get", path, action, apikey, sink=keep, sink_limit=self.max_result_bytes)
            except ServiceError as exc:
                _raise_explained(exc, answers.result_refusal(exc, run, [apikey]))
            check.finish()
        except JsonLimitError as exc:
            result.close()
            where = f"the Entity Service at {self.server}"
            raise UnexpectedAnswer(f"{action}: the answer of {where} is not usable JSON ({exc})") from None
        except ijson.JSONError:
            result.close()
            response = answer.get("response")
            if response is not None:
                response._content = answer["head"]
            incomplete = f"{action}: the service's answer is not complete JSON"
            raise answers.answer_error(UnexpectedAnswer, incomplete, response) from None
        except BaseException:
            result.close()
            raise
        result.seek(0)
        return result

    def run_delete(self, project: str, run: str, apikey: str) -> None:
        """Cancel a run and delete its results."""
        self._request("delete", f"/projects/{project}/runs/{run}", "Run deletion failed", apikey, expected=(204,))

    def watch_run_status(
        self,
        project: str,
        run: str,
        apikey: str,
        timeout: Optional[float] = None,
        update_period: float = 1,
        on_error: Optional[Callable[[str], None]] = None,
    ) -> Iterator[Dict[str, Any]]:
        """Monitor a linkage run and yield status updates.

        Will immediately yield an update and then only yield further updates when
        the status object changes. If a timeout is provided and the run hasn't
        entered a terminal state (error or completed) when the timeout is reached,
        updates will cease and a ``TimeoutError`` will be raised.

        A query that fails transiently (no answer, a busy or failing service, a
        garbled answer: see :func:`is_transient`) is asked again at the next
        period; the watch gives up with that error once queries have been
        failing for longer than the retry policy's ``max_time_ms``
        (``stop_max_delay_ms``). Other errors (e.g. HTTP 403) end it at once.

        :param project: the project ID.
        :param run: the run ID.
        :param apikey: the project's result token.
        :param timeout: Stop waiting after this many seconds. The default
            (``None``) is to never give you up.
        :param update_period: Time in seconds between queries to the run's status.
        :param on_error: 0.3.0's hook, kept: called with the message of each failed
            query that is asked again, instead of logging it (see :meth:`keep_asking`).
        :raises TimeoutError: if timeout is reached
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        status: Optional[Dict[str, Any]] = None
        while True:
            new_status = self.keep_asking(
                lambda: self.run_get_status(project, run, apikey), update_period, on_error, deadline
            )
            if new_status != status:
                status = new_status
                yield status
            if status.get("state") in TERMINAL_STATES:
                return
            if deadline is not None and time.monotonic() + update_period > deadline:
                raise TimeoutError(f"run {run} did not finish within {timeout:g} seconds")
            time.sleep(update_period)

    def wait_for_run(
        self, project: str, run: str, apikey: str, timeout: Optional[float] = None, update_period: float = 1
    ) -> Dict[str, Any]:
        """Monitor a linkage run and return the final status updates.

        If a timeout is provided and the run hasn't entered a terminal state
        (error or completed) when the timeout is reached a ``TimeoutError`` will
        be raised. The parameters are those of :meth:`watch_run_status`: the
        project ID, the run ID, the project's result token, the seconds to wait
        at most (``None``: never give up) and between two queries.

        :raises TimeoutError: if timeout is reached
        :return: the last status (state ``completed`` or ``error``).
        """
        last: Dict[str, Any] = {}
        for status in self.watch_run_status(project, run, apikey, timeout, update_period):
            last = status
        return last
