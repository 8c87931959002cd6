"""Run a profile: write the account pool, run Locust headless in a subprocess, summarise.

The summary (reports/loadtest/<timestamp>.json and latest.json) is what `ftw doctor` reads:
finished_at, p50_ms, p95_ms, error_percent, and the same figures per endpoint. Next to it,
<timestamp>.html plots latency and throughput over time for the run and for each endpoint (see
report.py), and <timestamp>-locust.html is Locust's own report, whose charts are aggregate only.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from ftw.config import PerformanceTargets
from ftw.core.db import sync_libpq_url
from ftw.loadtest import report
from ftw.loadtest.profiles import Profile

HERE = Path(__file__).parent
REPORTS = Path("reports/loadtest")
POOL_PER_ROLE = 2_000

_POOL_SQL = """
SELECT u.role, u.email, u.territory_fips AS fips, u.zip,
       EXISTS (SELECT 1 FROM territories t WHERE t.fips = u.territory_fips AND t.operator_id = u.id)
         AS operates
FROM (SELECT *, row_number() OVER (PARTITION BY role ORDER BY random()) AS n
      FROM users WHERE is_active AND role IN ('homeowner', 'contractor', 'operator')
        AND territory_fips IS NOT NULL AND email LIKE '%@example.com') u
WHERE u.n <= $1
"""


async def account_pool(url: str, per_role: int = POOL_PER_ROLE) -> dict[str, list[dict[str, Any]]]:
    """Seeded (password `seed-password`) active accounts by role, with county and ZIP."""
    conn = await asyncpg.connect(sync_libpq_url(url))
    try:
        rows = await conn.fetch(_POOL_SQL, per_role)
    finally:
        await conn.close()
    pool: dict[str, list[dict[str, Any]]] = {"homeowner": [], "contractor": [], "operator": []}
    for row in rows:
        pool[row["role"]].append(
            {"email": row["email"], "fips": row["fips"], "zip": row["zip"], "operates": row["operates"]}
        )
    missing = [role for role, accounts in pool.items() if not accounts]
    if missing:
        raise RuntimeError(f"no seeded {', '.join(missing)} accounts: run `ftw seed` first")
    return pool


@dataclass(frozen=True)
class Endpoint:
    """One request name's figures over the run."""

    method: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    avg_ms: float
    rps: float


@dataclass(frozen=True)
class Summary:
    """A run's figures, as written to the JSON report."""

    profile: str
    host: str
    users: int
    duration_s: float
    started_at: str
    finished_at: str
    requests: int
    failures: int
    error_percent: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    max_p95_ms: float
    max_error_percent: float
    passed: bool
    html: str
    locust_html: str
    endpoints: list[Endpoint] = field(default_factory=list)


def _number(value: str) -> float:
    return 0.0 if value in ("", "N/A") else float(value)


def _endpoint(row: dict[str, str]) -> Endpoint:
    return Endpoint(
        method=row["Type"],
        name=row["Name"],
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        p50_ms=_number(row["50%"]),
        p95_ms=_number(row["95%"]),
        p99_ms=_number(row["99%"]),
        avg_ms=round(_number(row["Average Response Time"]), 1),
        rps=round(_number(row["Requests/s"]), 2),
    )


def parse_stats(path: Path) -> tuple[Endpoint, list[Endpoint]]:
    """Locust's `<prefix>_stats.csv`: the aggregated row and one row per endpoint."""
    with path.open(newline="") as f:
        rows = [_endpoint(row) for row in csv.DictReader(f)]
    total = next((r for r in rows if r.name == "Aggregated"), None)
    if total is None:
        raise RuntimeError(f"{path} has no Aggregated row")
    return total, [r for r in rows if r.name != "Aggregated"]


def locust_command(
    profile: Profile, *, users: int, duration_s: float, host: str, prefix: Path, locust_html: Path
) -> list[str]:
    """The headless Locust command line for a run; `--csv-full-history` gives the report a row
    per endpoint per second in `<prefix>_stats_history.csv`, not only the aggregate's."""
    files = [str(HERE / "journeys.py")]
    if profile.shaped:
        files.append(str(HERE / "shape.py"))
    return [
        sys.executable, "-m", "locust", "-f", ",".join(files), "--headless",
        "--users", str(users), "--spawn-rate", str(profile.spawn_rate),
        "--run-time", f"{max(1, round(duration_s))}s",
        "--host", host, "--csv", str(prefix), "--csv-full-history", "--html", str(locust_html),
        "--only-summary",
        "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip


def run(
    profile: Profile,
    *,
    database_url: str,
    host: str,
    targets: PerformanceTargets,
    users: int | None = None,
    duration_s: float | None = None,
    time_scale: float = 1.0,
    reports: Path = REPORTS,
) -> tuple[Summary, Path]:
    """Run `profile` against `host` and write its JSON report and both HTML ones; returns the
    summary and the JSON file. `time_scale` stretches or shrinks the profile's own duration and curve."""
    users = users or profile.users
    duration = duration_s if duration_s is not None else profile.duration_s * time_scale
    reports.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    html = reports / f"{stamp}.html"
    locust_html = reports / f"{stamp}-locust.html"
    with tempfile.TemporaryDirectory(prefix="ftw-loadtest-") as work:
        pool = Path(work) / "pool.json"
        pool.write_text(json.dumps(asyncio.run(account_pool(database_url))))
        env = {
            **os.environ,
            "FTW_LOADTEST_POOL": str(pool),
            "FTW_LOADTEST_PEAK": str(users),
            "FTW_LOADTEST_TIME_SCALE": str(time_scale),
            "FTW_LOADTEST_SPAWN_RATE": str(profile.spawn_rate),
        }
        prefix = Path(work) / "run"
        started = datetime.now(UTC)
        command = locust_command(
            profile, users=users, duration_s=duration, host=host, prefix=prefix, locust_html=locust_html
        )
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        stats, history = prefix.with_name("run_stats.csv"), prefix.with_name("run_stats_history.csv")
        if done.returncode != 0 or not stats.exists() or not history.exists():
            raise RuntimeError(f"locust exited {done.returncode}: {done.stderr[-2000:]}")
        total, endpoints = parse_stats(stats)
        samples = report.read_history(history)
    error_percent = round(100 * total.failures / total.requests, 3) if total.requests else 100.0
    max_p95 = float(targets.page_load_p95_ms)
    summary = Summary(
        profile=profile.name,
        host=host,
        users=users,
        duration_s=round(duration, 1),
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        requests=total.requests,
        failures=total.failures,
        error_percent=error_percent,
        p50_ms=total.p50_ms,
        p95_ms=total.p95_ms,
        p99_ms=total.p99_ms,
        rps=total.rps,
        max_p95_ms=max_p95,
        max_error_percent=targets.max_error_percent,
        passed=total.requests > 0 and total.p95_ms <= max_p95 and error_percent <= targets.max_error_percent,
        html=str(html),
        locust_html=str(locust_html),
        endpoints=endpoints,
    )
    html.write_text(report.render(summary, samples, locust_html=locust_html.name))
    json_report = reports / f"{stamp}.json"
    text = json.dumps(asdict(summary), indent=2)
    json_report.write_text(text)
    (reports / "latest.json").write_text(text)
    return summary, json_report
