"""A local stand-in for a vendor's HTTP API, on 127.0.0.1 and a free port, that answers
normally, slowly, with a server error, or never, and counts the requests it received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Mode = Literal["ok", "slow", "fail", "hang"]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


# (method, path, form or JSON body) -> (status, JSON body, or None for an empty body)
Responder = Callable[[str, str, dict[str, Any]], tuple[int, dict[str, Any] | None]]


@dataclass
class FakeVendor:
    responder: Responder
    mode: Mode = "ok"
    delay_s: float = 0.05
    fail_status: int = 503
    fail_body: dict[str, Any] | None = field(
        default_factory=lambda: {"error": {"message": "down for maintenance"}}
    )
    requests: list[Seen] = field(default_factory=list)
    url: str = ""
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeVendor:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        self._release.set()  # hanging handlers return, so the shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.content_type == "application/json" and raw:
            body: dict[str, Any] = json.loads(raw)
        else:
            body = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        body = dict(request.query) | body
        self.requests.append(Seen(request.method, request.path, body, dict(request.headers)))
        if self.mode == "hang":
            await self._release.wait()
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "fail":
            if self.fail_body is None:
                return web.Response(status=self.fail_status)
            return web.json_response(self.fail_body, status=self.fail_status)
        status, answer = self.responder(request.method, request.path, body)
        if answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)
