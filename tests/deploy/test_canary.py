"""deploy/k8s/canary.sh against a fake Prometheus (a local HTTP server answering its queries)
and a stand-in kubectl that records what it was told: the steps, the judgement and the
automatic rollback."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.deploy.tools import DEPLOY, run, tool

IMAGE = "ghcr.io/fairtradeworker/ftw:0.2.0"
KUBECTL = """#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in
  *"apply -f -"*) cat >> "$KUBECTL_APPLIED"; echo --- >> "$KUBECTL_APPLIED" ;;
  *"get deployment ftw-api -o jsonpath"*) printf 8 ;;
esac
"""


@dataclass
class FakePrometheus:
    """Answers instant queries: a canary's p95 from ``p95``, its 5xx ratio from ``errors``,
    one value per query in turn (the last repeats); None answers with no series."""

    p95: list[float | None] = field(default_factory=lambda: [0.2])
    errors: list[float | None] = field(default_factory=lambda: [0.001])
    queries: list[str] = field(default_factory=list)

    def answer(self, query: str) -> dict[str, object]:
        self.queries.append(query)
        values = self.p95 if "histogram_quantile" in query else self.errors
        value = values.pop(0) if len(values) > 1 else values[0]
        result = [] if value is None else [{"metric": {}, "value": [1_700_000_000, str(value)]}]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.fixture
def prometheus() -> Iterator[tuple[FakePrometheus, str]]:
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            assert url.path == "/api/v1/query"
            body = json.dumps(fake.answer(parse_qs(url.query)["query"][0])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@dataclass
class Release:
    returncode: int
    output: str
    kubectl: list[str]
    applied: list[dict[str, object]]


def release(prometheus_url: str, tmp_path: Path, **env: str) -> Release:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    log, applied = tmp_path / "kubectl.log", tmp_path / "applied.yaml"
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "KUBECTL_LOG": str(log),
        "KUBECTL_APPLIED": str(applied),
        "PROMETHEUS_URL": prometheus_url,
        "CANARY_PAUSE_S": "0",
        **env,
    }
    done = run([tool("sh"), str(DEPLOY / "k8s" / "canary.sh"), IMAGE], env=environment, timeout=60)
    documents = [d for d in yaml.safe_load_all(applied.read_text()) if d] if applied.exists() else []
    return Release(done.returncode, done.stdout + done.stderr, log.read_text().splitlines(), documents)


def _scaled(calls: list[str]) -> list[str]:
    return [c.rsplit("=", 1)[1] for c in calls if c.startswith("-n ftw scale deployment/ftw-api-canary")]


def test_a_healthy_canary_goes_5_25_50_then_100_percent(
    prometheus: tuple[FakePrometheus, str], tmp_path: Path
) -> None:
    fake, url = prometheus
    done = release(url, tmp_path)
    assert done.returncode == 0, done.output
    assert "released " + IMAGE in done.output
    # 8 stable pods: 1 canary pod (11 %), then 3 (27 %), then 8 (50 %).
    assert _scaled(done.kubectl) == ["1", "3", "8"]
    assert done.kubectl.index("-n ftw wait --for=condition=complete --timeout=30m job/ftw-migrate") < 3
    assert f"-n ftw set image deployment/ftw-api api={IMAGE}" in done.kubectl
    assert f"-n ftw set image deployment/ftw-worker worker={IMAGE}" in done.kubectl
    assert "-n ftw delete deployment ftw-api-canary --ignore-not-found" in done.kubectl

    migrate, canary = done.applied
    assert migrate["kind"] == "Job"
    assert canary["metadata"]["name"] == "ftw-api-canary"  # type: ignore[index]
    pod = canary["spec"]["template"]  # type: ignore[index]
    assert pod["metadata"]["labels"]["track"] == "canary"
    assert pod["spec"]["containers"][0]["image"] == IMAGE
    assert canary["spec"]["replicas"] == 0  # type: ignore[index]
    # Behind the same Service as the stable pods: its selector leaves the track out.
    service = [
        d for d in yaml.safe_load_all((DEPLOY / "k8s" / "api.yaml").read_text()) if d["kind"] == "Service"
    ]
    assert set(service[0]["spec"]["selector"].items()) <= set(pod["metadata"]["labels"].items())
    assert sum('track="canary"' in q for q in fake.queries) == 6  # p95 and errors at 3 steps
    assert any('track="stable"' in q for q in fake.queries)  # and the promoted version once


def test_a_slow_canary_is_rolled_back_by_itself(
    prometheus: tuple[FakePrometheus, str], tmp_path: Path
) -> None:
    fake, url = prometheus
    fake.p95 = [0.3, 1.4]  # fine at 5 %, p95 1.4 s at 25 %
    done = release(url, tmp_path)
    assert done.returncode == 1
    assert "p95 1.4 s (limit 0.8 s)" in done.output
    assert _scaled(done.kubectl) == ["1", "3", "0"]
    assert "-n ftw delete deployment ftw-api-canary --ignore-not-found" in done.kubectl
    assert not any("set image" in call for call in done.kubectl)


def test_a_failing_canary_is_rolled_back_at_its_first_step(
    prometheus: tuple[FakePrometheus, str], tmp_path: Path
) -> None:
    fake, url = prometheus
    fake.errors = [0.04]
    done = release(url, tmp_path, CANARY_MAX_ERROR_RATIO="0.02")
    assert done.returncode == 1
    assert "5xx ratio 0.04 (limit 0.02)" in done.output
    assert _scaled(done.kubectl) == ["1", "0"]


def test_a_canary_nobody_reached_is_not_vouched_for(
    prometheus: tuple[FakePrometheus, str], tmp_path: Path
) -> None:
    fake, url = prometheus
    fake.p95 = [None]
    done = release(url, tmp_path)
    assert done.returncode == 1
    assert "no requests measured" in done.output
    assert not any("set image" in call for call in done.kubectl)
