"""S3 through boto3 against a fake S3: objects go to the bucket; while S3 fails, hangs or its
breaker is open, uploads land in the local secondary location and are served from there."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ftw.config import Settings
from ftw.core.breakers import BreakerBoard
from ftw.integrations import build
from ftw.integrations.storage import FallbackStorage, LocalStorage, S3Storage
from tests.integrations.conftest import CUT_OFF_S, QUICK
from tests.integrations.fake_vendor import FakeVendor

KEY = "jobs/1/photo.jpg"


def s3_api(method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    return (200, None) if path.startswith("/photos/") else (404, None)


@pytest.fixture
async def s3_server() -> AsyncIterator[FakeVendor]:
    server = await FakeVendor(s3_api, fail_body=None).start()
    yield server
    await server.stop()


@pytest.fixture
def storage(
    s3_server: FakeVendor, quick_settings: Settings, tmp_path: Path
) -> tuple[FallbackStorage, BreakerBoard]:
    vendor = quick_settings.storage.model_copy(
        update={
            "adapter": "s3",
            "bucket": "photos",
            "endpoint_url": s3_server.url,
            "access_key_id": "AKIAFAKE",
            "secret_access_key": SecretStr("fake"),
            "public_base_url": "https://cdn.example.com",
            "secondary_dir": tmp_path / "secondary",
        }
    )
    built = build(quick_settings.model_copy(update={"storage": vendor}))
    assert isinstance(built.storage, FallbackStorage)
    assert isinstance(built.storage.primary, S3Storage)
    return built.storage, built.breakers


async def test_uploads_go_to_the_bucket(storage, s3_server, tmp_path):
    store, _ = storage
    await store.put(KEY, b"jpeg", "image/jpeg")
    [seen] = s3_server.requests
    assert (seen.method, seen.path) == ("PUT", f"/photos/{KEY}")
    assert seen.headers["Content-Type"] == "image/jpeg"
    assert store.url(KEY) == f"https://cdn.example.com/{KEY}"
    assert not (tmp_path / "secondary" / KEY).exists()
    await store.delete(KEY)
    assert s3_server.requests[-1].method == "DELETE"


async def test_while_s3_fails_uploads_land_in_the_secondary_then_the_breaker_skips_s3(
    storage, s3_server, tmp_path
):
    store, breakers = storage
    s3_server.mode = "fail"
    for n in range(QUICK.failures + 2):
        await store.put(f"jobs/1/{n}.jpg", b"jpeg", "image/jpeg")
        assert (tmp_path / "secondary" / f"jobs/1/{n}.jpg").read_bytes() == b"jpeg"
    assert store.url("jobs/1/0.jpg") == "/media/jobs/1/0.jpg"
    assert breakers["storage"].state == "open"
    assert len(s3_server.requests) == QUICK.failures  # the last two never tried S3
    await store.delete("jobs/1/0.jpg")
    assert not (tmp_path / "secondary" / "jobs/1/0.jpg").exists()


async def test_a_hanging_s3_is_cut_off_and_the_upload_kept_in_the_secondary(storage, s3_server, tmp_path):
    store, breakers = storage
    s3_server.mode = "hang"
    started = time.perf_counter()
    await store.put(KEY, b"jpeg", "image/jpeg")
    assert time.perf_counter() - started < CUT_OFF_S
    assert (tmp_path / "secondary" / KEY).read_bytes() == b"jpeg"
    assert breakers["storage"].consecutive_failures == 1


def test_the_local_folder_stays_the_default(settings: Settings):
    assert isinstance(build(settings).storage, LocalStorage)
