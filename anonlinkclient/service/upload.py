"""Uploading a data provider's encodings (and blocks) to an Entity Service project.

:func:`upload_encodings` is what ``anonlink upload`` does:

1. check the files before anything is sent: the CLK file (JSON or binary) is
   whole and all its CLKs have one size the service takes (:data:`MAX_HASH_SIZE`;
   hardened CLKs can be longer), and the block file was made for this many CLKs;
2. check the CLKs fit the project, where the service shows the project's
   linkage schema to the token (:func:`check_against_project`): their length,
   the schema fingerprint and the folding and hardening the file records;
3. unless told to upload directly, ask the service for temporary object-store
   credentials (``authorize-external-upload``), upload ``encodings.bin`` (the
   binary format; ``encodings.json`` with ``{"clks": [...]}`` for the JSON
   format), with metadata ``hash-count`` and ``hash-size``, and ``blocks.json``
   to the bucket and path it names, and tell the service where they are;
4. otherwise, or if the service offers no object store, send the encodings in
   the request body: the CLKs' bytes to ``/binaryclks`` with ``Hash-Count`` and
   ``Hash-Size`` (``{"clks": [...]}`` to ``/clks`` for the JSON format), or the
   CLKs combined with their blocks (``{"clknblocks": [...]}``, JSON only).

What is sent is only what the service takes: a CLK file's metadata and header
are never sent, and a JSON file is converted to binary (or the reverse) on the
way; a JSON file without metadata (older tools) sent as JSON goes as it is.
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

How to upload (directly or not, the format, an AWS profile, progress bars, the
schema fingerprint check) is one :class:`UploadOptions`; how often anything is
sent again is the client's retry policy
(:class:`~anonlinkclient.service.settings.Retry`). Status lines and notes are
warnings of this module's logger (``anonlinkclient.service.upload``), details
(the CLI's ``-v``) are ``INFO``.
"""

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Mapping, Optional, Tuple, cast

from anonlinkclient.errors import (
    CredentialsExpired,
    InputFileError,
    NotAnUploadToken,
    ServiceConnectionError,
    ServiceError,
    UsageError,
)
from anonlinkclient.io.block_file import blocks_by_record
from anonlinkclient.io.clk_file import (
    WIRE_FORMATS,
    ClkFileSummary,
    ClkMeta,
    EncodedClks,
    check_clk_file,
    clk_bytes,
    no_metadata_note,
    read_clk_info,
)
from anonlinkclient.io.clknblocks import combine_clks_blocks
from anonlinkclient.io.progress import ReadProgress, bar
from anonlinkclient.service.objectstore import (
    ObjectStore,
    UploadPlace,
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
BINARY_ENCODINGS_OBJECT = "encodings.bin"
BLOCKS_OBJECT = "blocks.json"
#: The largest CLK (in bytes) the service takes: ``MAX_ENCODING_SIZE`` of a default Entity
#: Service deployment (its ``Hash-Size`` check for binary uploads; the least is 1).
MAX_HASH_SIZE = 1024
#: authorize-external-upload answers after which the upload goes directly to the service.
NO_OBJECT_STORE_STATUSES = frozenset({404, 500, 501})

logger = logging.getLogger(__name__)

#: Called with a message (0.3.0's hook of :func:`check_against_project`).
Log = Callable[[str], None]
#: Gives a linkage schema's fingerprint, or ``None`` if it is not a valid schema
#: (:func:`anonlinkclient.encoding.schema.fingerprint_if_valid`).
Fingerprint = Callable[[Mapping[str, Any]], Optional[str]]
#: Gives what a CLK file hashed with a linkage schema records about it (length after hardening,
#: fingerprint, folds, hardening), or ``None`` if it is not a valid schema
#: (:func:`anonlinkclient.encoding.schema.schema_meta_if_valid`).
ExpectedMeta = Callable[[Mapping[str, Any]], Optional[ClkMeta]]


@dataclass(frozen=True, kw_only=True)
class UploadOptions:
    """How to upload a CLK file (the client, project, token and files are the upload's arguments).

    :ivar to_entityservice: upload directly to the service, not through the object store.
    :ivar profile: sign the object-store upload with the credentials of this
        AWS profile instead of the service's temporary credentials (the service
        still reads the files with the credentials it issued).
    :ivar progress: show a progress bar per file on stderr while uploading.
    :ivar wire_format: ``binary`` (the service's binary format) or ``json``
        (``{"clks": [...]}``); a direct upload with blocks is always JSON (``clknblocks``).
    :ivar raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.
    :ivar fingerprint: gives a linkage schema's fingerprint, to check the file's
        against the project's (see :func:`check_against_project`); without it (or
        ``expected_meta``) only the CLKs' length is checked.
    :ivar expected_meta: gives what a file hashed with a linkage schema records (CLK length
        after hardening, fingerprint, folds and hardening), to check the file against the
        project's schema, hardened or not; it takes the place of ``fingerprint``.
    :raises UsageError: for an unknown ``wire_format``.
    """

    to_entityservice: bool = False
    profile: Optional[str] = None
    progress: bool = True
    wire_format: str = "binary"
    raw_clk_size: Optional[int] = None
    fingerprint: Optional[Fingerprint] = None
    expected_meta: Optional[ExpectedMeta] = None

    def __post_init__(self) -> None:
        if self.wire_format not in WIRE_FORMATS:
            raise UsageError(f"unknown upload format {self.wire_format!r} (expected binary or json)", "wire_format")


def check_upload_files(
    clk_path: str, blocks_path: Optional[str] = None, raw_clk_size: Optional[int] = None
) -> Tuple[int, int]:
    """Check a CLK file (and its block file) can be uploaded; return ``(CLK count, bytes per CLK)``.

    Both files are streamed, not loaded.

    :param raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: for a malformed file, CLKs of different sizes, an
        empty CLK list, or a block file made for another number of records.
    """
    summary = _check_files(clk_path, blocks_path, raw_clk_size)
    return summary.count, summary.size


def _check_files(clk_path: str, blocks_path: Optional[str], raw_clk_size: Optional[int]) -> ClkFileSummary:
    summary = check_clk_file(clk_path, raw_clk_size)
    if blocks_path is not None:
        for _blocks in blocks_by_record(blocks_path, summary.count, clk_path):  # the one check that they fit
            pass
    return summary


def check_hash_size(clk_path: str, size: int) -> None:
    """Check the service takes CLKs of ``size`` bytes (its ``MAX_ENCODING_SIZE``, ``Hash-Size`` in binary).

    :raises InputFileError: if they are larger than :data:`MAX_HASH_SIZE`.
    """
    if size > MAX_HASH_SIZE:
        raise InputFileError(
            clk_path,
            f"its CLKs are {size} bytes ({size * 8} bits), but the Entity Service takes CLKs of at most "
            f"{MAX_HASH_SIZE} bytes ({MAX_HASH_SIZE * 8} bits) by default; hash with a schema whose "
            "CLKs are shorter (a smaller l, or fewer balance steps)",
        )


def check_against_project(
    client: RestClient,
    project: str,
    apikey: str,
    clk_path: str,
    summary: ClkFileSummary,
    fingerprint: Optional[Fingerprint] = None,
    log: Optional[Log] = None,
    expected_meta: Optional[ExpectedMeta] = None,
) -> None:
    """Check the CLKs fit the project: their length, and the schema fingerprint and hardening the file records.

    The service shows a project's linkage schema (``GET /projects/{id}``) only
    to its result token; with an upload token it answers 403, and the check is
    skipped with a note.

    :param fingerprint: gives a schema's fingerprint; without it (or ``expected_meta``) only
        the CLK length is checked.
    :param log: 0.3.0's hook, kept: called with the note when the check is skipped, instead of
        logging it. The note is ``INFO`` (the CLI's ``-v``): it is the usual case (an upload token).
    :param expected_meta: gives what a file hashed with a schema records (its CLK length after
        hardening, fingerprint, folds and hardening): the file must record the same.
    :raises InputFileError: if the CLKs' length, the schema fingerprint or the hardening differ
        from the project's schema's.
    :raises ServiceConnectionError: if the service cannot be reached.
    """
    say = log or logger.info
    try:
        description = client.project_get_description(project, apikey)
    except ServiceConnectionError:
        raise
    except ServiceError as exc:
        status = f"HTTP {exc.status_code}" if exc.status_code is not None else str(exc)
        say(
            f"Note: the service does not show the project's linkage schema to this token ({status}; only the "
            f"result token may see it), so {clk_path} was not checked against it"
        )
        return
    schema = description.get("schema")
    expected = expected_meta(schema) if expected_meta is not None and isinstance(schema, dict) else None
    bits = schema.get("clkConfig", {}).get("l") if isinstance(schema, dict) else None
    if expected is not None:
        bits = expected.clk_bits
    if isinstance(bits, int) and not isinstance(bits, bool) and clk_bytes(bits) != summary.size:
        hardened = f" (it hardens: {expected.encoding})" if expected is not None and expected.hardening else ""
        raise InputFileError(
            clk_path,
            f"its CLKs are {summary.size * 8} bits, but project {project}'s linkage schema makes "
            f"{bits}-bit CLKs{hardened}",
        )
    meta = summary.info.meta
    if meta is None or not isinstance(schema, dict):
        return
    wanted = expected.schema_fingerprint if expected is not None else fingerprint(schema) if fingerprint else None
    recorded = meta.schema_fingerprint
    if wanted is not None and recorded is not None and wanted != recorded:
        detail = ""
        if expected is not None and meta.encoding != expected.encoding:
            detail = f" (the file records {meta.encoding}, the project's schema asks for {expected.encoding})"
        raise InputFileError(
            clk_path,
            f"was hashed with the linkage schema of fingerprint {recorded}, but project {project}'s schema has "
            f"fingerprint {wanted}{detail}; hash with the project's schema",
        )
    if expected is not None and meta.encoding != expected.encoding and not meta.knows_hardening:
        raise InputFileError(
            clk_path,
            f"was made by {meta.made_by}, which ignores xorFolds and clkConfig.hardening, but project {project}'s "
            f"schema asks for {expected.encoding}: its CLKs are not folded or hardened; hash with anonlink-client "
            "0.4.0 or later",
        )


def upload_encodings(
    client: RestClient,
    project: str,
    apikey: str,
    clk_path: str,
    blocks_path: Optional[str] = None,
    *,
    options: UploadOptions = UploadOptions(),
) -> Dict[str, Any]:
    """Upload a CLK file (and its block file) to a project, through the object store if the service offers one.

    :param client: the service's :class:`~anonlinkclient.rest_client.RestClient`.
    :param project: the project ID.
    :param apikey: the data provider's upload token.
    :param clk_path: the CLK file made by ``anonlink hash``, JSON or binary.
    :param blocks_path: the block file made by ``anonlink block`` for these CLKs.
    :param options: how to upload (directly, format, AWS profile, progress bars, fingerprint check).
    :return: the service's receipt, ``{"message": ..., "receipt_token": ...}``.
    :raises InputFileError: if the files are unusable or do not fit the project (nothing has been sent then).
    :raises ServiceError: if the service refuses or fails.
    :raises ObjectStoreError: if the object store upload fails.
    """
    summary = _check_files(clk_path, blocks_path, options.raw_clk_size)
    count, size = summary.count, summary.size
    direct_with_blocks = blocks_path is not None and options.to_entityservice
    sent_as = "clknblocks JSON" if direct_with_blocks else options.wire_format
    logger.info(
        f"{clk_path}: {count} CLKs of {size} bytes ({summary.info.format} file, sent as {sent_as})"
        + (f", blocks {blocks_path}" if blocks_path else "")
    )
    check_hash_size(clk_path, size)
    check_against_project(
        client, project, apikey, clk_path, summary, options.fingerprint, expected_meta=options.expected_meta
    )
    if not summary.info.checkable:
        logger.warning(no_metadata_note(clk_path))
    if not options.to_entityservice:
        access = _object_store_access(client, project, apikey, blocked=blocks_path is not None)
        if access is not None:
            logger.warning(OBJECT_STORE_MESSAGE)
            return upload_via_object_store(
                client, project, apikey, access, clk_path, blocks_path, count, size, options=options
            )
    logger.warning(DIRECT_MESSAGE)
    return upload_direct(client, project, apikey, clk_path, blocks_path, count, size, options=options)


def _object_store_access(client: RestClient, project: str, apikey: str, blocked: bool) -> Optional[Dict[str, Any]]:
    """The service's object-store credentials, or ``None`` if it offers none (then the upload goes direct)."""
    try:
        return client.get_temporary_objectstore_credentials(project, apikey)
    except ServiceError as exc:
        if isinstance(exc, NotAnUploadToken) or exc.status_code not in NO_OBJECT_STORE_STATUSES:
            raise
        detail = f": {exc.text}" if exc.text else ""
        logger.warning(
            f"Anonlink client: the service offers no object store upload (HTTP {exc.status_code}{detail}); "
            "uploading directly instead."
        )
        if not blocked:
            logger.warning(SAME_ROUTE_WARNING)
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
    *,
    options: UploadOptions = UploadOptions(),
) -> Dict[str, Any]:
    """Upload the files to the place ``access`` names, then tell the service where they are.

    If the store answers that the temporary credentials have expired, new ones
    are asked for and the file is uploaded again (as often as the client's retry
    policy says: once per file by default; not with an AWS ``profile``, whose
    credentials are the user's own).

    :param access: the answer of ``authorize-external-upload``.
    :param count: / :param size: the number of CLKs and bytes per CLK (object metadata).
    :param options: how to upload; its ``wire_format`` is the ``encodings`` object's
        format: ``binary`` (``encodings.bin``, the service's binary format) or
        ``json`` (``encodings.json``, ``{"clks": [...]}``).
    :return: the service's receipt.
    """
    wire_format, raw_clk_size = options.wire_format, options.raw_clk_size
    encodings_object = BINARY_ENCODINGS_OBJECT if wire_format == "binary" else ENCODINGS_OBJECT
    files = [(encodings_object, clk_path, {"hash-count": str(count), "hash-size": str(size)})]
    if blocks_path is not None:
        files.append((BLOCKS_OBJECT, blocks_path, {}))

    def put(store: ObjectStore, place: UploadPlace, object_file: str, path: str, metadata: Dict[str, str]) -> None:
        label = os.path.basename(path)
        if object_file == BLOCKS_OBJECT or _sent_as_it_is(clk_path, wire_format, raw_clk_size):
            store.upload_file(place.bucket, place.object_name(object_file), path, metadata, label)
            return
        stream = EncodedClks(clk_path, wire_format, count, size, raw_clk_size)
        content_type = "application/octet-stream" if wire_format == "binary" else "application/json"
        try:
            body = cast(IO[bytes], stream)
            store.upload_stream(
                place.bucket, place.object_name(object_file), body, stream.len, label, metadata, content_type
            )
        finally:
            stream.close()

    store = _object_store(client, access, options)
    places: Dict[str, Tuple[str, str]] = {}
    for object_file, path, metadata in files:
        renewals = client.retry.credential_renewals if options.profile is None else 0
        while True:
            place = upload_place(access["upload"])
            try:
                put(store, place, object_file, path, metadata)
                break
            except CredentialsExpired:
                if renewals == 0:
                    raise
                renewals -= 1
                logger.warning(REFRESH_MESSAGE)
                access = client.get_temporary_objectstore_credentials(project, apikey)
                store = _object_store(client, access, options)
        places[object_file] = (place.bucket, place.object_name(object_file))
    service_credentials = _read_credentials(access.get("credentials"))  # the latest, which can read every file
    body: Dict[str, Any] = {}
    for object_file, (bucket, object_name) in places.items():
        external: Dict[str, Any] = {"file": {"bucket": bucket, "path": object_name}}
        if service_credentials:
            external["credentials"] = service_credentials
        body["blocks" if object_file == BLOCKS_OBJECT else "encodings"] = external
    return client.project_upload_clks(project, apikey, body)


def _object_store(client: RestClient, access: Dict[str, Any], options: UploadOptions) -> ObjectStore:
    """The store ``access`` names, signed with its credentials (or the profile's), with the client's
    TLS, timeout and retry policy."""
    place = upload_place(access["upload"])
    return ObjectStore(
        place.endpoint,
        place.secure,
        credentials_provider(access.get("credentials"), options.profile),
        region=None if options.profile else "us-east-1",
        progress=options.progress,
        timeout=client.timeout,
        verify=client.verify_tls,
        retry=client.retry,
    )


def _read_credentials(credentials: Any) -> Optional[Dict[str, str]]:
    """The issued credentials, passed back so the service can read the objects (``ExternalData.credentials``)."""
    if not isinstance(credentials, dict):
        return None
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken")
    return {key: str(credentials[key]) for key in keys if credentials.get(key)}


def _sent_as_it_is(clk_path: str, wire_format: str, raw_clk_size: Optional[int]) -> bool:
    """Whether the file goes as it is: a JSON file without metadata sent as JSON (as earlier versions sent it)."""
    if wire_format != "json" or raw_clk_size is not None:
        return False
    info = read_clk_info(clk_path)
    return info.format == "json" and info.meta is None


def upload_direct(
    client: RestClient,
    project: str,
    apikey: str,
    clk_path: str,
    blocks_path: Optional[str] = None,
    count: Optional[int] = None,
    size: Optional[int] = None,
    *,
    options: UploadOptions = UploadOptions(progress=False),
) -> Dict[str, Any]:
    """Send the encodings in the request body: binary to ``/binaryclks``, ``{"clks": [...]}``, or
    combined with their blocks (``{"clknblocks": [...]}``).

    All are streamed from the file, which a retry reads again from its start.

    :param count: / :param size: the number of CLKs and bytes per CLK, if known
        (from :func:`check_upload_files`; the file is checked again if not).
    :param options: how to upload: ``progress`` shows a progress bar of the bytes sent on stderr;
        ``wire_format`` is ``binary`` or ``json`` (without blocks; with blocks the body is ``clknblocks``).
    :return: the service's receipt.
    """
    wire_format, raw_clk_size = options.wire_format, options.raw_clk_size
    binary = False
    try:
        with contextlib.ExitStack() as stack:
            if blocks_path is not None or _sent_as_it_is(clk_path, wire_format, raw_clk_size):
                body: IO[bytes] = stack.enter_context(
                    open(clk_path, "rb")
                    if blocks_path is None
                    else combine_clks_blocks(clk_path, blocks_path, raw_clk_size)
                )
                length = os.fstat(body.fileno()).st_size
            else:
                if count is None or size is None:
                    count, size = check_upload_files(clk_path, None, raw_clk_size)
                stream = EncodedClks(clk_path, wire_format, count, size, raw_clk_size)
                stack.callback(stream.close)
                body, length, binary = cast(IO[bytes], stream), stream.len, wire_format == "binary"
            sent = stack.enter_context(
                bar(options.progress, f"Upload {os.path.basename(clk_path)}", length, "B", unit_divisor=1024)
            )
            counted = cast(IO[bytes], ReadProgress(body, sent))
            if binary and count is not None and size is not None:
                receipt = client.project_upload_binary_clks(project, apikey, counted, count, size)
            else:
                receipt = client.project_upload_clks(project, apikey, counted)
    except OSError as exc:
        raise InputFileError(clk_path, f"cannot read ({exc.strerror})") from exc
    return receipt
