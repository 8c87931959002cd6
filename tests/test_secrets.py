"""Production starts only with secrets of its own: a signing key from the environment or a
secret file, long enough, never a published one; and never with demo accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import DEV_SECRET, PUBLISHED_SECRETS, AuthSettings, Settings, get_settings

OWN_KEY = "k" * 32


@pytest.mark.parametrize(
    "key", [DEV_SECRET, *PUBLISHED_SECRETS, "x" * 31], ids=["development", "published", "short"]
)
def test_production_refuses_a_key_it_was_not_given_or_a_short_one(key: str) -> None:
    with pytest.raises(ValidationError, match=r"FTW_AUTH__SECRET_KEY|at least 32 bytes"):
        Settings(environment="production", auth=AuthSettings(secret_key=key))


def test_production_takes_its_key_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "signing-key"
    secret.write_text(OWN_KEY + "\n")
    settings = Settings(environment="production", auth=AuthSettings(secret_key_file=secret))
    assert settings.auth.secret_key.get_secret_value() == OWN_KEY


def test_serve_demo_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTW_ENVIRONMENT", "production")
    monkeypatch.setenv("FTW_AUTH__SECRET_KEY", OWN_KEY)
    monkeypatch.setenv("FTW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["serve", "--demo"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 2
    assert "refused in production" in done.output


def test_a_command_started_without_production_secrets_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FTW_ENVIRONMENT", "production")
    monkeypatch.setenv("FTW_AUTH__SECRET_KEY", "short")
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 2
    assert "configuration: The signing key must be at least 32 bytes in production" in done.output
    assert "Traceback" not in done.output
