"""The package graph (docs/architecture.md): the contracts hold, a deliberate bad import
breaks them, and the drawing is the contracts' layers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the ``ftw`` found under ``root/src`` (before the installed one)."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(  # noqa: S603 - our own linter
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def _sources_only(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if not name.endswith(".py") and not (Path(folder) / name).is_dir()}


def test_the_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "importer", "imported"),
    [
        ("core/errors.py", "from ftw.accounts import models", "ftw.core", "ftw.accounts"),
        ("core/tasks.py", "from ftw.integrations import Integrations", "ftw.core", "ftw.integrations"),
        ("accounts/service.py", "from ftw.jobs import service", "ftw.accounts", "ftw.jobs"),
        ("messaging/service.py", "from ftw.crm import service", "ftw.messaging", "ftw.crm"),
        ("jobs/models.py", "from ftw.jobs import routes", "ftw.jobs.models", "ftw.jobs.routes"),
        ("bids/service.py", "from ftw.web import page", "ftw.bids", "ftw.web"),
    ],
)
def test_a_bad_import_breaks_them(
    tmp_path: Path, module: str, bad_import: str, importer: str, imported: str
) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=_sources_only)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "src" / "ftw" / module).open("a") as source:
        source.write(f"\n{bad_import}  # deliberate\n")
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert f"{importer} is not allowed to import {imported}" in result.stdout


def _drawn() -> dict[str, list[str]]:
    """Each Mermaid diagram of docs/architecture.md: its contract and its layers, top first."""
    drawn: dict[str, list[str]] = {}
    text = (ROOT / "docs" / "architecture.md").read_text()
    for diagram in re.findall(r"```mermaid\n(.*?)```", text, re.S):
        contract = re.search(r"^%% contract: (\S+)$", diagram, re.M)
        assert contract is not None, diagram
        labels: dict[int, str] = {}
        for node, label in re.findall(r'\bL(\d+)\["([^"]+)"\]', diagram):
            labels.setdefault(int(node), label)
        order = sorted(labels)
        assert order == list(range(len(order)))
        for upper in order[:-1]:  # drawn as one chain, top to bottom
            assert re.search(rf"\bL{upper}\b[^\n]*--> *L{upper + 1}\b", diagram), (contract, upper)
        drawn[contract.group(1)] = [labels[n] for n in order]
    return drawn


def test_the_drawing_is_the_contracts() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layered = {contract["id"]: contract["layers"] for contract in contracts if contract["type"] == "layers"}
    assert _drawn() == layered
