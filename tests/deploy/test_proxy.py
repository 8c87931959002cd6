"""The HAProxy configuration in front of the API replicas is valid for HAProxy itself."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.tools import DEPLOY, run, tool
from tests.ops.conftest import free_port, serve

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


def _local_config(text: str, *, listen: int, stats: int, api: int) -> str:
    """The committed configuration aimed at one local API: the same frontend rules, the
    backend's Docker DNS template replaced by one server reached from 127.0.0.2 (the
    proxy's own address, the only one the API trusts), and fewer connections (a test
    process may not open the launch's file descriptors)."""
    text = text.replace("bind :8080", f"bind 127.0.0.1:{listen}").replace(
        "bind :8404", f"bind 127.0.0.1:{stats}"
    )
    text = re.sub(r"resolvers docker\n(    .*\n)+", "", text).replace("maxconn 20000", "maxconn 500")
    return re.sub(r"    server-template .*", f"    server api1 127.0.0.1:{api} source 127.0.0.2", text)


@pytest.fixture(scope="module")
def proxied(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ftw serve` (anonymous tier: 2 a minute, in process) behind HAProxy; the proxy's URL."""
    folder = tmp_path_factory.mktemp("proxied")
    served = serve(
        database_url,
        folder,
        FTW_TRUSTED_PROXIES='["127.0.0.2/32"]',
        FTW_RATE_LIMITS_ENABLED="true",
        FTW_RATE_LIMITS__ANONYMOUS="2",
    )
    listen = free_port()
    config = folder / "haproxy.cfg"
    api = int(served.url.rsplit(":", 1)[1])
    config.write_text(_local_config(CONFIG.read_text(), listen=listen, stats=free_port(), api=api))
    proxy = subprocess.Popen([tool("haproxy"), "-db", "-f", str(config)])  # noqa: S603 - our own config
    url = f"http://127.0.0.1:{listen}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        served.stop()


def test_through_haproxy_each_client_is_limited_by_its_own_address(proxied: str) -> None:
    """Spoofed X-Forwarded-For buys nothing, and clients do not share the proxy's address."""
    county = proxied + "/api/v1/territories/06037"
    with httpx.Client() as client:
        codes = [client.get(county, headers={"X-Forwarded-For": f"6.6.6.{i}"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as other:
        assert other.get(county).status_code == 200


def test_haproxy_refuses_an_oversized_body_before_the_api_sees_it(proxied: str) -> None:
    refused = httpx.post(proxied + "/api/v1/jobs", content=b"{" + b" " * 70_000 + b"}")
    assert refused.status_code == 413
    assert "problem+json" not in refused.headers.get("content-type", "")  # HAProxy's own answer
