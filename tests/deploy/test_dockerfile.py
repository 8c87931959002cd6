"""The container image: hadolint-clean, non-root, and laid out so that migrations and the
entry point work; the entry point itself is run with a stand-in `ftw`."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from ftw.core import migrations
from tests.deploy.tools import DEPLOY, ROOT, VENV_BIN, run, tool

DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "entrypoint.sh"


def _runtime_stage() -> str:
    return DOCKERFILE.read_text().split(" AS runtime", 1)[1]


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint", VENV_BIN / "hadolint"), "--failure-threshold", "info", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_runs_as_an_unprivileged_user_with_a_healthcheck() -> None:
    runtime = _runtime_stage()
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "HEALTHCHECK" in runtime
    assert "/healthz" in runtime


def test_migrations_find_alembic_ini_in_the_image() -> None:
    """ftw.core.migrations looks three folders above src/ftw/core/; the image keeps the
    repository's layout under /app so that folder is /app, which holds alembic.ini."""
    module = Path(migrations.__file__).resolve()
    assert module.relative_to(ROOT) == Path("src/ftw/core/migrations.py")
    assert migrations.ROOT == ROOT
    runtime = _runtime_stage()
    assert "COPY --from=builder /app /app" in runtime
    assert "COPY alembic.ini /app/alembic.ini" in runtime
    assert "COPY migrations /app/migrations" in runtime
    assert "COPY src ./src" in DOCKERFILE.read_text()
    assert "WORKDIR /app" in DOCKERFILE.read_text()


def test_the_build_context_lets_in_what_the_image_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "alembic.ini",
        "src",
        "migrations",
        "deploy/entrypoint.sh",
    }
    assert allowed >= copied


def test_the_image_installs_the_lock_without_the_tools() -> None:
    """The image installs uv.lock, the lock `make` installs, with no extra: the load-test
    tools (locust, matplotlib) and the dev tools are not in production."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "locust" not in runtime
    assert "matplotlib" not in runtime
    assert {"locust", "matplotlib"} <= {
        re.split(r"[<>=\[]", d)[0] for d in project["optional-dependencies"]["tools"]
    }
    installs = [line for line in DOCKERFILE.read_text().splitlines() if "uv sync" in line]
    assert installs
    assert all(
        "--locked" in line and "--extra" not in line and "--all-extras" not in line for line in installs
    )
    makefile = (ROOT / "Makefile").read_text()
    assert "sync --locked --all-extras" in makefile


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> str:
    """Run the entry point with a stand-in `ftw` that prints its arguments."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "ftw").write_text('#!/bin/sh\necho "ftw $*"\n')
    (fake / "ftw").chmod(0o755)
    environment = {"PATH": f"{fake}:{os.environ['PATH']}", **env}
    result = run([tool("sh"), str(ENTRYPOINT), *args], cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_api_runs_one_worker_process_per_cpu(tmp_path: Path) -> None:
    cpus = run([tool("nproc")]).stdout.strip()
    assert _entrypoint(tmp_path) == f"ftw serve --host 0.0.0.0 --port 8000 --workers {cpus}"
    assert _entrypoint(tmp_path, "api", WEB_CONCURRENCY="3", PORT="9000") == (
        "ftw serve --host 0.0.0.0 --port 9000 --workers 3"
    )


def test_other_commands_go_to_ftw(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "worker", "--concurrency", "4") == "ftw worker --concurrency 4"
    assert _entrypoint(tmp_path, "migrate") == "ftw migrate"
    assert _entrypoint(tmp_path, "backup", "--prune") == "ftw backup --prune"


def test_the_metrics_folder_starts_empty(tmp_path: Path) -> None:
    """prometheus-client's multiprocess files from a previous run would count twice."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    _entrypoint(tmp_path, "migrate", PROMETHEUS_MULTIPROC_DIR=str(folder))
    assert folder.is_dir()
    assert list(folder.iterdir()) == []
