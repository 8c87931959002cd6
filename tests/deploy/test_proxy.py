"""The HAProxy configuration in front of the API replicas is valid for HAProxy itself."""

from __future__ import annotations

from tests.deploy.tools import DEPLOY, run, tool

CONFIG = DEPLOY / "haproxy" / "haproxy.cfg"


def test_haproxy_accepts_the_configuration() -> None:
    result = run([tool("haproxy"), "-c", "-f", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def test_traffic_goes_only_to_ready_replicas_found_by_dns() -> None:
    text = CONFIG.read_text()
    assert "uri /readyz" in text
    assert "server-template api" in text
    assert "resolvers docker" in text
