"""The load-test HTML report: latency, throughput and users over time, for the run and per endpoint.

Input is Locust's `<prefix>_stats_history.csv` written with `--csv-full-history` (one row per
endpoint, plus an Aggregated row, about every second) and the run's Summary for the totals and the
verdict. Output is one self-contained HTML file: matplotlib draws each figure as SVG, inlined, so
the report opens offline and needs no script at all.

What a point means: with `--csv-full-history` Locust writes *current* figures, not cumulative
ones. The percentiles are over a sliding window of about the last 10 s of responses, and
requests/s and failures/s are the mean of about 10 one-second counts ending 2 s before the
newest request; for a rarely called endpoint the window is coarse, since Locust snapshots an
endpoint only when it is requested. The summary table, from `<prefix>_stats.csv`, is over the
whole run.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ftw.loadtest.runner import Endpoint, Summary

AGGREGATED = ("", "Aggregated")
MAX_POINTS = 360  # per line: plots are ~450 px wide, and an hour-long run writes 3,600 samples
WINDOW_NOTE = (
    "Each point is Locust's current window, not the run so far: p50 and p95 over about the last"
    " 10 s of responses, requests/s and failures/s averaged over about 10 s ending 2 s before the"
    " newest request. Locust snapshots an endpoint only when it is requested, so for a rarely"
    " called one the window is coarse and a lone slow response may not show; gaps are seconds"
    " whose window held no response. The table above is over the whole run."
)
NO_SAMPLES = '<p class="note">No samples in the history.</p>'
COLOURS = {"p50": "#4c72b0", "p95": "#dd8452", "rps": "#55a868", "fps": "#c44e52", "users": "#8172b3"}
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem;
       color: #222; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { margin: 1.6rem 0 .3rem; font-size: 1rem; }
.verdict { font-size: 1.15rem; font-weight: 600; padding: .6rem .9rem; border-radius: 4px; }
.pass { background: #e6f4ea; color: #1e6b34; } .fail { background: #fbe9e7; color: #a1261b; }
.meta, .note { color: #555; } .note { font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .5rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #ccc; }
td.over { color: #a1261b; font-weight: 600; }
svg { max-width: 100%; height: auto; display: block; }
"""


@dataclass(frozen=True)
class Sample:
    """One history row: a Unix second and that moment's figures; NaN where Locust had none."""

    t: float
    users: float
    rps: float
    fps: float
    p50_ms: float
    p95_ms: float


History = dict[tuple[str, str], list[Sample]]


def _latency(value: str) -> float:
    """Locust writes N/A before an endpoint's first response and 0 while its window is empty."""
    return math.nan if value in ("", "N/A") or float(value) == 0 else float(value)


def read_history(path: Path) -> History:
    """`<prefix>_stats_history.csv` as samples by (method, name); the aggregate is AGGREGATED."""
    history: History = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            history[(row["Type"], row["Name"])].append(
                Sample(
                    t=float(row["Timestamp"]),
                    users=float(row["User Count"]),
                    rps=float(row["Requests/s"]),
                    fps=float(row["Failures/s"]),
                    p50_ms=_latency(row["50%"]),
                    p95_ms=_latency(row["95%"]),
                )
            )
    return dict(history)


def _nanmax(values: Sequence[float]) -> float:
    present = [v for v in values if not math.isnan(v)]
    return max(present) if present else math.nan


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def downsample(samples: list[Sample], start: float, end: float, points: int = MAX_POINTS) -> list[Sample]:
    """At most `points` samples over [start, end]: rates and users averaged per bucket, latency
    the bucket's worst, so that a long run's spikes survive the thinning."""
    width = math.ceil((end - start) / points) if end > start else 1
    if width <= 1:
        return samples
    buckets: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        buckets[int((s.t - start) // width)].append(s)
    return [
        Sample(
            t=group[0].t,
            users=_mean([s.users for s in group]),
            rps=_mean([s.rps for s in group]),
            fps=_mean([s.fps for s in group]),
            p50_ms=_nanmax([s.p50_ms for s in group]),
            p95_ms=_nanmax([s.p95_ms for s in group]),
        )
        for _, group in sorted(buckets.items())
    ]


class _Clock:
    """Elapsed time since the run's first sample, in seconds or, past ten minutes, in minutes."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.scale = 60.0 if end - start > 600 else 1.0
        self.label = "minutes into the run" if self.scale == 60 else "seconds into the run"
        self.end = self(end)

    def __call__(self, t: float) -> float:
        return (t - self.start) / self.scale


def _legend(ax: Axes) -> None:
    """Above the plot, in one row, where it never hides a line."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=3, fontsize=7, frameon=False, borderaxespad=0)


def _plot_latency(ax: Axes, samples: list[Sample], clock: _Clock, limit_ms: float) -> None:
    t = [clock(s.t) for s in samples]
    p95 = [s.p95_ms for s in samples]
    ax.plot(t, [s.p50_ms for s in samples], color=COLOURS["p50"], lw=1.2, label="p50")
    ax.plot(t, p95, color=COLOURS["p95"], lw=1.2, label="p95")
    # The limit only when it is near the data: a line at 1.5 s would flatten 40 ms latencies.
    if _nanmax(p95) >= limit_ms / 2:
        ax.axhline(limit_ms, color="#888", lw=0.8, ls="--", label=f"p95 limit {limit_ms:,.0f} ms")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    _legend(ax)


def _plot_throughput(ax: Axes, samples: list[Sample], clock: _Clock) -> None:
    t = [clock(s.t) for s in samples]
    ax.plot(t, [s.rps for s in samples], color=COLOURS["rps"], lw=1.2, label="requests/s")
    ax.plot(t, [s.fps for s in samples], color=COLOURS["fps"], lw=1.2, label="failures/s")
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    _legend(ax)


def _plot_users(ax: Axes, samples: list[Sample], clock: _Clock) -> None:
    ax.step([clock(s.t) for s in samples], [s.users for s in samples], where="post", color=COLOURS["users"])
    ax.set_ylabel("users")
    ax.set_ylim(bottom=0)


def _style() -> AbstractContextManager[None]:
    # Text stays <text> (smaller than glyph outlines; the browser's sans-serif draws it).
    # svg.hashsalt stays unset: every figure's clip-path ids are random, never clashing in one page.
    return mpl.rc_context(
        {"svg.fonttype": "none", "font.size": 8, "axes.spines.top": False, "axes.spines.right": False}
    )


def _svg(figure: Figure, clock: _Clock) -> str:
    """The figure as an inline <svg> element (XML prolog and DOCTYPE dropped)."""
    for ax in figure.axes:
        ax.set_xlim(0, max(clock.end, 1))
        ax.grid(alpha=0.25, lw=0.5)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def aggregate_svg(samples: list[Sample], clock: _Clock, limit_ms: float) -> str:
    """Users, latency and throughput of the whole run, stacked on one time axis."""
    with _style():
        # Figure, not pyplot: no global figure registry and no GUI backend, safe in any process.
        figure = Figure(figsize=(9, 5.4), layout="constrained")
        users, latency, throughput = figure.subplots(3, 1, sharex=True)
        _plot_users(users, samples, clock)
        _plot_latency(latency, samples, clock, limit_ms)
        _plot_throughput(throughput, samples, clock)
        throughput.set_xlabel(clock.label)
        return _svg(figure, clock)


def endpoint_svg(samples: list[Sample], clock: _Clock, limit_ms: float) -> str:
    """One endpoint's latency and throughput side by side."""
    with _style():
        figure = Figure(figsize=(9, 2.3), layout="constrained")
        latency, throughput = figure.subplots(1, 2)
        _plot_latency(latency, samples, clock, limit_ms)
        _plot_throughput(throughput, samples, clock)
        for ax in (latency, throughput):
            ax.set_xlabel(clock.label)
        return _svg(figure, clock)


class _Figures(Protocol):
    """What an Endpoint and the Summary have in common: a row of the table."""

    @property
    def requests(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def p50_ms(self) -> float: ...
    @property
    def p95_ms(self) -> float: ...
    @property
    def p99_ms(self) -> float: ...
    @property
    def rps(self) -> float: ...


def _table_row(label: str, row: _Figures, limits: Summary, css: str = "") -> str:
    errors = 100 * row.failures / row.requests if row.requests else 0.0
    cells = [
        (label, False),
        (f"{row.requests:,}", False),
        (f"{row.failures:,}", False),
        (f"{errors:.2f}", errors > limits.max_error_percent),
        (f"{row.p50_ms:,.0f}", False),
        (f"{row.p95_ms:,.0f}", row.p95_ms > limits.max_p95_ms),
        (f"{row.p99_ms:,.0f}", False),
        (f"{row.rps:,.2f}", False),
    ]
    tds = "".join(f'<td class="over">{v}</td>' if over else f"<td>{v}</td>" for v, over in cells)
    return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"


def _anchor(endpoint: Endpoint) -> str:
    return "ep-" + "".join(c if c.isalnum() else "-" for c in f"{endpoint.method}-{endpoint.name}")


def _label(endpoint: Endpoint) -> str:
    return html.escape(f"{endpoint.method} {endpoint.name}")


def _table(summary: Summary) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("endpoint", "requests", "failures", "errors %", "p50 ms", "p95 ms", "p99 ms", "req/s")
    )
    rows = [_table_row(f'<a href="#{_anchor(e)}">{_label(e)}</a>', e, summary) for e in summary.endpoints]
    rows.append(_table_row("all endpoints", summary, summary, css="total"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _verdict(summary: Summary) -> str:
    """The runner's pass/fail, with each limit it was judged on."""
    checks = [
        (
            summary.p95_ms <= summary.max_p95_ms,
            f"p95 {summary.p95_ms:,.0f} ms (limit {summary.max_p95_ms:,.0f} ms)",
        ),
        (
            summary.error_percent <= summary.max_error_percent,
            f"errors {summary.error_percent:.2f} % (limit {summary.max_error_percent:g} %)",
        ),
    ]
    if not summary.requests:
        checks.append((False, "no requests were answered"))
    marks = " · ".join(f"{'✓' if ok else '✗'} {html.escape(text)}" for ok, text in checks)
    word, css = ("PASSED", "pass") if summary.passed else ("FAILED", "fail")
    return f'<p class="verdict {css}">{word}: {marks}</p>'


def render(summary: Summary, history: History, *, locust_html: str) -> str:
    """The whole report as one HTML document, linking Locust's own at the relative `locust_html`."""
    limit = summary.max_p95_ms
    every = [s for samples in history.values() for s in samples]
    start, end = (min(s.t for s in every), max(s.t for s in every)) if every else (0.0, 0.0)
    clock = _Clock(start, end)
    title = html.escape(f"Load test {summary.profile} · {summary.started_at}")
    aggregate = history.get(AGGREGATED, [])
    overall = aggregate_svg(downsample(aggregate, start, end), clock, limit) if aggregate else NO_SAMPLES
    sections = []
    for e in summary.endpoints:
        samples = history.get((e.method, e.name), [])
        plot = endpoint_svg(downsample(samples, start, end), clock, limit) if samples else NO_SAMPLES
        sections.append(f'<h3 id="{_anchor(e)}">{_label(e)}</h3>\n{plot}')
    endpoints = "\n".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head>
<body>
<h1>Load test: {html.escape(summary.profile)}</h1>
<p class="meta">{html.escape(summary.host)} · {summary.users:,} users · {summary.duration_s:g} s ·
{html.escape(summary.started_at)} to {html.escape(summary.finished_at)} ·
<a href="{html.escape(locust_html)}">Locust's own report</a></p>
{_verdict(summary)}
<h2>Endpoints over the whole run</h2>
{_table(summary)}
<p class="note">Cells over a limit are marked; the verdict is on all endpoints together.</p>
<h2>Over time: all endpoints</h2>
<p class="note">{html.escape(WINDOW_NOTE)}</p>
{overall}
<h2>Over time: each endpoint</h2>
{endpoints}
</body></html>
"""
