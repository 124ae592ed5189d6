"""``s3://`` storage (any S3-compatible store) as an fsspec filesystem with three guarantees added to s3fs.

- **Whole objects only.** A file opened for writing publishes its object when its ``with`` block ends
  without an error; an error aborts the multipart upload instead, so no half-written object ever appears
  under its final key (s3fs alone completes the upload on any close, an exception included). Uploads go up
  in parts of ``PART_SIZE``, so a large artifact is streamed and never held whole in memory.
- **Bounded waits.** Every request gets botocore's connect and read timeouts and ``max_attempts`` tries, and
  a deadline of its own: aiohttp waits for a frozen server's ``100 Continue`` and for a blocked upload
  with no timeout at all. A store that is down or hung is reported in seconds, not minutes.
- **Failures in shipyard's words.** A store that does not answer is ``Unavailable``; refused credentials,
  a missing bucket or no credentials at all are a ``ConfigurationError``. Each names the bucket, the
  endpoint and where the endpoint and credentials were configured; never the secret.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from shipyard.config import ObjectStoreSettings
from shipyard.errors import ConfigurationError, MissingDependency, ShipyardError, Unavailable

#: Size of each part of a multipart upload, and of each ranged read: what a transfer holds in memory.
PART_SIZE = 8 << 20
#: The slowest upload a request's deadline allows for its body, in bytes per second.
_SLOWEST_UPLOAD = 256 << 10
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "Forbidden",
    "403",
}


def open_s3(url: str, object_store: ObjectStoreSettings, **storage_options: object) -> tuple[Any, str]:
    """``(filesystem, root)`` for an ``s3://bucket/prefix`` URL under ``object_store``'s settings."""
    filesystem_class = _filesystem_class()
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": object_store.connect_timeout,
            "read_timeout": object_store.read_timeout,
            "retries": {"max_attempts": object_store.max_attempts, "mode": "standard"},
            "http_session_cls": _http_session_class(),
        },
        "default_block_size": PART_SIZE,
        "endpoint_source": object_store.endpoint_source,
        "credentials_source": object_store.credentials_source or _default_credentials(object_store),
    }
    if object_store.endpoint_url:
        options["endpoint_url"] = object_store.endpoint_url
    if object_store.region:
        options["client_kwargs"] = {"region_name": object_store.region}
    if object_store.access_key_id:
        options["key"] = object_store.access_key_id
        options["secret"] = object_store.secret_access_key
    options.update(storage_options)
    filesystem = filesystem_class(**options)
    return filesystem, str(filesystem_class._strip_protocol(url)).rstrip("/")


def _default_credentials(object_store: ObjectStoreSettings) -> str:
    if object_store.access_key_id:
        return "the access key given in the settings"
    return "the AWS default chain (~/.aws/credentials, ~/.aws/config, an instance role)"


def storage_failure(
    error: BaseException, *, bucket: str, endpoint: str, credentials: str
) -> ShipyardError | None:
    """The shipyard error for an object store's failure, or None when ``error`` is not one (a missing key)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    cause = error.__cause__ if isinstance(error.__cause__, ClientError) else error
    where = f"bucket {bucket!r} at {endpoint}"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(
            f"no credentials for {where}: set $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or "
            "$SHIPYARD_S3_ACCESS_KEY_ID and $SHIPYARD_S3_SECRET_ACCESS_KEY"
        )
    if isinstance(cause, ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
        status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _CREDENTIAL_CODES or status == 403:
            return ConfigurationError(
                f"the object store at {endpoint} refused the credentials from {credentials} for bucket "
                f"{bucket!r} ({code or status}): check the access key and its secret, and that they may read "
                "and write the bucket"
            )
        if code == "NoSuchBucket":
            return ConfigurationError(
                f"{where} does not exist: create it, or point artifacts_url / log_url at one that does"
            )
        if status >= 500:
            return Unavailable(f"{where} failed ({code or status}); try again, or check the store's health")
        return None
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | HTTPClientError | TimeoutError):
        return Unavailable(
            f"the object store for {where} did not answer ({type(error).__name__}); check that it is running "
            "and reachable, and s3_endpoint_url"
        )
    return None


@functools.cache  # one class: fsspec reuses a filesystem (its connections) per class and options
def _filesystem_class() -> type[Any]:
    try:
        from fsspec.asyn import sync_wrapper
        from s3fs import S3FileSystem
        from s3fs.core import S3File
    except ImportError as exc:
        raise MissingDependency("s3fs", "s3", "the s3:// storage") from exc

    class WholeObjectFile(S3File):
        """An S3 object being written: its upload completes only when the ``with`` block had no error."""

        def __exit__(self, exc_type: object, *rest: object) -> None:
            if exc_type is not None:
                self._abandon()
                return
            try:
                self.close()
            except BaseException:
                self._abandon()
                raise

        def _abandon(self) -> None:
            try:
                self.discard()  # aborts the multipart upload: S3 never shows the parts
            finally:
                self.closed = True  # a later close (or the garbage collector) must not complete it

    class S3Storage(S3FileSystem):
        """s3fs with whole-object writes, failures in shipyard's words, and botocore doing the retries."""

        retries = 1  # botocore retries each request (max_attempts); s3fs's own loop would multiply them

        def __init__(
            self, *args: Any, endpoint_source: str = "", credentials_source: str = "", **kwargs: Any
        ):
            super().__init__(*args, **kwargs)
            self.endpoint_source = endpoint_source
            self.credentials_source = credentials_source

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            opened = super()._open(path, mode, **kwargs)
            if "r" not in mode:
                opened.__class__ = WholeObjectFile  # same object and state, one more rule on exit
            return opened

        async def _call_s3(self, method: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super()._call_s3(method, *args, **kwargs)
            except ShipyardError:
                raise
            except Exception as error:
                failure = self.failure(error, kwargs.get("Bucket", ""))
                if failure is None:
                    raise
                raise failure from error

        call_s3 = sync_wrapper(_call_s3)  # s3fs's files call this; its own wraps the base class's method

        def failure(self, error: BaseException, bucket: str) -> ShipyardError | None:
            """``storage_failure`` for this filesystem's endpoint and credentials."""
            client = getattr(self, "_s3", None)
            used = client.meta.endpoint_url if client is not None else self.endpoint_url or "AWS S3"
            endpoint = f"{used} ({self.endpoint_source})" if self.endpoint_source else str(used)
            return storage_failure(
                error, bucket=bucket, endpoint=endpoint, credentials=self.credentials_source
            )

    return S3Storage


@functools.cache  # one class: it is part of the options fsspec caches a filesystem by
def _http_session_class() -> type[Any]:
    """aiobotocore's HTTP session with a deadline on every request."""
    from aiobotocore.httpsession import AIOHTTPSession
    from botocore.exceptions import ReadTimeoutError

    class DeadlineHTTPSession(AIOHTTPSession):
        """Each request ends by its connect and read timeouts plus time to send its body at a slow rate."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._base_deadline = float(self._timeout.sock_connect or 0) + float(self._timeout.sock_read or 0)

        async def send(self, request: Any) -> Any:
            if request.method == "POST" and "uploadId=" in request.url:
                # CompleteMultipartUpload answers at once, then keeps the connection alive with whitespace
                # until the object is assembled (minutes for a large one on AWS): the read timeout bounds it.
                return await super().send(request)
            length = int(request.headers.get("Content-Length") or 0)
            deadline = self._base_deadline + length / _SLOWEST_UPLOAD
            try:
                async with asyncio.timeout(deadline):
                    return await super().send(request)
            except TimeoutError as error:
                raise ReadTimeoutError(endpoint_url=request.url, error=error) from None

    return DeadlineHTTPSession
