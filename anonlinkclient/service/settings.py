"""How to reach an Entity Service: one typed :class:`ServiceSettings`, and every default, defined once.

The command line builds one :class:`ServiceSettings` from its options (or their
environment variables) and hands it to the library; a notebook user builds one
directly::

    settings = ServiceSettings(server="https://linkage.example.org", timeout=60)
    client = settings.client()

The defaults below are the only place the tool's defaults live: the CLI shows
them in ``--help`` by reading them from here.
"""

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from anonlinkclient.service.rest_client import ClientWaitingConfiguration, RestClient

#: The Entity Service used when no server is named.
DEFAULT_SERVER = "https://anonlink.easd.data61.xyz"
#: Milliseconds the first retry of a busy service (HTTP 503) waits; each further one waits twice as long.
DEFAULT_RETRY_MULTIPLIER_MS = 100
#: The longest wait between two tries of a busy service, in milliseconds.
DEFAULT_RETRY_EXPONENTIAL_MAX_MS = 10000
#: No retry starts this many milliseconds after the first try.
DEFAULT_RETRY_MAX_TIME_MS = 20000
#: Seconds to wait for each answer of the service or its object store. Long, because the
#: service answers an upload only after it has received (and checked) the whole body.
DEFAULT_TIMEOUT = 300.0
#: The longest wait for a connection, in seconds.
MAX_CONNECT_TIMEOUT = 10.0
#: The largest answer of the service (or its object store) read into memory: status, project, run, errors.
MAX_ANSWER_BYTES = 16 << 20
#: The largest run result downloaded (streamed to a file, not held in memory).
MAX_RESULT_BYTES = 4 << 30

Timeout = Union[float, Tuple[float, float]]


def timeout_pair(timeout: Timeout) -> Tuple[float, float]:
    """``(connect, read)`` seconds for a timeout given as one number or as a pair.

    One number ``T`` waits ``T`` seconds for each answer and at most
    ``min(T, 10)`` for a connection.
    """
    if isinstance(timeout, tuple):
        return float(timeout[0]), float(timeout[1])
    return min(float(timeout), MAX_CONNECT_TIMEOUT), float(timeout)


@dataclass(frozen=True)
class Retry:
    """How long to keep asking a busy service (HTTP 503), in milliseconds.

    :ivar multiplier_ms: the first retry's wait (doubling for each further one).
    :ivar exponential_max_ms: the longest wait between two tries.
    :ivar max_time_ms: no retry starts this long after the first try (also how
        long a watch rides out failing status queries).
    """

    multiplier_ms: int = DEFAULT_RETRY_MULTIPLIER_MS
    exponential_max_ms: int = DEFAULT_RETRY_EXPONENTIAL_MAX_MS
    max_time_ms: int = DEFAULT_RETRY_MAX_TIME_MS

    def waiting(self) -> "ClientWaitingConfiguration":
        """The :class:`~anonlinkclient.service.rest_client.ClientWaitingConfiguration` of these limits."""
        from anonlinkclient.service.rest_client import ClientWaitingConfiguration

        return ClientWaitingConfiguration(self.multiplier_ms, self.exponential_max_ms, self.max_time_ms)


@dataclass(frozen=True)
class ServiceSettings:
    """Everything needed to talk to one Entity Service.

    :ivar server: the service's base URL (``http://`` or ``https://``).
    :ivar apikey: the token to send (a result or upload token), if the task needs one.
    :ivar retry: how long to retry a busy service.
    :ivar timeout: seconds to wait for each answer (and at most 10 for a connection).
    :ivar verify_tls: verify TLS certificates (``True``), against the CA bundle at
        this path, or not at all (``False``, test deployments only).
    """

    server: str = DEFAULT_SERVER
    apikey: Optional[str] = field(default=None, repr=False)
    retry: Retry = field(default_factory=Retry)
    timeout: float = DEFAULT_TIMEOUT
    verify_tls: Union[bool, str] = True

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout) and self.timeout > 0):
            from anonlinkclient.errors import UsageError

            raise UsageError(f"the timeout must be a positive number of seconds, not {self.timeout!r}")

    def token(self) -> str:
        """The token (``apikey``) to send.

        :raises UsageError: if none was given.
        """
        if not self.apikey:
            from anonlinkclient.errors import UsageError

            raise UsageError("no token given: this needs the project's result token or an upload token", "apikey")
        return self.apikey

    def client(self) -> "RestClient":
        """A :class:`~anonlinkclient.service.rest_client.RestClient` for these settings."""
        from anonlinkclient.service.rest_client import RestClient

        return RestClient(self.server, self.retry.waiting(), verify_tls=self.verify_tls, timeout=self.timeout)
