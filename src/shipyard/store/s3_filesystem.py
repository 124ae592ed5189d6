"""s3fs and aiobotocore, adjusted for shipyard's guarantees (see ``object_stores``); imported only when an
``s3://`` URL is opened, as it needs the ``s3`` extra. The classes live at module level so a filesystem
pickles by reference into batch and Ray workers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiobotocore.httpsession import AIOHTTPSession
from botocore.exceptions import ReadTimeoutError
from fsspec.asyn import sync_wrapper
from s3fs import S3FileSystem
from s3fs.core import S3File

from shipyard.errors import ShipyardError
from shipyard.store.object_stores import storage_failure

#: The slowest upload a request's deadline allows for its body, in bytes per second.
SLOWEST_UPLOAD = 256 << 10


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

    def __init__(self, *args: Any, endpoint_source: str = "", credentials_source: str = "", **kwargs: Any):
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

    call_s3 = sync_wrapper(_call_s3)  # s3fs's files call this; s3fs's own wraps the base class's method

    def failure(self, error: BaseException, bucket: str) -> ShipyardError | None:
        """``storage_failure`` for this filesystem's endpoint and credentials."""
        client = getattr(self, "_s3", None)
        used = client.meta.endpoint_url if client is not None else self.endpoint_url or "AWS S3"
        endpoint = f"{used} ({self.endpoint_source})" if self.endpoint_source else str(used)
        return storage_failure(error, bucket=bucket, endpoint=endpoint, credentials=self.credentials_source)


class DeadlineHTTPSession(AIOHTTPSession):
    """Each request ends by its connect and read timeouts plus the time to send its body at a slow rate:
    aiohttp alone waits for a frozen server's ``100 Continue``, and for a blocked upload, with no timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._base_deadline = float(self._timeout.sock_connect or 0) + float(self._timeout.sock_read or 0)

    async def send(self, request: Any) -> Any:
        if request.method == "POST" and "uploadId=" in request.url:
            # CompleteMultipartUpload answers at once, then keeps the connection alive with whitespace
            # until the object is assembled (minutes for a large one on AWS): the read timeout bounds it.
            return await super().send(request)
        length = int(request.headers.get("Content-Length") or 0)
        try:
            async with asyncio.timeout(self._base_deadline + length / SLOWEST_UPLOAD):
                return await super().send(request)
        except TimeoutError as error:
            raise ReadTimeoutError(endpoint_url=request.url, error=error) from None
