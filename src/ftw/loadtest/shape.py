"""Locust's shape for the day1 profile: the launch-day curve, read from the runner's environment."""

from __future__ import annotations

import os

from locust import LoadTestShape

from ftw.loadtest.profiles import PROFILES, day1_users


class LaunchDay(LoadTestShape):
    """5k -> 10k -> 20k users with dips and an evening peak, scaled by FTW_LOADTEST_TIME_SCALE."""

    peak = int(os.environ.get("FTW_LOADTEST_PEAK", PROFILES["day1"].users))
    time_scale = float(os.environ.get("FTW_LOADTEST_TIME_SCALE", "1"))
    spawn_rate = float(os.environ.get("FTW_LOADTEST_SPAWN_RATE", PROFILES["day1"].spawn_rate))

    def tick(self) -> tuple[int, float] | None:
        users = day1_users(self.get_run_time(), self.peak, self.time_scale)
        return None if users is None else (users, self.spawn_rate)
