"""Redis's own CPU per call of the limiter's script, against the script of an earlier revision.

Both scripts answer the same stream of calls, a read's limits (the caller's tier and the
endpoint's, 200 a minute each, and the recent-write marker) for callers drawn from a
population, each on keys of its own. Rounds alternate which script goes first; Redis's
``INFO commandstats`` gives the microseconds it spent per EVALSHA and how many commands the
scripts called from inside. Before timing, both answer the same calls and must agree on every
decision and count.

    .venv/bin/python benchmarks/limiter_script.py --against 6b0d252
"""

from __future__ import annotations

import argparse
import random
import subprocess
import uuid

import pairs
import redis

from ftw.core.ratelimit import MOVING_WINDOWS

VARIANTS = ("earlier", "now")
INNER = ("time", "llen", "lindex", "lpush", "ltrim", "expire", "exists", "set")


def earlier_script(revision: str) -> str:
    """MOVING_WINDOWS as it stood at `revision`."""
    source = subprocess.run(  # noqa: S603 - git, on this repository
        ["git", "show", f"{revision}:src/ftw/core/ratelimit.py"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    start = source.index('MOVING_WINDOWS = """\n') + len('MOVING_WINDOWS = """\n')
    return source[start : source.index('"""', start)]


def call(client: redis.Redis, sha: str, prefix: str, caller: int) -> list[int]:
    """A read's limits for `caller`: allowed, then the hits counted in each window."""
    keys = (f"{prefix}tier:{caller}", f"{prefix}list:{caller}", f"{prefix}writer:{caller}")
    reply = client.evalsha(sha, len(keys), *keys, 200, 60, 200, 60, 0)
    return [reply[0], reply[2], reply[4]]


def main(args: argparse.Namespace) -> None:
    client = redis.Redis.from_url(args.redis_url)
    scripts = {"earlier": earlier_script(args.against), "now": MOVING_WINDOWS}
    shas = {name: client.script_load(script) for name, script in scripts.items()}
    run = uuid.uuid4().hex
    draws = random.Random(0)  # noqa: S311 - which callers call, not a secret
    try:
        checked = [draws.randrange(args.callers) for _ in range(args.calls)]
        answers = {
            name: [call(client, sha, f"check-{name}-{run}:", caller) for caller in checked]
            for name, sha in shas.items()
        }
        if answers["earlier"] != answers["now"]:
            raise SystemExit("the two scripts decided differently on the same calls")
        per_call: dict[str, list[float]] = {name: [] for name in VARIANTS}
        inner: dict[str, float] = {}
        for round_ in range(args.rounds):
            for name in pairs.order(round_, VARIANTS):
                callers = [draws.randrange(args.callers) for _ in range(args.calls)]
                client.config_resetstat()
                for caller in callers:
                    call(client, shas[name], f"{name}-{round_}-{run}:", caller)
                stats = client.info("commandstats")
                per_call[name].append(stats["cmdstat_evalsha"]["usec_per_call"] / 1_000)
                commands = sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in INNER)
                inner[name] = commands / args.calls
        pairs.report(per_call, VARIANTS, "script call (Redis's own)")
        for name in VARIANTS:
            print(f"{name:>9}: {inner[name]:.2f} commands called from inside the script per call")
    finally:
        for key in client.scan_iter(match=f"*{run}:*"):
            client.delete(key)
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--against", required=True, help="the git revision whose script to compare with")
    parser.add_argument("--callers", type=int, default=2_000, help="the population calls are drawn from")
    parser.add_argument("--calls", type=int, default=5_000, help="calls per round and script")
    parser.add_argument("--rounds", type=int, default=10)
    main(parser.parse_args())
