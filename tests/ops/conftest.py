"""Running the real server: `ftw serve` in a subprocess on a free port, against the test
database (it sees committed data only)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

FTW = str(Path(sys.executable).parent / "ftw")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(database_url: str, folder: Path, *, workers: int = 1, **env: str) -> Served:
    """Start `ftw serve` and wait until it answers /healthz (or fail with its output); an empty
    ``database_url`` serves the embedded default under ``folder``."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FTW_", "PROMETHEUS_"))},
        "FTW_DATABASE_URL": database_url,
        "FTW_DATA_DIR": str(folder),
        "FTW_ENVIRONMENT": "test",
        "FTW_SHUTDOWN_DELAY_S": "0",
        **env,
    }
    if not database_url:  # the embedded default
        del environment["FTW_DATABASE_URL"]
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [FTW, "serve", "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ftw serve exited with {process.returncode}:\n{served.output()}")
        try:
            if httpx.get(served.url + "/healthz", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    served.stop()
    pytest.fail(f"ftw serve did not answer within a minute:\n{served.output()}")


@pytest.fixture(scope="module")
def served_workers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Two worker processes sharing one multi-process metrics folder."""
    folder = tmp_path_factory.mktemp("served")
    metrics_dir = folder / "metrics"
    metrics_dir.mkdir()
    served = serve(database_url, folder, workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    yield served
    served.stop()


DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
_KEYWORDS |= {"offset", "inf", "nan", "Inf", "NaN"}


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if expr[match.end() :].lstrip().startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def exporter_metrics() -> set[str]:
    lines = (DEPLOY / "prometheus" / "exporter-metrics.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def recorded_metrics() -> set[str]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "recording.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


async def app_metrics(client: httpx.AsyncClient) -> set[str]:
    """Every sample name a scrape of the app returns."""
    await client.get("/api/v1/territories/06037")  # so the per-request series exist
    scrape = (await client.get("/metrics")).text
    return {s.name for family in text_string_to_metric_families(scrape) for s in family.samples}


@pytest.fixture
async def known_metrics(client: httpx.AsyncClient) -> set[str]:
    """What Prometheus can hold: the app's series, the exporters', the recording rules', `up`."""
    return await app_metrics(client) | exporter_metrics() | recorded_metrics() | {"up"}
