"""The HTTP session every Entity Service request goes through.

:func:`create_session` returns one :class:`requests.Session` (connections are
reused between requests) that

* sends ``User-Agent: anonlink-client/<version>``;
* gives every request a timeout unless the caller passes one, so a service that
  stops answering cannot hang the tool;
* verifies TLS certificates unless the caller opts out (``verify=False``) or
  names a CA bundle; when the caller opted out, urllib3's multi-line
  ``InsecureRequestWarning`` is not shown (the CLI says so once instead);
* bounds every answer in time and size, not only each socket read: from the
  moment a request has been sent, its whole answer (status line, headers and
  body) must arrive within the read timeout, or the connection is shut down
  and the request fails as a timeout (a server trickling one byte at a time
  cannot hold the tool); and an answer body larger than
  :data:`~anonlinkclient.service.settings.MAX_ANSWER_BYTES` is refused with
  :class:`~anonlinkclient.errors.AnswerTooLarge` instead of being read into
  memory. A large body (a run's result) can be streamed to a ``sink`` instead,
  within a larger limit.

:class:`AnswerClock` is the time bound; it works at the level of urllib3's
connections, so the object store client (minio, also on urllib3) uses it too
(see :func:`bounded_pool_manager`).

Nothing here asks again: what is retried, and how, is the retry policy
(:class:`anonlinkclient.service.settings.Retry`), followed by
:class:`~anonlinkclient.service.rest_client.RestClient` (a busy service) and
:class:`~anonlinkclient.service.objectstore.ObjectStore` (object-store parts).
"""

import os
import re
import socket
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, Iterator, List, NoReturn, Optional, Type, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from anonlinkclient import __version__
from anonlinkclient.errors import AnswerTooLarge
from anonlinkclient.io.files import format_size
from anonlinkclient.service.settings import DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, Timeout, timeout_pair

USER_AGENT = f"anonlink-client/{__version__}"


#: Bytes read from an answer at a time.
CHUNK_BYTES = 1 << 16

_local = threading.local()


class AnswerClock:
    """A time limit for every answer to the requests sent on this thread inside a ``with`` block.

    Each answer may take ``seconds`` from the moment its request has been sent
    until its last byte has arrived. When the time is up the connection is shut
    down, which ends a read waiting on it (the request then fails, and
    :attr:`expired` says why). Only connections of :func:`bounded_pool_manager`
    (and of :func:`create_session`'s sessions) are watched.

    :param seconds: the time each answer may take.
    :param max_bytes: the longest answer body urllib3 may read into memory by
        itself (``preload_content``, as minio reads answers); ``None``: no limit.
    :ivar expired: an answer was cut off because it took too long.
    """

    def __init__(self, seconds: float, max_bytes: Optional[int] = None) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.expired = False
        self._timers: List[threading.Timer] = []

    def __enter__(self) -> "AnswerClock":
        _local.__dict__.setdefault("clocks", []).append(self)
        return self

    def __exit__(self, *_exc: Any) -> None:
        _local.clocks.remove(self)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def watch(self, sock: Any) -> threading.Timer:
        """Start the time of one answer, read from ``sock``; cancel the timer returned once it has arrived."""
        self._timers = [timer for timer in self._timers if timer.is_alive()]
        timer = threading.Timer(self.seconds, self._expire, (sock,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return timer

    def _expire(self, sock: Any) -> None:
        self.expired = True
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket, also under TLS
        except (OSError, TypeError):
            try:
                sock.close()
            except OSError:
                pass


def current_clock() -> Optional[AnswerClock]:
    """The innermost :class:`AnswerClock` active on this thread, if any."""
    clocks: List[AnswerClock] = _local.__dict__.get("clocks", [])
    return clocks[-1] if clocks else None


class _AnswerClockConnection:
    """Mixed into urllib3's connections: the current :class:`AnswerClock` times each answer.

    The time of an answer ends when the connection is given back to its pool or
    sends its next request, or when the clock stops; not when the connection is
    closed, as http.client does as soon as it has read the head of an answer
    with ``Connection: close`` (whose body is still to come).
    """

    _answer_timer: Optional[threading.Timer] = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Send a request (the previous answer on this connection is complete)."""
        self._answer_done()
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        """Read the answer's head, with the clock running; a preloaded body is read within the clock's size limit."""
        clock = current_clock()
        sock = getattr(self, "sock", None)
        if clock is None or sock is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        self._answer_timer = clock.watch(sock)
        options = getattr(self, "_response_options", None)  # urllib3 2: how the pool wants the body read
        preload = clock.max_bytes is not None and getattr(options, "preload_content", False)
        if preload:
            self._response_options = options._replace(preload_content=False)  # type: ignore[union-attr]
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        if preload:
            response._body = _read_preloaded(response, clock.max_bytes or 0, options.decode_content)  # type: ignore
        return response

    def _answer_done(self) -> None:
        timer, self._answer_timer = self._answer_timer, None
        if timer is not None:
            timer.cancel()


def _within(response: Any, chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The chunks of an answer's body; the answer is closed and refused as soon as it says (its
    ``Content-Length``), or turns out, to be larger than ``limit`` bytes.

    :raises AnswerTooLarge: then.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        _refuse(response, limit)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            _refuse(response, limit)
        yield chunk


def _refuse(response: Any, limit: int) -> NoReturn:
    response.close()
    raise AnswerTooLarge(f"the answer is larger than {format_size(limit)}", limit)


def _read_preloaded(response: Any, limit: int, decode_content: bool) -> bytes:
    """The whole body of a urllib3 response, refusing more than ``limit`` bytes."""
    chunks = iter(lambda: response.read(CHUNK_BYTES, decode_content=decode_content), b"")
    return b"".join(_within(response, chunks, limit))


class _ClockedHTTPConnection(_AnswerClockConnection, HTTPConnection):
    pass


class _ClockedHTTPSConnection(_AnswerClockConnection, HTTPSConnection):
    pass


class _ClockedPool:
    """Mixed into urllib3's connection pools: a connection given back has finished its answer."""

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _AnswerClockConnection):
            conn._answer_done()
        super()._put_conn(conn)  # type: ignore[misc]


class _ClockedHTTPPool(_ClockedPool, HTTPConnectionPool):
    ConnectionCls = _ClockedHTTPConnection


class _ClockedHTTPSPool(_ClockedPool, HTTPSConnectionPool):
    ConnectionCls = _ClockedHTTPSConnection


#: The pool classes whose connections an :class:`AnswerClock` times.
CLOCKED_POOLS: Dict[str, Type[HTTPConnectionPool]] = {"http": _ClockedHTTPPool, "https": _ClockedHTTPSPool}


def bounded_pool_manager(**kwargs: Any) -> urllib3.PoolManager:
    """A ``urllib3.PoolManager(**kwargs)`` whose answers an active :class:`AnswerClock` bounds."""
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = dict(CLOCKED_POOLS)
    return manager


class _ClockedAdapter(HTTPAdapter):
    """requests' adapter on connections an :class:`AnswerClock` times (proxied ones too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager, with timed connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(CLOCKED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The pool manager for a proxy, with timed connections."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = dict(CLOCKED_POOLS)
        return manager


#: Called with the response and each chunk of its body.
Sink = Callable[[requests.Response, bytes], None]


class TimeoutSession(requests.Session):
    """A :class:`requests.Session` that applies a default timeout to every request, and bounds
    every answer in time and size (see the module's description).

    :param timeout: the default timeout, one number or a ``(connect, read)`` pair;
        the read timeout is also the time each whole answer may take.
    :param max_answer_bytes: the longest answer body read into memory.
    """

    def __init__(self, timeout: Timeout = DEFAULT_TIMEOUT, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        adapter = _ClockedAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self,
        method: Union[str, bytes],
        url: Union[str, bytes],
        *args: Any,
        sink: Optional[Sink] = None,
        sink_limit: Optional[int] = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request like :meth:`requests.Session.request`, with the default timeout and the
        session's TLS verification unless the call gives its own, and read its answer within
        the time and size limits.

        :param sink: called with the response and each chunk of a successful (2xx) answer's
            body, instead of keeping the body (``response.content`` is then empty).
        :param sink_limit: the most bytes the sink is given (default: the memory limit).
        :raises requests.exceptions.ReadTimeout: if the whole answer did not arrive within the read timeout.
        :raises AnswerTooLarge: if the answer's body is larger than the limit.
        """
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        if kwargs.get("verify") is None:
            # Given per request, or requests would let REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # override a session's verify=False (so --insecure would not work).
            kwargs["verify"] = self.verify
        seconds = timeout_pair(kwargs["timeout"])[1]
        limits = (self.max_answer_bytes, sink, self.max_answer_bytes if sink_limit is None else sink_limit)
        hooks = dict(kwargs.get("hooks") or {})
        theirs = hooks.get("response") or []
        theirs = [theirs] if callable(theirs) else list(theirs)
        hooks["response"] = [lambda response, **_kw: _read_answer(response, *limits), *theirs]
        kwargs["hooks"] = hooks
        kwargs["stream"] = True  # the first hook reads the body, within the limits, whatever the caller asked
        with AnswerClock(seconds) as clock, warnings.catch_warnings():
            if self.verify is False:
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.exceptions.RequestException:
                if clock.expired:
                    raise requests.exceptions.ReadTimeout(f"no whole answer within {seconds:g} s") from None
                raise
            if clock.expired:  # cut off, though it looks whole (http.client takes an early end for the end of the head)
                response.close()
                raise requests.exceptions.ReadTimeout(f"no whole answer within {seconds:g} s")
            return response


def _read_answer(response: requests.Response, limit: int, sink: Optional[Sink], sink_limit: int) -> requests.Response:
    """Read an answer's body (a redirect's too) within the limits: into the response, or to the sink."""
    chunks: List[bytes] = []
    streamed = sink is not None and 200 <= response.status_code < 300
    if streamed:
        limit = sink_limit
        response._content = b""
    for chunk in _within(response, response.iter_content(CHUNK_BYTES), limit):
        if streamed:
            sink(response, chunk)  # type: ignore[misc]
        else:
            chunks.append(chunk)
    if not streamed:
        response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]  # as requests marks a body it has read
    return response


def ca_bundle(verify: Union[bool, str]) -> Optional[str]:
    """The CA bundle to verify TLS certificates against, chosen as requests does.

    A path is used as it is; ``True`` means ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` if set, else requests' default (certifi's bundle); ``False`` (no
    verification) gives ``None``. For connections that do not go through
    requests (the object store), so that both trust the same certificates.
    """
    if verify is False:
        return None
    if isinstance(verify, str):
        return verify
    return (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.utils.DEFAULT_CA_BUNDLE_PATH
    )


def create_session(verify: Union[bool, str] = True, timeout: Timeout = DEFAULT_TIMEOUT) -> requests.Session:
    """A session for talking to an Entity Service.

    :param verify: ``True`` (default) verifies TLS certificates against the
        system's CA bundle (or ``REQUESTS_CA_BUNDLE``); a path names another CA
        bundle; ``False`` turns verification off (test deployments only).
    :param timeout: seconds to wait for a connection and for each answer, as one
        number or a ``(connect, read)`` pair.
    """
    session = TimeoutSession(timeout_pair(timeout))
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session


def exc_reason(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, e.g. ``Connection refused``, without URLs."""
    text = str(exc)
    errno_reason = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno_reason:
        return errno_reason[-1].strip()
    if "timed out" in text.lower():
        return "timed out"
    certificate = re.search(r"certificate verify failed(: [^(\"'\]]+)?", text)
    if certificate:
        return certificate.group(0).strip()
    for marker in ("wrong version number", "RemoteDisconnected", "IncompleteRead", "Connection aborted"):
        if marker.lower() in text.lower():
            return marker
    return type(exc).__name__
