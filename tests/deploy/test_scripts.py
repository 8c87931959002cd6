"""The shell scripts of deploy/ (entry points, the replica bootstrap, the rollout) pass shellcheck."""

from __future__ import annotations

from tests.deploy.tools import DEPLOY, run, tool


def test_shellcheck_finds_nothing() -> None:
    scripts = sorted(str(p) for p in DEPLOY.rglob("*.sh"))
    assert len(scripts) >= 4
    result = run([tool("shellcheck"), "--shell=sh", "--severity=style", *scripts])
    assert result.returncode == 0, result.stdout + result.stderr
