"""A tiny HTTP server on 127.0.0.1 that answers as a hostile or broken server would.

Each test says, per URL path fragment, what to send back (:meth:`HostileServer.answer`):
a body of its own (deeply nested JSON, a huge number), an endless body, a body
that claims an enormous length, or any of these trickled a byte at a time
(status line and headers included). Everything else gets HTTP 404. The test
Entity Service (``tests/entity_service``) cannot misbehave this way, so the
client's limits are tested against this one.
"""

import socketserver
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple


@dataclass
class Answer:
    """What to send for one path.

    :ivar status: the HTTP status.
    :ivar body: the body (sent with a ``Content-Length`` unless ``endless`` or ``claimed_length``).
    :ivar headers: more headers.
    :ivar endless: send ``body`` over and over, chunked, until the client goes away.
    :ivar claimed_length: the ``Content-Length`` to claim instead of the body's.
    :ivar trickle: seconds between single bytes of the whole answer (``None``: all at once).
    """

    status: int = 200
    body: bytes = b"{}"
    headers: Dict[str, str] = field(default_factory=dict)
    endless: bool = False
    claimed_length: Optional[int] = None
    trickle: Optional[float] = None


REASONS = {200: "OK", 201: "Created", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1")
        if not request_line:
            return
        length = 0
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = self.rfile.read(length) if length else b""
        method, path = request_line.split()[:2]
        self.server.owner.requests.append((method, path, body))
        answer = self.server.owner.answer_for(path)
        try:
            for piece in _pieces(answer):
                if self.server.owner.stopping.is_set():
                    return
                self._send(piece, answer.trickle)
        except OSError:  # the client gave up: what the tests want
            return

    def _send(self, data: bytes, trickle: Optional[float]) -> None:
        if trickle is None:
            self.wfile.write(data)
            self.wfile.flush()
            return
        for index in range(len(data)):
            if self.server.owner.stopping.wait(trickle):
                return
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()


def _pieces(answer: Answer) -> Iterator[bytes]:
    head = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Whatever')}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in answer.headers.items()]
    if answer.endless:
        head.append("Transfer-Encoding: chunked")
    else:
        length = len(answer.body) if answer.claimed_length is None else answer.claimed_length
        head.append(f"Content-Length: {length}")
    yield ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    if not answer.endless:
        yield answer.body
        return
    chunk = f"{len(answer.body):x}\r\n".encode() + answer.body + b"\r\n"
    while True:
        yield chunk


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "HostileServer"


class HostileServer:
    """The server; use as a context manager (it listens on an ephemeral port of 127.0.0.1).

    :ivar requests: ``(method, path, body)`` of every request received.
    """

    def __init__(self) -> None:
        self.answers: List[Tuple[str, Answer]] = []
        self.requests: List[Tuple[str, str, bytes]] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, as an object store endpoint."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path_contains: str, **kwargs: object) -> Answer:
        """Answer requests whose path contains ``path_contains`` like this (see :class:`Answer`)."""
        answer = Answer(**kwargs)  # type: ignore[arg-type]
        self.answers.insert(0, (path_contains, answer))
        return answer

    def answer_for(self, path: str) -> Answer:
        """The answer to a request for ``path`` (the latest rule that matches)."""
        for fragment, answer in self.answers:
            if fragment in path:
                return answer
        return Answer(status=404, body=b'{"detail": "not found"}')

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
