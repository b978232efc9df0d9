"""The HTTP session every Entity Service request goes through.

:func:`create_session` returns one :class:`requests.Session` (connections are
reused between requests) that

* sends ``User-Agent: anonlink-client/<version>``;
* gives every request a timeout unless the caller passes one, so a service that
  stops answering cannot hang the tool;
* verifies TLS certificates unless the caller opts out (``verify=False``) or
  names a CA bundle.

Retrying a busy service (HTTP 503) is the job of
:class:`anonlinkclient.rest_client.RestClient`, which knows the waiting limits.
"""

from typing import Any, Tuple, Union

import requests

from anonlinkclient import __version__

USER_AGENT = f"anonlink-client/{__version__}"

#: Seconds to wait for a connection, and for the next bytes of an answer.
#: The read timeout is long because the service answers an upload only after
#: it has received (and checked) the whole body.
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 300.0)

Timeout = Union[float, Tuple[float, float]]


class TimeoutSession(requests.Session):
    """A :class:`requests.Session` that applies a default timeout to every request."""

    def __init__(self, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: Union[str, bytes], url: Union[str, bytes], *args: Any, **kwargs: Any) -> Any:
        """Send a request like :meth:`requests.Session.request`, with the default timeout if none is given."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def create_session(verify: Union[bool, str] = True, timeout: Timeout = DEFAULT_TIMEOUT) -> requests.Session:
    """A session for talking to an Entity Service.

    :param verify: ``True`` (default) verifies TLS certificates against the
        system's CA bundle (or ``REQUESTS_CA_BUNDLE``); a path names another CA
        bundle; ``False`` turns verification off (test deployments only).
    :param timeout: seconds to wait for a connection and for each read, as one
        number or a ``(connect, read)`` pair.
    """
    session = TimeoutSession(timeout)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session
