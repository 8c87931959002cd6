"""Sentry is initialised only when a DSN is configured (in a subprocess: it patches globally)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.types import Event

from ftw.core.observability import SENSITIVE_KEYS, scrubbed

SCRIPT = """
import sentry_sdk
from ftw.app import create_app
from ftw.config import Settings
create_app(Settings(sentry_dsn={dsn!r}, data_dir={folder!r}))
client = sentry_sdk.get_client()
print(client.is_active(), client.options["environment"], client.options["send_default_pii"])
if client.is_active():
    print(client.options["include_local_variables"], client.options["before_send"].__name__)
"""


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [("https://public@sentry.example.invalid/1", "True development False\nFalse scrubbed"), (None, "False")],
)
def test_sentry_starts_only_with_a_dsn(tmp_path: Path, dsn: str | None, expected: str) -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", SCRIPT.format(dsn=dsn, folder=str(tmp_path))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().startswith(expected)


def test_events_leave_without_passwords_tokens_or_cookies() -> None:
    """The attack: an error during sign-in, with the password in the body and a token quoted."""
    event: dict[str, Any] = {
        "request": {
            "url": "https://api.example/api/v1/auth/login",
            "data": {"email": "pat@example.com", "password": "hunter2hunter2"},
            "cookies": {"session": "abc"},
            "headers": {"Authorization": "Bearer eyJhbGciOi.secret.sig", "Cookie": "ftw=1", "Accept": "*/*"},
        },
        "exception": {"values": [{"type": "ValueError", "value": "refused Bearer eyJhbGciOi.secret.sig"}]},
        "logentry": {"message": "retrying with bearer abc.def.ghi"},
        "extra": {"body": {"refresh_token": "r-123", "new_password": "n-456"}},
    }
    EventScrubber(denylist=[*DEFAULT_DENYLIST, *SENSITIVE_KEYS], recursive=True).scrub_event(
        cast("Event", event)
    )
    sent = json.dumps(scrubbed(event, {}), default=repr)
    for secret in ("hunter2", "eyJhbGciOi", "abc.def", "r-123", "n-456", "ftw=1"):
        assert secret not in sent
    assert "*/*" in sent  # the rest stays useful
