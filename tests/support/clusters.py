"""Throwaway PostgreSQL clusters for tests: initdb'd into a scratch folder, run by the
postgres user on a free loopback port, always stopped by the caller's ``finally``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.deploy.tools import as_postgres, run


def pg_bin() -> Path:
    """The newest Debian PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return found[-1].parent


@dataclass
class Cluster:
    """One PostgreSQL server in a folder of its own, run by the postgres user."""

    data: Path
    port: int
    sockets: Path
    running: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/ftw"

    def initdb(self, **settings: str) -> None:
        """Create the cluster (trust on loopback, replication included) listening on its port."""
        command = [str(pg_bin() / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        result = run(as_postgres([*command, "-E", "UTF8", "--locale=C", "--no-sync"]))
        assert result.returncode == 0, result.stderr
        self.configure(
            port=str(self.port),
            listen_addresses="127.0.0.1",
            unix_socket_directories=str(self.sockets),
            **settings,
        )

    def base_backup_into(self, replica: Cluster) -> None:
        """Make ``replica`` a streaming standby of this cluster (pg_basebackup -R)."""
        backup = [str(pg_bin() / "pg_basebackup"), "-D", str(replica.data), "-h", "127.0.0.1"]
        result = run(
            as_postgres([*backup, "-p", str(self.port), "-U", "postgres", "-X", "stream", "-R", "-c", "fast"])
        )
        assert result.returncode == 0, result.stderr
        replica.configure(port=str(replica.port))

    def pg_ctl(self, *args: str) -> None:
        result = run(as_postgres([str(pg_bin() / "pg_ctl"), "-D", str(self.data), *args]), timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr + self.log()

    def start(self) -> None:
        self.pg_ctl("-l", str(self.data / "server.log"), "-w", "-t", "60", "start")
        self.running = True

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "-w", "stop")
        self.running = False

    def crash(self) -> None:
        """Stop without a shutdown checkpoint, as a lost machine would."""
        self.pg_ctl("-m", "immediate", "stop")
        self.running = False

    def configure(self, **settings: str) -> None:
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())

    def log(self) -> str:
        log = self.data / "server.log"
        return log.read_text()[-3_000:] if log.exists() else ""


async def fetch(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def wait_until(url: str, sql: str, seconds: float) -> None:
    """Poll ``sql`` until it returns true."""
    deadline = time.monotonic() + seconds
    while not await fetch(url, sql):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {sql}")
        await asyncio.sleep(0.1)
