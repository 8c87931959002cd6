"""What every request leaves behind: its metrics, one access-log line, its user as active.

``install`` wires it into an app (plus Sentry when a DSN is configured); ``running`` is
the part of the lifespan that releases what ``install`` opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftw.config import Settings
from ftw.core import activity, metrics
from ftw.core.principal import principal

log = structlog.get_logger("ftw.access")

# Probes and scrapes are not user traffic: counting them would flatter latency and rate.
# Event streams (text/event-stream answers) are left out of the HTTP series too: their
# duration is the life of a connection; ftw_notification_streams counts them.
UNOBSERVED = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot add series


def route_template(scope: Scope, path: str) -> str:
    """The matched route's path template (``/api/v1/jobs/{job_id}``), never the raw path.

    API routes leave themselves in the scope; the docs, OpenAPI and mounted static files
    do not, so ``path`` (as requested) is matched against those few here.
    """
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    probe = {"type": "http", "path": path, "root_path": "", "method": scope["method"]}
    for route in scope["app"].routes:
        if isinstance(route, Route | Mount) and route.matches(probe)[0] is Match.FULL:
            return route.path
    return UNMATCHED


class ObservabilityMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware), so it adds no task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]  # before a mount rewrites the scope
        status = 500  # what the client gets if the app raises before answering
        streaming = False

        async def send_status(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                if _is_event_stream(message):
                    streaming = True  # open for as long as the client stays: not a request in flight
                    metrics.HTTP_IN_FLIGHT.dec()
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            if not streaming:
                metrics.HTTP_IN_FLIGHT.dec()
            _observe(scope, path, status, time.perf_counter() - started, streamed=streaming)
        caller = principal(scope.get("state", {}))
        if caller is not None:
            await scope["app"].state.active_users.seen(caller.user_id)


def _is_event_stream(start: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/event-stream")
        for name, value in start.get("headers", ())
    )


def _observe(scope: Scope, path: str, status: int, seconds: float, *, streamed: bool) -> None:
    """Count and time the request, and log it; a server-sent event stream is only logged."""
    route = route_template(scope, path)
    if route in UNOBSERVED:
        return
    method: str = scope["method"]
    if not streamed:
        metrics.http_answered(method, route, str(status), seconds)
    caller = principal(scope.get("state", {}))
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": caller.user_id if caller is not None else None,
    }
    if status >= 500:
        log.error("request", **fields)
    else:
        log.info("request", **fields)


# Keys whose values never leave for Sentry, wherever they sit in an event (headers, bodies,
# extra data): the SDK's own list and the names our code and API give secrets.
SENSITIVE_KEYS = (
    "current_password",
    "new_password",
    "password_hash",
    "refresh_token",
    "access_token",
    "token_hash",
    "secret_key",
    "metrics_token",
    "stripe_api_key",
    "x-metrics-token",
)
BEARER = re.compile(r"(?i)\b(bearer\s+)[\w.~+/-]+=*")
FILTERED = "[Filtered]"


def scrubbed(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry's before_send, after its key-based scrubber: no request body, cookie or
    credential header at all, and no bearer token quoted in an error's text."""
    request = event.get("request") or {}
    request.pop("data", None)  # sign-in, reset and profile bodies carry passwords
    request.pop("cookies", None)
    headers = request.get("headers") or {}
    for name in list(headers):
        if name.lower() in ("authorization", "cookie", "set-cookie", "proxy-authorization"):
            headers[name] = FILTERED
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = BEARER.sub(r"\1" + FILTERED, exception["value"])
    logentry = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(logentry.get(key), str):
            logentry[key] = BEARER.sub(r"\1" + FILTERED, logentry[key])
    return event


def _init_sentry(dsn: str, environment: str) -> None:
    import sentry_sdk
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,  # no e-mails, tokens or IP addresses leave the service
        traces_sample_rate=0.0,  # errors only; latency is Prometheus's job
        # No frame's local variables (a sign-in's locals hold the password) and no bodies.
        include_local_variables=False,
        max_request_body_size="never",
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *SENSITIVE_KEYS], recursive=True),
        before_send=scrubbed,  # type: ignore[arg-type]
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Metrics and access log for every request; Redis and active users; Sentry if set."""
    if settings.sentry_dsn is not None:
        _init_sentry(settings.sentry_dsn.get_secret_value(), settings.environment)
    redis: Redis | None = None
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    app.state.redis = redis
    app.state.active_users = activity.tracker(redis)
    app.add_middleware(ObservabilityMiddleware)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    users = app.state.active_users
    flusher = asyncio.create_task(users.running()) if isinstance(users, activity.RedisActiveUsers) else None
    try:
        yield
    finally:
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        if app.state.redis is not None:
            await app.state.redis.aclose()
        metrics.process_exited(os.getpid())
