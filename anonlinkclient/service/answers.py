"""What the real Entity Service's answers mean, so that each failure says what happened and what to do.

The v1.15 service answers some mistakes in ways that say little by themselves
(measured against the real service; see the test Entity Service, which
answers the same way):

- a token that is not an upload token (a wrong one, or the result token), on
  ``authorize-external-upload`` or ``POST .../clks``: a bare HTTP 500 (it fails
  looking up the data provider), not 403 -> :class:`~anonlinkclient.errors.NotAnUploadToken`;
- blocks sent to a project created without blocking: 403
  -> :class:`~anonlinkclient.errors.BlockingDisabled`;
- parties whose encodings differ in size: both uploads succeed, then the run
  ends in state ``error`` ("Mismatch in encoding sizes. Stopping", without the
  sizes) -> :class:`~anonlinkclient.errors.EncodingSizeMismatch`, and a new
  run gets 500 -> :class:`~anonlinkclient.errors.ProjectInError`;
- the result of a run that is not complete: 404 whatever the token
  -> :class:`~anonlinkclient.errors.RunNotComplete`; of a failed run: 500
  -> :class:`~anonlinkclient.errors.RunFailed`.

Each ``*_refusal`` function takes the :class:`~anonlinkclient.errors.ServiceError`
a request raised and returns the error that explains it (built complete, here),
or ``None`` when there is nothing to add.

Reading an answer's body for the server's own words is done here too, once
(:func:`server_message`): connexion's problem JSON (``detail``, ``message`` or
``title``), or the first line of any other body; :func:`answer_error` builds
the error for an answer with them.
"""

import re
from typing import Any, Dict, Optional, Sequence, Type, TypeVar

from anonlinkclient.errors import (
    BlockingDisabled,
    EncodingSizeMismatch,
    NotAnUploadToken,
    ProjectInError,
    RunFailed,
    RunNotComplete,
    ServiceError,
)

#: The start of the bare 500 flask answers for an exception the service did not handle.
INTERNAL_ERROR = "The server encountered an internal error"
INVALID_ACCESS = "Invalid access token or project doesn't exist"
TOKEN_USED = "This token has already been used to upload clks."
BLOCKING_DISABLED = "Blocking has been disabled for this project"
PROJECT_HAS_ERRORS = "Can't post run as project has errors"
SIZE_MISMATCH = "Mismatch in encoding sizes"
RUN_NOT_COMPLETE = "run is not complete"
RUN_ERROR = "Error during computation of run"
#: The most characters of the server's message kept: of a JSON problem's field, of another body's first line.
MAX_DETAIL_CHARS = 1000
MAX_TEXT_CHARS = 200

E = TypeVar("E", bound=ServiceError)


def server_message(response: Optional[Any]) -> Optional[str]:
    """The human part of a service answer, on one line: ``detail``, ``message`` or ``title`` if it
    is a JSON object (the service's own problems have ``"title": null``, a 415 no detail), else the
    first line of its text; ``None`` without an answer or words.

    connexion's request validation ends the detail with `` - 'name'`` (the field at
    fault), which becomes `` (in field name)``.
    """
    if response is None:
        return None
    try:
        body = response.json()
    except (ValueError, RecursionError):  # RecursionError: a hostile answer nested very deep
        text = (getattr(response, "text", "") or "").strip()
        return text.splitlines()[0][:MAX_TEXT_CHARS] if text else None
    if isinstance(body, dict):
        for key in ("detail", "message", "title"):
            if isinstance(body.get(key), str):
                detail = str(body[key]).strip()
                detail = detail.splitlines()[0][:MAX_DETAIL_CHARS] if detail else detail  # even from a hostile server
                return re.sub(r" - '([^']+)'$", r" (in field \1)", detail)
    return None


def answer_error(
    kind: Type[E], msg: str, response: Optional[Any] = None, secrets: Sequence[str] = (), advice: str = ""
) -> E:
    """The error ``kind`` (a :class:`~anonlinkclient.errors.ServiceError` taking its arguments) for an
    answer of the service, with the server's own message (:func:`server_message`)."""
    return kind(msg, response, secrets, advice, server_message(response))


def _says(error: ServiceError, status: int, text: str) -> bool:
    return error.status_code == status and (error.text or "").startswith(text)


def upload_refusal(error: ServiceError, project: str, secrets: Sequence[str] = ()) -> Optional[ServiceError]:
    """Explain a failed ``authorize-external-upload`` or ``POST .../clks`` of ``project``."""
    if _says(error, 500, INTERNAL_ERROR):
        return NotAnUploadToken(error.msg, project, error.response, secrets, error.text)
    if _says(error, 403, BLOCKING_DISABLED):
        return BlockingDisabled(error.msg, project, error.response, secrets, error.text)
    if _says(error, 403, TOKEN_USED):
        advice = " (each upload token uploads once, and this one has: the service has this party's encodings)"
        return ServiceError(error.msg, error.response, secrets, advice, error.text)
    if _says(error, 403, INVALID_ACCESS):
        advice = f" (there is no project {project}, or it was deleted)"
        return ServiceError(error.msg, error.response, secrets, advice, error.text)
    return None


def run_refusal(error: ServiceError, project: str, secrets: Sequence[str] = ()) -> Optional[ServiceError]:
    """Explain a failed ``POST .../runs`` of ``project``."""
    if _says(error, 500, PROJECT_HAS_ERRORS):
        return ProjectInError(error.msg, project, error.response, secrets, error.text)
    return None


def result_refusal(error: ServiceError, run: str, secrets: Sequence[str] = ()) -> Optional[ServiceError]:
    """Explain a failed ``GET .../runs/{run}/result``."""
    if _says(error, 404, RUN_NOT_COMPLETE):
        return RunNotComplete(f"{error.msg}: run {run} is not complete yet", error.response, secrets, text=error.text)
    if _says(error, 500, RUN_ERROR):
        failed = f"{error.msg}: run {run} failed on the service; its status says why"
        return RunFailed(failed, error.response, secrets, text=error.text)
    return None


def failed_run(run: str, status: Dict[str, Any], schema: Optional[Any] = None) -> RunFailed:
    """The error for a run whose status is ``error``, with the run's own message.

    :param schema: the project's linkage schema (from its description), if known:
        it tells the encoding size every party's encodings must have.
    """
    message = str(status.get("message") or "no message")
    if message.startswith(SIZE_MISMATCH):
        return EncodingSizeMismatch(run, message, schema_encoding_size(schema))
    detail = f" ({status['detail']})" if status.get("detail") else ""
    return RunFailed(f"Run {run} failed on the service: {message}{detail}")


def schema_encoding_size(schema: Any) -> Optional[int]:
    """Bytes per encoding a linkage schema makes (``clkConfig.l`` bits / 8), if it says."""
    config = schema.get("clkConfig") if isinstance(schema, dict) else None
    bits = config.get("l") if isinstance(config, dict) else None
    if isinstance(bits, int) and not isinstance(bits, bool) and bits > 0 and bits % 8 == 0:
        return bits // 8
    return None
