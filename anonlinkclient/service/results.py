"""Fetching the result of a linkage run, optionally watching it until it finishes.

:func:`download_run_result` is what ``anonlink results`` does: it reports the
run's status (every change while watching), and downloads the result once the
run is ``completed``, into a temporary file (memory does not grow with the
result); :func:`fetch_run_result` gives it as text. A run that failed, or has
not finished, is an error with the run's own message or its state and stage. While watching, a status query or
the download that fails transiently (a dropped connection, HTTP 503 or 5xx, a
garbled answer) is reported and asked again, within the client's retry time
limit (see :meth:`~anonlinkclient.rest_client.RestClient.watch_run_status`).

A run that failed because the parties' encodings differ in size is an
:class:`~anonlinkclient.errors.EncodingSizeMismatch`, which says so (with the
size the project's schema makes, when the project's description can be read:
the service does not say which sizes it received). A completed run that
compared no pairs of records is reported with :data:`NOTHING_COMPARED`.

The status lines, progress messages and notes are warnings of this module's
logger (``anonlinkclient.service.results``): shown on stderr by the command
line, and by Python's own last-resort handler where logging is not configured.
"""

import logging
from typing import IO, Any, Dict, Optional

from anonlinkclient.errors import RunNotComplete, ServiceError
from anonlinkclient.service.answers import SIZE_MISMATCH, failed_run
from anonlinkclient.service.rest_client import RestClient, format_run_status, result_text

#: Said when a completed run compared no pairs of records (its result links nothing).
NOTHING_COMPARED = (
    "Note: the service compared no pairs of records in this run: the parties' encodings share no block "
    "(without blocks, this happens when one party uploaded directly and another through the object store)"
)

logger = logging.getLogger(__name__)


def fetch_run_result(
    client: RestClient,
    project: str,
    run: str,
    apikey: str,
    watch: bool = False,
    *,
    timeout: Optional[float] = None,
    update_period: float = 1.0,
) -> str:
    """The result of a run as the JSON text the service sent (held in memory; see :func:`download_run_result`).

    The parameters and errors are those of :func:`download_run_result`.
    """
    return result_text(
        download_run_result(client, project, run, apikey, watch, timeout=timeout, update_period=update_period)
    )


def download_run_result(
    client: RestClient,
    project: str,
    run: str,
    apikey: str,
    watch: bool = False,
    *,
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
    :param timeout: stop watching after this many seconds (``None``: never).
    :param update_period: seconds between status queries while watching.
    :raises RunNotComplete: if the run has not finished (or did not within ``timeout``).
    :raises RunFailed: if the run failed on the service (:class:`~anonlinkclient.errors.EncodingSizeMismatch`
        if because the parties' encodings differ in size).
    """
    status: Dict[str, Any] = {}
    if watch:
        try:
            for status in client.watch_run_status(project, run, apikey, timeout, update_period):
                logger.warning(format_run_status(status))
        except TimeoutError:
            raise RunNotComplete(f"Run {run} did not finish within {timeout:g} seconds") from None
    else:
        status = client.run_get_status(project, run, apikey)
    state = status.get("state")
    if state == "completed":
        if status.get("total_number_comparisons") == 0:
            logger.warning(NOTHING_COMPARED)
        logger.warning("Downloading result")
        if watch:
            result = client.keep_asking(lambda: client.run_get_result_file(project, run, apikey), update_period)
        else:
            result = client.run_get_result_file(project, run, apikey)
        logger.warning("Received result")
        return result
    if state == "error":
        schema = None
        if str(status.get("message") or "").startswith(SIZE_MISMATCH):
            try:  # the size the encodings must have; the service does not say which it received
                schema = client.project_get_description(project, apikey).get("schema")
            except ServiceError:
                pass
        raise failed_run(run, status, schema)
    stage = status.get("current_stage") or {}
    where = f"stage {stage.get('number')}/{status.get('stages')}: {stage.get('description', '')}".rstrip(": ")
    raise RunNotComplete(f"No result yet: run {run} is {state} ({where})")
