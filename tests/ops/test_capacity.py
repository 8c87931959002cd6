"""The capacity planner's arithmetic, from the launch figures of DESIGN.md and bench reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import Settings
from ftw.ops.capacity import (
    DEFAULT_CPU_MS_PER_REQUEST,
    DEFAULT_POSTGRES_CPU_MS_PER_REQUEST,
    DEFAULT_REDIS_CPU_MS_PER_REQUEST,
    DEFAULT_REQUESTS_PER_USER_MIN,
    DEFAULT_STREAM_BYTES_PER_CONNECTION,
    Inputs,
    growth_plans,
    inputs_from,
    plan,
)

# 7.5 requests/user/min; app 10 ms, PostgreSQL 2 ms, Redis 0.2 ms CPU per request; one instance
# holds 200 requests/s; 21,000 bytes per open stream.
LAUNCH = Inputs(7.5, 10.0, 2.0, 0.2, 200.0, 21_000.0)
FINISHED = "2026-12-01T10:00:00+00:00"


def bench_report(**changes: Any) -> dict[str, Any]:
    """A report in `ftw bench`'s shape; `changes` replace top-level keys (None removes one)."""
    held = {
        "target_rps": 300, "achieved_rps": 299.1, "duration_s": 20, "requests": 5982, "errors": 0,
        "p50_ms": 12.0, "p95_ms": 60.1, "p99_ms": 90.3,
        "cpu_s_per_1k": {"app": 4.1, "postgres": 1.9, "redis": 0.2, "generator": 0.3},
    }  # fmt: skip
    report: dict[str, Any] = {
        "finished_at": FINISHED,
        "host": "http://127.0.0.1:8123", "workers": 2, "generator": "locust", "users_seeded": 400_000,
        "mix": {"steps": [held], "max_rps": 310.0, "held": held},
        "bare": {"steps": [], "max_rps": 2_400.0, "held": None},
        "ratio": 0.129,
        "connections": {
            "clients": 20_000, "held": 20_000, "rss_bytes_per_connection": 21_000.0, "mix_rps": 100.0,
        },
    }  # fmt: skip
    report.update(changes)
    return {k: v for k, v in report.items() if v is not None}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def config() -> Settings:
    return Settings()


def test_launch_day_is_2_500_requests_a_second_on_18_instances(config: Settings) -> None:
    launch = plan(400_000, config, LAUNCH)
    assert (launch.dau, launch.concurrent, launch.peak_rps) == (160_000, 20_000, 2_500.0)
    # 2,500/s x 10 ms = 25 cores, at 70 % = 35.7 vCPUs, on 2-vCPU instances = 18; the held
    # rate asks for 2,500 / 200 = 13, so CPU decides.
    assert (launch.instances_by_cpu, launch.instances_by_rate, launch.bound) == (18, 13, "cpu")
    assert (launch.instances_needed, launch.instances) == (18, 18)
    # 2,500/s x 2 ms / 70 % = 7.1 database vCPUs; 2,500/s x 0.2 ms / 70 % = 0.7 Redis vCPUs.
    assert (launch.database_vcpus, launch.redis_vcpus) == (7.1, 0.7)
    # 20,000 streams over 18 instances x 21,000 bytes = 22.3 MiB each.
    assert launch.stream_mb_per_instance == pytest.approx(22.3, abs=0.05)
    assert launch.app_connections == 18 * config.pool.max_size
    assert launch.pgbouncer_server_connections == config.pool.pgbouncer_pool_size
    assert launch.warnings == ()
    # 18 x $70 + 8 database vCPUs x $112.5 + $30 PgBouncer + 824.5 MB Redis ($20.1)
    # + 8.4 GB database storage ($1.0) + 802 GB media ($18.5).
    assert launch.monthly_cost == pytest.approx(2_229.5, abs=0.5)


def test_the_database_price_never_drops_below_the_primary_and_replica(config: Settings) -> None:
    quiet = plan(10_000, config, LAUNCH)
    assert quiet.database_vcpus == 0.2
    # 8 x $70 + the $450 floor (not 1 vCPU x $112.5) + $30 + 520 MB Redis ($12.7) + storage ($0.5).
    assert quiet.monthly_cost == pytest.approx(1_053.2, abs=0.5)
    busy = plan(400_000, config, Inputs(7.5, 10.0, 20.0, 0.2, None, 21_000.0))
    assert busy.database_vcpus == 71.4
    assert busy.monthly_cost - plan(400_000, config, LAUNCH).monthly_cost == pytest.approx(
        (72 - 8) * config.capacity_prices.database_vcpu_month, abs=0.1
    )


def test_the_autoscale_minimum_holds_for_a_small_population(config: Settings) -> None:
    small = plan(10_000, config, LAUNCH)
    assert small.instances_needed < config.autoscale.min_instances == small.instances


def test_the_held_rate_decides_when_it_is_the_tighter_bound(config: Settings) -> None:
    slow = plan(400_000, config, Inputs(7.5, 10.0, 2.0, 0.2, 100.0, 21_000.0))
    assert (slow.instances_by_cpu, slow.instances_by_rate) == (18, 25)
    assert (slow.bound, slow.instances) == ("rate", 25)
    unmeasured = plan(400_000, config, Inputs(7.5, 10.0, 2.0, 0.2, None, 21_000.0))
    assert (unmeasured.instances_by_rate, unmeasured.bound, unmeasured.instances) == (None, "cpu", 18)


def test_beyond_the_autoscale_maximum_the_plan_warns(config: Settings) -> None:
    busy = plan(1_000_000, config, Inputs(30.0, 10.0, 2.0, 0.2, None, 21_000.0))
    assert busy.peak_rps == 25_000.0
    assert busy.instances_needed == 179  # 250 cores / 0.7 / 2
    assert busy.instances == config.autoscale.max_instances
    assert any("over the autoscale maximum of 50" in w for w in busy.warnings)
    # 25,000/s x 0.2 ms / 70 % = 7.1 vCPUs of a Redis that runs commands on one thread.
    assert any("Redis needs 7.1 vCPUs" in w for w in busy.warnings)


def test_streams_taking_too_much_of_an_instance_warn(config: Settings) -> None:
    heavy = plan(400_000, config, Inputs(7.5, 10.0, 2.0, 0.2, None, 2**20))
    # 20,000 streams / 18 instances x 1 MiB = 1,111 MB, over a quarter of 4 GB.
    assert heavy.stream_mb_per_instance == pytest.approx(1_111.1)
    assert [w for w in heavy.warnings if "open streams" in w] == [
        "open streams take 1,111 MB of each instance's 4 GB, over the 25% share (1,024 MB) left for them"
    ]


def test_storage_and_redis_grow_with_users(config: Settings) -> None:
    launch, scale = plan(400_000, config, LAUNCH), plan(1_000_000, config, LAUNCH)
    assert scale.database_gb_year == pytest.approx(launch.database_gb_year * 2.5, rel=0.01)
    assert scale.media_gb_year == pytest.approx(launch.media_gb_year * 2.5, rel=0.01)
    assert scale.redis_mb > launch.redis_mb


def test_figures_come_from_the_named_reports(tmp_path: Path) -> None:
    loadtest = write(tmp_path / "loadtest.json", {"users": 10, "rps": 5.0, "p95_ms": 80})
    bench = write(tmp_path / "bench.json", bench_report())
    inputs = inputs_from(loadtest, bench)
    assert inputs.requests_per_user_min == pytest.approx(30.0)
    assert (inputs.app_cpu_ms, inputs.postgres_cpu_ms, inputs.redis_cpu_ms) == (4.1, 1.9, 0.2)
    # 310/s held while the app had 4.1 of the 6.5 CPU ms (PostgreSQL, Redis and the generator
    # shared the bench machine): an instance running the app alone holds 310 x 6.5 / 4.1.
    assert inputs.held_rps == pytest.approx(310 * 6.5 / 4.1)
    assert inputs.stream_bytes_per_connection == 21_000.0
    assert inputs.sources["requests_per_user_min"] == str(loadtest)
    measured = f"{bench} (finished {FINISHED})"
    assert {name: inputs.sources[name] for name in inputs.sources if name != "requests_per_user_min"} == {
        "app_cpu_ms": measured,
        "postgres_cpu_ms": measured,
        "redis_cpu_ms": measured,
        "held_rps": f"{measured}: 310/s held on the bench machine, where the app had 63% of the CPU;"
        " 491/s for an instance running the app alone",
        "stream_bytes_per_connection": measured,
    }


def test_without_reports_every_figure_is_a_labelled_default(tmp_path: Path) -> None:
    inputs = inputs_from(tmp_path / "loadtest.json", tmp_path / "bench.json")
    assert (
        inputs.requests_per_user_min, inputs.app_cpu_ms, inputs.postgres_cpu_ms, inputs.redis_cpu_ms,
        inputs.held_rps, inputs.stream_bytes_per_connection,
    ) == (
        DEFAULT_REQUESTS_PER_USER_MIN, DEFAULT_CPU_MS_PER_REQUEST, DEFAULT_POSTGRES_CPU_MS_PER_REQUEST,
        DEFAULT_REDIS_CPU_MS_PER_REQUEST, None, DEFAULT_STREAM_BYTES_PER_CONNECTION,
    )  # fmt: skip
    assert inputs.sources["requests_per_user_min"].startswith("default (no load-test report at")
    for name in ("app_cpu_ms", "postgres_cpu_ms", "redis_cpu_ms", "held_rps", "stream_bytes_per_connection"):
        assert inputs.sources[name].startswith("default"), name
        assert f"no bench report at {tmp_path / 'bench.json'}" in inputs.sources[name]


def test_a_bench_that_held_no_step_leaves_its_costs_to_the_defaults(tmp_path: Path) -> None:
    mix: dict[str, Any] = {"steps": [], "max_rps": None, "held": None}
    bench = write(tmp_path / "bench.json", bench_report(mix=mix, connections=None))
    inputs = inputs_from(tmp_path / "loadtest.json", bench)
    assert (inputs.app_cpu_ms, inputs.postgres_cpu_ms, inputs.held_rps) == (
        DEFAULT_CPU_MS_PER_REQUEST, DEFAULT_POSTGRES_CPU_MS_PER_REQUEST, None,
    )  # fmt: skip
    assert inputs.sources["app_cpu_ms"] == (
        f"default (no mix step held p95 <= 100 ms without errors in {bench})"
    )
    assert inputs.stream_bytes_per_connection == DEFAULT_STREAM_BYTES_PER_CONNECTION
    assert inputs.sources["stream_bytes_per_connection"] == (
        f"default (no connections.rss_bytes_per_connection in {bench})"
    )


def test_a_bench_without_redis_keeps_its_other_figures(tmp_path: Path) -> None:
    report = bench_report()
    report["mix"]["held"]["cpu_s_per_1k"]["redis"] = None
    inputs = inputs_from(tmp_path / "loadtest.json", write(tmp_path / "bench.json", report))
    assert (inputs.app_cpu_ms, inputs.redis_cpu_ms) == (4.1, DEFAULT_REDIS_CPU_MS_PER_REQUEST)
    assert inputs.sources["redis_cpu_ms"].startswith("default (no mix.held.cpu_s_per_1k.redis in")


def test_both_growth_plans_end_where_they_should(config: Settings) -> None:
    plans = growth_plans(config, LAUNCH)
    assert [p.users for p in plans["400k day one to 1M"]] == [400_000, 500_000, 750_000, 1_000_000]
    assert plans["300k first year"][-1].users == 300_000
    assert [p.label for p in plans["300k first year"]] == [p.name for p in config.growth_phases]


def test_the_command_prints_its_sources_and_refuses_an_unknown_phase(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = str(tmp_path / "none.json")
    bench = str(write(tmp_path / "bench.json", bench_report()))
    done = runner.invoke(app, ["capacity", "--users", "400000", "--report", missing, "--bench", bench])
    assert done.exit_code == 0, done.output
    assert f"default (no load-test report at {missing})" in done.output
    assert f"app CPU ms per request: 4.1  ← {bench} (finished {FINISHED})" in done.output
    plans = runner.invoke(app, ["capacity", "--report", missing, "--bench", missing])
    assert plans.exit_code == 0, plans.output
    assert "400k day one to 1M" in plans.output
    assert "300k first year" in plans.output
    assert f"default (no bench report at {missing})" in plans.output
    assert runner.invoke(app, ["capacity", "--phase", "launch", "--report", missing]).exit_code == 0
    assert runner.invoke(app, ["capacity", "--phase", "nope", "--report", missing]).exit_code == 2


def test_the_command_refuses_an_unreadable_bench_report(tmp_path: Path) -> None:
    broken = tmp_path / "bench.json"
    broken.write_text("{not json")
    done = CliRunner().invoke(app, ["capacity", "--bench", str(broken)])
    assert done.exit_code == 2
    assert "cannot read" in done.output


def test_the_command_prints_json(tmp_path: Path) -> None:
    bench = str(write(tmp_path / "bench.json", bench_report()))
    args = ["capacity", "--phase", "launch", "--report", str(tmp_path / "none.json"), "--bench", bench]
    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["inputs"]["held_rps"]["value"] == pytest.approx(491.46, abs=0.01)
    assert data["inputs"]["held_rps"]["source"].startswith(f"{bench} (finished {FINISHED}): 310/s held")
    [launch] = data["plans"]["requested"]
    # 2,500/s x 4.1 ms / 70 % / 2 vCPUs = 8 instances by CPU beat 2,500/s / 491 = 6 by rate.
    assert (launch["instances"], launch["bound"], launch["database_vcpus"]) == (8, "cpu", 6.8)
    assert launch["stream_mb_per_instance"] == pytest.approx(20_000 / 8 * 21_000 / 2**20, abs=0.05)
