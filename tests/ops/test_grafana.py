"""The provisioned Grafana dashboard shows the runbook's overview from series that exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from tests.ops.conftest import DEPLOY, promql_metrics

GRAFANA = DEPLOY / "grafana"


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def test_the_dashboards_are_provisioned_from_this_folder_with_the_prometheus_datasource() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {d["uid"] for d in datasource["datasources"]}
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ftw.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert dashboards()
    for dashboard in dashboards():
        for panel in panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] in uids, panel["title"]


def test_the_overview_has_every_figure_of_the_runbook() -> None:
    titles = " | ".join(p["title"].lower() for d in dashboards() for p in panels(d["panels"]))
    for figure in (
        "active users",
        "requests/s",
        "p50 / p95 / p99",
        "error rate",
        "connections of max",
        "query time",
        "cache hit",
        "instances",
        "cpu",
        "memory",
        "circuit breakers",
        "task queue",
    ):
        assert figure in titles


async def test_every_panel_reads_series_the_app_or_the_exporters_export(known_metrics: set[str]) -> None:
    for dashboard in dashboards():
        for panel in panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                unknown = promql_metrics(target["expr"]) - known_metrics
                assert unknown == set(), f"panel {panel['title']!r} reads {unknown}"
