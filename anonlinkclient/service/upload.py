"""Uploading a data provider's encodings (and blocks) to an Entity Service project.

:func:`upload_encodings` is what ``anonlink upload`` does:

1. check the files before anything is sent: every CLK is base64 and all have
   one size, and the block file was made for this many CLKs;
2. unless told to upload directly, ask the service for temporary object-store
   credentials (``authorize-external-upload``), upload ``encodings.json`` (with
   metadata ``hash-count`` and ``hash-size``) and ``blocks.json`` to the bucket
   and path it names, and tell the service where they are;
3. otherwise, or if the service offers no object store, send the encodings in
   the request body: the CLK file itself (``{"clks": [...]}``), or the CLKs
   combined with their blocks (``{"clknblocks": [...]}``).

Files are streamed from disk all the way: nothing holds all the encodings in
memory.

Success is reported only when the service has answered the final
``POST /clks`` with its receipt. What is safe to send again is sent again: a
busy service (HTTP 503) gets the whole body again, object-store parts are
re-sent after a cut connection or HTTP 5xx, and when the store says the
temporary credentials have expired, fresh ones are asked for and that file is
uploaded again (once). The final request is never repeated after the service
may have acted on it (a dropped connection, a timeout, a garbled answer): the
error then says that the outcome is unknown and how to find out.

Two behaviours of the real service matter here. Without blocks, every party of
a project must upload the same way: if one party uploads directly and another
through the object store, the service puts their records in different default
blocks and the run links nothing. And ``authorize-external-upload`` answers HTTP 500, not
403, to a token that is not an upload token (such as the result token), as it
does when its object store is turned off: the bare 500 of the first stops the
upload with :class:`~anonlinkclient.errors.NotAnUploadToken`, only the second
falls back to a direct upload.
"""

import contextlib
import os
from typing import IO, Any, Callable, Dict, Optional, Tuple, cast

from anonlinkclient.errors import CredentialsExpired, InputFileError, NotAnUploadToken, ServiceError
from anonlinkclient.io.block_file import blocks_by_record
from anonlinkclient.io.clknblocks import combine_clks_blocks, count_clks
from anonlinkclient.io.progress import ReadProgress, bar
from anonlinkclient.service.objectstore import (
    ObjectStore,
    credentials_provider,
    upload_place,
)
from anonlinkclient.service.rest_client import UNKNOWN_OUTCOME, RestClient  # noqa: F401 (UNKNOWN_OUTCOME: re-export)

OBJECT_STORE_MESSAGE = "Anonlink client: Uploading to the external object store - MINIO"
DIRECT_MESSAGE = "Anonlink client: Uploading to entity service"
SAME_ROUTE_WARNING = (
    "Note: without blocks, every party of a project must upload the same way (all through the object store, or "
    "all with --to_entityservice); otherwise the service's default blocks do not line up and the run links nothing."
)
REFRESH_MESSAGE = "Anonlink client: the object store credentials have expired; asking the service for new ones"
ENCODINGS_OBJECT = "encodings.json"
BLOCKS_OBJECT = "blocks.json"
#: authorize-external-upload answers after which the upload goes directly to the service.
NO_OBJECT_STORE_STATUSES = frozenset({404, 500, 501})

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def check_upload_files(clk_path: str, blocks_path: Optional[str] = None) -> Tuple[int, int]:
    """Check a CLK file (and its block file) can be uploaded; return ``(CLK count, bytes per CLK)``.

    Both files are streamed, not loaded.

    :raises InputFileError: for a malformed file, CLKs of different sizes, an
        empty CLK list, or a block file made for another number of records.
    """
    count, size = count_clks(clk_path)
    if blocks_path is not None:
        for _blocks in blocks_by_record(blocks_path, count, clk_path):  # the one check that they fit
            pass
    return count, size


def upload_encodings(
    client: RestClient,
    project: str,
    apikey: str,
    clk_path: str,
    blocks_path: Optional[str] = None,
    to_entityservice: bool = False,
    profile: Optional[str] = None,
    log: Optional[Log] = None,
    progress: bool = True,
    detail: Optional[Log] = None,
) -> Dict[str, Any]:
    """Upload a CLK file (and its block file) to a project, through the object store if the service offers one.

    :param client: the service's :class:`~anonlinkclient.rest_client.RestClient`.
    :param project: the project ID.
    :param apikey: the data provider's upload token.
    :param clk_path: the CLK JSON file made by ``anonlink hash``.
    :param blocks_path: the block file made by ``anonlink block`` for these CLKs.
    :param to_entityservice: upload directly to the service, not through the object store.
    :param profile: sign the object-store upload with the credentials of this
        AWS profile instead of the service's temporary credentials (the service
        still reads the files with the credentials it issued).
    :param log: called with each status message (default: silent).
    :param progress: show a progress bar per file on stderr while uploading.
    :param detail: called with more detailed messages (the CLI's ``-v``; default: silent).
    :return: the service's receipt, ``{"message": ..., "receipt_token": ...}``.
    :raises InputFileError: if the files are unusable (nothing has been sent then).
    :raises ServiceError: if the service refuses or fails.
    :raises ObjectStoreError: if the object store upload fails.
    """
    say = log or _quiet
    count, size = check_upload_files(clk_path, blocks_path)
    (detail or _quiet)(f"{clk_path}: {count} CLKs of {size} bytes" + (f", blocks {blocks_path}" if blocks_path else ""))
    if not to_entityservice:
        access = _object_store_access(client, project, apikey, say, blocked=blocks_path is not None)
        if access is not None:
            say(OBJECT_STORE_MESSAGE)
            return upload_via_object_store(
                client, project, apikey, access, clk_path, blocks_path, count, size, profile, progress, say
            )
    say(DIRECT_MESSAGE)
    return upload_direct(client, project, apikey, clk_path, blocks_path, progress)


def _object_store_access(
    client: RestClient, project: str, apikey: str, say: Log, blocked: bool
) -> Optional[Dict[str, Any]]:
    """The service's object-store credentials, or ``None`` if it offers none (then the upload goes direct)."""
    try:
        return client.get_temporary_objectstore_credentials(project, apikey)
    except ServiceError as exc:
        if isinstance(exc, NotAnUploadToken) or exc.status_code not in NO_OBJECT_STORE_STATUSES:
            raise
        detail = f": {exc.text}" if exc.text else ""
        say(
            f"Anonlink client: the service offers no object store upload (HTTP {exc.status_code}{detail}); "
            "uploading directly instead."
        )
        if not blocked:
            say(SAME_ROUTE_WARNING)
        return None


def upload_via_object_store(
    client: RestClient,
    project: str,
    apikey: str,
    access: Dict[str, Any],
    clk_path: str,
    blocks_path: Optional[str],
    count: int,
    size: int,
    profile: Optional[str] = None,
    progress: bool = True,
    log: Optional[Log] = None,
) -> Dict[str, Any]:
    """Upload the files to the place ``access`` names, then tell the service where they are.

    If the store answers that the temporary credentials have expired, new ones
    are asked for and the file is uploaded again (once per file; not with an
    AWS ``profile``, whose credentials are the user's own).

    :param access: the answer of ``authorize-external-upload``.
    :param count: / :param size: the number of CLKs and bytes per CLK (object metadata).
    :param log: called with status messages (default: silent).
    :return: the service's receipt.
    """
    files = [(ENCODINGS_OBJECT, clk_path, {"hash-count": str(count), "hash-size": str(size)})]
    if blocks_path is not None:
        files.append((BLOCKS_OBJECT, blocks_path, {}))
    store = _object_store(client, access, profile, progress)
    places: Dict[str, Tuple[str, str]] = {}
    for object_file, path, metadata in files:
        place = upload_place(access["upload"])
        try:
            store.upload_file(place.bucket, place.object_name(object_file), path, metadata, os.path.basename(path))
        except CredentialsExpired:
            if profile is not None:
                raise
            (log or _quiet)(REFRESH_MESSAGE)
            access = client.get_temporary_objectstore_credentials(project, apikey)
            store = _object_store(client, access, profile, progress)
            place = upload_place(access["upload"])
            store.upload_file(place.bucket, place.object_name(object_file), path, metadata, os.path.basename(path))
        places[object_file] = (place.bucket, place.object_name(object_file))
    service_credentials = _read_credentials(access.get("credentials"))  # the latest, which can read every file
    body: Dict[str, Any] = {}
    for object_file, (bucket, object_name) in places.items():
        external: Dict[str, Any] = {"file": {"bucket": bucket, "path": object_name}}
        if service_credentials:
            external["credentials"] = service_credentials
        body["blocks" if object_file == BLOCKS_OBJECT else "encodings"] = external
    return client.project_upload_clks(project, apikey, body)


def _object_store(client: RestClient, access: Dict[str, Any], profile: Optional[str], progress: bool) -> ObjectStore:
    """The store ``access`` names, signed with its credentials (or the profile's), with the client's TLS and timeout."""
    place = upload_place(access["upload"])
    return ObjectStore(
        place.endpoint,
        place.secure,
        credentials_provider(access.get("credentials"), profile),
        region=None if profile else "us-east-1",
        progress=progress,
        timeout=client.timeout,
        verify=client.verify_tls,
    )


def _read_credentials(credentials: Any) -> Optional[Dict[str, str]]:
    """The issued credentials, passed back so the service can read the objects (``ExternalData.credentials``)."""
    if not isinstance(credentials, dict):
        return None
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken")
    return {key: str(credentials[key]) for key in keys if credentials.get(key)}


def upload_direct(
    client: RestClient,
    project: str,
    apikey: str,
    clk_path: str,
    blocks_path: Optional[str] = None,
    progress: bool = False,
) -> Dict[str, Any]:
    """Send the encodings in the request body: the CLK file as it is, or combined with its blocks.

    Both are streamed from a file, which a retry sends again from its start.

    :param progress: show a progress bar of the bytes sent on stderr.
    :return: the service's receipt.
    """
    try:
        with contextlib.ExitStack() as stack:
            body: IO[bytes] = stack.enter_context(
                open(clk_path, "rb") if blocks_path is None else combine_clks_blocks(clk_path, blocks_path)
            )
            size = os.fstat(body.fileno()).st_size
            sent = stack.enter_context(
                bar(progress, f"Upload {os.path.basename(clk_path)}", size, "B", unit_divisor=1024)
            )
            receipt = client.project_upload_clks(project, apikey, cast(IO[bytes], ReadProgress(body, sent)))
    except OSError as exc:
        raise InputFileError(clk_path, f"cannot read ({exc.strerror})") from exc
    return receipt
