"""The Prometheus configuration, recording and alert rules: promtool accepts them, their
unit tests pass, their thresholds are DESIGN.md's and every series they read exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ftw.config import Alerts
from tests.deploy.tools import INSTALL_HINT
from tests.ops.conftest import DEPLOY, promql_metrics

PROMETHEUS = DEPLOY / "prometheus"


TOKEN_FILE = "/prometheus/metrics-token"  # written by the compose service from FTW_METRICS_TOKEN


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    # Never skipped: a machine without it cannot vouch for the rules.
    assert path is not None, f"promtool is missing: {INSTALL_HINT}"
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [path, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    print(result.stdout, result.stderr)
    return result


def rules(kind: str) -> list[dict[str, object]]:
    groups = yaml.safe_load((PROMETHEUS / "rules" / f"{kind}.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_configuration_and_the_rules(tmp_path: Path) -> None:
    # promtool wants the API's bearer-token file to exist, as it will in the container.
    copy = shutil.copytree(PROMETHEUS, tmp_path / "prometheus")
    token = tmp_path / "metrics-token"
    token.write_text("token")
    configured = (copy / "prometheus.yml").read_text()
    assert TOKEN_FILE in configured  # the API's scrape sends the metrics token
    (copy / "prometheus.yml").write_text(configured.replace(TOKEN_FILE, str(token)))
    config = promtool("check", "config", "prometheus.yml", cwd=copy)
    assert config.returncode == 0, config.stdout + config.stderr
    checked = promtool("check", "rules", "rules/recording.yml", "rules/alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_alert_rule_unit_tests_pass() -> None:
    tested = promtool(
        "test", "rules", *sorted(str(p.relative_to(PROMETHEUS)) for p in PROMETHEUS.glob("tests/*.yml"))
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def _threshold(alert: str, severity: str) -> float:
    matches = [r for r in rules("alerts") if r.get("alert") == alert and r["labels"]["severity"] == severity]  # type: ignore[index]
    assert len(matches) == 1, f"{alert} {severity}"
    number = re.search(r"[<>]\s*([0-9.]+)", str(matches[0]["expr"]))  # the first comparison
    assert number is not None, matches[0]["expr"]
    return float(number.group(1))


@pytest.mark.parametrize(
    ("alert", "field", "scale"),
    [
        ("ApiLatencyP95High", "p95_seconds", 1),
        ("ApiErrorRateHigh", "error_percent", 100),
        ("HostCpuHigh", "cpu_percent", 100),
        ("PostgresConnectionsHigh", "db_connections_percent", 100),
        ("HostMemoryHigh", "memory_percent", 100),
        ("HostDiskFull", "disk_percent", 100),
    ],
)
def test_every_design_threshold_has_a_warning_and_a_critical_alert(
    alert: str, field: str, scale: int
) -> None:
    threshold = getattr(Alerts(), field)
    assert _threshold(alert, "warning") * scale == pytest.approx(threshold.warning)
    assert _threshold(alert, "critical") * scale == pytest.approx(threshold.critical)


def test_the_cache_hit_alert_uses_the_design_minimum() -> None:
    assert _threshold("CacheHitRateLow", "warning") * 100 == pytest.approx(Alerts().min_cache_hit_percent)


def test_the_launch_failure_modes_have_alerts() -> None:
    names = {r["alert"] for r in rules("alerts")}
    assert {
        "CircuitBreakerOpen",
        "TaskQueueBackingUp",
        "PostgresReplicaLag",
        "AvailabilityBudgetBurn",
        "LatencyBudgetBurn",
    } <= names
    for rule in rules("alerts"):
        assert rule["labels"]["severity"] in ("warning", "critical")  # type: ignore[index]
        assert str(rule["annotations"]["runbook_url"]).startswith("docs/observability.md#")  # type: ignore[index]


def test_the_runbook_explains_every_alert() -> None:
    runbook = (DEPLOY.parent / "docs" / "observability.md").read_text()
    anchors = {str(r["annotations"]["runbook_url"]).split("#")[1] for r in rules("alerts")}  # type: ignore[index]
    headings = {re.sub(r"[^a-z0-9]", "", h.lower()) for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    assert anchors <= headings


async def test_every_series_the_rules_read_exists(known_metrics: set[str]) -> None:
    for rule in rules("recording") + rules("alerts"):
        unknown = promql_metrics(str(rule["expr"])) - known_metrics
        assert unknown == set(), f"{rule.get('record') or rule.get('alert')} reads {unknown}"


def test_the_metric_name_reader_sees_through_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{job="ftw",le="0.8"}[5m])))'
        " / on (instance) group_left max(pg_up) > 14.4 * 0.005 and ftw:slo_errors:ratio_rate1h"
    )
    assert promql_metrics(expr) == {
        "http_request_duration_seconds_bucket",
        "pg_up",
        "ftw:slo_errors:ratio_rate1h",
    }
