"""`ftw bench` in miniature: the real server on a small seeded database, two short steps each."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import Settings
from ftw.loadtest import bench
from ftw.loadtest.generator import LOOPBACK, OpenLoop
from ftw.loadtest.mix import Mix, sample

REDIS = "redis://127.0.0.1:6379/13"
TINY = bench.Plan(
    step_s=2, warmup_s=0.5, mix_start_rps=10, bare_start_rps=50, growth=2, refine=0, max_steps=2
)


def test_every_request_of_the_mix_is_answered_as_expected(
    seeded: str, settings: Settings, tmp_path: Path
) -> None:
    async def each(port: int, mix: Mix) -> dict[str, int]:
        loop = OpenLoop(port)
        statuses: dict[str, int] = {}
        try:
            for build in mix.builders:
                request = build()
                outcome = await loop.send(request)
                statuses[request.name] = outcome.status if outcome.error is None else -outcome.status
        finally:
            loop.close()
        return statuses

    population = asyncio.run(sample(seeded))
    with bench.running(seeded, settings, workers=1, pool_max=5, folder=tmp_path, env={}) as server:
        mix = Mix(population, settings, host=f"{LOOPBACK}:{server.port}")
        statuses = asyncio.run(each(server.port, mix))
    assert len(statuses) == len(mix.builders)
    assert {name: status for name, status in statuses.items() if status <= 0} == {}


def test_a_short_bench_reports_rates_latencies_and_cpu_per_request(
    seeded: str, settings: Settings, tmp_path: Path
) -> None:
    said: list[str] = []
    report, path = bench.run(
        seeded, settings.model_copy(update={"redis_url": REDIS}), TINY, reports=tmp_path, say=said.append
    )
    data = json.loads(path.read_text())
    assert json.loads((tmp_path / "latest.json").read_text()) == data
    assert data["users_seeded"] == 200
    for search in (report.mix, report.bare):
        assert [s.target_rps for s in search.steps][:1] == [search.steps[0].target_rps]
        assert all(s.requests > 0 and s.achieved_rps > 0 for s in search.steps)
    # Every request of the mix got an answer it expects (no 4xx/5xx it would not).
    assert [s.errors_by_kind for s in report.mix.steps if s.errors] == []
    mix, bare = report.mix.steps[0].cpu_s_per_1k, report.bare.steps[0].cpu_s_per_1k
    assert mix["app"]
    # CPU time comes in 10 ms ticks, and one 2-second step of 20 requests costs PostgreSQL
    # about that much: some step of the mix must show it, not necessarily the first.
    assert any(step.cpu_s_per_1k["postgres"] for step in report.mix.steps)
    assert mix["redis"] is not None
    assert bare["app"]
    assert mix["app"] > bare["app"]
    # Each step says how fast the machine was while it ran.
    assert all(s.machine_ms and s.machine_ms > 0 for s in [*report.mix.steps, *report.bare.steps])
    assert data["mix"]["steps"][0]["machine_ms"] == report.mix.steps[0].machine_ms
    assert any("launch mix" in line for line in said)
    # The planner names the report it sized with.
    done = CliRunner().invoke(
        app, ["capacity", "--bench", str(path), "--report", str(tmp_path / "none.json"), "--users", "400000"]
    )
    assert done.exit_code == 0, done.output
    assert str(path) in done.output.replace("\n", "")
