"""Profiles, the launch-day curve and the Locust command line, without running Locust."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftw.cli import app
from ftw.loadtest.profiles import PROFILES, day1_users
from ftw.loadtest.runner import locust_command


def test_the_profiles_are_the_issue_s() -> None:
    assert {name: (p.users, p.duration_s) for name, p in PROFILES.items()} == {
        "smoke": (10, 120),
        "load": (100, 300),
        "stress": (500, 600),
        "spike": (1_000, 180),
        "day1": (20_000, 3_600),
        "full": (5_000, 1_800),
    }


def test_the_launch_day_curve_peaks_in_the_evening_and_ends() -> None:
    users = [day1_users(t, 20_000, 0.1) for t in range(0, 360, 10)]
    assert users[0] == 5_000
    assert max(u for u in users if u is not None) == 20_000
    assert users.index(20_000) > users.index(10_000)
    assert day1_users(360, 20_000, 0.1) is None


def _command(name: str, tmp_path: Path) -> list[str]:
    return locust_command(
        PROFILES[name],
        users=5,
        duration_s=20,
        host="http://h",
        prefix=tmp_path / "r",
        locust_html=tmp_path / "r-locust.html",
    )


def test_only_day1_runs_the_shape(tmp_path: Path) -> None:
    def files(name: str) -> str:
        command = _command(name, tmp_path)
        return command[command.index("-f") + 1]

    assert files("smoke").endswith("journeys.py")
    assert files("day1").endswith("journeys.py," + str(Path(files("smoke")).with_name("shape.py")))


def test_locust_writes_every_endpoint_s_history_for_the_report(tmp_path: Path) -> None:
    command = _command("smoke", tmp_path)
    assert command[command.index("--csv") + 1] == str(tmp_path / "r")
    assert "--csv-full-history" in command
    assert command[command.index("--html") + 1] == str(tmp_path / "r-locust.html")


def test_an_unknown_profile_is_refused() -> None:
    assert CliRunner().invoke(app, ["loadtest", "nope"]).exit_code == 2


def test_loadtest_without_the_tools_extra_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "locust", None)  # as in the production image
    result = CliRunner().invoke(app, ["loadtest", "smoke"])
    assert result.exit_code == 2
    assert "needs locust" in result.output
    assert "pip install 'ftw[tools]'" in result.output
