"""Opening the user's input files, with one-line errors that name the file.

Every command reads files the user named: PII CSVs, CLK and block JSON files,
linkage and blocking schemas. :func:`open_input` and :func:`json_stream_errors`
turn the operating system's and the JSON parser's exceptions into an
:class:`~anonlinkclient.errors.InputFileError` (or the error class given, e.g.
:class:`~anonlinkclient.errors.SchemaFileError`) with a short reason.
"""

import contextlib
from typing import IO, Any, Callable, Iterator

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
