"""Running the real deployment tools from tests.

A missing tool fails the test, never skips it, and says the command that installs it:
``make tools`` (which ``make test`` runs first).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = ROOT / ".venv" / "bin"
INSTALL_HINT = "`make tools` installs it (apt packages and checkov; `make test` runs it first)"


def tool(name: str, *candidates: Path) -> str:
    """The path of ``name``: the first existing candidate, else from PATH; fail if absent."""
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed ({INSTALL_HINT})")
    return found


def run(
    args: list[str], *, timeout: float = 120, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the tools under test, with arguments we build
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False
    )


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL's programs refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return args
    return [tool("runuser"), "-u", "postgres", "--", *args]


def give_to_postgres(path: Path) -> None:
    """Let the postgres user own ``path`` (and what is under it) when we run as root."""
    if os.geteuid() != 0:
        return
    for item in [path, *path.rglob("*")]:
        shutil.chown(item, user="postgres", group="postgres")


@contextmanager
def postgres_dir(prefix: str) -> Iterator[Path]:
    """A scratch folder the postgres user can use (pytest's tmp_path sits in a folder only
    root may enter), removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        give_to_postgres(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
