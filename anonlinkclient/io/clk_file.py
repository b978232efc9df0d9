r"""CLK files, the one place that knows their formats: JSON and binary, each read and written streaming.

**JSON**, what ``anonlink hash`` writes by default (``json.dump`` of this, keys in this order)::

    {"meta": {"tool": "anonlink-client", "tool_version": "0.2.0", "clk_bits": 1024,
              "schema_fingerprint": "sha256:<64 hex digits>", "secret_check": "<4 hex digits>",
              "xor_folds": <folds>, "hardening": ["<step>", ...]},
     "clks": ["<base64 CLK>", ...],
     "clk_count": <number of CLKs>}

``xor_folds`` and ``hardening`` are written only for a schema that folds or hardens.
``meta`` comes before ``clks``, so a reader learns what the file is before the
first CLK; ``clk_count`` comes after them, as the count is known only once the
last CLK is written. Tools that read ``{"clks": [...]}`` (anonlink-client 0.1,
clkhash) ignore both. A file without ``meta`` (older tools) is read as before.

**Binary** (``anonlink hash --format binary``): a header, then the Entity
Service's binary format (the body of ``POST /projects/{id}/binaryclks``).
Integers are unsigned and big-endian::

    offset  bytes  field
    0       8      magic: 89 43 4C 4B 0D 0A 1A 0A  ("\x89CLK\r\n\x1a\n")
    8       2      layout version: 1
    10      2      flags: 0
    12      4      S, bytes per CLK (the service's Hash-Size)
    16      8      N, number of CLKs (the service's Hash-Count)
    24      4      M, bytes of metadata
    28      M      metadata: the JSON object of "meta" above, UTF-8
    28+M    N*S    the CLKs, S raw bytes each (most significant bit first), in row order

A file starting with the magic is binary; any other file is read as JSON. A
**headerless** binary file (the service's format alone, S bytes per CLK and
nothing else) cannot be told from other bytes, so it is read only when its CLK
size is given (``raw_size``); its length must then be a multiple of it.

Every CLK is checked as it is read (base64, one size, the size the metadata
says, the count the metadata says), so a truncated or damaged file is an
:class:`~anonlinkclient.errors.InputFileError` naming the file and the problem.
:class:`EncodedClks` turns any CLK file into what an upload sends (binary or
``{"clks": [...]}``), streaming, with its length known in advance.
"""

import base64
import binascii
import contextlib
import json
import os
import re
import struct
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple, cast

import ijson

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.files import Source, guarded, json_stream_errors, loads_json, open_source, source_name
from anonlinkclient.io.json_array import write_list_document, write_sequence
from anonlinkclient.io.output import atomic_output

CLK_FILE_HINT = (
    'expected a CLK file made by "anonlink hash": JSON {"clks": [...]} or binary '
    "(a headerless binary file is read only if its CLK size is given)"
)

#: The CLK file formats ``anonlink hash`` writes.
FORMATS = ("json", "binary")
#: The first bytes of a binary CLK file (PNG's pattern: a high-bit byte, then CR LF, ^Z and LF,
#: so that a transfer that changes line endings or drops the 8th bit shows at once).
MAGIC = b"\x89CLK\r\n\x1a\n"
BINARY_VERSION = 1
#: magic, layout version, flags, bytes per CLK, CLK count, metadata bytes.
HEADER = struct.Struct(">8sHHIQI")
COUNT_OFFSET = 16
UTF8_BOM = b"\xef\xbb\xbf"
#: The largest metadata a binary header may hold.
MAX_METADATA_BYTES = 1 << 16
#: Bytes read from a binary file at a time.
READ_BYTES = 1 << 20
#: CLKs encoded per piece of an upload body.
BATCH_CLKS = 4096

_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def clk_bytes(bits: int) -> int:
    """Bytes per CLK of ``bits`` bits (a last partial byte padded with zero bits)."""
    return (bits + 7) // 8


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClkMeta:
    """What a CLK file records about how it was made (``None``: not recorded).

    :ivar tool: / :ivar tool_version: the program that made the file, e.g. ``anonlink-client`` ``0.2.0``.
    :ivar clk_bits: the length of each CLK in bits (the linkage schema's ``clkConfig.l``, or what
        its hardening steps make of it).
    :ivar schema_fingerprint: ``sha256:`` and 64 hex digits: the linkage schema's
        fingerprint (:func:`anonlinkclient.encoding.schema.schema_fingerprint`).
    :ivar secret_check: the secret's check value, a few hex digits
        (:func:`anonlinkclient.encoding.secrets.secret_check_value`).
    :ivar xor_folds: the XOR folds applied after hashing (recorded only when there were some).
    :ivar hardening: the hardening steps applied, in order, one short text each (recorded
        only for a hardened schema).
    """

    tool: Optional[str] = None
    tool_version: Optional[str] = None
    clk_bits: Optional[int] = None
    schema_fingerprint: Optional[str] = None
    secret_check: Optional[str] = None
    xor_folds: Optional[int] = None
    hardening: Optional[Tuple[str, ...]] = None

    FIELDS: ClassVar[Tuple[str, ...]] = (
        "tool",
        "tool_version",
        "clk_bits",
        "schema_fingerprint",
        "secret_check",
        "xor_folds",
        "hardening",
    )

    def to_json(self) -> Dict[str, Any]:
        """The ``meta`` object, its keys in the documented order, without the fields not recorded."""
        found = {name: getattr(self, name) for name in self.FIELDS if getattr(self, name) is not None}
        if "hardening" in found:
            found["hardening"] = list(found["hardening"])
        return found

    @classmethod
    def from_json(cls, value: Any, path: str) -> "ClkMeta":
        """Read a ``meta`` object (unknown fields are ignored).

        :raises InputFileError: naming the field that is not what it should be.
        """
        if not isinstance(value, dict):
            raise InputFileError(path, f'its "meta" is not an object; {CLK_FILE_HINT}')
        checks: Dict[str, Tuple[Callable[[Any], bool], str]] = {
            "tool": (lambda v: isinstance(v, str), "a string"),
            "tool_version": (lambda v: isinstance(v, str), "a string"),
            "clk_bits": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive integer"),
            "schema_fingerprint": (
                lambda v: isinstance(v, str) and bool(_FINGERPRINT.match(v)),
                '"sha256:" and 64 hex digits',
            ),
            "secret_check": (lambda v: isinstance(v, str) and bool(_HEX.match(v)), "hex digits"),
            "xor_folds": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number"),
            "hardening": (
                lambda v: isinstance(v, list) and len(v) <= 1000 and all(isinstance(s, str) for s in v),
                "a list of step descriptions (strings)",
            ),
        }
        for name, (valid, expected) in checks.items():
            if name in value and not valid(value[name]):
                raise InputFileError(path, f"its metadata field {name} is {json.dumps(value[name])}, not {expected}")
        found = {name: value.get(name) for name in checks}
        if found["hardening"] is not None:
            found["hardening"] = tuple(found["hardening"])
        return cls(**found)

    @property
    def checkable(self) -> bool:
        """Whether the file records anything to check parties against (a schema fingerprint or secret check)."""
        return self.schema_fingerprint is not None or self.secret_check is not None

    @property
    def knows_hardening(self) -> bool:
        """Whether the tool that made the file folds and hardens as the schema says (anonlink-client 0.4.0 or later).

        clkhash and anonlink-client up to 0.3.0 ignore ``xorFolds`` and ``clkConfig.hardening``.
        """
        if self.tool != "anonlink-client" or self.tool_version is None:
            return False
        numbers = re.findall(r"\d+", self.tool_version)[:2]
        return len(numbers) == 2 and (int(numbers[0]), int(numbers[1])) >= (0, 4)

    @property
    def made_by(self) -> str:
        """The tool and version that made the file, e.g. ``anonlink-client 0.3.0`` (``a tool`` if not recorded)."""
        return f"{self.tool or 'a tool'} {self.tool_version or ''}".rstrip()

    @property
    def encoding(self) -> str:
        """What the file says was done after hashing: e.g. ``XOR folds 1, hardening balance`` or ``none``."""
        parts = []
        if self.xor_folds:
            parts.append(f"XOR folds {self.xor_folds}")
        if self.hardening:
            parts.append(f"hardening {', '.join(self.hardening)}")
        return "; ".join(parts) or "no folding or hardening"

    def lines(self) -> List[str]:
        """What ``anonlink describe`` shows of the metadata, one line per field recorded."""
        lines = []
        if self.tool is not None:
            lines.append(f"made by: {self.tool} {self.tool_version or ''}".rstrip())
        if self.clk_bits is not None:
            lines.append(f"CLK length: {self.clk_bits} bits")
        if self.schema_fingerprint is not None:
            lines.append(f"schema fingerprint: {self.schema_fingerprint}")
        if self.secret_check is not None:
            lines.append(f"secret check value: {self.secret_check}")
        if self.xor_folds is not None:
            lines.append(f"XOR folds applied: {self.xor_folds}")
        if self.hardening is not None:
            lines.append(f"hardening: {', '.join(self.hardening) if self.hardening else 'none'}")
        return lines


def no_metadata_note(path: str, hardened: bool = False) -> str:
    """The one-line note for a CLK file whose schema and secret cannot be checked.

    :param hardened: the other parties' files are folded or hardened, which the tools that
        write no metadata (clkhash, anonlink-client before 0.2) do not do.
    """
    note = (
        f"Note: {path} records no schema fingerprint or secret check value (older tools do not), "
        "so its schema and secret cannot be checked"
    )
    if hardened:
        note += (
            "; the other files are folded or hardened, which clkhash and older anonlink-client versions "
            "do not do even with the same schema"
        )
    return note


@dataclass
class ClkFileInfo:
    """What a CLK file says about itself before its CLKs.

    :ivar path: the file's name, for messages.
    :ivar format: ``json``, ``binary`` or ``raw`` (headerless binary).
    :ivar meta: its metadata, or ``None`` if it records none.
    :ivar clk_size: bytes per CLK where the file says so (binary header, the raw size given, or the metadata).
    :ivar count: the number of CLKs where the file says so before them (binary header, raw length).
    """

    path: str
    format: str
    meta: Optional[ClkMeta] = None
    clk_size: Optional[int] = None
    count: Optional[int] = None

    @property
    def checkable(self) -> bool:
        """Whether the file records a schema fingerprint or secret check value."""
        return self.meta is not None and self.meta.checkable


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


class _Prefixed:
    """A binary file whose first bytes were already read: they are given back first."""

    def __init__(self, head: bytes, handle: IO[bytes]) -> None:
        self.head = head
        self.handle = handle

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.handle.read(size)
        if size is None or size < 0:
            data, self.head = self.head + self.handle.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        if len(data) < size:
            data += self.handle.read(size - len(data))
        return data


def _remaining_bytes(handle: IO[bytes]) -> Optional[int]:
    """Bytes from the current position to the end of a seekable file (``None`` if it cannot seek)."""
    try:
        if not handle.seekable():
            return None
        here = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def _read_exactly(handle: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = handle.read(size - len(data))
        if not more:
            break
        data += more
    return data


class ClkFile:
    """A CLK file of any format opened for one pass: :attr:`info` first, then its CLKs, each checked.

    Use :func:`open_clk_file` rather than this class directly.

    :param raw_size: read the file as headerless binary with CLKs of this many bytes.
    :raises InputFileError: if the file's header or metadata are unusable.
    """

    def __init__(self, handle: IO[bytes], path: str, raw_size: Optional[int] = None) -> None:
        self.handle = handle
        self.path = path
        if raw_size is not None and (isinstance(raw_size, bool) or not isinstance(raw_size, int) or raw_size < 1):
            raise UsageError(
                f"the CLK size of a headerless binary file must be a positive number of bytes, not {raw_size!r}",
                "raw_size",
            )
        head = _read_exactly(handle, len(MAGIC))
        self._events: Optional[Iterator[Tuple[str, str, Any]]] = None
        self._data_bytes: Optional[int] = None  # binary: bytes of CLKs the header promises
        if head == MAGIC and raw_size is not None:
            raise InputFileError(
                path,
                "starts with the header of a binary CLK file, so it is not headerless; "
                "read it without giving a CLK size",
            )
        if raw_size is not None:
            self._head = head
            self.info = ClkFileInfo(path, "raw", None, raw_size)
            remaining = _remaining_bytes(handle)
            if remaining is not None:
                self._check_raw_length(len(head) + remaining)
                self.info.count = (len(head) + remaining) // raw_size
        elif head == MAGIC:
            self._head = b""
            self.info = self._read_binary_header()
        else:
            self._head = b""
            self.info = ClkFileInfo(path, "json")
            head = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head  # as editors on Windows write
            self._events = self._json_events(_Prefixed(head, handle))
            self._read_json_meta()

    # ---- binary ----

    def _read_binary_header(self) -> ClkFileInfo:
        rest = _read_exactly(self.handle, HEADER.size - len(MAGIC))
        if len(rest) < HEADER.size - len(MAGIC):
            raise InputFileError(self.path, "is truncated: its binary CLK header is incomplete")
        _magic, version, flags, size, count, meta_size = HEADER.unpack(MAGIC + rest)
        if version != BINARY_VERSION or flags != 0:
            raise InputFileError(
                self.path,
                f"is a binary CLK file of layout version {version} (flags {flags}); "
                f"this tool reads version {BINARY_VERSION} (flags 0)",
            )
        if size == 0:
            raise InputFileError(self.path, "its binary CLK header says CLKs of 0 bytes")
        if meta_size > MAX_METADATA_BYTES:
            raise InputFileError(
                self.path, f"its binary CLK header says {meta_size} bytes of metadata (at most {MAX_METADATA_BYTES})"
            )
        raw_meta = _read_exactly(self.handle, meta_size)
        if len(raw_meta) < meta_size:
            raise InputFileError(self.path, "is truncated: its binary CLK header is incomplete")
        try:
            document = loads_json(raw_meta)
        except (UnicodeDecodeError, ValueError):  # JsonLimitError too: nested too deep, a very long number
            raise InputFileError(self.path, "its binary CLK header's metadata is not JSON") from None
        meta = ClkMeta.from_json(document, self.path)
        if meta.clk_bits is not None and clk_bytes(meta.clk_bits) != size:
            raise InputFileError(
                self.path, f"its header says {size}-byte CLKs, but its metadata says {meta.clk_bits}-bit CLKs"
            )
        self._data_bytes = count * size
        remaining = _remaining_bytes(self.handle)
        if remaining is not None and remaining != self._data_bytes:
            raise InputFileError(self.path, self._length_problem(count, size, remaining))
        return ClkFileInfo(self.path, "binary", meta, size, count)

    @staticmethod
    def _length_problem(count: int, size: int, actual: int) -> str:
        expected = count * size
        truncated = "is truncated: " if actual < expected else ""
        return (
            f"{truncated}its header says {count} CLKs of {size} bytes ({expected} bytes), "
            f"but {actual} bytes follow the header"
        )

    def _check_raw_length(self, total: int) -> None:
        size = self.info.clk_size or 1
        if total % size:
            raise InputFileError(self.path, f"is {total} bytes, not a multiple of the {size}-byte CLK size")

    def _binary_blocks(self) -> Iterator[bytes]:
        """The CLK bytes of a binary or raw file, in blocks of whole CLKs, checking the length."""
        size = self.info.clk_size or 1
        per_read = max(1, READ_BYTES // size) * size
        expected = self._data_bytes
        carry, self._head = self._head, b""
        total = len(carry)
        while True:
            data = self.handle.read(per_read)
            if not data:
                break
            total += len(data)
            if expected is not None and total > expected:
                raise InputFileError(self.path, self._length_problem(self.info.count or 0, size, self._total(total)))
            buffer = carry + data if carry else data
            whole = len(buffer) - len(buffer) % size
            carry = buffer[whole:]
            if whole:
                yield buffer[:whole]
        if expected is not None and total != expected:
            raise InputFileError(self.path, self._length_problem(self.info.count or 0, size, total))
        if carry:
            self._check_raw_length(total)

    def _total(self, read_so_far: int) -> int:
        """The whole length of the data, reading the rest (for the message of a file that is too long)."""
        rest = 0
        while True:
            more = self.handle.read(READ_BYTES)
            if not more:
                return read_so_far + rest
            rest += len(more)

    # ---- JSON ----

    def _json_events(self, handle: Any) -> Iterator[Tuple[str, str, Any]]:
        with json_stream_errors(self.path, CLK_FILE_HINT):
            try:
                yield from ijson.parse(guarded(handle), use_float=True)
            except ijson.IncompleteJSONError as exc:
                if "premature EOF" not in str(exc) and "Incomplete JSON content" not in str(exc):
                    raise
                raise InputFileError(self.path, "is truncated: its JSON ends before the CLK file does") from None

    def _next_event(self) -> Optional[Tuple[str, str, Any]]:
        assert self._events is not None
        return next(self._events, None)

    def _event_within_clks(self) -> Tuple[str, str, Any]:
        """The next event, which the document must have: it has not passed the end of the ``clks`` list."""
        event = self._next_event()
        if event is None:
            raise InputFileError(self.path, f'has no "clks" list; {CLK_FILE_HINT}')
        return event

    def _read_json_meta(self) -> None:
        """Read the events up to the start of the ``clks`` list, taking ``meta`` on the way."""
        while True:
            prefix, kind, value = self._event_within_clks()
            if prefix == "clks" and kind == "start_array":
                return
            if prefix == "meta" and kind != "map_key" and self.info.meta is None:
                self.info.meta = ClkMeta.from_json(self._build(kind, value), self.path)
                if self.info.meta.clk_bits is not None:
                    self.info.clk_size = clk_bytes(self.info.meta.clk_bits)

    def _build(self, kind: str, value: Any) -> Any:
        """The JSON value whose first event is ``(kind, value)``, from the events that follow it."""
        builder = ijson.ObjectBuilder()
        builder.event(kind, value)
        depth = 1 if kind in ("start_map", "start_array") else 0
        while depth:
            event = self._next_event()
            if event is None:
                break  # the parser reports the truncation
            _prefix, kind, value = event
            builder.event(kind, value)
            depth += kind in ("start_map", "start_array")
            depth -= kind in ("end_map", "end_array")
        return builder.value

    def _json_clks(self) -> Iterator[bytes]:
        index = 0
        while True:
            prefix, kind, value = self._event_within_clks()
            if prefix == "clks" and kind == "end_array":
                break
            if kind != "string":
                raise InputFileError(self.path, "is not a string; " + CLK_FILE_HINT, row=index, row_label="CLK")
            yield decode_clk(value, self.path, index)
            index += 1
        declared: Optional[int] = None
        for prefix, kind, value in iter(self._next_event, None):  # the rest, to the end of the document
            if prefix == "clk_count" and declared is None:
                if kind != "number" or not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InputFileError(self.path, f"its clk_count is {json.dumps(value)}, not a number of CLKs")
                declared = value
        if declared is not None and declared != index:
            raise InputFileError(self.path, f"has {index} CLKs, but its metadata says {declared} (clk_count)")

    # ---- any format ----

    def _raw_clks(self) -> Iterator[bytes]:
        if self.info.format == "json":
            yield from self._json_clks()
            return
        size = self.info.clk_size or 1
        for block in self._binary_blocks():
            for start in range(0, len(block), size):
                yield block[start : start + size]

    def __iter__(self) -> Iterator[bytes]:
        """Yield each CLK as bytes, checking that all have one size and agree with the metadata."""
        size: Optional[int] = None
        declared = self.info.clk_size if self.info.format == "json" else None
        for index, clk in enumerate(self._raw_clks()):
            if size is None:
                size = len(clk)
                if size == 0:
                    raise InputFileError(self.path, "is empty", row=index, row_label="CLK")
                if declared is not None and size != declared:
                    bits = self.info.meta.clk_bits if self.info.meta else None
                    raise InputFileError(
                        self.path,
                        f"is {size} bytes, but the file's metadata says {bits}-bit CLKs ({declared} bytes)",
                        row=index,
                        row_label="CLK",
                    )
            elif len(clk) != size:
                raise InputFileError(
                    self.path,
                    f"is {len(clk)} bytes but the first CLK is {size} bytes; all CLKs must have one size",
                    row=index,
                    row_label="CLK",
                )
            yield clk

    def blocks(self) -> Iterator[bytes]:
        """The CLKs concatenated (the service's binary format), in blocks of whole CLKs, each checked."""
        if self.info.format != "json":
            yield from self._binary_blocks()
            return
        batch: List[bytes] = []
        for clk in self:
            batch.append(clk)
            if len(batch) == BATCH_CLKS:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)


@contextlib.contextmanager
def open_clk_file(source: Source, raw_size: Optional[int] = None) -> Iterator[ClkFile]:
    """Open a CLK file of any format for one pass: ``.info``, then iterate its CLKs.

    :param source: a path, or a file opened for reading (read from where it is): a JSON CLK file may be
        opened in text mode, a binary one must be opened in binary mode.
    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: if the file is missing or its header or metadata are unusable.
    """
    with open_source(source, binary=raw_size is not None) as (handle, path):
        yield ClkFile(handle, path, raw_size)


def read_clk_info(source: Source, raw_size: Optional[int] = None) -> ClkFileInfo:
    """What a CLK file says about itself (its format and metadata), reading no further than its first CLK."""
    with open_clk_file(source, raw_size) as clk_file:
        return clk_file.info


def decode_clk(text: str, path: str, index: int) -> bytes:
    """Decode one base64 CLK, naming the file and CLK index if it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputFileError(path, "not a valid base64 CLK", row=index, row_label="CLK") from None


def iter_clks(source: Source, raw_size: Optional[int] = None) -> Iterator[bytes]:
    """Yield each CLK of a CLK file (JSON or binary) as bytes, checking each as it goes.

    :param source: a path, or a file opened for reading (a binary CLK file in binary mode).
    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: naming the file (and CLK index) of the first problem.
    """
    with open_clk_file(source, raw_size) as clk_file:
        yield from clk_file


@dataclass
class ClkFileSummary:
    """A CLK file checked from end to end: its format and metadata, and how many CLKs of what size."""

    info: ClkFileInfo
    count: int
    size: int


def check_clk_file(source: Source, raw_size: Optional[int] = None) -> ClkFileSummary:
    """Read a whole CLK file, checking every CLK; a file object is left where it was found.

    :raises InputFileError: for an unusable file, or one with no CLKs.
    """
    start = None if isinstance(source, str) else source.tell()
    count, size = 0, 0
    with open_clk_file(source, raw_size) as clk_file:
        if clk_file.info.format == "json":
            for clk in clk_file:
                count, size = count + 1, len(clk)
        else:
            size = clk_file.info.clk_size or 1
            for block in clk_file.blocks():
                count += len(block) // size
        info = clk_file.info
    if start is not None and not isinstance(source, str):
        source.seek(start)
    if count == 0:
        raise InputFileError(source_name(source), "contains no CLKs")
    return ClkFileSummary(info, count, size)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _of_size(clks: Iterable[bytes], size: Optional[int], start: int = 0) -> Iterator[bytes]:
    for index, clk in enumerate(clks, start):
        if size is not None and len(clk) != size:
            raise UsageError(f"CLK {index} is {len(clk)} bytes, but the metadata says {size}-byte CLKs", "clks")
        yield clk


def _json_batches(clks: Iterable[bytes], size: Optional[int], written: List[int]) -> Iterator[str]:
    """The CLKs as JSON strings, a thousand to an item (joined as :func:`write_sequence` joins items).

    Counts them in ``written[0]``; with ``size``, refuses a CLK of another size, as :func:`_of_size`.
    """
    iterator = iter(clks)
    while batch := list(islice(iterator, 1000)):
        if size is not None and any(len(clk) != size for clk in batch):
            list(_of_size(batch, size, written[0]))  # raises, naming the CLK
        written[0] += len(batch)
        yield '"' + '", "'.join([binascii.b2a_base64(clk, newline=False).decode("ascii") for clk in batch]) + '"'


def write_clks(handle: IO[str], clks: Iterable[bytes], meta: Optional[ClkMeta] = None) -> int:
    """Write a JSON CLK file to ``handle``, a thousand CLKs at a time; return how many.

    The bytes are those ``json.dump`` writes for ``{"meta": ..., "clks": [...],
    "clk_count": n}``, or for ``{"clks": [...]}`` without ``meta``.
    """
    written = [0]
    if meta is None:
        write_list_document(handle, "clks", _json_batches(clks, None, written))
        return written[0]
    size = clk_bytes(meta.clk_bits) if meta.clk_bits is not None else None
    handle.write(f'{{"meta": {json.dumps(meta.to_json())}, "clks": ')
    write_sequence(handle, _json_batches(clks, size, written))
    handle.write(f', "clk_count": {written[0]}}}')
    return written[0]


def binary_header(meta: ClkMeta, count: int = 0) -> bytes:
    """The header of a binary CLK file of ``count`` CLKs (``meta.clk_bits`` is required)."""
    if meta.clk_bits is None:
        raise UsageError("a binary CLK file needs the CLK length (clk_bits) in its metadata", "meta")
    document = json.dumps(meta.to_json()).encode("utf-8")
    return HEADER.pack(MAGIC, BINARY_VERSION, 0, clk_bytes(meta.clk_bits), count, len(document)) + document


def _can_patch(handle: IO[bytes]) -> bool:
    """Whether bytes already written to ``handle`` can be written over: it seeks, and is not appending."""
    try:
        if not handle.seekable():
            return False
        fd = handle.fileno()
    except (OSError, ValueError, AttributeError):
        return True  # an in-memory file (io.BytesIO) seeks and does not append
    try:
        import fcntl
    except ImportError:  # Windows: no O_APPEND to ask about
        return True
    return not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND


def write_binary_clks(handle: IO[bytes], clks: Iterable[bytes], meta: ClkMeta) -> int:
    """Write a binary CLK file to ``handle``; return how many CLKs.

    The count is filled into the header once the last CLK is written, so
    ``handle`` must be able to seek (a file, not a pipe); this is checked
    before the first CLK is taken from ``clks``.

    :raises UsageError: if ``handle`` cannot seek, or a CLK does not have the metadata's size.
    """
    if not _can_patch(handle):
        raise UsageError(
            "a binary CLK file records the number of CLKs in its header, so it must be written to a file "
            "that can seek, not to a pipe (nor appended to a file)",
            "output",
        )
    start = handle.tell()
    handle.write(binary_header(meta))
    count = 0
    batch: List[bytes] = []
    for clk in _of_size(clks, clk_bytes(meta.clk_bits or 0)):
        batch.append(clk)
        count += 1
        if len(batch) == BATCH_CLKS:
            handle.write(b"".join(batch))
            batch = []
    handle.write(b"".join(batch))
    end = handle.tell()
    handle.seek(start + COUNT_OFFSET)
    handle.write(count.to_bytes(8, "big"))
    handle.seek(end)
    return count


def write_clk_file(path: str, clks: Iterable[bytes], meta: Optional[ClkMeta] = None, clk_format: str = "json") -> int:
    """Write a CLK file in ``clk_format`` (``json`` or ``binary``) to ``path`` (``-``: stdout); return how many.

    The file appears only when the last CLK is written (see
    :func:`~anonlinkclient.io.output.atomic_output`).

    :raises UsageError: for an unknown format, or binary output to a pipe.
    """
    if clk_format not in FORMATS:
        raise UsageError(f"unknown CLK file format {clk_format!r} (expected json or binary)", "clk_format")
    with atomic_output(path) as out:
        if clk_format == "json":
            return write_clks(out, clks, meta)
        out.flush()
        binary: IO[bytes] = cast(TextIO, out).buffer
        count = write_binary_clks(binary, clks, meta or ClkMeta())
        binary.flush()
        return count


# ---------------------------------------------------------------------------
# Upload bodies
# ---------------------------------------------------------------------------

#: What an upload can send: the service's binary format, or ``{"clks": [...]}``.
WIRE_FORMATS = ("binary", "json")
_JSON_START = b'{"clks": ['
_JSON_END = b"]}"


def encoded_length(wire_format: str, count: int, size: int) -> int:
    """Bytes of ``count`` CLKs of ``size`` bytes encoded as ``wire_format`` (see :class:`EncodedClks`)."""
    if wire_format == "binary":
        return count * size
    quoted = 4 * ((size + 2) // 3) + 2
    return len(_JSON_START) + count * quoted + 2 * max(count - 1, 0) + len(_JSON_END)


class EncodedClks:
    """The CLKs of a CLK file as an upload sends them, a readable stream whose length is known.

    ``binary``: the CLKs' bytes one after another (the body of ``POST
    /binaryclks``, an object-store ``encodings`` object); ``json``: the bytes
    ``json.dumps({"clks": [...]})`` gives (nothing but ``clks``). The file is read
    as the stream is read, a block at a time; :meth:`seek` to 0 starts again from
    the file's start, so that a retry can send the whole body again.

    :param count: / :param size: the number of CLKs and bytes per CLK, as
        :func:`check_clk_file` found them (they make the length).
    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: while reading, if the file no longer holds that many CLKs of that size.
    """

    def __init__(self, source: str, wire_format: str, count: int, size: int, raw_size: Optional[int] = None) -> None:
        if wire_format not in WIRE_FORMATS:
            raise UsageError(f"unknown upload format {wire_format!r} (expected binary or json)", "wire_format")
        self.source = source
        self.wire_format = wire_format
        self.raw_size = raw_size
        #: The number of bytes (requests reads it as the body's ``Content-Length``).
        self.len = encoded_length(wire_format, count, size)
        self.name = source
        self._restart()

    def _restart(self) -> None:
        self._pieces = self._generate()
        self._piece = b""
        self._offset = 0
        self._position = 0

    def _generate(self) -> Iterator[bytes]:
        produced = 0
        for piece in self._encode():
            produced += len(piece)
            if produced > self.len:
                break
            yield piece
        if produced != self.len:
            raise InputFileError(self.source, "changed while it was being uploaded")

    def _encode(self) -> Iterator[bytes]:
        with open_clk_file(self.source, self.raw_size) as clk_file:
            if self.wire_format == "binary":
                yield from clk_file.blocks()
                return
            yield _JSON_START
            separator = b""
            batch: List[bytes] = []
            for clk in clk_file:
                batch.append(b'"' + base64.b64encode(clk) + b'"')
                if len(batch) == BATCH_CLKS:
                    yield separator + b", ".join(batch)
                    separator, batch = b", ", []
            if batch:
                yield separator + b", ".join(batch)
            yield _JSON_END

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest if ``size`` is negative); ``b""`` at the end."""
        parts: List[bytes] = []
        wanted = self.len if size is None or size < 0 else size
        got = 0
        while got < wanted:
            if self._offset >= len(self._piece):
                self._piece = next(self._pieces, b"")
                self._offset = 0
                if not self._piece:
                    break
            part = self._piece[self._offset : self._offset + wanted - got]
            self._offset += len(part)
            got += len(part)
            parts.append(part)
        data = b"".join(parts)
        self._position += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(1 << 16)
            if not data:
                return
            yield data

    def tell(self) -> int:
        """How many bytes have been read."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Go back to the start (``seek(0)``); other positions are not supported."""
        if whence == os.SEEK_SET and offset == 0:
            self._pieces.close()  # type: ignore[attr-defined]
            self._restart()
            return 0
        if whence == os.SEEK_CUR and offset == 0:
            return self._position
        raise OSError("an encoded CLK stream can only seek to its start")

    def seekable(self) -> bool:
        """It can go back to its start."""
        return True

    def close(self) -> None:
        """Close the file being read."""
        self._pieces.close()  # type: ignore[attr-defined]
