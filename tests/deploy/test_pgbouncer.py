"""PgBouncer: the configuration holds DESIGN.md's pool sizes, and a real pgbouncer started
with it serves the app's own engine in transaction mode."""

from __future__ import annotations

import asyncio
import configparser
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ftw.config import PoolSettings, Settings
from ftw.core.db import create_engine
from tests.deploy.tools import DEPLOY, as_postgres, free_port, give_to_postgres, postgres_dir, run, tool

INI = DEPLOY / "pgbouncer" / "pgbouncer.ini"
PASSWORD = "pgbouncer-test"
_HOST = re.compile(r"host=\S+ port=\d+ dbname=\S+")


def _parse(source: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.read_string(source)
    return parser


def test_transaction_pooling_with_the_design_pool_sizes() -> None:
    pool = Settings().pool
    config = _parse(INI.read_text())["pgbouncer"]
    assert config["pool_mode"] == "transaction"
    assert int(config["default_pool_size"]) == pool.pgbouncer_pool_size
    assert int(config["max_client_conn"]) == pool.pgbouncer_max_clients
    # asyncpg sends statement_timeout at connect; PgBouncer must drop it, not refuse the client.
    assert "statement_timeout" in config["ignore_startup_parameters"].split(",")
    # The app keeps prepared statements behind it (pool.pooler = pgbouncer-prepared).
    assert int(config["max_prepared_statements"]) > 0


def test_every_pool_sets_the_configured_statement_timeout() -> None:
    milliseconds = int(Settings().pool.statement_timeout_s * 1000)
    databases = _parse(INI.read_text())["databases"]
    assert databases
    for target in databases.values():
        assert f"connect_query='SET statement_timeout = {milliseconds}'" in target


def test_kubernetes_runs_the_same_file() -> None:
    documents = yaml.safe_load_all((DEPLOY / "k8s" / "pgbouncer.yaml").read_text())
    config_map = next(d for d in documents if d["kind"] == "ConfigMap")
    assert config_map["data"]["pgbouncer.ini"] == INI.read_text()


def _version() -> tuple[int, ...]:
    """The installed pgbouncer's version, as (major, minor, patch)."""
    printed = run([tool("pgbouncer"), "--version"]).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", printed)
    assert found is not None, printed
    return tuple(int(part) for part in found.groups())


@pytest.fixture
def pgbouncer(database_url: str) -> Iterator[str]:
    """A real pgbouncer with our file, its databases pointed at the test database."""
    config = _parse(INI.read_text())
    server = make_url(database_url)
    here = f"host={server.host} port={server.port} dbname={server.database}"
    for name, target in config["databases"].items():
        config["databases"][name] = target.replace(_HOST.search(target)[0], here)  # type: ignore[index]
    if _version() < (1, 21):  # Debian 12's 1.18 refuses the setting; the app then runs unprepared
        config["pgbouncer"].pop("max_prepared_statements")
    port = free_port()
    with postgres_dir("ftw-pgbouncer-") as folder:
        config["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(port),
            auth_file=str(folder / "userlist.txt"),
            admin_users=str(server.username),
            logfile=str(folder / "pgbouncer.log"),
            pidfile=str(folder / "pgbouncer.pid"),
        )
        (folder / "userlist.txt").write_text(f'"{server.username}" "{PASSWORD}"\n')
        with (folder / "pgbouncer.ini").open("w") as file:
            config.write(file)
        give_to_postgres(folder)
        process = subprocess.Popen(as_postgres([tool("pgbouncer"), str(folder / "pgbouncer.ini")]))  # noqa: S603
        try:
            _wait_for(port, str(server.username), process, folder / "pgbouncer.log")
            yield f"postgresql://{server.username}:{PASSWORD}@127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(port: int, user: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited {process.returncode}: {log.read_text() if log.exists() else ''}")
        if run([tool("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "-q"]).returncode == 0:
            return
        time.sleep(0.1)
    pytest.fail("pgbouncer did not start listening within 10 s")


async def test_the_app_engine_works_through_pgbouncer_in_transaction_mode(pgbouncer: str) -> None:
    settings = Settings(environment="test", pool=PoolSettings(pooler="pgbouncer"))
    engine = create_engine(f"{pgbouncer}/ftw", settings, pool_size=40)
    clients = 40  # more than the 25 server connections of the pool

    async def client(number: int) -> tuple[int, str]:
        async with engine.connect() as conn:
            total = 0
            for step in range(10):
                async with conn.begin():
                    total += (
                        await conn.execute(text("SELECT CAST(:n AS int)"), {"n": number + step})
                    ).scalar_one()
                    timeout = (
                        await conn.execute(text("SELECT current_setting('statement_timeout')"))
                    ).scalar_one()
            return total, timeout

    try:
        results = await asyncio.gather(*(client(n) for n in range(clients)))
    finally:
        await engine.dispose()
    assert [total for total, _ in results] == [10 * n + 45 for n in range(clients)]
    assert {timeout for _, timeout in results} == {f"{int(settings.pool.statement_timeout_s)}s"}

    pools = run(
        [tool("psql"), "-X", "-At", "-F", ",", f"{pgbouncer}/pgbouncer", "-c", "SHOW SERVERS"],
    )
    assert pools.returncode == 0, pools.stderr
    # SHOW SERVERS: type, user, database, state, ...
    servers = [line for line in pools.stdout.splitlines() if line.split(",")[2] == "ftw"]
    assert 0 < len(servers) <= settings.pool.pgbouncer_pool_size + 5  # reserve_pool_size
