"""Named load profiles and the launch-day curve; imported by the runner and by Locust's shape."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How many users, for how long, spawned how fast; `shaped` runs the launch-day curve instead."""

    name: str
    users: int
    duration_s: float
    spawn_rate: float
    shaped: bool = False


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", 10, 120, 2),
        Profile("load", 100, 300, 2),  # a sign-in costs ~0.2 CPU s (argon2): ramp over 50 s
        Profile("stress", 500, 600, 25),
        Profile("spike", 1_000, 180, 200),  # everyone within five seconds
        Profile("day1", 20_000, 3_600, 100, shaped=True),
        Profile("full", 5_000, 1_800, 50),
    )
}

# Launch day compressed into an hour at --time-scale 1: (end of stage in s, share of the peak).
# Morning 5k, midday 10k, a lunch dip, an afternoon rise, a dip before dinner, the 20k evening peak.
DAY1_STAGES: tuple[tuple[float, float], ...] = (
    (600, 0.25),
    (1_200, 0.50),
    (1_500, 0.35),
    (2_100, 0.75),
    (2_400, 0.50),
    (3_000, 1.00),
    (3_600, 0.40),
)


def day1_users(elapsed_s: float, peak: int, time_scale: float) -> int | None:
    """Users wanted `elapsed_s` into the launch-day curve, or None once it is over."""
    for end, share in DAY1_STAGES:
        if elapsed_s < end * time_scale:
            return max(1, round(peak * share))
    return None
