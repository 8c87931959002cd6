"""`ftw serve` without --demo: the embedded database is migrated on start; a configured
database behind the code's migrations is refused with a message naming `ftw migrate`."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from ftw.core import migrations
from tests.conftest import PASSWORD, SERVER_URL, _drop, _recreate
from tests.ops.conftest import FTW, serve


def test_serve_on_a_fresh_embedded_database_answers_a_sign_up(tmp_path: Path) -> None:
    served = serve("", tmp_path / "embedded")  # no database URL: the embedded default
    try:
        body = {"email": "first@example.com", "password": PASSWORD, "full_name": "First User",
                "role": "homeowner", "zip": "10001"}  # fmt: skip
        signed_up = httpx.post(served.url + "/api/v1/auth/signup", json=body, timeout=30)
        assert signed_up.status_code == 202, signed_up.text
        assert httpx.get(served.url + "/readyz", timeout=10).json()["status"] == "up"
    finally:
        served.stop()


def test_serve_refuses_a_database_behind_the_migrations(tmp_path: Path) -> None:
    name = f"ftw_behind_{os.getpid()}"
    asyncio.run(_recreate(name))
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url, "0005")
        refused = subprocess.run(  # noqa: S603 - our own command
            [FTW, "serve", "--port", "1"],
            env={**os.environ, "FTW_DATABASE_URL": url, "FTW_DATA_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        asyncio.run(_drop(name))
    assert refused.returncode == 1
    assert "run `ftw migrate` first" in refused.stdout
    assert "revision 0005" in refused.stdout
