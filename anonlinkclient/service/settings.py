"""How to reach an Entity Service: one typed :class:`ServiceSettings`, the one retry policy
(:class:`Retry`), and every default, defined once.

The command line builds one :class:`ServiceSettings` from its options (or their
environment variables) and hands it to the library; a notebook user builds one
directly::

    settings = ServiceSettings(server="https://linkage.example.org", timeout=60)
    client = RestClient.from_settings(settings)

The defaults below are the only place the tool's defaults live: the CLI shows
them in ``--help`` by reading them from here. This module imports nothing from
the rest of :mod:`anonlinkclient.service`: the modules that talk to the service
read their settings from here.
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple, TypeVar, Union

import retrying

from anonlinkclient.errors import UsageError

#: The Entity Service used when no server is named.
DEFAULT_SERVER = "https://anonlink.easd.data61.xyz"
#: The n-th retry waits this many milliseconds times 2**n (the first 200 ms by default), at most the next.
DEFAULT_RETRY_MULTIPLIER_MS = 100
#: The longest wait between two tries, in milliseconds.
DEFAULT_RETRY_EXPONENTIAL_MAX_MS = 10000
#: No retry of a busy service starts this many milliseconds after the first try; polling a run
#: gives up once its queries have been failing for this long.
DEFAULT_RETRY_MAX_TIME_MS = 20000
#: How often an object-store part (a ``PUT``) is sent again after a cut connection, a timeout or HTTP 5xx.
DEFAULT_PART_RESENDS = 3
#: How often fresh object-store credentials are asked for when the store says they have expired (per file).
DEFAULT_CREDENTIAL_RENEWALS = 1
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


T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """The one retry policy: what is asked again, how long to wait in between, and when to give up.

    Everything in the package that asks again follows it:

    * **a busy service** (HTTP 503), any request: asked again after
      :meth:`wait_ms` ``(n)`` before the n-th retry, until ``max_time_ms`` after
      the first try (:meth:`call`, used by ``RestClient``; a file body is sent
      again from its start);
    * **an object-store part** (a ``PUT``, safe to send again) after a cut
      connection, a timeout or HTTP 500/502/503/504: sent again at most
      ``part_resends`` times, with the same waits (``ObjectStore``);
    * **expired object-store credentials**: fresh ones are asked for and the
      file is uploaded again, at most ``credential_renewals`` times per file
      (``upload_via_object_store``; never with an AWS profile's own credentials);
    * **polling a run** (``RestClient.watch_run_status``, the result download
      of ``results --watch``): a query that fails transiently is asked again at
      the next period, until queries have been failing for ``max_time_ms``
      (``FailureWindow``).

    Nothing else is sent twice: a request the service may have acted on
    (after a dropped connection, a timeout, a garbled answer) is never repeated.
    The command line's ``--retry-multiplier``, ``--retry-exponential-max`` and
    ``--retry-max-time`` set the first three numbers;
    :class:`ClientWaitingConfiguration` (below; imported from :mod:`anonlinkclient.rest_client`) is
    the 0.1.5 manual's spelling of them.

    :ivar multiplier_ms: the first retry waits twice this; each further one twice as long as the one before.
    :ivar exponential_max_ms: the longest wait between two tries.
    :ivar max_time_ms: no retry of a busy service starts this long after the first
        try; polling gives up once its queries have been failing this long.
    :ivar part_resends: the most times an object-store part is sent again.
    :ivar credential_renewals: the most times per file that expired object-store credentials are renewed.
    :raises UsageError: if a number is negative.
    """

    multiplier_ms: int = DEFAULT_RETRY_MULTIPLIER_MS
    exponential_max_ms: int = DEFAULT_RETRY_EXPONENTIAL_MAX_MS
    max_time_ms: int = DEFAULT_RETRY_MAX_TIME_MS
    part_resends: int = DEFAULT_PART_RESENDS
    credential_renewals: int = DEFAULT_CREDENTIAL_RENEWALS

    def __post_init__(self) -> None:
        for name in ("multiplier_ms", "exponential_max_ms", "max_time_ms", "part_resends", "credential_renewals"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"{name} must be a whole number, not negative, not {value!r}", name)

    def wait_ms(self, retry: int) -> int:
        """Milliseconds to wait before the ``retry``-th retry (1 for the first): ``multiplier_ms * 2**retry``,
        at most ``exponential_max_ms``."""
        return min(self.multiplier_ms * 2**retry, self.exponential_max_ms)

    @property
    def max_time_seconds(self) -> float:
        """``max_time_ms`` in seconds."""
        return self.max_time_ms / 1000

    def call(
        self,
        attempt: Callable[[], T],
        retry_if: Callable[[BaseException], bool],
        failed: Optional[Callable[[int], None]] = None,
    ) -> T:
        """``attempt()``, tried again after each exception ``retry_if`` accepts, until ``max_time_ms``
        after the first try; then that exception is raised (so is any other, at once).

        :param failed: called with the number of each failed try (1, 2, ...) that ``retry_if`` accepts.
        """
        retrier = retrying.Retrying(
            wait_func=lambda tries, _elapsed_ms: self.wait_ms(tries),
            stop_func=lambda _tries, elapsed_ms: elapsed_ms >= self.max_time_ms,
            retry_on_exception=retry_if,
            after_attempts=failed,
        )
        result: T = retrier.call(attempt)
        return result


class ClientWaitingConfiguration:
    """How long to keep asking a busy service (HTTP 503) before giving up: the 0.1.5 manual's
    spelling of the retry policy's numbers (a :class:`Retry`, which it holds as :attr:`retry`).

    Its import path is the manual's, :mod:`anonlinkclient.rest_client`.

    The n-th retry waits ``wait_exponential_multiplier_ms * 2**n`` milliseconds,
    but never more than ``wait_exponential_max_ms``; no retry starts after
    ``stop_max_delay_ms`` milliseconds from the first attempt.

    :raises ValueError: if a number is negative.
    """

    #: Milliseconds the first retry waits (doubling for each further one).
    DEFAULT_WAIT_EXPONENTIAL_MULTIPLIER_MS = DEFAULT_RETRY_MULTIPLIER_MS
    #: The longest wait between two tries, in milliseconds.
    DEFAULT_WAIT_EXPONENTIAL_MAX_MS = DEFAULT_RETRY_EXPONENTIAL_MAX_MS
    #: No retry starts this many milliseconds after the first try.
    DEFAULT_STOP_MAX_DELAY_MS = DEFAULT_RETRY_MAX_TIME_MS

    def __init__(
        self,
        wait_exponential_multiplier_ms: int = DEFAULT_WAIT_EXPONENTIAL_MULTIPLIER_MS,
        wait_exponential_max_ms: int = DEFAULT_WAIT_EXPONENTIAL_MAX_MS,
        stop_max_delay_ms: int = DEFAULT_STOP_MAX_DELAY_MS,
    ) -> None:
        for name, value in (
            ("wait_exponential_multiplier_ms", wait_exponential_multiplier_ms),
            ("wait_exponential_max_ms", wait_exponential_max_ms),
            ("stop_max_delay_ms", stop_max_delay_ms),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        #: The retry policy these numbers spell.
        self.retry = Retry(wait_exponential_multiplier_ms, wait_exponential_max_ms, stop_max_delay_ms)

    @classmethod
    def of(cls, retry: Retry) -> "ClientWaitingConfiguration":
        """The waiting configuration of a retry policy (which it holds whole)."""
        waiting = cls.__new__(cls)
        waiting.retry = retry
        return waiting

    @property
    def wait_exponential_multiplier_ms(self) -> int:
        """The policy's ``multiplier_ms``."""
        return self.retry.multiplier_ms

    @property
    def wait_exponential_max_ms(self) -> int:
        """The policy's ``exponential_max_ms``."""
        return self.retry.exponential_max_ms

    @property
    def stop_max_delay_ms(self) -> int:
        """The policy's ``max_time_ms``."""
        return self.retry.max_time_ms

    def __repr__(self) -> str:
        return (
            f"ClientWaitingConfiguration(wait_exponential_multiplier_ms={self.wait_exponential_multiplier_ms}, "
            f"wait_exponential_max_ms={self.wait_exponential_max_ms}, stop_max_delay_ms={self.stop_max_delay_ms})"
        )


@dataclass(frozen=True)
class ServiceSettings:
    """Everything needed to talk to one Entity Service.

    :ivar server: the service's base URL (``http://`` or ``https://``).
    :ivar apikey: the token to send (a result or upload token), if the task needs one.
    :ivar retry: the retry policy: what is asked again, and how long (see :class:`Retry`).
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
            raise UsageError(f"the timeout must be a positive number of seconds, not {self.timeout!r}")

    def token(self) -> str:
        """The token (``apikey``) to send.

        :raises UsageError: if none was given.
        """
        if not self.apikey:
            raise UsageError("no token given: this needs the project's result token or an upload token", "apikey")
        return self.apikey
