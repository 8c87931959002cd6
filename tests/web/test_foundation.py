"""The pages' machinery: static files, headers, error pages, and the API left as it was."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import Browser


def _asset(html: str, name: str) -> str:
    found = re.search(rf'"(/static/{name}\.[0-9a-f]{{12}}\.\w+)"', html)
    assert found is not None, f"{name} not linked"
    return found[1]


async def test_static_files_have_hashed_names_far_future_caching_and_compression(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    css = _asset(page.text, "app")
    plain = await client.get(css, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/css")
    # httpx decodes what it receives: the body read back is the file, the length what was sent.
    for encoding in ("br", "gzip"):
        squeezed = await client.get(css, headers={"Accept-Encoding": encoding})
        assert squeezed.headers["content-encoding"] == encoding
        assert squeezed.content == plain.content
        assert int(squeezed.headers["content-length"]) < len(plain.content) / 2
    assert (await client.get(css.replace(".css", "0.css"))).status_code == 404


async def test_pages_forbid_inline_script_and_are_compressed(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Accept-Encoding": "gzip"})
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["x-frame-options"] == "DENY"
    html = page.text
    assert "<script>" not in html
    assert " style=" not in html
    assert " onclick" not in html
    assert _asset(html, "htmx.min").endswith(".js")


async def test_an_unknown_page_is_a_page_and_an_unknown_api_path_stays_problem_json(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    wrong_method = await client.delete("/api/v1/jobs")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


async def test_a_missing_job_is_a_404_page(browser: Browser) -> None:
    for url in ("/jobs/987654321", "/jobs/not-a-number", "/contractors/987654321", "/counties/99999"):
        answer = await browser.get(url)
        assert answer.status_code == 404, url
        assert "<h1>Page not found</h1>" in answer.text, url


async def test_a_failure_is_the_500_page(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr("ftw.web.public.territories.find", broken)
    answer = await browser.get("/search?where=Kings")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "disk" not in answer.text


async def test_the_service_worker_keeps_this_releases_files_and_the_offline_page(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    worker = await client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    linked = re.findall(r'"(/static/[^"]+)"', page.text)
    assert len(linked) == 4  # app.css, icon.svg, htmx.min.js, app.js
    for url in linked:
        assert f'"{url}"' in worker.text
    assert '"/offline"' in worker.text
    assert (await client.get(linked[0])).status_code == 200
    offline = await client.get("/offline")
    assert offline.status_code == 200
    assert "You are offline" in offline.text
