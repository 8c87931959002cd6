"""The HTML report from a small stats history written in Locust's own `--csv-full-history` format."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from ftw.config import PerformanceTargets
from ftw.loadtest import report
from ftw.loadtest.runner import Endpoint, Summary

# Locust 2.x's `_stats_history.csv` header, as a real run writes it.
HEADER = [
    *("Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"),
    *("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"),
    *("Total Request Count", "Total Failure Count", "Total Median Response Time"),
    *("Total Average Response Time", "Total Min Response Time", "Total Max Response Time"),
    "Total Average Content Size",
]
T0 = 1_700_000_000
LIMITS = PerformanceTargets()


def _row(t: int, method: str, name: str, rps: float, fps: float, p50: str, p95: str) -> list[str]:
    users = "0" if t == T0 else "5"
    totals = ["10", "0", "5", "5.0", "1", "9", "42"]  # cumulative; the report does not read them
    return [str(t), users, method, name, f"{rps:f}", f"{fps:f}", *[p50] * 4, *[p95] * 7, *totals]


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Four seconds of a run: the empty first tick, a tick whose window is still empty (0), then two
    with figures; sign-ins and a listing, and the Aggregated row after them as Locust writes it."""
    rows = [_row(T0, "", "Aggregated", 0, 0, "N/A", "N/A")]
    ticks = [(0.0, 0.0, "0", "0"), (4.0, 0.0, "60", "180"), (6.0, 0.5, "60", "240")]
    for i, (rps, fps, p50, p95) in enumerate(ticks, start=1):
        rows += [
            _row(T0 + i, "POST", "auth/login", rps / 2, 0, p50, p95),
            _row(T0 + i, "GET", "jobs?territory", rps / 2, fps, p50, p95),
            _row(T0 + i, "", "Aggregated", rps, fps, p50, p95),
        ]
    path = tmp_path / "run_stats_history.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def _endpoint(method: str, name: str, p95: float) -> Endpoint:
    return Endpoint(
        method, name, requests=200, failures=1, p50_ms=60, p95_ms=p95, p99_ms=p95, avg_ms=70, rps=5
    )


def _summary(p95: float = 240) -> Summary:
    max_p95 = float(LIMITS.page_load_p95_ms)
    return Summary(
        profile="smoke",
        host="http://127.0.0.1:8000",
        users=5,
        duration_s=4,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:04+00:00",
        requests=400,
        failures=2,
        error_percent=0.5,
        p50_ms=60,
        p95_ms=p95,
        p99_ms=p95,
        rps=10,
        max_p95_ms=max_p95,
        max_error_percent=LIMITS.max_error_percent,
        passed=p95 <= max_p95,
        html="reports/loadtest/x.html",
        locust_html="reports/loadtest/x-locust.html",
        endpoints=[_endpoint("POST", "auth/login", p95), _endpoint("GET", "jobs?territory", p95)],
    )


def _section(page: str, heading: str) -> str:
    """The HTML from `heading`'s <h3> up to the next heading."""
    start = page.index(f">{heading}</h3>")
    return page[start : page.find("<h3", start)]


def test_history_rows_become_samples_by_endpoint_with_gaps_where_locust_had_no_window(
    history: Path,
) -> None:
    samples = report.read_history(history)
    assert set(samples) == {("POST", "auth/login"), ("GET", "jobs?territory"), report.AGGREGATED}
    aggregate = samples[report.AGGREGATED]
    assert [s.t - T0 for s in aggregate] == [0, 1, 2, 3]
    assert [s.users for s in aggregate] == [0, 5, 5, 5]
    assert [s.rps for s in aggregate] == [0, 0, 4, 6]
    assert math.isnan(aggregate[0].p95_ms)  # N/A: no response yet
    assert math.isnan(aggregate[1].p95_ms)  # 0: the window is still empty
    assert [s.p95_ms for s in aggregate[2:]] == [180, 240]


def test_the_report_plots_the_run_and_each_endpoint_over_time(history: Path) -> None:
    page = report.render(_summary(), report.read_history(history), locust_html="x-locust.html")
    assert page.count("<svg") == 3  # the run's figure and one per endpoint
    assert not re.search(r"<\?xml|<!DOCTYPE svg", page)  # inlined, not pasted as whole files
    overall = page[page.index("Over time: all endpoints") : page.index("Over time: each endpoint")]
    assert all(label in overall for label in ("users", "latency (ms)", "p95", "requests/s", "failures/s"))
    for heading in ("POST auth/login", "GET jobs?territory"):
        section = _section(page, heading)
        assert section.count("<svg") == 1
        assert all(label in section for label in ("latency (ms)", "p50", "p95", "requests/s", "failures/s"))
        assert f">{heading}</a></td><td>200</td><td>1</td><td>0.50</td>" in page  # its table row
    assert "current window" in page  # says what a point of Locust's history covers
    assert 'href="x-locust.html"' in page


def test_a_passing_run_says_so(history: Path) -> None:
    page = report.render(_summary(), report.read_history(history), locust_html="x-locust.html")
    assert 'class="verdict pass">PASSED' in page
    assert "over" not in re.findall(r'<td class="(\w+)"', page)
    assert "p95 limit" not in page  # 240 ms is far below it: no line to flatten the plot


def test_a_run_over_the_p95_limit_shows_it_failed(history: Path) -> None:
    slow = _summary(p95=2 * LIMITS.page_load_p95_ms)
    samples = report.read_history(history)
    samples[report.AGGREGATED] = [replace(s, p95_ms=slow.p95_ms) for s in samples[report.AGGREGATED]]
    page = report.render(slow, samples, locust_html="x-locust.html")
    assert 'class="verdict fail">FAILED' in page
    assert f"✗ p95 {slow.p95_ms:,.0f} ms (limit {LIMITS.page_load_p95_ms:,.0f} ms)" in page
    assert page.count(f'<td class="over">{slow.p95_ms:,.0f}</td>') == 3  # both endpoints and the total
    assert f"p95 limit {LIMITS.page_load_p95_ms:,} ms" in page  # drawn on the run's latency plot


def test_the_report_needs_no_network(history: Path) -> None:
    page = report.render(_summary(), report.read_history(history), locust_html="x-locust.html")
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)


def test_a_long_run_is_thinned_and_keeps_its_spikes() -> None:
    hour = [report.Sample(T0 + t, 100, 50, 0, 40, 2_000 if t == 1_234 else 80) for t in range(3_600)]
    thin = report.downsample(hour, T0, T0 + 3_599)
    assert len(thin) <= report.MAX_POINTS + 1
    assert max(s.p95_ms for s in thin) == 2_000
    assert {s.rps for s in thin} == {50}
