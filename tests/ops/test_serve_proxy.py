"""`ftw serve` reads a caller's address from X-Forwarded-For only behind the proxies that
FTW_TRUSTED_PROXIES names: a caller cannot pick its own rate-limit budget."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx

from ftw.config import RateTiers
from tests.ops.conftest import serve

COUNTY = "/api/v1/territories/06037"  # public: counted against the anonymous limit
ANONYMOUS = RateTiers().anonymous


def _statuses(url: str, forwarded: list[str]) -> Counter[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return Counter(client.get(COUNTY, headers={"X-Forwarded-For": hop}).status_code for hop in forwarded)


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(database_url: str, tmp_path: Path) -> None:
    served = serve(database_url, tmp_path)  # FTW_TRUSTED_PROXIES unset: no proxy is trusted
    try:
        statuses = _statuses(served.url, [f"10.0.{i}.1" for i in range(ANONYMOUS + 5)])
        response = httpx.get(served.url + COUNTY, timeout=10)
    finally:
        served.stop()
    assert statuses == {200: ANONYMOUS, 429: 5}  # one budget: the peer's, 127.0.0.1
    assert "server" not in response.headers


def test_a_trusted_proxy_forwards_each_callers_address(database_url: str, tmp_path: Path) -> None:
    served = serve(database_url, tmp_path, FTW_TRUSTED_PROXIES='["127.0.0.1/32"]')
    try:
        statuses = _statuses(served.url, [f"10.0.{i}.1" for i in range(ANONYMOUS + 5)])
    finally:
        served.stop()
    assert statuses == {200: ANONYMOUS + 5}  # a budget per forwarded caller
