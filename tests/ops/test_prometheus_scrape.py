"""A real Prometheus (Debian's package) scrapes a real `ftw serve --workers 2`, loads the
rules and records the p95; and the two workers' metrics add up in every scrape."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.tools import INSTALL_HINT
from tests.ops.conftest import DEPLOY, Served, free_port

ROUTE = {"route": "/api/v1/territories/{fips}", "method": "GET", "status": "200"}


def requests_counted(served: Served) -> float:
    scrape = httpx.get(served.url + "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
        if s.name == "http_requests_total" and all(s.labels.get(k) == v for k, v in ROUTE.items())
    )


def test_every_worker_reports_the_total_of_all_workers(served_workers: Served) -> None:
    before = requests_counted(served_workers)
    for _ in range(20):  # one connection each, so both workers get some
        assert httpx.get(served_workers.url + "/api/v1/territories/06037").status_code == 200
    # Whichever worker answers the scrape, it reports all 20.
    assert [requests_counted(served_workers) - before for _ in range(6)] == [20] * 6
    files = (served_workers.log.parent / "metrics").glob("counter_*.db")
    assert len({path.stem.rsplit("_", 1)[1] for path in files}) == 2


def _query(prometheus: str, expr: str) -> list[dict[str, object]]:
    response = httpx.get(prometheus + "/api/v1/query", params={"query": expr})
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()["data"]["result"]
    return result


def test_prometheus_scrapes_the_app_loads_the_rules_and_records_the_p95(
    served_workers: Served, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    assert binary is not None, f"prometheus is missing: {INSTALL_HINT}"
    rules = [str(DEPLOY / "prometheus" / "rules" / name) for name in ("recording.yml", "alerts.yml")]
    target = served_workers.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rules,
        "scrape_configs": [{"job_name": "ftw", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    prometheus = f"http://127.0.0.1:{port}"
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        p95: list[dict[str, object]] = []
        deadline = time.monotonic() + 90
        while not p95 and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            for _ in range(10):
                httpx.get(served_workers.url + "/api/v1/territories/06037")
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                p95 = _query(prometheus, "ftw:http_request_duration_seconds:p95_5m")
            time.sleep(0.5)
        assert p95, "no p95 recorded:\n" + (tmp_path / "prometheus.log").read_text()[-2000:]
        seconds = float(p95[0]["value"][1])  # type: ignore[index]
        print(f"ftw:http_request_duration_seconds:p95_5m = {seconds * 1000:.1f} ms")
        assert 0 < seconds <= 5

        assert [r["value"][1] for r in _query(prometheus, 'up{job="ftw"}')] == ["1"]  # type: ignore[index]
        groups = httpx.get(prometheus + "/api/v1/rules").json()["data"]["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        expected = sum(
            len(group["rules"])
            for path in rules
            for group in yaml.safe_load(Path(path).read_text())["groups"]
        )
        assert len(loaded) == expected
        assert [r["name"] for r in loaded if r["health"] == "err"] == []
        assert [r["name"] for r in loaded if r["type"] == "alerting" and r["state"] != "inactive"] == []
    finally:
        process.terminate()
        process.wait(timeout=30)
