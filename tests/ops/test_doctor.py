"""`ftw doctor` against the test database, a local Redis, promtool and a running server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ftw.config import Settings
from ftw.integrations import build
from ftw.ops import doctor
from ftw.sandboxes import SandboxInProduction
from tests.ops.conftest import FTW, Served, serve


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


async def test_a_migrated_database_passes(connection: AsyncConnection, settings: Settings) -> None:
    checks = by_name(await doctor.database_checks(connection, settings))
    assert checks["migrations"].status == "ok"
    assert checks["indexes"].status == "ok"
    assert f"all {len(doctor.launch_indexes())} indexes" in checks["indexes"].detail
    assert checks["replicas"].status == "warn"
    assert "no read replicas configured" in checks["replicas"].detail


def test_the_launch_indexes_come_from_the_models() -> None:
    names = doctor.launch_indexes()
    assert {"ix_jobs_search", "ix_jobs_browse_open", "uq_users_email", "ix_audit_log_actor_recent"} <= set(
        names
    )


async def test_an_invalid_index_fails_with_the_reindex_to_run(
    connection: AsyncConnection, settings: Settings
) -> None:
    await connection.execute(
        text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_jobs_search'::regclass")
    )
    checks = [c for c in await doctor.database_checks(connection, settings) if c.name == "indexes"]
    assert [c.status for c in checks] == ["fail"]
    assert "ix_jobs_search" in checks[0].detail
    assert checks[0].fix == "REINDEX INDEX CONCURRENTLY ix_jobs_search"


async def test_a_missing_index_or_an_old_revision_fails(
    connection: AsyncConnection, settings: Settings
) -> None:
    await connection.execute(text("DROP INDEX ix_audit_log_action_recent"))
    await connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    checks = by_name(await doctor.database_checks(connection, settings))
    assert checks["indexes"].status == "fail"
    assert "ix_audit_log_action_recent" in checks["indexes"].detail
    assert checks["migrations"].status == "fail"
    assert checks["migrations"].fix == "run `ftw migrate`"


def test_configuration_for_the_launch() -> None:
    development = by_name(doctor.configuration(Settings()))
    assert development["environment"].status == "warn"
    assert development["secret key"].status == "warn"  # the dev key: fine until production
    assert development["pool"].status == "ok"
    assert development["limits"].status == "ok"

    production = by_name(
        doctor.configuration(Settings(environment="production", auth={"secret_key": "x" * 48}, log_json=True))
    )
    assert {c.status for c in production.values()} == {"ok"}


def test_pools_larger_than_pgbouncer_accepts_fail() -> None:
    checks = by_name(doctor.configuration(Settings(pool={"max_size": 500})))
    assert checks["pool"].status == "fail"
    assert "50 instances x 500 connections = 25,000 clients" in checks["pool"].detail


def test_unreadable_endpoint_limits_fail() -> None:
    checks = by_name(doctor.configuration(Settings(endpoint_limits={"post_job": "ten an hour"})))
    assert checks["limits"].status == "fail"
    assert "post_job" in checks["limits"].detail


async def test_redis_reports_its_eviction_policy() -> None:
    client = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        policy = (await client.config_get("maxmemory-policy"))["maxmemory-policy"]
    finally:
        await client.aclose()
    check = await doctor.redis(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert f"maxmemory-policy {policy}" in check.detail
    if policy == "noeviction":
        assert check.status == "warn"
        assert "allkeys-lru" in check.fix
    assert (await doctor.redis(Settings(redis_url="redis://127.0.0.1:1/0"))).status == "fail"
    assert (await doctor.redis(Settings())).status == "warn"


def test_alert_rules_pass_promtool() -> None:
    check = doctor.alert_rules()
    assert check.status == "ok", check
    assert "rules in 2 files pass promtool" in check.detail


def test_the_last_load_test_is_held_to_the_targets(tmp_path: Path) -> None:
    report = tmp_path / "latest.json"
    assert doctor.load_test(Settings(), report).status == "warn"
    report.write_text(json.dumps({"p50_ms": 90, "p95_ms": 420, "error_percent": 0.2, "finished_at": "x"}))
    assert doctor.load_test(Settings(), report).status == "ok"
    report.write_text(json.dumps({"p50_ms": 90, "p95_ms": 1300, "error_percent": 0.2}))
    slow = doctor.load_test(Settings(), report)
    assert slow.status == "fail"
    assert "p95 ms 1300 > 800" in slow.detail


def _bench(path: Path, cpu_ms: float) -> None:
    step = {"target_rps": 100, "cpu_s_per_1k": {"app": cpu_ms, "postgres": 1.0, "redis": 0.1}}
    path.write_text(
        json.dumps({"finished_at": "t", "mix": {"steps": [step], "max_rps": 100.0, "held": step}})
    )


def test_launch_capacity_is_sized_from_the_last_bench(tmp_path: Path) -> None:
    report, bench = tmp_path / "loadtest.json", tmp_path / "bench.json"
    assert doctor.launch_capacity(Settings(), report, bench).status == "warn"
    # 2,500 req/s: 15 instances by CPU (8 ms at 70 % of 2 vCPUs); by rate, 100/s held while the
    # app had 8 of the 9.1 CPU ms, so 114/s for an instance of its own: 22.
    _bench(bench, cpu_ms=8.0)
    fits = doctor.launch_capacity(Settings(), report, bench)
    assert fits.status == "ok", fits
    assert "needs 22 instances (rate bound" in fits.detail
    assert str(bench) in fits.detail
    _bench(bench, cpu_ms=40.0)  # 72 instances by CPU: beyond the autoscale maximum of 50
    assert doctor.launch_capacity(Settings(), report, bench).status == "fail"


def test_breakers_are_read_from_a_running_instance(served_workers: Served) -> None:
    check = doctor.breakers(Settings(public_url=served_workers.url))
    assert check.status == "ok"
    assert check.detail.startswith("all 6 closed")
    nobody = doctor.breakers(Settings(public_url="http://127.0.0.1:1"))
    assert nobody.status == "warn"


def test_breakers_are_read_with_the_metrics_token(database_url: str, tmp_path: Path) -> None:
    served = serve(database_url, tmp_path, FTW_METRICS_TOKEN="doctor-reads-metrics-too")
    try:
        assert doctor.breakers(Settings(public_url=served.url)).status == "warn"  # 401 without it
        token = SecretStr("doctor-reads-metrics-too")
        assert doctor.breakers(Settings(public_url=served.url, metrics_token=token)).status == "ok"
    finally:
        served.stop()


def test_sandbox_vendors_are_a_warning_before_production(tmp_path: Path) -> None:
    checks = doctor.vendors(Settings(data_dir=tmp_path))
    assert [c.status for c in checks] == ["warn", "warn"]
    assert "payments" in checks[0].detail


def _doctor(database_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FTW_")},
        "FTW_DATABASE_URL": database_url,
        "FTW_DATA_DIR": str(tmp_path),
        "FTW_PUBLIC_URL": "http://127.0.0.1:1",
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own command
        [FTW, "doctor", "--json"], env=environment, capture_output=True, text=True, check=False, cwd=tmp_path
    )


def test_ftw_doctor_exits_0_with_warnings_only(database_url: str, tmp_path: Path) -> None:
    result = _doctor(database_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["database"] == statuses["migrations"] == statuses["indexes"] == "ok"
    assert statuses["alert rules"] == "ok"
    assert statuses["load test"] == "warn"


@pytest.mark.parametrize(
    ("env", "failing"),
    [
        ({"FTW_POOL__MAX_SIZE": "1000"}, "pool"),
        ({"FTW_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}, "database"),
    ],
)
def test_ftw_doctor_exits_1_on_any_failure(
    database_url: str, tmp_path: Path, env: dict[str, str], failing: str
) -> None:
    result = _doctor(database_url, tmp_path, **env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == [failing]


def test_ftw_doctor_prints_one_line_per_check_with_what_to_do(database_url: str, tmp_path: Path) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FTW_")},
        "FTW_DATABASE_URL": database_url,
        "FTW_DATA_DIR": str(tmp_path),
        "FTW_PUBLIC_URL": "http://127.0.0.1:1",
        "COLUMNS": "200",
    }
    result = subprocess.run(  # noqa: S603 - our own command
        [FTW, "doctor"], env=environment, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout
    assert "✓ database" in result.stdout
    assert "⚠ load test" in result.stdout
    assert "→ run the launch load test before launch" in result.stdout
    assert "READY:" in result.stdout


def test_the_pods_the_hpa_and_the_planner_describe_the_same_instance() -> None:
    check = doctor.instance_shape(Settings())
    assert check.status == "ok", check.detail


def test_a_pod_smaller_than_the_planned_instance_fails(tmp_path: Path) -> None:
    for name in ("api.yaml", "hpa.yaml"):
        text = (doctor.K8S_DIR / name).read_text()
        if name == "api.yaml":  # the HPA's 70 % would then be of 1 CPU, not the planner's 2
            text = text.replace('requests:\n              cpu: "2"', "requests:\n              cpu: 1000m")
        (tmp_path / name).write_text(text)
    check = doctor.instance_shape(Settings(), tmp_path)
    assert check.status == "fail"
    assert "request 1, limit 2" in check.detail


PRODUCTION = {"environment": "production", "auth": {"secret_key": "x" * 48}}


def test_production_refuses_sandboxes_not_allowed_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path, **PRODUCTION)  # type: ignore[arg-type]
    with pytest.raises(SandboxInProduction, match="payments, sms, email, storage"):
        build(settings)
    checks = {c.name: c for c in doctor.vendors(settings)}
    assert checks["vendors"].status == checks["storage"].status == "fail"
    assert "FTW_PAYMENTS__ADAPTER=stripe" in checks["vendors"].fix

    monkeypatch.setenv("FTW_ALLOW_SANDBOX", "sms, email")
    partly = Settings(data_dir=tmp_path, **PRODUCTION)  # type: ignore[arg-type]
    assert partly.allow_sandbox == {"sms", "email"}
    with pytest.raises(
        SandboxInProduction, match=r"of payments, storage: .*FTW_ALLOW_SANDBOX=payments,storage"
    ):
        build(partly)
    statuses = [(c.name, c.status) for c in doctor.vendors(partly)]
    assert ("vendors", "ok") in statuses  # sms and email allowed, said so
    assert ("vendors", "fail") in statuses

    monkeypatch.setenv("FTW_ALLOW_SANDBOX", "payments,sms,email,storage")
    allowed = Settings(data_dir=tmp_path, **PRODUCTION)  # type: ignore[arg-type]
    assert build(allowed).payments is not None
    assert {c.status for c in doctor.vendors(allowed)} == {"ok"}


def test_ftw_serve_refuses_production_on_sandboxes(tmp_path: Path) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FTW_")},
        "FTW_ENVIRONMENT": "production",
        "FTW_AUTH__SECRET_KEY": "x" * 48,
        "FTW_DATA_DIR": str(tmp_path),
        "FTW_ALLOW_SANDBOX": "sms,email,storage",
    }
    refused = subprocess.run(  # noqa: S603 - our own command
        [FTW, "serve", "--port", "1"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "production refuses the sandbox adapters of payments" in refused.stdout
