"""What connexion and flask do for the real Entity Service: routing, contract checks and problem bodies.

:meth:`Framework.handle` takes a request (method, path, headers, body bytes)
and returns a :class:`Response`; it knows nothing of sockets (see
:mod:`.server`). Like the real service, it first checks the request against the
OpenAPI contract (400 problem on failure), then runs the view registered with
:func:`route` for the operation, and finally checks its own response against
the contract, recording any violation in :attr:`Framework.contract_violations`
(the fixtures fail the test on those). The views are in :mod:`.api`.
"""

import http
import json
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from tests.entity_service.contract import API_PREFIX, shared_contract
from tests.entity_service.uploads import BinaryBody

INTERNAL_ERROR = (
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)


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
    """An error answer, ``application/problem+json`` ``{"detail", "status", "title", "type"}``.

    As the real service answers them: its own checks (``safe_fail_request``) carry
    ``"title": null`` (the default here); the framework's carry the HTTP phrase as
    title (:meth:`framework`), request validation ``"Bad Request"`` (:meth:`bad_request`).
    """

    def __init__(self, status: int, detail: Optional[str], title: Optional[str] = None, checked: bool = True) -> None:
        super().__init__(detail or title)
        self.status = status
        self.detail = detail
        self.title = title
        self.checked = checked

    @classmethod
    def framework(cls, status: int, detail: Optional[str], checked: bool = False) -> "Problem":
        """An answer of flask/werkzeug itself (unknown path, 405, an unhandled exception): the phrase as title."""
        return cls(status, detail, http.HTTPStatus(status).phrase, checked)

    @classmethod
    def bad_request(cls, detail: str) -> "Problem":
        """A request connexion refuses before any view runs: 400, title ``Bad Request``."""
        return cls(400, detail, "Bad Request")

    def response(self) -> Response:
        """The problem as a response."""
        body = {"detail": self.detail, "status": self.status, "title": self.title, "type": "about:blank"}
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


Handler = Callable[[Any, Dict[str, str], Optional[str], Any], Response]
ROUTES: Dict[Tuple[str, str], Handler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a view for ``method`` on an OpenAPI path template."""

    def register(view: Handler) -> Handler:
        ROUTES[(method, template)] = view
        return view

    return register


class Framework:
    """Routing and contract checks; the service's :class:`~.api.Api` adds its state and views.

    :ivar contract: the OpenAPI definition (:class:`~.contract.Contract`).
    :ivar lock: guards the service's state.
    :ivar contract_violations: / :ivar request_violations: / :ivar server_errors: what went wrong.
    """

    def __init__(self) -> None:
        self.contract = shared_contract()
        self.lock = threading.RLock()
        self.contract_violations: List[Violation] = []
        self.request_violations: List[Violation] = []
        self.server_errors: List[str] = []

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
            return Problem.framework(500, INTERNAL_ERROR).response()
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
            raise Problem.framework(
                404,
                "The requested URL was not found on the server. If you entered the URL manually please check "
                "your spelling and try again.",
            )
        template, params = matched
        operation = self.contract.operation(method, template)
        if operation is None:
            raise Problem.framework(405, "The method is not allowed for the requested URL.")
        if (method, template) not in ROUTES:
            raise Problem.framework(501, f"{method} {template} is not implemented by the test Entity Service")
        parsed: Any = None
        has_body = bool(body.strip())
        declared = operation.get("requestBody", {}).get("content", {})
        if has_body and "application/octet-stream" in declared:  # binaryclks: the raw bytes
            content_type = headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/octet-stream":
                raise Problem(415, None, f"Invalid Content-type ({content_type}), expected binary data", checked=False)
            parsed = BinaryBody(headers, body)
        elif operation.get("requestBody") and has_body:
            content_type = headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                # connexion puts this message in the title, and no detail
                raise Problem(415, None, f"Invalid Content-type ({content_type}), expected JSON data", checked=False)
            try:
                parsed = json.loads(body)
            except ValueError:
                self._violation(self.request_violations, method, path, None, ["Request body is not valid JSON"])
                raise Problem.bad_request("Request body is not valid JSON") from None
        problems = self.contract.request_problems(method, template, headers, parsed, has_body)
        if problems:
            self._violation(self.request_violations, method, path, None, problems)
            raise Problem.bad_request(problems[0])
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
