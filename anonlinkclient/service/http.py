"""The HTTP session every Entity Service request goes through.

:func:`create_session` returns one :class:`requests.Session` (connections are
reused between requests) that

* sends ``User-Agent: anonlink-client/<version>``;
* gives every request a timeout unless the caller passes one, so a service that
  stops answering cannot hang the tool;
* verifies TLS certificates unless the caller opts out (``verify=False``) or
  names a CA bundle; when the caller opted out, urllib3's multi-line
  ``InsecureRequestWarning`` is not shown (the CLI says so once instead).

Retrying a busy service (HTTP 503) is the job of
:class:`anonlinkclient.rest_client.RestClient`, which knows the waiting limits.
"""

import os
import warnings
from typing import Any, Optional, Union

import requests
import urllib3

from anonlinkclient import __version__
from anonlinkclient.service.settings import DEFAULT_TIMEOUT, Timeout, timeout_pair

USER_AGENT = f"anonlink-client/{__version__}"


class TimeoutSession(requests.Session):
    """A :class:`requests.Session` that applies a default timeout to every request."""

    def __init__(self, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: Union[str, bytes], url: Union[str, bytes], *args: Any, **kwargs: Any) -> Any:
        """Send a request like :meth:`requests.Session.request`, with the default timeout and the
        session's TLS verification unless the call gives its own."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        if kwargs.get("verify") is None:
            # Given per request, or requests would let REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # override a session's verify=False (so --insecure would not work).
            kwargs["verify"] = self.verify
        if self.verify is not False:
            return super().request(method, url, *args, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            return super().request(method, url, *args, **kwargs)


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
    :param timeout: seconds to wait for a connection and for each read, as one
        number or a ``(connect, read)`` pair.
    """
    session = TimeoutSession(timeout_pair(timeout))
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session
