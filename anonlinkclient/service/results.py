"""Fetching the result of a linkage run, optionally watching it until it finishes.

:func:`download_run_result` is what ``anonlink results`` does: it reports the
run's status (every change while watching), and downloads the result once the
run is ``completed``, into a temporary file (memory does not grow with the
result); :func:`fetch_run_result` gives it as text. A run that failed, or has not finished, is an error with
the run's own message or its state and stage. While watching, a status query or
the download that fails transiently (a dropped connection, HTTP 503 or 5xx, a
garbled answer) is reported and asked again, within the client's retry time
limit (see :meth:`~anonlinkclient.rest_client.RestClient.watch_run_status`).
"""

from typing import IO, Any, Callable, Dict, Optional

from anonlinkclient.errors import RunFailed, RunNotComplete, UnexpectedAnswer
from anonlinkclient.service.rest_client import RestClient, format_run_status


def _quiet(_message: str) -> None:
    pass


def fetch_run_result(
    client: RestClient,
    project: str,
    run: str,
    apikey: str,
    watch: bool = False,
    log: Optional[Callable[[str], None]] = None,
    timeout: Optional[float] = None,
    update_period: float = 1.0,
) -> str:
    """The result of a run as the JSON text the service sent (held in memory; see :func:`download_run_result`).

    The parameters and errors are those of :func:`download_run_result`.
    """
    with download_run_result(client, project, run, apikey, watch, log, timeout, update_period) as result:
        data = result.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnexpectedAnswer("Getting the run result failed: the service's answer is not UTF-8 text") from None


def download_run_result(
    client: RestClient,
    project: str,
    run: str,
    apikey: str,
    watch: bool = False,
    log: Optional[Callable[[str], None]] = None,
    timeout: Optional[float] = None,
    update_period: float = 1.0,
) -> IO[bytes]:
    """The result of a run as the JSON the service sent, in a temporary file (positioned at its start,
    deleted when closed; see :meth:`~anonlinkclient.rest_client.RestClient.run_get_result_file`).

    :param client: the service's :class:`~anonlinkclient.rest_client.RestClient`.
    :param project: the project ID.
    :param run: the run ID.
    :param apikey: the result token (or, for ``permutations``, a receipt token).
    :param watch: wait for the run to finish, reporting each change of its status.
    :param log: called with the status lines and progress messages (default: silent).
    :param timeout: stop watching after this many seconds (``None``: never).
    :param update_period: seconds between status queries while watching.
    :raises RunNotComplete: if the run has not finished (or did not within ``timeout``).
    :raises RunFailed: if the run failed on the service.
    """
    say = log or _quiet
    status: Dict[str, Any] = {}
    if watch:
        try:
            for status in client.watch_run_status(project, run, apikey, timeout, update_period, on_error=say):
                say(format_run_status(status))
        except TimeoutError:
            raise RunNotComplete(f"Run {run} did not finish within {timeout:g} seconds") from None
    else:
        status = client.run_get_status(project, run, apikey)
    state = status.get("state")
    if state == "completed":
        say("Downloading result")
        if watch:
            result = client.keep_asking(lambda: client.run_get_result_file(project, run, apikey), update_period, say)
        else:
            result = client.run_get_result_file(project, run, apikey)
        say("Received result")
        return result
    if state == "error":
        detail = f" ({status['detail']})" if status.get("detail") else ""
        raise RunFailed(f"Run {run} failed on the service: {status.get('message', 'no message')}{detail}")
    stage = status.get("current_stage") or {}
    where = f"stage {stage.get('number')}/{status.get('stages')}: {stage.get('description', '')}".rstrip(": ")
    raise RunNotComplete(f"No result yet: run {run} is {state} ({where})")
