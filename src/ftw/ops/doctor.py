"""`ftw doctor`: the pre-launch readiness check.

Each check probes the real thing (the database, Redis, a running instance, promtool)
and says what to do when it is not right. ✗ fails the run (exit 1, a CI gate); ⚠ is worth
reading before launch but does not fail it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from alembic.runtime.migration import MigrationContext
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from rich.markup import escape
from sqlalchemy import UniqueConstraint, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ftw.config import DEV_SECRET, Settings
from ftw.core import migrations
from ftw.core.db import create_engine
from ftw.models import metadata
from ftw.ops import capacity
from ftw.sandboxes import SANDBOXES, refused_sandboxes, sandboxes

Status = Literal["ok", "warn", "fail"]
MARKS: dict[Status, str] = {"ok": "✓", "warn": "⚠", "fail": "✗"}
COLOURS: dict[Status, str] = {"ok": "green", "warn": "yellow", "fail": "red"}

RULES_DIR = migrations.ROOT / "deploy" / "prometheus"
K8S_DIR = migrations.ROOT / "deploy" / "k8s"
LOADTEST_REPORT = Path("reports/loadtest/latest.json")
BENCH_REPORT = Path("reports/bench/latest.json")
REPLICA_LAG_WARN_S = 30.0
PROBE_TIMEOUT_S = 5.0
CATALOG_TIMEOUT_S = 60.0
_LIMIT = re.compile(r"^\d+\s*/\s*(\d+\s*)?(second|minute|hour|day|month|year)s?$")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, "warn", detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


# -- configuration ---------------------------------------------------------------------


def configuration(settings: Settings) -> list[Check]:
    checks = []
    production = settings.environment == "production"
    if production:
        checks.append(ok("environment", "production"))
    else:
        checks.append(
            warn(
                "environment",
                f"environment is {settings.environment}",
                "set FTW_ENVIRONMENT=production on the launch machines",
            )
        )
    secret = settings.auth.secret_key.get_secret_value()
    if secret == DEV_SECRET:
        checks.append(
            (fail if production else warn)(
                "secret key",
                "the development signing key is in use",
                "set FTW_AUTH__SECRET_KEY to 32+ random bytes (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')",
            )
        )
    elif len(secret.encode()) < 32:
        checks.append(
            fail("secret key", f"only {len(secret.encode())} bytes", "use at least 32 random bytes for HS256")
        )
    else:
        checks.append(ok("secret key", "set, not the development default"))

    pool, scale = settings.pool, settings.autoscale
    clients = scale.max_instances * pool.max_size
    if pool.min_size > pool.max_size:
        checks.append(
            fail(
                "pool",
                f"min_size {pool.min_size} > max_size {pool.max_size}",
                "make FTW_POOL__MIN_SIZE <= MAX_SIZE",
            )
        )
    elif clients > pool.pgbouncer_max_clients:
        checks.append(
            fail(
                "pool",
                f"{scale.max_instances} instances x {pool.max_size} connections = {clients:,} clients, "
                f"PgBouncer accepts {pool.pgbouncer_max_clients:,}",
                "lower FTW_POOL__MAX_SIZE or raise PgBouncer's max_client_conn",
            )
        )
    else:
        checks.append(
            ok(
                "pool",
                f"{pool.min_size}-{pool.max_size} per instance; at {scale.max_instances} instances "
                f"{clients:,} of PgBouncer's {pool.pgbouncer_max_clients:,} clients",
            )
        )

    bad = [f"{name}={value!r}" for name, value in settings.endpoint_limits if not _LIMIT.match(value)]
    tiers = list(settings.rate_limits)
    ascending = all(a[1] < b[1] for a, b in itertools.pairwise(tiers))
    if bad:
        checks.append(fail("limits", "unreadable endpoint limits: " + ", ".join(bad), "write them as N/unit"))
    elif not ascending:
        checks.append(
            warn(
                "limits",
                "rate tiers do not grow: " + ", ".join(f"{n} {v}/min" for n, v in tiers),
                "give each paying tier more than the one below it",
            )
        )
    else:
        checks.append(
            ok(
                "limits",
                ", ".join(f"{n} {v}/min" for n, v in tiers)
                + f"; {len(list(settings.endpoint_limits))} endpoint limits",
            )
        )
    if production and not settings.log_json:
        checks.append(warn("logging", "logs are not JSON", "set FTW_LOG_JSON=true for the log pipeline"))
    return checks


# -- database --------------------------------------------------------------------------


def launch_indexes() -> list[str]:
    """Every index and unique constraint the models declare."""
    names = {str(index.name) for table in metadata.sorted_tables for index in table.indexes if index.name}
    names |= {
        str(c.name)
        for table in metadata.sorted_tables
        for c in table.constraints
        if isinstance(c, UniqueConstraint) and c.name
    }
    return sorted(names)


async def database_checks(conn: AsyncConnection, settings: Settings) -> list[Check]:
    """What the database itself says; ``conn`` may be any connection to it."""
    checks = []
    revision = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    head = migrations.head_revision()
    if revision == head:
        checks.append(ok("migrations", f"at head ({head})"))
    else:
        where = f"database at {revision}" if revision else "database not migrated"
        checks.append(fail("migrations", f"{where}, code at {head}", "run `ftw migrate`"))

    expected = launch_indexes()
    rows = await conn.execute(
        text(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = ANY(:names)"
        ),
        {"names": expected},
    )
    found: dict[str, bool] = {name: bool(valid) for name, valid in rows.all()}
    missing = [n for n in expected if n not in found]
    invalid = sorted(n for n, valid in found.items() if not valid)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        checks.append(
            fail("indexes", f"{len(missing)} of {len(expected)} missing: {shown}", "run `ftw migrate`")
        )
    if invalid:
        checks.append(
            fail(
                "indexes",
                f"{len(invalid)} invalid (a failed concurrent build): {', '.join(invalid)}",
                "REINDEX INDEX CONCURRENTLY " + "; REINDEX INDEX CONCURRENTLY ".join(invalid),
            )
        )
    if not missing and not invalid:
        checks.append(ok("indexes", f"all {len(expected)} indexes of the models present and valid"))

    max_connections = int(await conn.scalar(text("SELECT current_setting('max_connections')::int")) or 0)
    pool, scale = settings.pool, settings.autoscale
    direct = scale.max_instances * pool.max_size
    if pool.pgbouncer_pool_size > max_connections * 0.9:
        checks.append(
            fail(
                "connections",
                f"PgBouncer pool {pool.pgbouncer_pool_size} vs max_connections {max_connections}",
                "keep PgBouncer's default_pool_size under 90 % of the server's max_connections",
            )
        )
    elif direct > max_connections:
        checks.append(
            warn(
                "connections",
                f"max_connections {max_connections}; {scale.max_instances} instances could open {direct:,}",
                "put PgBouncer in transaction mode between the instances and PostgreSQL",
            )
        )
    else:
        checks.append(
            ok("connections", f"max_connections {max_connections} covers {direct:,} pool connections")
        )

    replicas = (
        await conn.execute(
            text(
                "SELECT coalesce(application_name, client_addr::text), state, "
                "coalesce(extract(epoch FROM replay_lag), 0)::float8 FROM pg_stat_replication"
            )
        )
    ).all()
    streaming = ", ".join(f"{name} {state} lag {lag:.1f} s" for name, state, lag in replicas)
    lagging = [name for name, _, lag in replicas if lag > REPLICA_LAG_WARN_S]
    if lagging:
        checks.append(
            warn(
                "replicas",
                streaming,
                f"{', '.join(lagging)} lag over {REPLICA_LAG_WARN_S:.0f} s: check their I/O and network",
            )
        )
    else:
        checks.append(
            warn(
                "replicas",
                "no read replicas configured"
                + (f" (the primary streams to: {streaming})" if replicas else ""),
                "reads go to the primary; add replicas for list and analytics reads as traffic grows",
            )
        )
    return checks


async def database(settings: Settings, url: str | None) -> list[Check]:
    if url is None:
        return [fail("database", "no database URL", "set FTW_DATABASE_URL")]
    engine = create_engine(url, settings, pool_size=1)
    try:
        try:
            started = time.perf_counter()
            async with asyncio.timeout(PROBE_TIMEOUT_S * 2):
                conn = await engine.connect()
                version = await conn.scalar(text("SHOW server_version"))
        except Exception as exc:  # unreachable, refused, wrong password: all the same ✗
            detail = f"cannot connect: {type(exc).__name__}: {exc}"[:300]
            return [fail("database", detail, "check FTW_DATABASE_URL")]
        elapsed = (time.perf_counter() - started) * 1000
        checks = [ok("database", f"PostgreSQL {version} answered in {elapsed:.0f} ms")]
        try:  # the catalog checks read far more than a ping: a busy server is slow, not down
            async with asyncio.timeout(CATALOG_TIMEOUT_S):
                return checks + await database_checks(conn, settings)
        except TimeoutError:
            detail = f"not done within {CATALOG_TIMEOUT_S:.0f} s"
            return [*checks, fail("catalog", detail, "run doctor again when the database is less busy")]
        finally:
            await conn.close()
    finally:
        await engine.dispose()


# -- Redis, breakers, vendors -------------------------------------------------------------


async def redis(settings: Settings) -> Check:
    if not settings.redis_url:
        return warn(
            "redis",
            "not configured: cache, rate limits and active users are per process",
            "set FTW_REDIS_URL before running more than one instance",
        )
    client = Redis.from_url(settings.redis_url, socket_timeout=PROBE_TIMEOUT_S, decode_responses=True)
    try:
        started = time.perf_counter()
        await client.ping()
        elapsed = (time.perf_counter() - started) * 1000
        try:
            config = await client.config_get("maxmemory*")
        except Exception:  # managed Redis often forbids CONFIG
            return warn(
                "redis", f"answered in {elapsed:.0f} ms; CONFIG GET refused", "check maxmemory-policy"
            )
    except Exception as exc:
        return fail(
            "redis",
            f"cannot reach {settings.redis_url}: {type(exc).__name__}",
            "start Redis or fix FTW_REDIS_URL",
        )
    finally:
        await client.aclose()
    policy = config.get("maxmemory-policy") or "unknown"
    limit = int(config.get("maxmemory") or 0)
    detail = f"answered in {elapsed:.0f} ms; maxmemory-policy {policy}, maxmemory {limit // 2**20} MiB"
    if policy == "noeviction":
        return warn("redis", detail, "set maxmemory-policy allkeys-lru: Redis holds only cache and limits")
    if limit == 0:
        return warn("redis", detail, "set maxmemory so the cache evicts before the machine swaps")
    return ok("redis", detail)


def breakers(settings: Settings) -> Check:
    """Breaker state lives in the running instances: read it from one's /metrics (with the
    metrics token, which production requires)."""
    url = settings.public_url.rstrip("/") + "/metrics"
    request = urllib.request.Request(url)  # noqa: S310 - our own URL
    if settings.metrics_token is not None:
        request.add_header("Authorization", f"Bearer {settings.metrics_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310 - our own URL
            body = response.read().decode()
    except Exception as exc:
        return warn(
            "breakers",
            f"no instance at {settings.public_url} to read breaker states from ({type(exc).__name__})",
            "run doctor with FTW_PUBLIC_URL pointing at a running instance",
        )
    states = {
        s.labels["vendor"]: s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "ftw_breaker_state"
    }
    not_closed = sorted(vendor for vendor, value in states.items() if value > 0)
    if not states:
        return warn("breakers", f"{url} reports no breakers", "check that the instance runs this version")
    if not_closed:
        return fail(
            "breakers", f"not closed at {url}: {', '.join(not_closed)}", "check those vendors' status"
        )
    return ok("breakers", f"all {len(states)} closed at {url}")


def vendors(settings: Settings) -> list[Check]:
    """The vendors' adapters: a sandbox fails production unless allowed by name (start-up
    refuses the same), and is a warning before it."""
    production = settings.environment == "production"
    stand_ins = sandboxes(settings)
    flagged = refused_sandboxes(settings) if production else stand_ins
    verdict = fail if production else warn
    allow = f", or allow by name: FTW_ALLOW_SANDBOX={','.join(flagged)}" if production else ""
    checks = []
    if messaging := [vendor for vendor in flagged if vendor != "storage"]:
        checks.append(
            verdict(
                "vendors",
                f"sandbox adapters for {', '.join(messaging)}: nothing reaches a real provider",
                "set " + ", ".join(SANDBOXES[v][1] for v in messaging) + " with credentials" + allow,
            )
        )
    if production and (allowed := [vendor for vendor in stand_ins if vendor not in flagged]):
        checks.append(ok("vendors", f"sandboxes allowed by FTW_ALLOW_SANDBOX: {', '.join(allowed)}"))
    if real := [f"{v} ({getattr(settings, v).adapter})" for v in SANDBOXES if v not in stand_ins]:
        checks.append(ok("vendors", "real adapters: " + ", ".join(real)))
    if "storage" in flagged:
        checks.append(
            verdict(
                "storage",
                f"photos on local disk ({settings.media_path})",
                "use object storage (FTW_STORAGE__ADAPTER=s3): instances do not share a disk" + allow,
            )
        )
    return checks


# -- alert rules and the last load test -----------------------------------------------------


def alert_rules(rules_dir: Path = RULES_DIR) -> Check:
    promtool = shutil.which("promtool")
    files = sorted((rules_dir / "rules").glob("*.yml"))
    if promtool is None:
        return warn("alert rules", "promtool not installed", "apt-get install prometheus")
    if not files:
        return warn(
            "alert rules", f"no rule files under {rules_dir / 'rules'}", "run doctor from the repository"
        )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [promtool, "check", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return fail("alert rules", (result.stdout + result.stderr).strip()[-400:], "fix the rule files")
    rules = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout))
    return ok("alert rules", f"{rules} rules in {len(files)} files pass promtool")


def load_test(settings: Settings, report: Path = LOADTEST_REPORT) -> Check:
    """The last Locust run's figures (written by the load-test suite) against the targets."""
    if not report.exists():
        return warn("load test", f"no report at {report}", "run the launch load test before launch")
    try:
        data = json.loads(report.read_text())
        p50, p95, errors = float(data["p50_ms"]), float(data["p95_ms"]), float(data["error_percent"])
    except (ValueError, KeyError, TypeError) as exc:
        return fail("load test", f"{report} is unreadable: {exc}", "re-run the load test")
    targets = settings.performance
    misses = [
        f"{name} {value:g} > {limit:g}"
        for name, value, limit in (
            ("p50 ms", p50, targets.api_p50_ms),
            ("p95 ms", p95, targets.api_p95_ms),
            ("errors %", errors, targets.max_error_percent),
        )
        if value > limit
    ]
    when = data.get("finished_at", "an unknown time")
    figures = f"p50 {p50:g} ms, p95 {p95:g} ms, errors {errors:g} % ({when})"
    if misses:
        return fail("load test", f"{figures}: over target: {', '.join(misses)}", "fix the slow paths, re-run")
    return ok("load test", figures)


def launch_capacity(settings: Settings, report: Path = LOADTEST_REPORT, bench: Path = BENCH_REPORT) -> Check:
    """Whether the autoscale range covers launch day, sized from the last `ftw bench`."""
    try:
        inputs = capacity.inputs_from(report, bench)
    except capacity.ReportError as exc:
        return fail("capacity", str(exc), "re-run `ftw bench`")
    if not inputs.measured("app_cpu_ms"):
        return warn(
            "capacity", f"no measured CPU per request in {bench}", "run `ftw bench` on a seeded database"
        )
    launch = capacity.plan(settings.launch.users, settings, inputs, "launch")
    scale = settings.autoscale
    figures = (
        f"launch ({launch.users:,} users, {launch.peak_rps:,.0f} req/s) needs {launch.instances_needed}"
        f" instances ({launch.bound} bound; autoscale {scale.min_instances}-{scale.max_instances}),"
        f" {launch.database_vcpus:g} database vCPUs, from {inputs.sources['app_cpu_ms']}"
    )
    if launch.instances_needed > scale.max_instances:
        return fail(
            "capacity", figures, "raise autoscale.max_instances or cut CPU per request, then re-bench"
        )
    return ok("capacity", figures)


def _cpus(quantity: object) -> float:
    """A Kubernetes CPU quantity ("2", "1500m", 2) in CPUs."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def instance_shape(settings: Settings, k8s: Path = K8S_DIR) -> Check:
    """The API pods' CPU request and limit, the HPA's target and range, and the instance
    the capacity planner sizes must describe the same instance: the HPA's percentage is of
    the request, and the planner's instance count is only right if a pod is that instance."""
    name = "instance shape"
    try:
        documents = [d for f in ("api.yaml", "hpa.yaml") for d in yaml.safe_load_all((k8s / f).read_text())]
        api = next(
            d for d in documents if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "ftw-api"
        )
        hpa = next(d for d in documents if d and d["kind"] == "HorizontalPodAutoscaler")
        resources = next(c for c in api["spec"]["template"]["spec"]["containers"] if c["name"] == "api")[
            "resources"
        ]
        request, limit = _cpus(resources["requests"]["cpu"]), _cpus(resources["limits"]["cpu"])
        target = next(
            m["resource"]["target"]["averageUtilization"]
            for m in hpa["spec"]["metrics"]
            if m["type"] == "Resource" and m["resource"]["name"] == "cpu"
        )
        replicas = (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
    except (OSError, yaml.YAMLError, KeyError, StopIteration, TypeError, ValueError) as exc:
        return warn(name, f"cannot read {k8s}: {exc!r}", "run doctor from the repository")
    planned, scale = settings.capacity_prices.instance_vcpus, settings.autoscale
    figures = (
        f"pod CPU request {request:g}, limit {limit:g}; HPA {target} % of the request,"
        f" {replicas[0]}-{replicas[1]} pods; planner {planned} vCPUs at {scale.scale_up_cpu_percent} %,"
        f" {scale.min_instances}-{scale.max_instances} instances"
    )
    if (
        request != limit
        or request != planned
        or target != scale.scale_up_cpu_percent
        or replicas != (scale.min_instances, scale.max_instances)
    ):
        return fail(name, figures, "make the api Deployment, the HPA and the capacity settings agree")
    return ok(name, figures)


# -- all together ------------------------------------------------------------------------------


async def diagnose(
    settings: Settings, url: str | None, *, report: Path = LOADTEST_REPORT, bench: Path = BENCH_REPORT
) -> list[Check]:
    checks = configuration(settings)
    checks += await database(settings, url)
    checks.append(await redis(settings))
    checks.append(await asyncio.to_thread(breakers, settings))
    checks += vendors(settings)
    checks.append(await asyncio.to_thread(alert_rules))
    checks.append(load_test(settings, report))
    checks.append(launch_capacity(settings, report, bench))
    checks.append(instance_shape(settings))
    return checks


def passed(checks: Iterable[Check]) -> bool:
    return all(c.status != "fail" for c in checks)


def as_json(checks: list[Check]) -> str:
    return json.dumps(
        {
            "ok": passed(checks),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": [asdict(c) for c in checks],
        },
        indent=2,
        ensure_ascii=False,
    )


def lines(checks: list[Check]) -> list[str]:
    """Rich markup: one line per check, a second with what to do when it is not ✓."""
    width = max(len(c.name) for c in checks)
    out = []
    for c in checks:
        out.append(f"[{COLOURS[c.status]}]{MARKS[c.status]}[/] {c.name:<{width}}  {escape(c.detail)}")
        if c.fix:
            out.append(f"  {'':<{width}}  [dim]→ {escape(c.fix)}[/]")
    fails = sum(c.status == "fail" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    verdict = "NOT READY" if fails else "READY"
    out.append(f"\n[bold]{verdict}[/]: {len(checks) - fails - warns} ✓, {warns} ⚠, {fails} ✗")
    return out
