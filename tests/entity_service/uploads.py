"""Reading one party's upload (``POST /projects/{id}/clks``) into CLKs and blocks.

Four forms are accepted, as by the real service:

* ``{"clks": [base64, ...]}`` (projects without blocking): every record in block
  :data:`~tests.entity_service.state.DIRECT_DEFAULT_BLOCK`;
* ``{"clknblocks": [[base64, block, ...], ...]}`` (projects with blocking);
* ``{"encodings": [base64, ...], "blocks": {"0": [block, ...], ...}}`` (blocks optional);
* ``{"encodings": {"file": {"bucket", "path"}, "credentials": {...}}, "blocks": {...same...}}``:
  the objects are read back from the S3 server, checked against their
  ``hash-count``/``hash-size`` user metadata, then deleted. Without blocks
  every record is in block :data:`~tests.entity_service.state.OBJECT_STORE_DEFAULT_BLOCK`.

``POST /projects/{id}/binaryclks`` (:func:`parse_binary_upload`) takes the raw
CLK bytes with ``Hash-Count``/``Hash-Size`` headers; every record is in block
:data:`~tests.entity_service.state.DIRECT_DEFAULT_BLOCK`, as with ``clks``.

A block map names records by index (``"0"``, ``"1"``, ...); a record it does not
name is in no block and never compared. Block ids the client sends are
compared as strings. Anything unusable raises :class:`UploadError` (a 400).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from tests.entity_service.objectstore import S3Server
from tests.entity_service.state import DIRECT_DEFAULT_BLOCK, OBJECT_STORE_DEFAULT_BLOCK, BlockId


class UploadError(Exception):
    """An upload the service refuses; ``str()`` is the problem's ``detail``."""


@dataclass
class ParsedUpload:
    """CLKs (raw bytes), per-record blocks, the form used and, for the object store, what was read."""

    clks: List[bytes]
    blocks: List[List[BlockId]]
    source: str
    objects: Optional[Dict[str, Any]] = None


@dataclass
class ObjectStoreAccess:
    """What the service knows about one party's object-store access.

    :ivar s3: the service's S3 server (``None``: object store disabled).
    :ivar prefix: the path the party's credentials allow (``"<project_id>/<dp_id>"``), if any were issued.
    :ivar issued: AccessKeyId -> SecretAccessKey of the credentials issued to the party.
    """

    s3: Optional[S3Server]
    prefix: Optional[str]
    issued: Dict[str, str]


def parse_upload(body: Dict[str, Any], uses_blocking: bool, access: ObjectStoreAccess) -> ParsedUpload:
    """Turn a ``/clks`` request body into a :class:`ParsedUpload`.

    :raises UploadError: if the form does not fit the project, or the data is unusable.
    """
    encodings = body.get("encodings")
    if isinstance(encodings, dict):
        return _from_object_store(body, access)
    if "clks" in body and not uses_blocking:
        clks = _decode_all(body["clks"])
        return ParsedUpload(clks, [[DIRECT_DEFAULT_BLOCK] for _ in clks], "clks")
    if "clknblocks" in body and uses_blocking:
        rows = body["clknblocks"]
        _require_some(rows)
        clks = _decode_all([row[0] if row else "" for row in rows])
        return ParsedUpload(clks, [[str(b) for b in row[1:]] for row in rows], "clknblocks")
    if isinstance(encodings, list):
        clks = _decode_all(encodings)
        if "blocks" in body:
            blocks = _blocks_from_map(body["blocks"], len(clks))
        else:
            blocks = [[DIRECT_DEFAULT_BLOCK] for _ in clks]
        return ParsedUpload(clks, blocks, "encodings")
    raise UploadError(
        'Bad upload format: expected "clks" for a project without blocking, "clknblocks" for a project '
        'with blocking, or "encodings"'
    )


def _require_some(items: List[Any]) -> None:
    if len(items) < 1:
        raise UploadError("Missing CLKs information")


def _decode_all(texts: List[Any], size: Optional[int] = None) -> List[bytes]:
    _require_some(texts)
    clks = []
    for index, text in enumerate(texts):
        try:
            clk = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise UploadError(f"encoding {index} is not valid base64") from None
        size = len(clk) if size is None else size
        if len(clk) != size or size == 0:
            raise UploadError(f"encoding {index} is {len(clk)} bytes, expected {size}: all must have one size")
        clks.append(clk)
    return clks


def _blocks_from_map(block_map: Any, count: int) -> List[List[BlockId]]:
    if isinstance(block_map, dict) and isinstance(block_map.get("blocks"), dict):
        block_map = block_map["blocks"]  # a block file as "anonlink block" writes it
    if not isinstance(block_map, dict):
        raise UploadError("blocks must map encoding ids to lists of block ids")
    blocks: List[List[BlockId]] = [[] for _ in range(count)]
    for key, ids in block_map.items():
        index = int(key) if str(key).isdigit() else -1
        if not 0 <= index < count:
            raise UploadError(f"blocks name encoding {key!r}, but there are {count} encodings")
        if not isinstance(ids, list):
            raise UploadError(f"blocks of encoding {key!r} must be a list of block ids")
        blocks[index] = [str(b) for b in ids]
    return blocks


def _from_object_store(body: Dict[str, Any], access: ObjectStoreAccess) -> ParsedUpload:
    if access.s3 is None:
        raise UploadError("this service has no object store")
    client = access.s3.boto3_client()
    enc = _locate(body["encodings"], access, "encodings")
    try:
        head = client.head_object(Bucket=enc["bucket"], Key=enc["path"])
        data = client.get_object(Bucket=enc["bucket"], Key=enc["path"])["Body"].read()
    except client.exceptions.ClientError as exc:
        raise UploadError(f"cannot read {enc['bucket']}/{enc['path']} from the object store: {exc}") from None
    metadata = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
    count = _metadata_int(metadata, "hash-count", enc)
    size = _metadata_int(metadata, "hash-size", enc)
    if enc["path"].endswith(".json"):
        try:
            document = json.loads(data)
        except ValueError:
            raise UploadError(f"{enc['path']} is not JSON") from None
        texts = document.get("clks") if isinstance(document, dict) else document
        clks = _decode_all(texts if isinstance(texts, list) else [], size)
    else:
        if len(data) != count * size:
            raise UploadError(f"{enc['path']} has {len(data)} bytes, but hash-count x hash-size is {count * size}")
        clks = [data[i * size : (i + 1) * size] for i in range(count)]
    if len(clks) != count:
        raise UploadError(f"{enc['path']} has {len(clks)} encodings, but its hash-count metadata says {count}")
    enc.update(metadata=metadata, size=len(data))

    blocks_info = None
    if isinstance(body.get("blocks"), dict) and "file" in body["blocks"]:
        blocks_info = _locate(body["blocks"], access, "blocks")
        try:
            raw = client.get_object(Bucket=blocks_info["bucket"], Key=blocks_info["path"])["Body"].read()
            block_map = json.loads(raw)
        except client.exceptions.ClientError as exc:
            raise UploadError(f"cannot read {blocks_info['path']} from the object store: {exc}") from None
        except ValueError:
            raise UploadError(f"{blocks_info['path']} is not JSON") from None
        blocks_info["size"] = len(raw)
        blocks = _blocks_from_map(block_map, count)
    elif "blocks" in body:
        blocks = _blocks_from_map(body["blocks"], count)
    else:
        blocks = [[OBJECT_STORE_DEFAULT_BLOCK] for _ in clks]

    for info in (enc, blocks_info):
        if info is not None:
            client.delete_object(Bucket=info["bucket"], Key=info["path"])
    objects = {"encodings": enc, "blocks": blocks_info, "credentials": body["encodings"].get("credentials")}
    return ParsedUpload(clks, blocks, "object-store", objects)


def _locate(external: Dict[str, Any], access: ObjectStoreAccess, what: str) -> Dict[str, Any]:
    """Check an ``ExternalData`` object points into this service's store, where the party may write."""
    assert access.s3 is not None
    file = external["file"]
    endpoint = file.get("endpoint")
    if endpoint and endpoint not in (access.s3.endpoint, f"localhost:{access.s3.port}"):
        raise UploadError(f"{what}: endpoint {endpoint!r} is not this service's object store")
    credentials = external.get("credentials")
    if credentials is not None and access.issued.get(credentials.get("AccessKeyId")) != credentials.get(
        "SecretAccessKey"
    ):
        raise UploadError(f"{what}: the credentials were not issued to this party by authorize-external-upload")
    if access.prefix is not None and not file["path"].startswith(access.prefix + "/"):
        raise UploadError(
            f"{what}: {file['path']!r} is outside {access.prefix!r}/, where this party's credentials allow uploads"
        )
    return {"bucket": file["bucket"], "path": file["path"]}


def _metadata_int(metadata: Dict[str, str], key: str, where: Dict[str, Any]) -> int:
    value = metadata.get(key, "")
    if not value.strip().isdigit():
        raise UploadError(f"{where['path']} has no usable {key!r} user metadata (got {value!r})")
    return int(value)


#: The least and largest ``Hash-Size`` a default deployment takes (its MIN_ENCODING_SIZE and MAX_ENCODING_SIZE).
MIN_HASH_SIZE = 1
MAX_HASH_SIZE = 1024


@dataclass
class BinaryBody:
    """An ``application/octet-stream`` request body, with the request's headers (keys lower case)."""

    headers: Dict[str, str]
    data: bytes


class BinaryUploadRefused(UploadError):
    """A ``/binaryclks`` upload the service refuses with a 400 problem."""


def parse_binary_upload(body: BinaryBody, schema_size: Optional[int]) -> ParsedUpload:
    """Turn a ``POST /binaryclks`` request into a :class:`ParsedUpload`, checking it as the real service does.

    ``Hash-Count`` and ``Hash-Size`` must be integers (at least 1, and the size at
    most :data:`MAX_HASH_SIZE`); the size must be the one the project's schema
    says, if it says one; and the body must be exactly ``Hash-Count`` CLKs of
    ``Hash-Size`` bytes. Every record goes in the default block of direct uploads.

    :raises BinaryUploadRefused: with the real service's message.
    """
    count = _header_int(body.headers, "Hash-Count", 1, None)
    size = _header_int(body.headers, "Hash-Size", MIN_HASH_SIZE, MAX_HASH_SIZE)
    if schema_size is not None and size != schema_size:
        raise BinaryUploadRefused("Upload 'Hash-Size' doesn't match project settings")
    if len(body.data) != count * size:
        raise BinaryUploadRefused("Uploaded data did not match the expected size. Check request headers are correct")
    clks = [body.data[i * size : (i + 1) * size] for i in range(count)]
    return ParsedUpload(clks, [[DIRECT_DEFAULT_BLOCK] for _ in clks], "binaryclks")


def _header_int(headers: Dict[str, str], name: str, least: int, most: Optional[int]) -> int:
    value = headers.get(name.lower(), "").strip()
    number = int(value) if value.isdigit() else -1
    if number < least or (most is not None and number > most):
        raise BinaryUploadRefused(f"Invalid value for {name} header")
    return number
