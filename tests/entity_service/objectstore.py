"""The local S3 object store: a moto S3 server on 127.0.0.1, and clients for it.

:meth:`S3Server.start` runs ``moto.server.ThreadedMotoServer`` in this process
on an ephemeral loopback port; :meth:`S3Server.existing` wraps one already
running (e.g. started by another process). moto accepts any credentials, so the
temporary credentials the test Entity Service issues work for uploads.
"""

import ipaddress
import logging
import socket
from typing import Any, List, Optional

import requests

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def check_loopback(host: str) -> None:
    """Refuse any host that is not a loopback address (the fixtures never leave the machine)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ValueError(f"{host!r} is not a loopback address; the test services only use 127.0.0.1")


class S3Server:
    """An S3 server on a loopback address.

    :ivar host: ``"127.0.0.1"``.
    :ivar port: the TCP port.
    :ivar endpoint: ``"127.0.0.1:PORT"`` (what minio's ``Minio(endpoint, secure=False)`` takes).
    :ivar url: ``"http://127.0.0.1:PORT"`` (what boto3's ``endpoint_url`` takes).
    :ivar access_key: / :ivar secret_key: / :ivar region: the administrator credentials.
    """

    def __init__(self, host: str, port: int, moto_server: Any = None) -> None:
        check_loopback(host)
        self.host = host
        self.port = port
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self._moto = moto_server

    @classmethod
    def start(cls, port: int = 0) -> "S3Server":
        """Start a moto S3 server in a thread on 127.0.0.1 (``port=0``: an ephemeral port)."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per S3 request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        host, bound_port = server.get_host_and_port()
        return cls(host, bound_port, server)

    @classmethod
    def existing(cls, endpoint: str) -> "S3Server":
        """Use an S3 server already listening at ``endpoint`` (``"127.0.0.1:PORT"``, loopback only)."""
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {endpoint!r}")
        return cls(host, int(port))

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:PORT"``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``"http://127.0.0.1:PORT"``."""
        return f"http://{self.endpoint}"

    def stop(self) -> None:
        """Stop the server if this object started it."""
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def boto3_client(
        self,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        session_token: Optional[str] = None,
    ) -> Any:
        """A boto3 S3 client for this server (administrator credentials unless given)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            aws_session_token=session_token,
            region_name=self.region,
            config=Config(proxies={}, retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def minio_client(
        self,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        session_token: Optional[str] = None,
    ) -> Any:
        """A ``minio.Minio`` client for this server (administrator credentials unless given)."""
        from minio import Minio

        return Minio(
            self.endpoint,
            access_key=access_key or self.access_key,
            secret_key=secret_key or self.secret_key,
            session_token=session_token,
            secure=False,
            region=self.region,
        )

    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` unless it exists."""
        client = self.boto3_client()
        try:
            client.head_bucket(Bucket=bucket)
        except client.exceptions.ClientError:
            client.create_bucket(Bucket=bucket)

    def list_objects(self, bucket: str, prefix: str = "") -> List[str]:
        """Names of the objects in ``bucket`` under ``prefix`` (``[]`` if there is no such bucket)."""
        client = self.boto3_client()
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        except client.exceptions.NoSuchBucket:
            return []

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset API)."""
        with requests.Session() as session:
            session.trust_env = False  # never through a proxy
            session.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def __repr__(self) -> str:
        return f"S3Server({self.url})"
