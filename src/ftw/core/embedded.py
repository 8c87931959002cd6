"""The embedded default: a private PostgreSQL from the ``pgserver`` wheel.

Used when no ``FTW_DATABASE_URL`` is configured, so a fresh machine runs the same SQL as
production without installing a server.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the private server under ``data_dir/pgdata`` and return its URL."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir.resolve() / "pgdata", cleanup_mode=None)
    url: str = server.get_uri()
    return url
