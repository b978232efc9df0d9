r"""Every exception anonlink-client raises, and the exit code the CLI gives each.

Every error the tool expects is an :class:`AnonlinkClientError`. Its ``str()`` is
one complete line a user can act on (what went wrong, and where: file, row,
column or server), built when the error is raised and never rewritten after; its
``exit_code`` tells scripts which kind of failure it was::

    AnonlinkClientError                  exit 1   base class
     ├── UsageError (ValueError)         exit 2   a function or command was given arguments that cannot work
     ├── InputFileError (ValueError)     exit 3   a data file (CSV, CLK file, block file, scores) cannot be used
     │    ├── WrongInputKind (TypeError) exit 3   a CLK file where a CSV is needed, or the reverse
     │    ├── OutputFileError            exit 3   an output file cannot be written
     │    └── EncodingsDiffer            exit 3   parties' CLK files record different schemas or secrets
     ├── SchemaFileError (ValueError)    exit 4   a linkage or blocking schema is unusable
     │    └── InvalidSchema              exit 4   it is JSON, but not a valid schema (every problem kept)
     ├── UnhashableSchema (ValueError)   exit 4   a linkage schema object (not read from a file) cannot be hashed
     ├── SecretError                     exit 5   the secret could not be read
     ├── ServiceError                    exit 6   the Entity Service failed or refused
     │    ├── ServiceConnectionError     exit 6   the service could not be reached
     │    │    ├── NoAnswer              exit 6   sent, but no (whole) answer came: it may have acted
     │    │    └── TLSError              exit 6   the TLS connection failed (asking again does not help)
     │    ├── UnexpectedAnswer           exit 6   an answer that is not the JSON the API promises
     │    │    └── AnswerTooLarge        exit 6   an answer larger than the client accepts
     │    ├── RateLimitedClient          exit 6   the service stayed busy (HTTP 503) / asking too often
     │    ├── NotAnUploadToken           exit 6   the token is not an upload token of the project (HTTP 500)
     │    ├── BlockingDisabled           exit 6   blocks sent to a project created without blocking
     │    ├── ProjectInError             exit 6   the project's uploads cannot be linked: no new runs
     │    ├── RunNotComplete             exit 6   the run has no result yet
     │    └── RunFailed                  exit 6   the run ended in the error state
     │         └── EncodingSizeMismatch  exit 6   because the parties' encodings differ in size
     ├── ObjectStoreError                exit 7   the object store (S3/MinIO) failed
     │    └── CredentialsExpired         exit 7   the store says the temporary credentials expired
     ├── WorkerFailed                    exit 1   a worker process died (e.g. out of memory) or failed
     └── Interrupted                     exit 130/143  stopped by SIGINT or SIGTERM

    RecordError (ValueError)             internal: a record does not fit the schema; the
                                         hashing layer turns it into an InputFileError
    JsonLimitError (ValueError)          internal: JSON nested too deep, or a number or string
                                         too long; the reader names the file or server
    EncodingFallback                     internal: the encoder's bulk path met a value that fails;
                                         the encoder then finds the first bad record one by one

``UsageError``, ``InputFileError`` and ``SchemaFileError`` are also
:class:`ValueError`\ s, as the errors of the 0.1.5 helpers were, so that
``except ValueError:`` in existing notebooks still catches them; where 0.1.5
raised :class:`TypeError` (blocking a CLK file with a schema that needs the CSV,
or the reverse), :class:`WrongInputKind` is one too.

Lower-layer exceptions (``OSError``, JSON parser errors, ``requests``, ``minio``,
clkhash and blocklib errors) are re-raised as one of these with ``raise ... from
exc`` at the boundary where the file or service is touched, so the CLI only ever
has to catch this tree. Messages never contain a secret, an API token or
object-store credentials: :class:`ServiceError` blanks the tokens it is given
out of the server's text.
"""

from typing import Any, Optional, Sequence, cast


class AnonlinkClientError(Exception):
    """Base class of every error the tool expects; ``str()`` is the user message."""

    exit_code = 1


class UsageError(AnonlinkClientError, ValueError):
    """A library function (or command) was called with arguments that cannot work together.

    :param message: what is wrong, in the library's terms.
    :param argument: the name of the parameter at fault, so that the CLI can say
        it in terms of its own options.
    """

    exit_code = 2

    def __init__(self, message: str, argument: Optional[str] = None) -> None:
        self.argument = argument
        super().__init__(message)


class InputFileError(AnonlinkClientError, ValueError):
    """A data file (PII CSV, CLK JSON, block JSON) or a source of PII (Parquet, Excel, a database) is missing,
    unreadable or malformed.

    :param path: the file as the user named it (a database: its URL without the password, and the table).
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


class WrongInputKind(InputFileError, TypeError):
    """The data is a CLK file where the PII CSV is needed, or the reverse (also a :class:`TypeError`, as in 0.1.5)."""


class OutputFileError(InputFileError):
    """An output file could not be created or written."""


class EncodingsDiffer(InputFileError):
    """Two parties' CLK files record different schema fingerprints or secret check values.

    Linking them is possible but finds (almost) nothing; the caller may choose to go on.
    """


class SchemaFileError(AnonlinkClientError, ValueError):
    """A linkage or blocking schema is not JSON, not valid, or does not fit the data."""

    exit_code = 4

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class InvalidSchema(SchemaFileError):
    """A linkage or blocking schema is JSON but not valid; every problem found is kept.

    :param kind: ``linkage`` or ``blocking``.
    :param problems: one line per problem, each naming its place in the schema.
    :param every_problem: list every problem, a line each (as ``validate-schema`` does),
        instead of the first ``shown`` on one line.
    :param shown: how many problems the one-line message lists.
    """

    def __init__(
        self, path: str, kind: str, problems: Sequence[str], every_problem: bool = False, shown: int = 1
    ) -> None:
        self.kind = kind
        self.problems = list(problems)
        if every_problem:
            listed = "".join(f"\n  {problem}" for problem in self.problems)
            super().__init__(path, f"the {kind} schema is not valid:{listed}")
            return
        more = len(self.problems) - shown
        listed = "; ".join(self.problems[:shown])
        if more > 0:
            listed += f" (and {more} more {'problem' if more == 1 else 'problems'})"
        super().__init__(path, f"the {kind} schema is not valid: {listed}")


class UnhashableSchema(AnonlinkClientError, ValueError):
    """A clkhash linkage schema that parses but cannot be hashed (the encoder refuses it up front).

    Schemas read from a file are checked when loaded (an :class:`InvalidSchema` naming the
    file); this is for :class:`clkhash.schema.Schema` objects handed to the library directly.

    :ivar feature: the identifier of the feature at fault, or ``None`` for the schema as a whole.
    :ivar reason: what is wrong.
    """

    exit_code = 4

    def __init__(self, feature: Optional[str], reason: str) -> None:
        self.feature = feature
        self.reason = reason
        where = "the linkage schema" if feature is None else f"feature '{feature}' of the linkage schema"
        super().__init__(f"{where} cannot be hashed: {reason}")


class SecretError(AnonlinkClientError):
    """The secret given as ``env:NAME`` or ``file:PATH`` could not be read."""

    exit_code = 5


class ServiceError(AnonlinkClientError):
    """Problem with the upstream API: the Entity Service refused or failed a request.

    The message is built here from its parts; what the server's answer says is
    read from its body by :func:`anonlinkclient.service.answers.server_message`
    (see :func:`~anonlinkclient.service.answers.answer_error`).

    :param msg: what the client was doing, e.g. ``"Project creation failed"``.
    :param response: the ``requests.Response``, when the server answered.
    :param secrets: tokens that must not appear in the message (replaced by ``<hidden>``).
    :param advice: what to do about it, appended to the message.
    :param text: the server's own message, if it gave one.
    :ivar status_code: the HTTP status, or ``None`` if there was no answer.
    :ivar text: the server's message (its ``detail``/``message``/``title`` field or body).
    """

    exit_code = 6

    def __init__(
        self,
        msg: str,
        response: Optional[Any] = None,
        secrets: Sequence[str] = (),
        advice: str = "",
        text: Optional[str] = None,
    ) -> None:
        self.response = response
        self.status_code: Optional[int] = getattr(response, "status_code", None)
        self.text: Optional[str] = _hidden(text, secrets)
        self.msg = _hidden(msg, secrets) or ""
        self.advice = advice
        super().__init__(self._describe())

    def _describe(self) -> str:
        message = self.msg
        if self.status_code is not None:
            detail = f": {self.text}" if self.text else ""
            message = f"{message} (HTTP {self.status_code}){detail}"
        return message + self.advice


class ServiceConnectionError(ServiceError):
    """The Entity Service could not be reached (refused, timed out, DNS, TLS)."""


class NoAnswer(ServiceConnectionError):
    """The request was sent (perhaps only in part) but no answer came: the service
    closed the connection or did not answer in time. It may have acted on the request."""


class TLSError(ServiceConnectionError):
    """The TLS connection to the service failed: its certificate could not be
    verified, or it does not speak TLS. Asking again does not help."""


class UnexpectedAnswer(ServiceError):
    """The service answered, but not with the JSON the API promises (e.g. a proxy's
    HTML error page, or JSON cut off in the middle)."""


class AnswerTooLarge(UnexpectedAnswer):
    """The service (or its object store) sent a longer answer than the client accepts.

    :ivar limit: the most bytes accepted.
    """

    def __init__(self, msg: str, limit: int) -> None:
        self.limit = limit
        super().__init__(msg)


class RateLimitedClient(ServiceError):
    """The service answered HTTP 503 (busy) to every try within the retry policy's time
    (:class:`~anonlinkclient.service.settings.Retry`); also raised for each 503 while it retries."""


class _AboutProject:
    """Mixed into the service's refusals about one project: their arguments ``(msg, project, response,
    secrets, text)``, and their :attr:`ADVICE` (``{project}`` filled in) appended to the message.

    :param msg: what the client was doing, e.g. ``"Upload failed"``.
    :param project: the project ID.
    """

    #: What to do about it, appended to the message.
    ADVICE = ""

    def __init__(
        self,
        msg: str,
        project: str,
        response: Optional[Any] = None,
        secrets: Sequence[str] = (),
        text: Optional[str] = None,
    ) -> None:
        self.project = project
        ServiceError.__init__(
            cast(ServiceError, self), msg, response, secrets, self.ADVICE.format(project=project), text
        )


class NotAnUploadToken(_AboutProject, ServiceError):
    """The token is not an upload token of the project (a wrong one, or the result token).

    The service answers that with a bare HTTP 500 (it fails looking up the data
    provider), so its own text says nothing useful and is left out.
    """

    def _describe(self) -> str:
        return (
            f"{self.msg}: this token is not an upload token for project {self.project} (the service answered "
            f"HTTP {self.status_code}, as it does to a wrong token or to the result token); use one of the "
            "project's update_tokens"
        )


class BlockingDisabled(_AboutProject, ServiceError):
    """Blocks were sent to a project created without blocking (HTTP 403)."""

    ADVICE = ": project {project} was created without blocking, so it takes encodings without blocks"


class ProjectInError(_AboutProject, ServiceError):
    """The project is in error (its uploads cannot be linked together), so it takes no new runs (HTTP 500)."""

    ADVICE = (
        ": the uploads of project {project} cannot be linked, most likely because the parties' encodings "
        "have different sizes; every party must hash with the same schema, then upload to a new project"
    )


class RunNotComplete(ServiceError):
    """The run has no result yet (it is still waiting, queued or running)."""


class RunFailed(ServiceError):
    """The run ended in the ``error`` state."""


class EncodingSizeMismatch(RunFailed):
    """The run failed because the parties' encodings differ in size, from each other or from the schema's.

    :param run: the run ID.
    :param service_message: the run's own message ("Mismatch in encoding sizes. Stopping").
    :param schema_size: bytes per encoding the project's linkage schema makes, if known
        (the service does not say which sizes it received).
    """

    def __init__(self, run: str, service_message: str, schema_size: Optional[int] = None) -> None:
        self.run = run
        self.schema_size = schema_size
        which = "the service does not say which"
        if schema_size is not None:
            which += f"; the project's linkage schema makes {schema_size}-byte encodings"
        super().__init__(
            f'Run {run} failed on the service ("{service_message}"): the parties\' encodings have different sizes '
            f"({which}): every party must hash with the same schema, then upload to a new project"
        )


HIDDEN = "<hidden>"


def _hidden(text: Optional[str], secrets: Sequence[str]) -> Optional[str]:
    """``text`` with every secret replaced by ``<hidden>``."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text


class ObjectStoreError(AnonlinkClientError):
    """Uploading to (or reading from) the S3/MinIO object store failed."""

    exit_code = 7


class CredentialsExpired(ObjectStoreError):
    """The object store refused the upload because the credentials have expired."""


class WorkerFailed(AnonlinkClientError):
    """A worker process ended without finishing its work (killed, out of memory) or its work raised.

    :param message: what happened to which worker, e.g. ``a linkage worker process ended
        unexpectedly (exit code -9)``; the other workers have been stopped.
    """


class Interrupted(AnonlinkClientError):
    """The work was stopped by a signal; partial output has been removed."""

    def __init__(self, signal_name: str = "SIGINT", exit_code: int = 130) -> None:
        self.exit_code = exit_code
        super().__init__(f"interrupted by {signal_name}; no output was written")


class RecordError(ValueError):
    """A record does not fit the schema (raised by the encoder; the hashing layer names the file).

    :ivar record_index: 0-based index of the record among the data records.
    :ivar column: the schema identifier of the offending column, if known.
    :ivar reason: what is wrong with the value (clkhash's words).
    """

    def __init__(self, record_index: int, column: Optional[str], reason: str) -> None:
        self.record_index = record_index
        self.column = column
        self.reason = reason
        super().__init__(f"record {record_index}: {reason}")


class JsonLimitError(ValueError):
    """JSON breaks a reader's limits (nesting depth, number or string length) or holds ``NaN``; the reader
    names the file or server.

    ``str()`` is ``line 1, column 65: nesting deeper than 64 levels`` (columns count bytes).

    :ivar reason: what is wrong, e.g. ``nesting deeper than 64 levels``.
    :ivar offset: the 0-based byte offset where the limit was broken (``-1``: not known).
    :ivar line: / :ivar column: the same place as a 1-based line and column (``0``: not known).
    """

    def __init__(self, reason: str, offset: int = -1, line: int = 0, column: int = 0) -> None:
        self.reason = reason
        self.offset = offset
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {reason}" if line else reason)


class EncodingFallback(Exception):
    """Internal to the encoder: a chunk holds a value that fails validation or hashing.

    The bulk path raises it; :class:`~anonlinkclient.encoding.encoder.ClkEncoder` catches it
    and walks the chunk record by record, as clkhash would, to raise the first
    :class:`RecordError`. It never leaves the encoder.
    """
