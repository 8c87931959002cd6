"""deploy/compose.yaml parses with Debian's docker-compose (no engine needed) and wires the
stack the way docs/deploy.md says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY, run, tool

COMPOSE = DEPLOY / "compose.yaml"


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors merged, variables defaulted)."""
    result = run([tool("docker-compose"), "-f", str(COMPOSE), "config"])
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_the_launch_stack_is_all_there(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) >= {
        "api",
        "worker",
        "migrate",
        "haproxy",
        "postgres-primary",
        "postgres-replica",
        "pgbouncer",
        "redis",
        "prometheus",
        "alertmanager",
        "postgres-exporter",
        "redis-exporter",
        "node-exporter",
        "grafana",
    }


def test_api_replicas_publish_no_host_ports_and_no_port_is_published_twice(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["api"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["api"]
    published = [int(p["published"]) for s in services.values() for p in s.get("ports", [])]
    assert published, "the proxy must publish the API"
    assert len(published) == len(set(published))


def test_api_starts_after_migrations_and_goes_through_pgbouncer(resolved: dict[str, Any]) -> None:
    api = resolved["services"]["api"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "@pgbouncer:6432/" in api["environment"]["FTW_DATABASE_URL"]
    # LISTEN/NOTIFY and DDL need a whole session: never PgBouncer's transaction pool.
    for session_user in ("worker", "migrate"):
        assert (
            "@postgres-primary:5432/" in resolved["services"][session_user]["environment"]["FTW_DATABASE_URL"]
        )


def test_redis_is_a_bounded_lru_cache(resolved: dict[str, Any]) -> None:
    command = resolved["services"]["redis"]["command"]
    assert command[command.index("--maxmemory") + 1] == "1gb"
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"


def test_the_replica_streams_from_the_primary_and_shares_its_wal_archive(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    primary = {v.split(":")[1] for v in _volumes(services["postgres-primary"])}
    replica = {v.split(":")[1] for v in _volumes(services["postgres-replica"])}
    assert "/wal-archive" in primary & replica
    assert services["postgres-replica"]["environment"]["PRIMARY_HOST"] == "postgres-primary"


def test_every_mounted_config_file_exists(resolved: dict[str, Any]) -> None:
    """docker-compose config does not look at bind sources; a typo would fail only at `up`."""
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith(str(DEPLOY)):
                assert Path(source).exists(), f"{name}: {source}"


def _volumes(service: dict[str, Any]) -> list[str]:
    return [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service.get("volumes", [])]
