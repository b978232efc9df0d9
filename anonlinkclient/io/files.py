"""Opening the user's input files, with one-line errors that name the file, and limits on JSON.

Every command reads files the user named: PII CSVs, CLK and block JSON files,
linkage and blocking schemas. :func:`open_input` and :func:`json_stream_errors`
turn the operating system's and the JSON parser's exceptions into an
:class:`~anonlinkclient.errors.InputFileError` (or the error class given, e.g.
:class:`~anonlinkclient.errors.SchemaFileError`) with a short reason.

Every JSON reader has limits, so that a hostile or broken file (or service
answer) gets a clear error instead of a crash or runaway memory:

* nesting at most :data:`MAX_JSON_DEPTH` levels deep (the deepest legitimate
  document, a blocking schema, has about 7; ijson's memory grows with the square of
  the depth, and ``json.loads`` overflows the stack);
* number literals of at most :data:`MAX_NUMBER_CHARS` characters (far below
  Python's limit of 4,300 digits for ``int()``: ijson's C backend crashes on
  integers longer than that);
* strings of at most :data:`MAX_STRING_BYTES` bytes in streamed files (a CLK of
  8,192 bytes is 10,924 characters of base64);
* whole documents (schemas, service answers) of at most
  :data:`MAX_DOCUMENT_BYTES`; streamed files (CLKs, blocks, results) have no size
  limit, their memory does not grow with them.

:class:`JsonScanner` checks the raw bytes before any parser sees them; streamed
files go through :func:`guarded`, a reader that scans each chunk ijson reads, and
:func:`loads_json` checks a whole document before ``json.loads``. Both raise
:class:`~anonlinkclient.errors.JsonLimitError`, which the readers turn into an
error naming the file (or server).
"""

import contextlib
import decimal
import io
import json
import re
from typing import IO, Any, Callable, Iterator, List, Optional, Tuple, Union, cast

import ijson

from anonlinkclient.errors import AnonlinkClientError, InputFileError, JsonLimitError

ErrorFactory = Callable[[str, str], AnonlinkClientError]


def open_input(path: str, mode: str = "r", error: ErrorFactory = InputFileError, **open_args: Any) -> IO[Any]:
    """``open(path, mode, **open_args)`` for reading, raising ``error(path, reason)`` if it cannot be opened."""
    try:
        return open(path, mode, **open_args)
    except FileNotFoundError:
        raise error(path, "no such file") from None
    except IsADirectoryError:
        raise error(path, "is a directory, not a file") from None
    except PermissionError:
        raise error(path, "permission denied") from None
    except OSError as exc:
        raise error(path, f"cannot open ({exc.strerror})") from None


@contextlib.contextmanager
def json_stream_errors(path: str, hint: str) -> Iterator[None]:
    """Turn ijson syntax and UTF-8 errors raised while streaming ``path`` into an InputFileError.

    :param hint: what kind of file was expected, appended to the message.
    """
    try:
        yield
    except JsonLimitError as exc:
        raise InputFileError(path, f"not usable JSON ({exc}); {hint}") from None
    except ijson.JSONError as exc:
        raise InputFileError(path, f"not valid JSON ({first_line(exc)}); {hint}") from None
    except decimal.InvalidOperation:  # ijson's Decimal of a number such as 1e999999999999999999
        raise InputFileError(path, f"not valid JSON (a number out of range); {hint}") from None
    except UnicodeDecodeError:
        raise InputFileError(path, f"not valid UTF-8 text; {hint}") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


JsonSource = Union[str, IO[str], IO[bytes]]  # a path, or a file opened for reading


def read_json_document(
    source: JsonSource, error: ErrorFactory = InputFileError, expected: str = "JSON", max_bytes: Optional[int] = None
) -> Any:
    """Read a whole JSON document (a schema, a small answer) from a path or an open file, within limits.

    :param error: the error class to raise, called as ``error(name, reason)``.
    :param expected: what the file should be, for messages ("a JSON schema").
    :param max_bytes: the largest document accepted (default :data:`MAX_DOCUMENT_BYTES`).
    :raises: ``error`` if the file is missing, too large, not UTF-8, not JSON or
        beyond the limits (naming line and column).
    """
    limit = MAX_DOCUMENT_BYTES if max_bytes is None else max_bytes
    if isinstance(source, str):
        name = source
        with open_input(source, "rb", error) as handle:
            data: Union[str, bytes] = _read_at_most(handle, limit + 1, name, error)
    else:
        name = str(getattr(source, "name", "<stream>"))
        data = source.read(limit + 1)
    if len(data) > limit:
        raise error(name, f"larger than {format_size(limit)}; expected {expected}")
    try:
        return loads_json(data)
    except UnicodeDecodeError:
        raise error(name, f"not valid UTF-8 text; expected {expected}") from None
    except json.JSONDecodeError as exc:
        raise error(name, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except JsonLimitError as exc:
        raise error(name, f"not usable JSON ({exc})") from None


def _read_at_most(handle: IO[bytes], size: int, name: str, error: ErrorFactory) -> bytes:
    try:
        return handle.read(size)
    except OSError as exc:  # e.g. a directory given as a FIFO, or an I/O error
        raise error(name, f"cannot read ({exc.strerror})") from None


def format_size(size: int) -> str:
    """``16 MiB``, ``4 GiB``, ``512 bytes``: a limit as messages show it."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not a JSON number")


def loads_json(data: Union[str, bytes], max_depth: int = 0) -> Any:
    """``json.loads`` of a whole document, after checking its nesting depth and number lengths.

    ``NaN``, ``Infinity`` and ``-Infinity``, which ``json.loads`` accepts but JSON
    does not have, are refused.

    :param max_depth: the deepest nesting accepted (default :data:`MAX_JSON_DEPTH`).
    :raises JsonLimitError: if the document is nested too deep, has a very long number or ``NaN``.
    :raises ValueError: (``json.JSONDecodeError``, ``UnicodeDecodeError``) if it is not JSON text.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    scanner = JsonScanner(max_depth=max_depth or MAX_JSON_DEPTH, max_string=max(len(raw), 1))
    scanner.feed(raw)
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    return json.loads(text, parse_constant=_no_constant)


def open_binary_input(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading, turning OS errors into an :class:`InputFileError`."""
    handle: IO[bytes] = open_input(path, "rb")
    return handle


Source = Union[str, IO[bytes], IO[str]]  # a path, or a file opened for reading (binary or text)

#: Characters no text file holds (C0 controls but tab, line feed, carriage return): a binary file's, such
#: as the start of a binary CLK file.
_OPEN_IN_BINARY_MODE = "open it in binary mode ('rb')"
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def source_name(source: Union[str, IO[Any]]) -> str:
    """The name to show in messages for a path or an open file."""
    return source if isinstance(source, str) else str(getattr(source, "name", "<stream>"))


def is_text(handle: IO[Any]) -> bool:
    """Whether a file object was opened in text mode (reads give ``str``)."""
    if isinstance(handle, io.TextIOBase):
        return True
    if isinstance(handle, (io.RawIOBase, io.BufferedIOBase)):
        return False
    return isinstance(handle.read(0), str)


class TextAsBytes:
    """A file opened in text mode, read as the UTF-8 bytes the binary readers take.

    ``read(size)`` gives at most ``size`` bytes. A file that is not text (one
    the handle cannot decode, or that holds control characters, as a binary CLK
    file does) is an :class:`~anonlinkclient.errors.InputFileError` saying to
    open it in binary mode.
    """

    def __init__(self, handle: IO[str], name: str) -> None:
        self.handle = handle
        self.name = name
        self._buffer = b""

    def _text(self, size: int) -> bytes:
        try:
            text = self.handle.read(size)
            binary = _NOT_TEXT.search(text) is not None
        except UnicodeDecodeError:
            binary = True
        if binary:
            raise InputFileError(self.name, f"is not text, but it was opened in text mode; {_OPEN_IN_BINARY_MODE}")
        return text.encode("utf-8", "surrogateescape")

    def read(self, size: Optional[int] = -1) -> bytes:
        """Up to ``size`` bytes (all that are left for ``-1``)."""
        if size is None or size < 0:
            data, self._buffer = self._buffer + self._text(-1), b""
            return data
        while len(self._buffer) < size:
            more = self._text(max(size - len(self._buffer), 8))
            if not more:
                break
            self._buffer += more
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


@contextlib.contextmanager
def open_source(source: Source, binary: bool = False) -> Iterator[Tuple[IO[bytes], str]]:
    """Yield a binary handle and a display name for a path or an open file.

    A path is opened (and closed afterwards); a file object is read from where it
    is, a text one as its UTF-8 bytes (see :class:`TextAsBytes`).

    :param binary: the file is binary whatever it holds (a text handle would change its bytes).
    :raises InputFileError: if ``binary`` and the file object was opened in text mode.
    """
    if isinstance(source, str):
        with open_binary_input(source) as handle:
            yield handle, source
    elif is_text(source):
        name = source_name(source)
        if binary:
            raise InputFileError(name, f"is binary, but it was opened in text mode; {_OPEN_IN_BINARY_MODE}")
        yield cast(IO[bytes], TextAsBytes(cast(IO[str], source), name)), name
    else:
        yield cast(IO[bytes], source), source_name(source)


#: The deepest nesting of arrays and objects any JSON reader accepts.
MAX_JSON_DEPTH = 64
#: The longest number literal (digits, sign, point, exponent) any JSON reader accepts.
MAX_NUMBER_CHARS = 100
#: The longest string a streamed JSON file may hold.
MAX_STRING_BYTES = 1 << 20
#: The largest whole JSON document (a schema, a service answer) read into memory.
MAX_DOCUMENT_BYTES = 16 << 20

_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPENERS, _CLOSERS = b"[{", b"]}"
_NUMBER_CHARS = b"-+.0123456789eE"
#: The rest of a string's body: up to its closing quote, or a final lone backslash, or the end.
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)
#: Whole strings, escapes included.
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
#: Maps the bytes of a JSON number to ``0`` and every other byte to a space.
_NUMBER_MAP = bytes(0x30 if byte in _NUMBER_CHARS else 0x20 for byte in range(256))
#: Every byte but quotes and brackets (deleted to see a chunk's structure).
_NOT_STRUCTURAL = bytes(byte for byte in range(256) if byte not in b'"[]{}')
#: Chunks with more quotes than this in their first 4 KiB (many short strings) are scanned by their structure.
_DENSE_QUOTES, _SAMPLE = 100, 4096


class JsonScanner:
    """Checks a JSON byte stream, chunk by chunk, against nesting, number and string limits.

    It follows strings (and their escapes) across chunk boundaries, the nesting
    depth and the length of the number literal being read, using fast searches
    on whole chunks; a chunk that may break a limit is walked byte by byte to
    find the exact place. It does not check that the text is JSON (the parser
    does that).

    :raises JsonLimitError: from :meth:`feed`, at the first limit broken.
    """

    def __init__(
        self, max_depth: int = MAX_JSON_DEPTH, max_number: int = MAX_NUMBER_CHARS, max_string: int = MAX_STRING_BYTES
    ) -> None:
        self.max_depth = max_depth
        self.max_number = max_number
        self.max_string = max_string
        self._long_number = b"0" * (max_number + 1)
        self.in_string = False
        self.escaped = False  # a backslash ended the last chunk: the next byte is escaped
        self.depth = 0
        self.number_run = 0  # number characters at the end of what was read
        self.string_length = 0  # bytes of the string being read so far
        self.offset = 0  # bytes read before the current chunk
        self.line, self.line_start = 1, 0  # the line the chunk starts on, and the offset where that line starts
        self._cautious = False

    def feed(self, chunk: bytes) -> None:
        """Check the next chunk of the stream.

        :raises JsonLimitError: naming the limit and the byte offset where it is broken.
        """
        if not chunk:
            return
        state = (self.in_string, self.escaped, self.depth, self.number_run, self.string_length)
        self._cautious = False  # set by a quick check that finds the chunk may break a limit
        self._scan(chunk)
        if self._cautious:
            self.in_string, self.escaped, self.depth, self.number_run, self.string_length = state
            self._walk(chunk)  # raises at the place, unless the quick check was only cautious
        if b"\n" in chunk:
            self.line += chunk.count(b"\n")
            self.line_start = self.offset + chunk.rindex(b"\n") + 1
        self.offset += len(chunk)

    def _error(self, reason: str, chunk: bytes, index: int) -> JsonLimitError:
        line, line_start = self.line, self.line_start
        if b"\n" in chunk[:index]:
            line += chunk.count(b"\n", 0, index)
            line_start = self.offset + chunk.rindex(b"\n", 0, index) + 1
        offset = self.offset + index
        return JsonLimitError(reason, offset, line, offset - line_start + 1)

    def _scan(self, chunk: bytes) -> None:
        size, start = len(chunk), 0
        if self.in_string:
            if self.escaped:
                self.escaped, start = False, 1
            end = _match_end(_STRING_BODY, chunk, start)
            if end == size or (end == size - 1 and chunk[end] == _BACKSLASH):
                self.escaped = end == size - 1
                self._grow_string(size)
                return
            self._grow_string(end)
            self.in_string, self.number_run, start = False, 0, end + 1
        rest = chunk[start:] if start else chunk
        if _BACKSLASH in rest:  # escapes: take out whole strings with a regular expression
            outside = _STRINGS.sub(b" ", rest)
            quote = outside.find(b'"')
            if quote >= 0:
                self._open_string(outside[quote + 1 :])
                outside = outside[:quote]
            self._numbers(outside)
            self._brackets(outside)
        elif rest.count(b'"', 0, _SAMPLE) > _DENSE_QUOTES:  # many short strings (block files, results)
            self._numbers(rest)  # cautious: digits inside strings count too
            # Once everything else is gone, two quotes side by side close one string and open the
            # next (or are an empty string): dropping them keeps every bracket inside or outside.
            structure = rest.translate(None, _NOT_STRUCTURAL).replace(b'""', b"")
            if b'"' in structure:
                parts = structure.split(b'"')
                if len(parts) % 2 == 0:
                    self._open_string(rest[rest.rindex(b'"') + 1 :])
                    self.number_run = 0
                structure = b"".join(parts[0::2])
            self._brackets(structure)
        else:  # few, long strings (CLK files): split them out
            parts = rest.split(b'"')
            outside = b" ".join(parts[0::2])
            if len(parts) % 2 == 0:
                self._open_string(parts[-1])
            self._numbers(outside)
            self._brackets(outside)

    def _grow_string(self, length: int) -> None:
        self.string_length += length
        if self.string_length > self.max_string:
            self._cautious = True

    def _open_string(self, body: bytes) -> None:
        """The chunk ends inside a string whose body so far is ``body``."""
        self.in_string = True
        self.escaped = _match_end(_STRING_BODY, body, 0) == len(body) - 1  # a final lone backslash
        self.string_length = 0
        self._grow_string(len(body))

    def _numbers(self, text: bytes) -> None:
        """Check the number literals of ``text`` (outside strings), carrying one across chunks."""
        mapped = text.translate(_NUMBER_MAP)
        if self._long_number in mapped:
            self._cautious = True
        if self.number_run:
            lead = mapped.find(b" ")
            if self.number_run + (len(mapped) if lead < 0 else lead) > self.max_number:
                self._cautious = True
        if self.in_string:
            self.number_run = 0
        else:
            tail = len(mapped) - 1 - mapped.rfind(b" ")
            self.number_run = self.number_run + tail if tail == len(mapped) else tail

    def _brackets(self, text: bytes) -> None:
        """Follow the nesting depth through ``text`` (outside strings)."""
        opens = text.count(b"[") + text.count(b"{")
        if not opens and b"]" not in text and b"}" not in text:
            return
        if self.depth + opens > self.max_depth:
            # Each pass that removes innermost ``[]``/``{}`` pairs lowers the deepest point by at
            # most one, so the deepest point of ``text`` is at most that of the rest plus the passes.
            brackets = text.translate(None, _NOT_STRUCTURAL)
            passes = 0
            while passes < 8 and len(brackets) > self.max_depth:
                brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
                passes += 2
            depth = deepest = self.depth
            for byte in brackets:
                depth += 1 if byte in _OPENERS else -1
                deepest = max(deepest, depth)
            if deepest + passes > self.max_depth:
                self._cautious = True
        self.depth += opens - text.count(b"]") - text.count(b"}")

    def _walk(self, chunk: bytes) -> None:
        """Follow ``chunk`` byte by byte from the state before it; raise at the first limit broken."""
        for index, byte in enumerate(chunk):
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif byte == _BACKSLASH:
                    self.escaped = True
                elif byte == _QUOTE:
                    self.in_string = False
                    continue
                self.string_length += 1
                if self.string_length > self.max_string:
                    raise self._error(f"a string longer than {format_size(self.max_string)}", chunk, index)
            elif byte in _NUMBER_CHARS:
                self.number_run += 1
                if self.number_run > self.max_number:
                    raise self._error(f"a number longer than {self.max_number} characters", chunk, index)
            else:
                self.number_run = 0
                if byte == _QUOTE:
                    self.in_string, self.string_length = True, 0
                elif byte in _OPENERS:
                    self.depth += 1
                    if self.depth > self.max_depth:
                        raise self._error(f"nesting deeper than {self.max_depth} levels", chunk, index)
                elif byte in _CLOSERS:
                    self.depth -= 1


def _match_end(pattern: "re.Pattern[bytes]", data: bytes, start: int) -> int:
    match = pattern.match(data, start)
    return match.end() if match is not None else start


class GuardedReader:
    """A binary reader that checks every chunk with a :class:`JsonScanner` before handing it on.

    Give it to ijson instead of the file: ``ijson.parse(guarded(handle))``.
    Text files are read as UTF-8 bytes.

    :raises JsonLimitError: from :meth:`read`, when the file breaks a limit.
    """

    def __init__(self, handle: IO[Any], scanner: Optional[JsonScanner] = None) -> None:
        self.handle = handle
        self.scanner = scanner or JsonScanner()

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all with ``-1``), checked."""
        data = self.handle.read(size)
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.scanner.feed(data)
        return bytes(data)


def guarded(handle: IO[Any]) -> GuardedReader:
    """``handle`` behind the JSON limits, for ijson: ``ijson.parse(guarded(handle))``."""
    return GuardedReader(handle)


class JsonCheck:
    """Checks JSON pushed to it chunk by chunk (e.g. an answer as it downloads): within the limits, and whole.

    Feed every chunk to :meth:`feed`, then call :meth:`finish`.

    :raises JsonLimitError: if the document breaks a limit, or holds a number out of range.
    :raises ijson.JSONError: if it is not JSON, or is cut off.
    """

    def __init__(self) -> None:
        self.scanner = JsonScanner()
        self._events: List[Any] = ijson.sendable_list()
        self._parser = ijson.basic_parse_coro(self._events)

    def feed(self, chunk: bytes) -> None:
        """Check the next chunk."""
        self.scanner.feed(chunk)
        with _number_errors():
            self._parser.send(chunk)
        del self._events[:]

    def finish(self) -> None:
        """The document has ended: check it is complete."""
        with _number_errors():
            self._parser.close()


@contextlib.contextmanager
def _number_errors() -> Iterator[None]:
    try:
        yield
    except decimal.InvalidOperation:  # ijson's Decimal of a number such as 1e999999999999999999
        raise JsonLimitError("a number out of range") from None
