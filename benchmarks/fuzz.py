"""A big schemathesis run over the whole API: tests/test_fuzz.py with many examples.

Runs the fuzz test on a fresh test database (as pytest does) with ``--examples`` valid and
as many invalid requests per operation, and prints how many operations and cases ran, the
status codes seen and every failure (a 5xx or a response that breaks its schema).

    .venv/bin/python benchmarks/fuzz.py --examples 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="Examples per operation and mode")
    args = parser.parse_args()
    env = os.environ | {"FTW_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "-p", "no:xdist", "-q", "-s"]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode  # noqa: S603 - our own pytest


if __name__ == "__main__":
    raise SystemExit(main())
