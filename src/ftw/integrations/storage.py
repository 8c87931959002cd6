"""Object storage for uploaded files.

The default adapter writes to a local folder served under /media; production points
the same Protocol at S3-compatible storage (S3, R2) through boto3. While S3 fails or its
breaker is open an upload is refused (503, the job kept): a copy kept on one instance's
disk would be a broken image on every other instance.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any, Protocol

import boto3
import structlog
from botocore.config import Config

from ftw.config import StorageVendor
from ftw.core.breakers import CircuitBreaker
from ftw.core.errors import DomainError

log = structlog.get_logger(__name__)


class StorageUnavailable(DomainError):
    status = 503
    title = "Photo uploads unavailable"


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...


class LocalStorage:
    """Files under a folder; writes go through a temporary file so no reader sees half a file."""

    def __init__(self, root: Path, base_url: str = "/media") -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the root: {key}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    def url(self, key: str) -> str:
        return f"{self.base_url}/{key}"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)


class S3Storage:
    """S3-compatible storage. boto3 blocks, so each call runs in a worker thread; botocore's
    own timeouts (the breaker's call timeout) end the thread, the breaker ends the wait."""

    def __init__(self, vendor: StorageVendor, *, breaker: CircuitBreaker) -> None:
        if not vendor.bucket:
            raise ValueError("FTW_STORAGE__BUCKET must be set for the s3 adapter")
        timeout = breaker.policy.call_timeout_s
        secret = vendor.secret_access_key.get_secret_value() if vendor.secret_access_key else None
        self._s3: Any = boto3.client(
            "s3",
            endpoint_url=vendor.endpoint_url,
            region_name=vendor.region,
            aws_access_key_id=vendor.access_key_id,
            aws_secret_access_key=secret,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": 1},  # the breaker sees each failure
            ),
        )
        self._bucket = vendor.bucket
        self._base_url = (vendor.public_base_url or f"{vendor.endpoint_url or ''}/{vendor.bucket}").rstrip(
            "/"
        )
        self._breaker = breaker

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await self._breaker.call(
                lambda: asyncio.to_thread(
                    self._s3.put_object, Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
                )
            )
        except Exception as failure:  # S3 refused, timed out, or its breaker is open
            log.warning("storage_down", key=key, reason=str(failure) or type(failure).__name__)
            raise StorageUnavailable(
                "Photo uploads are unavailable for a few minutes (our storage provider is down);"
                " your job is saved: add the photos again shortly.",
                retry_after_s=math.ceil(self._breaker.policy.reset_timeout_s),
            ) from failure

    async def delete(self, key: str) -> None:
        await self._breaker.call(
            lambda: asyncio.to_thread(self._s3.delete_object, Bucket=self._bucket, Key=key)
        )

    def url(self, key: str) -> str:
        return f"{self._base_url}/{key}"
