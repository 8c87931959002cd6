"""S3 through boto3 against a fake S3: objects go to the bucket; while S3 fails, hangs or its
breaker is open, an upload is refused with 503 (never kept on one instance's disk, where
every other instance would serve a broken image), and a job's photos upload all or none."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.app import create_app
from ftw.config import Settings
from ftw.core.breakers import BreakerBoard
from ftw.core.db import Database
from ftw.integrations import Integrations, build
from ftw.integrations.messages import SandboxEmail, SandboxSms
from ftw.integrations.payments import SandboxPayments
from ftw.integrations.storage import LocalStorage, S3Storage, StorageUnavailable
from tests.conftest import SignUp
from tests.integrations.conftest import CUT_OFF_S, QUICK
from tests.integrations.fake_vendor import FakeVendor
from tests.jobs.test_jobs import png
from tests.support.market import JOB

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
) -> tuple[S3Storage, BreakerBoard]:
    vendor = quick_settings.storage.model_copy(
        update={
            "adapter": "s3",
            "bucket": "photos",
            "endpoint_url": s3_server.url,
            "access_key_id": "AKIAFAKE",
            "secret_access_key": SecretStr("fake"),
            "public_base_url": "https://cdn.example.com",
        }
    )
    built = build(quick_settings.model_copy(update={"storage": vendor, "media_dir": tmp_path / "media"}))
    assert isinstance(built.storage, S3Storage)
    return built.storage, built.breakers


async def test_uploads_go_to_the_bucket(
    storage: tuple[S3Storage, BreakerBoard], s3_server: FakeVendor, tmp_path: Path
) -> None:
    store, _ = storage
    await store.put(KEY, b"jpeg", "image/jpeg")
    [seen] = s3_server.requests
    assert (seen.method, seen.path) == ("PUT", f"/photos/{KEY}")
    assert seen.headers["Content-Type"] == "image/jpeg"
    assert store.url(KEY) == f"https://cdn.example.com/{KEY}"
    await store.delete(KEY)
    assert s3_server.requests[-1].method == "DELETE"


async def test_while_s3_fails_uploads_are_refused_then_the_breaker_skips_s3(
    storage: tuple[S3Storage, BreakerBoard], s3_server: FakeVendor, tmp_path: Path
) -> None:
    store, breakers = storage
    s3_server.mode = "fail"
    for n in range(QUICK.failures + 2):
        with pytest.raises(StorageUnavailable) as refused:
            await store.put(f"jobs/1/{n}.jpg", b"jpeg", "image/jpeg")
        assert refused.value.status == 503
        assert refused.value.retry_after_s == 1  # the breaker's reset timeout, rounded up
    assert breakers["storage"].state == "open"
    assert len(s3_server.requests) == QUICK.failures  # the last two never tried S3
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*.jpg"))


async def test_a_hanging_s3_is_cut_off_and_the_upload_refused(
    storage: tuple[S3Storage, BreakerBoard], s3_server: FakeVendor
) -> None:
    store, breakers = storage
    s3_server.mode = "hang"
    started = time.perf_counter()
    with pytest.raises(StorageUnavailable):
        await store.put(KEY, b"jpeg", "image/jpeg")
    assert time.perf_counter() - started < CUT_OFF_S
    assert breakers["storage"].consecutive_failures == 1


def test_the_local_folder_stays_the_default(settings: Settings) -> None:
    assert isinstance(build(settings).storage, LocalStorage)


async def test_a_photo_upload_while_s3_is_down_is_a_503_and_keeps_the_job_without_photos(
    storage: tuple[S3Storage, BreakerBoard],
    s3_server: FakeVendor,
    settings: Settings,
    database: Database,
    sign_up: SignUp,
    session: AsyncSession,
) -> None:
    store, breakers = storage
    owner = await sign_up("homeowner")
    app = create_app(settings, database=database, integrations=Integrations(
        storage=store, payments=SandboxPayments(), sms=SandboxSms(settings.data_dir),
        email=SandboxEmail(settings.data_dir), breakers=breakers,
    ))  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        job = (await client.post("/api/v1/jobs", json=JOB, headers=owner.headers)).json()
        s3_server.mode = "fail"
        photos = [("files", (f"{n}.png", png(), "image/png")) for n in range(2)]
        refused = await client.post(f"/api/v1/jobs/{job['id']}/photos", files=photos, headers=owner.headers)
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert "your job is saved" in refused.json()["detail"]
        shown = (await client.get(f"/api/v1/jobs/{job['id']}", headers=owner.headers)).json()
        assert shown["photos"] == []
