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

from typing import Any

from shipyard.config import ObjectStoreSettings
from shipyard.errors import ConfigurationError, MissingDependency, ShipyardError, Unavailable

#: Size of each part of a multipart upload, and of each ranged read: what a transfer holds in memory.
PART_SIZE = 8 << 20
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
    try:
        from shipyard.store.s3_filesystem import DeadlineHTTPSession, S3Storage
    except ImportError as exc:
        raise MissingDependency(str(exc.name or "s3fs"), "s3", "s3:// storage") from exc
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": object_store.connect_timeout,
            "read_timeout": object_store.read_timeout,
            "retries": {"max_attempts": object_store.max_attempts, "mode": "standard"},
            "http_session_cls": DeadlineHTTPSession,
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
    filesystem = S3Storage(**options)
    return filesystem, str(S3Storage._strip_protocol(url)).rstrip("/")


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
