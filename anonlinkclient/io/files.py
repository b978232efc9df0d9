"""Opening the user's input files, with one-line errors that name the file.

Every command reads files the user named: PII CSVs, CLK and block JSON files,
linkage and blocking schemas. :func:`open_input` and :func:`json_stream_errors`
turn the operating system's and the JSON parser's exceptions into an
:class:`~anonlinkclient.errors.InputFileError` (or the error class given, e.g.
:class:`~anonlinkclient.errors.SchemaFileError`) with a short reason.
"""

import contextlib
import json
from typing import IO, Any, Callable, Iterator, Tuple, Union

import ijson

from anonlinkclient.errors import AnonlinkClientError, InputFileError

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
    except ijson.JSONError as exc:
        raise InputFileError(path, f"not valid JSON ({first_line(exc)}); {hint}") from None
    except UnicodeDecodeError:
        raise InputFileError(path, f"not valid UTF-8 text; {hint}") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


JsonSource = Union[str, IO[str], IO[bytes]]  # a path, or a file opened for reading


def read_json_document(source: JsonSource, error: ErrorFactory = InputFileError, expected: str = "JSON") -> Any:
    """Read a whole JSON document (a schema, a small answer) from a path or an open file.

    :param error: the error class to raise, called as ``error(name, reason)``.
    :param expected: what the file should be, for messages ("a JSON schema").
    :raises: ``error`` if the file is missing, not UTF-8 or not JSON (naming line and column).
    """
    if isinstance(source, str):
        name = source
        with open_input(source, "rb", error) as handle:
            data: Union[str, bytes] = handle.read()
    else:
        name = str(getattr(source, "name", "<stream>"))
        data = source.read()
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
        return json.loads(text)
    except UnicodeDecodeError:
        raise error(name, f"not valid UTF-8 text; expected {expected}") from None
    except json.JSONDecodeError as exc:
        raise error(name, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def open_binary_input(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading, turning OS errors into an :class:`InputFileError`."""
    handle: IO[bytes] = open_input(path, "rb")
    return handle


Source = Union[str, IO[bytes]]  # a path, or a file opened in binary mode


def source_name(source: Union[str, IO[Any]]) -> str:
    """The name to show in messages for a path or an open file."""
    return source if isinstance(source, str) else str(getattr(source, "name", "<stream>"))


@contextlib.contextmanager
def open_source(source: Source) -> Iterator[Tuple[IO[bytes], str]]:
    """Yield a binary handle and a display name for a path or an open binary file.

    A path is opened (and closed afterwards); a file object is read from where it is.
    """
    if isinstance(source, str):
        with open_binary_input(source) as handle:
            yield handle, source
    else:
        yield source, source_name(source)
