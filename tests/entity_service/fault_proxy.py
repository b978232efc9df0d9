"""An HTTP proxy on 127.0.0.1 that forwards to a local server and injects faults (used in front of the S3 server).

The client is pointed at the proxy (for uploads: ``UPLOAD_OBJECT_STORE_SERVER=<proxy.url>``);
the proxy forwards each request, unchanged, to the upstream server over a fresh
connection and sends the answer back, unless a fault rule says otherwise::

    proxy = FaultProxy("127.0.0.1", s3_server.port).start()
    proxy.deny(1, method="PUT")                       # 403 AccessDenied, as S3 answers it
    proxy.vanish(after_bytes=1_000_000, query_contains="partNumber=2")
    ...
    proxy.stop()

Rules are kept by the rule engine of :mod:`.rules` (the one the test Entity
Service's faults use): they are tried in the order they were added; for each
request the first one that matches (``method``, ``path_contains`` in the path,
``query_contains`` in the query string) and is not used up applies. ``n=None``
means every matching request.

- :meth:`FaultProxy.deny`: answer an S3 XML error (default ``403 AccessDenied``)
  without forwarding;
- :meth:`FaultProxy.expire_credentials`: after ``after`` requests signed with the first
  access key seen, answer ``403 ExpiredToken`` to every later request signed with it
  (other keys, e.g. fresh credentials, pass);
- :meth:`FaultProxy.cut`: read ``after_bytes`` of the request body, then reset the connection;
- :meth:`FaultProxy.vanish`: like ``cut``, then the server goes away: the proxy stops
  listening (connections are refused) and resets every open connection;
- :meth:`FaultProxy.hang`: read the request, then answer nothing until :meth:`FaultProxy.release`
  (or :meth:`FaultProxy.stop`), then close the connection.

With ``ssl_context`` the proxy serves HTTPS (e.g. a self-signed certificate in front
of the test Entity Service). Request bodies must come with ``Content-Length``
(minio, boto3 and requests send it).

:attr:`FaultProxy.requests` records every request: method, path, query, the access
key it was signed with, body bytes received, the status answered and the fault applied.
"""

import http.client
import re
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, List, Optional, Set

from tests.entity_service.objectstore import check_loopback
from tests.entity_service.rules import HangGate, Rule, RuleBook
from tests.entity_service.serving import LoopbackHTTPServer, LoopbackServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}
S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<Resource>{resource}</Resource><RequestId>fault-proxy</RequestId></Error>"
)
ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


@dataclass
class ProxyRule(Rule):
    """One injected fault: ``kind`` is ``deny``, ``expire``, ``cut``, ``vanish`` or ``hang``."""

    status: int = 403
    code: str = "AccessDenied"
    message: str = "Access Denied."
    after_bytes: int = 0
    after: int = 0
    access_key: Optional[str] = None

    def admits(self, request: Any) -> bool:
        """An ``expire`` rule applies to the first access key it sees, after ``after`` requests signed with it."""
        if self.kind != "expire":
            return True
        if self.access_key is None:
            self.access_key = request.access_key
        if request.access_key != self.access_key:
            return False
        if self.after > 0:
            self.after -= 1
            return False
        return True


@dataclass
class ProxiedRequest:
    """A request the proxy received: ``status`` is ``None`` if it was not answered."""

    method: str
    path: str
    query: str
    access_key: Optional[str]
    content_length: int
    body_size: int = 0
    status: Optional[int] = None
    fault: Optional[str] = None
    headers: dict = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer
    timeout = 60

    def setup(self) -> None:
        proxy: FaultProxy = self.server.owner
        proxy._opened(self.request)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                self.request.close()
                raise
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._closed(self.request)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            pass  # the connection was reset (by a fault, or by the client)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        self._serve()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _serve(self) -> None:
        proxy: FaultProxy = self.server.owner
        path, _, query = self.path.partition("?")
        key = ACCESS_KEY.search(self.headers.get("Authorization", ""))
        length = int(self.headers.get("Content-Length") or 0)
        record = ProxiedRequest(
            self.command, path, query, key.group(1) if key else None, length, headers=dict(self.headers.items())
        )
        proxy._record(record)
        if proxy.gone:
            self._reset()
            return
        rule = proxy._take(record)
        record.fault = rule.kind if rule else None
        if rule is not None and rule.kind in ("cut", "vanish"):
            record.body_size = len(self.rfile.read(min(rule.after_bytes, length)))
            if rule.kind == "vanish":
                proxy._go_away()
            self._reset()
            return
        body = self.rfile.read(length) if length else b""
        record.body_size = len(body)
        if rule is not None and rule.kind == "hang":
            proxy._gate.hold(120)
            self.close_connection = True
            return
        if rule is not None and rule.kind in ("deny", "expire"):
            payload = S3_ERROR.format(code=rule.code, message=rule.message, resource=path).encode()
            self._answer(record, rule.status, [("Content-Type", "application/xml")], payload)
            return
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP - {"content-length"}}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command == "HEAD":
                answer_headers.append(("Content-Length", response.getheader("Content-Length") or "0"))
            self._answer(record, response.status, answer_headers, payload)
        finally:
            upstream.close()

    def _answer(self, record: ProxiedRequest, status: int, headers: List[Any], payload: bytes) -> None:
        record.status = status
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, as a crashed server or a cut network does."""
        self.close_connection = True
        _reset_socket(self.request)


def _reset_socket(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class FaultProxy:
    """A fault-injecting HTTP(S) proxy on 127.0.0.1 in front of ``upstream_host:upstream_port``.

    :ivar url: ``http(s)://127.0.0.1:PORT``; :ivar endpoint: ``127.0.0.1:PORT``; :ivar port:.
    :ivar requests: every request received, as :class:`ProxiedRequest`.
    :ivar gone: ``True`` once a :meth:`vanish` rule fired (or after :meth:`stop`).
    """

    def __init__(self, upstream_host: str, upstream_port: int, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        check_loopback(upstream_host)
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.ssl_context = ssl_context
        self.requests: List[ProxiedRequest] = []
        self.gone = False
        self._book: RuleBook[ProxyRule] = RuleBook()
        self._gate = HangGate()
        self._lock = threading.Lock()
        self._sockets: Set[socket.socket] = set()
        # Failed TLS handshakes and reset connections are what the tests provoke: not printed.
        self._serving = LoopbackServer(_Handler, self, ssl_context=ssl_context, name="fault-proxy", quiet=True)

    def start(self) -> "FaultProxy":
        """Listen on an ephemeral port of 127.0.0.1 and serve in a daemon thread; returns ``self``."""
        self._serving.start()
        return self

    @property
    def port(self) -> int:
        """The TCP port the proxy listens (or listened) on."""
        return self._serving.port

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with an SSL context)."""
        return f"{'https' if self.ssl_context else 'http'}://{self.endpoint}"

    # Faults -------------------------------------------------------------------

    def _add(self, rule: ProxyRule) -> ProxyRule:
        return self._book.add(rule)

    def deny(
        self,
        n: Optional[int] = 1,
        status: int = 403,
        code: str = "AccessDenied",
        message: str = "Access Denied.",
        method: Optional[str] = None,
        path_contains: Optional[str] = None,
        query_contains: Optional[str] = None,
    ) -> ProxyRule:
        """Answer the next ``n`` matching requests with an S3 XML error, without forwarding them."""
        return self._add(
            ProxyRule("deny", n, method, path_contains, query_contains, status=status, code=code, message=message)
        )

    def expire_credentials(self, after: int = 0) -> ProxyRule:
        """After ``after`` requests signed with the first access key seen, refuse that key as expired.

        Every later request signed with it is answered ``403 ExpiredToken`` ("The provided
        token has expired."); requests signed with any other key are forwarded.
        """
        return self._add(
            ProxyRule("expire", None, code="ExpiredToken", message="The provided token has expired.", after=after)
        )

    def cut(
        self,
        n: Optional[int] = 1,
        after_bytes: int = 0,
        method: Optional[str] = None,
        path_contains: Optional[str] = None,
        query_contains: Optional[str] = None,
    ) -> ProxyRule:
        """Reset the connection of the next ``n`` matching requests after ``after_bytes`` of their body."""
        return self._add(ProxyRule("cut", n, method, path_contains, query_contains, after_bytes=after_bytes))

    def vanish(
        self,
        after_bytes: int = 0,
        method: Optional[str] = None,
        path_contains: Optional[str] = None,
        query_contains: Optional[str] = None,
    ) -> ProxyRule:
        """At the first matching request, after ``after_bytes`` of its body, go away for good.

        The connection is reset, every other open connection too, and the port stops
        listening, so that further connections are refused.
        """
        return self._add(ProxyRule("vanish", 1, method, path_contains, query_contains, after_bytes=after_bytes))

    def hang(
        self,
        n: Optional[int] = 1,
        method: Optional[str] = None,
        path_contains: Optional[str] = None,
        query_contains: Optional[str] = None,
    ) -> ProxyRule:
        """Read the next ``n`` matching requests and never answer them, until :meth:`release`."""
        self._gate.arm()
        return self._add(ProxyRule("hang", n, method, path_contains, query_contains))

    def release(self) -> None:
        """Let hung requests go (their connections are closed without an answer)."""
        self._gate.release()

    @property
    def rules(self) -> List[ProxyRule]:
        """The rules not used up yet, in order."""
        return self._book.pending

    # Inspection ---------------------------------------------------------------

    def requests_to(
        self, method: Optional[str] = None, query_contains: str = "", path_contains: str = ""
    ) -> List[ProxiedRequest]:
        """The recorded requests of ``method`` whose query and path contain the given text."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and query_contains in r.query and path_contains in r.path
            ]

    # Life cycle ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop listening, reset open connections and release hung requests."""
        self.release()
        self._go_away()

    def _go_away(self) -> None:
        self.gone = True
        self._serving.stop()  # the serving loop runs in its own thread, never in a handler's
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _reset_socket(sock)

    # Used by the handler ------------------------------------------------------

    def _record(self, record: ProxiedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _take(self, record: ProxiedRequest) -> Optional[ProxyRule]:
        return self._book.take(record)

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
        if self.gone:
            _reset_socket(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def __repr__(self) -> str:
        return f"FaultProxy({self.url} -> {self.upstream_host}:{self.upstream_port})"
