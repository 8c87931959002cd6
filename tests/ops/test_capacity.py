"""The capacity planner's arithmetic, from the launch figures of DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftw.cli import app
from ftw.config import Settings
from ftw.ops.capacity import (
    DEFAULT_CPU_MS_PER_REQUEST,
    DEFAULT_REQUESTS_PER_USER_MIN,
    Inputs,
    growth_plans,
    inputs_from,
    plan,
)

LAUNCH = Inputs(requests_per_user_min=7.5, cpu_ms_per_request=10.0, source="test")


@pytest.fixture
def config() -> Settings:
    return Settings()


def test_launch_day_is_2_500_requests_a_second_on_18_instances(config: Settings) -> None:
    launch = plan(400_000, config, LAUNCH)
    assert (launch.dau, launch.concurrent, launch.peak_rps) == (160_000, 20_000, 2_500.0)
    # 2,500/s x 10 ms = 25 cores, at 70 % = 35.7 cores, on 2-vCPU instances = 18.
    assert (launch.instances_needed, launch.instances) == (18, 18)
    assert launch.app_connections == 18 * config.pool.max_size
    assert launch.pgbouncer_server_connections == config.pool.pgbouncer_pool_size
    assert launch.warnings == ()
    prices = config.capacity_prices
    expected = (
        18 * prices.instance_month
        + prices.database_month
        + prices.pgbouncer_month
        + launch.redis_mb / 1_024 * prices.redis_gb_month
        + launch.database_gb_year * prices.database_storage_gb_month
        + launch.media_gb_year * prices.object_storage_gb_month
    )
    assert launch.monthly_cost == pytest.approx(expected, abs=0.1)


def test_the_autoscale_minimum_holds_for_a_small_population(config: Settings) -> None:
    small = plan(10_000, config, LAUNCH)
    assert small.instances_needed < config.autoscale.min_instances == small.instances


def test_beyond_the_autoscale_maximum_the_plan_warns(config: Settings) -> None:
    busy = plan(1_000_000, config, Inputs(30.0, 10.0, "test"))
    assert busy.peak_rps == 25_000.0
    assert busy.instances_needed == 179  # 250 cores / 0.7 / 2
    assert busy.instances == config.autoscale.max_instances
    assert any("over the autoscale maximum of 50" in w for w in busy.warnings)


def test_storage_and_redis_grow_with_users(config: Settings) -> None:
    launch, scale = plan(400_000, config, LAUNCH), plan(1_000_000, config, LAUNCH)
    assert scale.database_gb_year == pytest.approx(launch.database_gb_year * 2.5, rel=0.01)
    assert scale.media_gb_year == pytest.approx(launch.media_gb_year * 2.5, rel=0.01)
    assert scale.redis_mb > launch.redis_mb


def test_requests_per_user_come_from_the_load_test_report(tmp_path: Path) -> None:
    report = tmp_path / "latest.json"
    assert inputs_from(report) == Inputs(
        DEFAULT_REQUESTS_PER_USER_MIN, DEFAULT_CPU_MS_PER_REQUEST, "defaults (no load-test report)"
    )
    report.write_text(json.dumps({"users": 10, "rps": 5.0, "p95_ms": 80}))
    measured = inputs_from(report)
    assert measured.requests_per_user_min == pytest.approx(30.0)
    assert str(report) in measured.source


def test_both_growth_plans_end_where_they_should(config: Settings) -> None:
    plans = growth_plans(config, LAUNCH)
    assert [p.users for p in plans["400k day one to 1M"]] == [400_000, 500_000, 750_000, 1_000_000]
    assert plans["300k first year"][-1].users == 300_000
    assert [p.label for p in plans["300k first year"]] == [p.name for p in config.growth_phases]


def test_the_command_prints_a_plan_and_refuses_an_unknown_phase(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = str(tmp_path / "none.json")
    done = runner.invoke(app, ["capacity", "--users", "400000", "--report", missing])
    assert done.exit_code == 0, done.output
    assert "defaults (no load-test report)" in done.output
    assert runner.invoke(app, ["capacity", "--phase", "launch", "--report", missing]).exit_code == 0
    assert runner.invoke(app, ["capacity", "--phase", "nope", "--report", missing]).exit_code == 2
