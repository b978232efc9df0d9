"""The one start-up of the test HTTP servers: an ``http.server`` handler served on 127.0.0.1 in a daemon thread.

Both the test Entity Service (:mod:`.server`) and the fault proxy (:mod:`.fault_proxy`)
serve through a :class:`LoopbackServer`::

    serving = LoopbackServer(Handler, owner=self, port=0, name="entity-service").start()
    serving.port        # the bound port
    serving.stop()      # shut down and close the socket

A handler reaches the object that serves through it as ``self.server.owner``.
"""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, Type

from tests.entity_service.objectstore import check_loopback

HOST = "127.0.0.1"


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads never hold up shutting down.

    :ivar owner: the object serving through it (the handler's ``self.server.owner``).
    :ivar quiet: swallow handler errors (failed TLS handshakes, reset connections)
        instead of printing them.
    """

    daemon_threads = True
    block_on_close = False
    owner: Any = None
    quiet = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print a handler's exception, unless :attr:`quiet`."""
        if not self.quiet:
            super().handle_error(request, client_address)


class LoopbackServer:
    """``handler`` served on 127.0.0.1 in a daemon thread.

    :param handler: the request handler class.
    :param owner: what the handler reaches as ``self.server.owner``.
    :param port: TCP port (``0``: an ephemeral one).
    :param ssl_context: serve HTTPS with it (the handshake is left to the handler).
    :param name: the serving thread's name.
    :param quiet: swallow handler errors (see :class:`LoopbackHTTPServer`).
    """

    def __init__(
        self,
        handler: Type[BaseHTTPRequestHandler],
        owner: Any,
        port: int = 0,
        ssl_context: Optional[ssl.SSLContext] = None,
        name: str = "test-server",
        quiet: bool = False,
    ) -> None:
        check_loopback(HOST)
        self.handler = handler
        self.owner = owner
        self.requested_port = port
        self.ssl_context = ssl_context
        self.name = name
        self.quiet = quiet
        self.host = HOST
        self.port = 0
        self._server: Optional[LoopbackHTTPServer] = None

    def start(self) -> "LoopbackServer":
        """Listen and serve in a daemon thread; returns ``self``.

        :raises OSError: if the port cannot be bound.
        """
        server = LoopbackHTTPServer((self.host, self.requested_port), self.handler)
        server.owner = self.owner
        server.quiet = self.quiet
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self.port = int(server.server_address[1])
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name)
        thread.daemon = True
        thread.start()
        return self

    @property
    def running(self) -> bool:
        """Whether it is serving (started and not stopped)."""
        return self._server is not None

    def stop(self) -> None:
        """Stop serving and close the listening socket (from any thread but the serving one)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
