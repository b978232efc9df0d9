"""The errors anonlink-client raises, and the exit code the CLI gives each.

Every error the tool expects is an :class:`AnonlinkClientError`. Its ``str()`` is
one line a user can act on (what went wrong, and where: file, row, column), and
its ``exit_code`` tells scripts which kind of failure it was::

    AnonlinkClientError              exit 1   base class
     ├── InputFileError              exit 3   a data file (CSV, CLK JSON, blocks) cannot be used
     │    └── OutputFileError        exit 3   an output file cannot be written
     ├── SchemaFileError             exit 4   a linkage or blocking schema is unusable
     ├── SecretError                 exit 5   the secret could not be read
     ├── ServiceError                exit 6   the Entity Service failed or refused
     │    ├── ServiceConnectionError exit 6   the service could not be reached
     │    └── RateLimitedClient      exit 6   asking for updates too often
     ├── ObjectStoreError            exit 7   the object store (S3/MinIO) failed
     └── Interrupted                 exit 130/143  stopped by SIGINT or SIGTERM

Lower-layer exceptions (``OSError``, ``json.JSONDecodeError``, ``requests``,
``minio``, clkhash and blocklib errors) are re-raised as one of these with
``raise ... from exc`` at the boundary where the file or service is touched, so
the CLI only ever has to catch this tree. Messages never contain a secret, an API
token or object-store credentials.
"""

from typing import Any, Optional


class AnonlinkClientError(Exception):
    """Base class of every error the tool expects; ``str()`` is the user message."""

    exit_code = 1


class InputFileError(AnonlinkClientError):
    """A data file (PII CSV, CLK JSON, block JSON) is missing, unreadable or malformed.

    :param path: the file as the user named it.
    :param message: what is wrong with it.
    :param row: 1-based row of a CSV (counting the header) or 0-based record
        index of a JSON list, where there is one.
    :param column: the column name or number, where there is one.
    :param row_label: the word used for ``row`` in the message (``row``,
        ``CLK``, ``record``).
    """

    exit_code = 3

    def __init__(
        self,
        path: str,
        message: str,
        row: Optional[int] = None,
        column: Optional[str] = None,
        row_label: str = "row",
    ) -> None:
        self.path = path
        self.message = message
        self.row = row
        self.column = column
        self.row_label = row_label
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.path]
        if self.row is not None:
            where.append(f"{self.row_label} {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class OutputFileError(InputFileError):
    """An output file could not be created or written."""


class SchemaFileError(AnonlinkClientError):
    """A linkage or blocking schema is not JSON, not valid, or does not fit the data."""

    exit_code = 4

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class SecretError(AnonlinkClientError):
    """The secret given as ``env:NAME`` or ``file:PATH`` could not be read."""

    exit_code = 5


class ServiceError(AnonlinkClientError):
    """Problem with the upstream API: the Entity Service refused or failed a request.

    :param msg: what the client was doing, e.g. ``"Project creation failed"``.
    :param response: the ``requests.Response``, when the server answered.
    :ivar status_code: the HTTP status, or ``None`` if there was no answer.
    :ivar text: the server's message (its ``detail``/``message`` field or body).
    """

    exit_code = 6

    def __init__(self, msg: str, response: Optional[Any] = None) -> None:
        self.response = response
        self.status_code: Optional[int] = getattr(response, "status_code", None)
        self.text: Optional[str] = _server_message(response)
        self.msg = msg
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.status_code is None:
            return self.msg
        detail = f": {self.text}" if self.text else ""
        return f"{self.msg} (HTTP {self.status_code}){detail}"


class ServiceConnectionError(ServiceError):
    """The Entity Service could not be reached (refused, timed out, DNS, TLS)."""


class RateLimitedClient(ServiceError):
    """Exception indicating client is asking for updates too frequently."""


def _server_message(response: Optional[Any]) -> Optional[str]:
    """The human part of a service answer: ``detail`` or ``message`` if JSON, else the text."""
    if response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        text = (getattr(response, "text", "") or "").strip()
        return text.splitlines()[0][:200] if text else None
    if isinstance(body, dict):
        for key in ("detail", "message", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


class ObjectStoreError(AnonlinkClientError):
    """Uploading to (or reading from) the S3/MinIO object store failed."""

    exit_code = 7


class Interrupted(AnonlinkClientError):
    """The work was stopped by a signal; partial output has been removed."""

    def __init__(self, signal_name: str = "SIGINT", exit_code: int = 130) -> None:
        self.exit_code = exit_code
        super().__init__(f"interrupted by {signal_name}; no output was written")
