"""The embedded default: a private PostgreSQL from the ``pgserver`` wheel.

Used when no ``FTW_DATABASE_URL`` is configured, so a fresh machine runs the same SQL as
production without installing a server. The server stops when the process that started
it exits; its data stays under ``data_dir/pgdata`` for the next start.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def _server(data_dir: Path) -> Any:
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on servers
        warnings.simplefilter("ignore")
        from pgserver import get_server  # type: ignore[attr-defined]

        return get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the private server under ``data_dir/pgdata`` and return its URL."""
    url: str = _server(data_dir).get_uri()
    return url


def stop_embedded(data_dir: Path) -> None:
    """Stop the private server now rather than at process exit."""
    _server(data_dir).cleanup()
