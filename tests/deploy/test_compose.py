"""deploy/compose.yaml parses with Debian's docker-compose (no engine needed) and wires the
stack the way docs/deploy.md says."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY, run, tool

COMPOSE = DEPLOY / "compose.yaml"


SECRETS = {
    "FTW_AUTH__SECRET_KEY": "k" * 32,
    "FTW_METRICS_TOKEN": "metrics-token",
    "POSTGRES_PASSWORD": "postgres-secret",
    "FTW_DB_PASSWORD": "ftw-secret",
    "REPLICATION_PASSWORD": "replication-secret",
    "EXPORTER_PASSWORD": "exporter-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}


def _config(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | environment
    return run([tool("docker-compose"), "-f", str(COMPOSE), "config"], env=env)


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors merged, secrets from the environment)."""
    result = _config(SECRETS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def _ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    """(host address, published port) of each port the service publishes."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", "0.0.0.0"), int(port["published"])))  # noqa: S104
        else:
            parts = str(port).split("/")[0].split(":")
            found.append((parts[0] if len(parts) == 3 else "0.0.0.0", int(parts[-2])))  # noqa: S104
    return found


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    """No committed default: a forgotten secret stops compose instead of going live published."""
    result = _config({k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_only_the_api_is_published_beyond_the_hosts_loopback(resolved: dict[str, Any]) -> None:
    public = {
        name for name, s in resolved["services"].items() for host, _ in _ports(s) if host != "127.0.0.1"
    }
    assert public == {"haproxy"}
    assert [port for host, port in _ports(resolved["services"]["haproxy"]) if host != "127.0.0.1"] == [8080]
    assert "--web.enable-lifecycle" not in resolved["services"]["prometheus"]["command"]


def test_the_api_trusts_exactly_the_proxys_fixed_address(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    address = services["haproxy"]["networks"]["default"]["ipv4_address"]
    assert json.loads(services["api"]["environment"]["FTW_TRUSTED_PROXIES"]) == [f"{address}/32"]


def test_no_password_or_key_is_committed_in_the_deploy_files() -> None:
    committed = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file() and p.suffix != ".json")
    for published in ("dev-only", "compose-dev-only-secret", "change-me"):
        assert published not in committed
    assert not (DEPLOY / "pgbouncer" / "userlist.txt").exists()


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
    published = [port for s in services.values() for _, port in _ports(s)]
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


def test_api_reads_browse_and_analytics_from_the_replica_pool(resolved: dict[str, Any]) -> None:
    api = resolved["services"]["api"]["environment"]
    for kind in ("BROWSE", "ANALYTICS"):
        assert "@pgbouncer:6432/ftw_ro" in api[f"FTW_REPLICAS__{kind}"]
    # Sandboxes run only because this file allows them by name (production refuses otherwise).
    assert api["FTW_ALLOW_SANDBOX"] == "payments,sms,email,storage"
