"""The service worker: the static files kept for offline use, and a page for when the network is gone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ftw.web.assets import Assets
from ftw.web.page import PAGE_HEADERS

router = APIRouter(include_in_schema=False)


@router.get("/sw.js")
async def service_worker(request: Request) -> Response:
    """At the root so it may serve every page; never cached, so a release's new asset names
    reach browsers at their next visit (the old worker's cache is then dropped)."""
    assets: Assets = request.app.state.assets
    script = request.app.state.templates.get_template("sw.js").render(
        version=assets.version, files=[assets.url(name) for name in assets.names()]
    )
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/offline")
async def offline(request: Request) -> Response:
    html = request.app.state.templates.get_template("offline.html").render()
    return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
