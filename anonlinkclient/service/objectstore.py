"""Uploading files to an S3-compatible object store (MinIO or AWS S3) with the ``minio`` client.

The Entity Service hands a data provider temporary credentials and a place
(endpoint, bucket, path) to upload to; :func:`store_for_upload` turns that
answer into an :class:`ObjectStore`, and :meth:`ObjectStore.upload_file` sends a
file from disk in parts (memory does not grow with the file) while a tqdm
progress bar per file shows how far it got. Two settings change where and how:

* ``UPLOAD_OBJECT_STORE_SERVER`` (environment): use this endpoint instead of the
  one the service names, as ``host:port`` or as ``http://host:port`` /
  ``https://host`` (the scheme then also says whether to use TLS). Useful when
  the service reports an address only reachable from inside its own network.
* an AWS profile (``--profile``): sign the uploads with the credentials of that
  profile in ``~/.aws/credentials`` (or ``AWS_SHARED_CREDENTIALS_FILE``) instead
  of the temporary ones.

Parts are uploaded with ``PUT``, which is safe to send again: a part whose
connection is cut, that gets no answer in time, or that the store answers with
HTTP 500/502/503/504 is sent again as the retry policy says
(:class:`~anonlinkclient.service.settings.Retry`: 3 times at most by default,
with its exponential waits). Starting and completing the multipart upload
(``POST``) are not repeated. Every
failure is an :class:`~anonlinkclient.errors.ObjectStoreError` naming the
endpoint, bucket and object (:class:`CredentialsExpired` when the store says the
temporary credentials have expired); credentials never appear in a message.
TLS certificates are verified unless the caller opts out. Each answer of the
store must arrive whole within the timeout (not only each read: see
:class:`~anonlinkclient.service.http.AnswerClock`) and be at most
:data:`~anonlinkclient.service.settings.MAX_ANSWER_BYTES`.
"""

import os
import warnings
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Callable, Dict, Mapping, Optional, Tuple, Union, cast

import urllib3
from minio import Minio
from minio.credentials import AWSConfigProvider, StaticProvider
from minio.error import MinioException
from minio.helpers import get_part_info
from tqdm import tqdm

from anonlinkclient.errors import AnswerTooLarge, CredentialsExpired, ObjectStoreError
from anonlinkclient.io.files import format_size
from anonlinkclient.service.http import AnswerClock, bounded_pool_manager, ca_bundle, exc_reason
from anonlinkclient.service.settings import DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, Retry, Timeout, timeout_pair

ENDPOINT_VARIABLE = "UPLOAD_OBJECT_STORE_SERVER"
#: Region to sign requests for when the store is the service's own (MinIO's default region).
DEFAULT_REGION = "us-east-1"
#: The store's answers after which a part (a ``PUT``) is sent again (as are cut connections and timeouts).
RESENT_STATUSES = (500, 502, 503, 504)
#: S3 error codes meaning the (temporary) credentials are no longer valid.
EXPIRED_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired"})


def parse_endpoint(value: str) -> Tuple[str, Optional[bool]]:
    """Split an endpoint as a user writes it into ``(host:port, secure)``.

    ``secure`` is ``None`` when ``value`` has no ``http://`` or ``https://`` scheme.

    :raises ObjectStoreError: if ``value`` is empty or has a path.
    """
    text = value.strip()
    secure: Optional[bool] = None
    lowered = text.lower()
    if lowered.startswith("https://"):
        secure, text = True, text[len("https://") :]
    elif lowered.startswith("http://"):
        secure, text = False, text[len("http://") :]
    text = text.rstrip("/")
    if not text or "/" in text or " " in text:
        raise ObjectStoreError(f"object store endpoint {value!r} is not host[:port] or http(s)://host[:port]")
    return text, secure


@dataclass
class UploadPlace:
    """Where the service allows a data provider to upload: an endpoint, a bucket and a path in it."""

    endpoint: str
    secure: bool
    bucket: str
    path: str

    def object_name(self, file_name: str) -> str:
        """The full object name of ``file_name`` under this place's path."""
        return f"{self.path.strip('/')}/{file_name}" if self.path.strip("/") else file_name


def upload_place(upload_info: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> UploadPlace:
    """The place to upload to: the service's ``upload`` answer, with ``UPLOAD_OBJECT_STORE_SERVER`` applied.

    :param upload_info: the ``upload`` object of ``authorize-external-upload``
        (``endpoint``, ``secure``, ``bucket``, ``path``).
    :param environ: the environment to read ``UPLOAD_OBJECT_STORE_SERVER`` from
        (default: ``os.environ``).
    :raises ObjectStoreError: if no endpoint is known.
    """
    env = os.environ if environ is None else environ
    secure = upload_info.get("secure", True)
    secure = secure if isinstance(secure, bool) else str(secure).lower() != "false"
    override = env.get(ENDPOINT_VARIABLE, "").strip()
    if override:
        endpoint, override_secure = parse_endpoint(override)
        if override_secure is not None:
            secure = override_secure
    else:
        named = upload_info.get("endpoint")
        if not isinstance(named, str) or not named.strip():
            raise ObjectStoreError(f"the service named no object store endpoint; set {ENDPOINT_VARIABLE}=host:port")
        endpoint, named_secure = parse_endpoint(named)
        if named_secure is not None:
            secure = named_secure
    return UploadPlace(endpoint, secure, str(upload_info["bucket"]), str(upload_info["path"]))


def credentials_provider(temporary: Optional[Mapping[str, Any]] = None, profile: Optional[str] = None) -> Any:
    """A minio credentials provider: an AWS profile's credentials if ``profile`` is given, else ``temporary``.

    :param temporary: the ``credentials`` object of ``authorize-external-upload``.
    :param profile: the name of a profile in the AWS shared credentials file.
    :raises ObjectStoreError: if the profile has no credentials, or ``temporary`` lacks keys.
    """
    if profile is not None:
        provider = AWSConfigProvider(profile=profile)
        try:
            provider.retrieve()
        except ValueError:
            where = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
            raise ObjectStoreError(
                f"AWS profile {profile!r} has no aws_access_key_id/aws_secret_access_key in {where}"
            ) from None
        return provider
    if not temporary or not temporary.get("AccessKeyId") or not temporary.get("SecretAccessKey"):
        raise ObjectStoreError("the service's object store credentials lack an AccessKeyId or SecretAccessKey")
    return StaticProvider(temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary.get("SessionToken"))


class ObjectStore:
    """A connection to one S3-compatible object store.

    :param endpoint: ``host:port`` of the store.
    :param secure: connect with TLS (certificates are verified).
    :param credentials: a minio credentials provider (see :func:`credentials_provider`).
    :param region: the region to sign for; ``None`` asks the store (AWS S3 with
        one's own bucket), the default suits MinIO and the service's store.
    :param progress: show a progress bar per file on stderr.
    :param timeout: seconds to wait for each answer (and at most 10 for a
        connection), or a ``(connect, read)`` pair.
    :param verify: verify the store's TLS certificate (``True``: against the CA
        bundle requests would use, see :func:`~anonlinkclient.service.http.ca_bundle`),
        against the CA bundle at this path, or not at all (``False``).
    :param retry: the retry policy, which says how often a part is sent again and how long to wait.
    """

    def __init__(
        self,
        endpoint: str,
        secure: bool,
        credentials: Any,
        region: Optional[str] = DEFAULT_REGION,
        progress: bool = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        verify: Union[bool, str] = True,
        retry: Optional[Retry] = None,
    ) -> None:
        self.endpoint = endpoint
        self.progress = progress
        self.verify = verify
        self.connect_timeout, self.read_timeout = timeout_pair(timeout)
        # A shorter connect timeout than minio's default (5 minutes), and the
        # policy's retries of what is safe to send again (urllib3 repeats only
        # idempotent methods such as a part's PUT). After the last retry the
        # store's own error answer is kept, so that its message can be shown.
        http = bounded_pool_manager(
            timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout),
            retries=PartRetry.of(retry or Retry()),
            cert_reqs="CERT_REQUIRED" if verify is not False else "CERT_NONE",
            ca_certs=ca_bundle(verify),
        )
        try:
            self.client = Minio(endpoint, secure=secure, credentials=credentials, region=region, http_client=http)
        except ValueError as exc:
            raise ObjectStoreError(f"object store endpoint {endpoint!r} is not usable: {exc}") from None

    def upload_file(
        self,
        bucket: str,
        object_name: str,
        file_path: str,
        metadata: Optional[Mapping[str, str]] = None,
        label: Optional[str] = None,
        content_type: str = "application/json",
    ) -> None:
        """Upload the file at ``file_path`` as ``bucket/object_name``.

        :param metadata: user metadata, sent as ``X-Amz-Meta-<name>`` headers.
        :param label: the name shown on the progress bar (default: the file's name).
        :raises CredentialsExpired: if the store says the credentials have expired.
        :raises ObjectStoreError: naming the endpoint, bucket and object.
        """
        try:
            length = os.path.getsize(file_path)
        except (OSError, ValueError):
            length = 0  # fput_object reports the problem

        def put(options: Dict[str, Any]) -> None:
            self.client.fput_object(bucket, object_name, file_path, **options)

        self._upload(bucket, object_name, label or os.path.basename(file_path), length, put, content_type, metadata)

    def upload_stream(
        self,
        bucket: str,
        object_name: str,
        stream: IO[bytes],
        length: int,
        label: str,
        metadata: Optional[Mapping[str, str]] = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Upload ``length`` bytes read from ``stream`` (read once, a part at a time) as ``bucket/object_name``.

        :param label: the name shown on the progress bar.
        :param metadata: user metadata, sent as ``X-Amz-Meta-<name>`` headers.
        :raises CredentialsExpired: if the store says the credentials have expired.
        :raises ObjectStoreError: naming the endpoint, bucket and object.
        """

        def put(options: Dict[str, Any]) -> None:
            self.client.put_object(bucket, object_name, cast(BinaryIO, stream), length, **options)

        self._upload(bucket, object_name, label, length, put, content_type, metadata)

    def _upload(
        self,
        bucket: str,
        object_name: str,
        label: str,
        length: int,
        put: Callable[[Dict[str, Any]], None],
        content_type: str,
        metadata: Optional[Mapping[str, str]],
    ) -> None:
        """``put(options)``: one minio upload, given the options every upload has (content type,
        metadata, progress bar, one part at a time); its failures as :class:`ObjectStoreError`."""
        where = f"{bucket}/{object_name} on the object store at {self.endpoint}"
        progress = None
        if self.progress:
            try:
                part_size, _count = get_part_info(length, 0)
            except ValueError:
                part_size = 0  # minio reports the problem
            progress = UploadProgress(label, part_size)
        clock = AnswerClock(self.read_timeout, MAX_ANSWER_BYTES)  # each answer: its whole time, its size
        try:
            with warnings.catch_warnings(), clock:
                if self.verify is False:
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                put(
                    {
                        "content_type": content_type,
                        "metadata": dict(metadata or {}),
                        "progress": progress,
                        "num_parallel_uploads": 1,
                    }
                )
            if clock.expired:  # an answer was cut off at the time limit, even if it looked whole
                raise ObjectStoreError(f"Uploading {where} failed: {self._network_reason(TimeoutError(), clock)}")
            if progress is not None:
                progress.finish()
        except AnswerTooLarge as exc:
            too_large = f"the object store's answer is larger than {format_size(exc.limit)}"
            raise ObjectStoreError(f"Uploading {where} failed: {too_large}") from None
        except MinioException as exc:
            if getattr(exc, "code", None) in EXPIRED_CODES:
                raise CredentialsExpired(f"Uploading {where} failed: {_minio_reason(exc)}") from None
            raise ObjectStoreError(f"Uploading {where} failed: {_minio_reason(exc)}") from None
        except OSError as exc:
            raise ObjectStoreError(f"Uploading {where} failed: {self._network_reason(exc, clock)}") from None
        except Exception as exc:  # urllib3 errors (MaxRetryError, ...) do not share a base class with OSError
            if type(exc).__module__.startswith("urllib3"):
                raise ObjectStoreError(f"Uploading {where} failed: {self._network_reason(exc, clock)}") from None
            raise
        finally:
            if progress is not None:
                progress.close()

    def _network_reason(self, exc: BaseException, clock: Optional[AnswerClock] = None) -> str:
        """What went wrong on the network, in words: no connection, a cut one, or no answer in time."""
        reason = exc_reason(exc)
        if reason == "timed out" or (clock is not None and clock.expired):
            return f"the object store did not answer within {self.read_timeout:g} s"
        if reason in ("Connection refused", "No route to host") or "Name or service not known" in reason:
            return f"cannot connect ({reason})"
        if reason.startswith("certificate verify failed") or reason == "wrong version number":
            return f"TLS connection failed ({reason})"
        return f"the connection was cut ({reason})"


class PartRetry(urllib3.Retry):
    """urllib3's retries of a part, as the retry policy says: at most ``part_resends`` times after a cut
    connection, a timeout or an answer in :data:`RESENT_STATUSES`, waiting ``policy.wait_ms(n)`` before the n-th.

    :ivar policy: the :class:`~anonlinkclient.service.settings.Retry` followed.
    """

    policy: Retry = Retry()

    @classmethod
    def of(cls, policy: Retry) -> "PartRetry":
        """The urllib3 retries of ``policy``."""
        retries = cls(total=policy.part_resends, status_forcelist=RESENT_STATUSES, raise_on_status=False)
        retries.policy = policy
        return retries

    def new(self, **kwargs: Any) -> "PartRetry":
        """The retries left after one more (urllib3 makes a new object for each), under the same policy."""
        retries = cast(PartRetry, super().new(**kwargs))
        retries.policy = self.policy
        return retries

    def get_backoff_time(self) -> float:
        """Seconds to wait before the next retry: the policy's wait for the n-th (n retries so far)."""
        return self.policy.wait_ms(len(self.history)) / 1000 if self.history else 0.0


class MegabyteBar(tqdm):
    """A byte-counting tqdm bar whose format can also show megabytes and MB/sec."""

    @property
    def format_dict(self) -> Dict[str, Any]:
        """tqdm's format fields plus ``mb_done``, ``mb_total`` and ``mb_rate``."""
        values: Dict[str, Any] = super().format_dict
        done, elapsed = values.get("n") or 0, values.get("elapsed") or 0
        rate = values.get("rate") or (done / elapsed if elapsed else 0.0)
        values.update(mb_done=done / 1e6, mb_total=(values.get("total") or 0) / 1e6, mb_rate=rate / 1e6)
        return values


class UploadProgress:
    """A tqdm bar in megabytes for one file, driven by minio's progress calls (``set_meta``, ``update``).

    minio reports bytes as it *reads* them from the file, a part (``part_size``
    bytes) before sending it. The bar shows only bytes the store has accepted:
    a part counts once minio goes on to read the next one (it sends one part at
    a time), and the rest when :meth:`finish` is called after the upload
    succeeded. So a failed upload never shows 100%.
    """

    BAR_FORMAT = (
        "{desc}: |{bar}| {mb_done:.2f} MB/{mb_total:.2f} MB {percentage:3.0f}% "
        "[elapsed: {elapsed} left: {remaining}, {mb_rate:.2f} MB/sec]"
    )

    def __init__(self, label: str, part_size: int = 0) -> None:
        self.label = label
        self.part_size = part_size
        self.read = 0
        self.shown = 0
        self.bar: Optional[MegabyteBar] = None

    def set_meta(self, object_name: str, total_length: int) -> None:
        """Start the bar for an upload of ``total_length`` bytes."""
        self.bar = MegabyteBar(
            total=total_length, desc=f"Upload {self.label}", ascii=True, bar_format=self.BAR_FORMAT, leave=True
        )

    def update(self, length: int) -> None:
        """Count ``length`` more bytes read; show the parts read before as sent."""
        if self.part_size and self.read > self.shown and self.read % self.part_size == 0:
            self._show(self.read)  # a new part is being read: the previous one was accepted
        self.read += length

    def finish(self) -> None:
        """The upload succeeded: show every byte as sent."""
        self._show(self.read)

    def _show(self, upto: int) -> None:
        if self.bar is not None and upto > self.shown:
            self.bar.update(upto - self.shown)
        self.shown = upto

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _minio_reason(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if code or message:
        return ": ".join(str(part) for part in (code, message) if part)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
