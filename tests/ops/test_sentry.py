"""Sentry is initialised only when a DSN is configured (in a subprocess: it patches globally)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sentry_sdk
from ftw.app import create_app
from ftw.config import Settings
create_app(Settings(sentry_dsn={dsn!r}, data_dir={folder!r}))
client = sentry_sdk.get_client()
print(client.is_active(), client.options["environment"], client.options["send_default_pii"])
"""


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [("https://public@sentry.example.invalid/1", "True development False"), (None, "False")],
)
def test_sentry_starts_only_with_a_dsn(tmp_path, dsn, expected):
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", SCRIPT.format(dsn=dsn, folder=str(tmp_path))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().startswith(expected)
