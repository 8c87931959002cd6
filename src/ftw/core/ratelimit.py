"""Rate limits with the `limits` library: a moving window per caller, shared through Redis.

Every ``/api/`` request counts against its caller's tier per minute (anonymous callers by
client IP, signed-in callers by user id; admins share the operator tier), and routes that
declare ``dependencies=[limit("post_job")]`` also against that endpoint limit. Responses
carry the RateLimit-* headers of whichever limit leaves the caller fewer requests.

When Redis fails or is slow the limiter fails open to a per-process in-memory window
(each instance then enforces the limits on its own share of the traffic) and logs a
warning at most once per interval: a limiter outage must not take the API down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as redis
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftw.accounts.models import Role
from ftw.config import EndpointLimits, Settings
from ftw.core import metrics
from ftw.core.errors import DomainError, problem
from ftw.core.security import read_access_token

log = structlog.get_logger(__name__)

Tier = Literal["anonymous", "authenticated", "pro", "operator"]
Endpoint = Literal["post_job", "post_bid", "post_invoice", "post_message", "scope", "list_jobs", "list_bids"]
REDIS_TIMEOUT_S = 0.25
LOG_EVERY_S = 30.0
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int  # until the window frees a slot

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after_s),
        }

    def tighter(self, other: Decision | None) -> Decision:
        if other is None or (self.remaining, -self.reset_after_s) < (other.remaining, -other.reset_after_s):
            return self
        return other


@dataclass(frozen=True)
class Caller:
    tier: Tier
    key: str


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"Rate limit of {decision.limit} exceeded; retry in {decision.reset_after_s} s")
        self.decision = decision


class Limiter:
    """Moving-window limits in Redis (``redis_url``) with an in-memory fallback."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.tiers = settings.rate_limits
        self.endpoints: EndpointLimits = settings.endpoint_limits
        self.trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.trusted_proxies]
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._pool: redis.ConnectionPool | None = None
        self._shared: MovingWindowRateLimiter | None = None
        if settings.redis_url:
            self._pool = redis.ConnectionPool.from_url(
                settings.redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=f"{settings.redis_prefix}:limits",
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]  # documented option, narrowly typed
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._last_error_log = 0.0

    async def hit(self, item: RateLimitItem, *ids: str) -> Decision:
        if self._shared is not None:
            try:
                return await asyncio.wait_for(self._decide(self._shared, item, ids), REDIS_TIMEOUT_S * 4)
            except (StorageError, OSError, TimeoutError) as exc:
                now = time.monotonic()
                if now - self._last_error_log >= LOG_EVERY_S:
                    self._last_error_log = now
                    log.warning("rate_limit_store_unavailable", error=repr(exc), effect="per-process limits")
        return await self._decide(self._local, item, ids)

    @staticmethod
    async def _decide(
        limiter: MovingWindowRateLimiter, item: RateLimitItem, ids: tuple[str, ...]
    ) -> Decision:
        allowed = await limiter.hit(item, *ids)
        stats = await limiter.get_window_stats(item, *ids)
        return Decision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_after_s=max(1 if not allowed else 0, math.ceil(stats.reset_time - time.time())),
        )

    def tier_item(self, tier: Tier) -> RateLimitItem:
        return RateLimitItemPerMinute(getattr(self.tiers, tier))

    def endpoint_item(self, name: Endpoint) -> RateLimitItem:
        return parse(getattr(self.endpoints, name))

    def caller(self, request: Request) -> Caller:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token:
            claims = read_access_token(request.app.state.settings.auth, token)
            if claims is not None:
                return Caller(_tier(claims.role, claims.pro), f"user:{claims.user_id}")
        return Caller("anonymous", f"ip:{client_ip(request, self.trusted)}")

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def _tier(role: str, pro: bool) -> Tier:
    if role in (Role.OPERATOR, Role.ADMIN):
        return "operator"
    return "pro" if pro else "authenticated"


def _trusted(address: str, trusted: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(request: Request, trusted: list[IPNetwork]) -> str:
    """The caller's address: X-Forwarded-For is read only behind a trusted proxy, right to left."""
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        peer = hop
        if not _trusted(hop, trusted):
            break
    return peer


def limit(name: Endpoint) -> Any:
    """A route dependency applying the endpoint limit ``name`` of config.EndpointLimits."""

    async def dependency(request: Request) -> None:
        limiter: Limiter = request.app.state.limiter
        if not limiter.enabled:
            return
        caller = limiter.caller(request)
        decision = await limiter.hit(limiter.endpoint_item(name), name, caller.key)
        if not decision.allowed:
            metrics.rate_limited(caller.tier)
            request.state.rate_limit = decision  # the middleware must not overwrite its headers
            raise RateLimited(decision)
        request.state.rate_limit = decision.tighter(getattr(request.state, "rate_limit", None))

    dependency.__name__ = f"limit_{name}"
    return Depends(dependency)


def _too_many(request: Request, decision: Decision) -> JSONResponse:
    headers = {**decision.headers(), "Retry-After": str(max(1, decision.reset_after_s))}
    return problem(
        429,
        RateLimited.title,
        f"Rate limit of {decision.limit} exceeded; retry in {headers['Retry-After']} s",
        instance=request.url.path,
        headers=headers,
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Create the app's limiter, the per-tier middleware and the 429 handler."""
    limiter = Limiter(settings)
    app.state.limiter = limiter

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return _too_many(request, exc.decision)

    app.add_middleware(TierLimitMiddleware, limiter=limiter)


class TierLimitMiddleware:
    """Every ``/api/`` request against its caller's tier; the answer carries the RateLimit-*
    headers of the tighter of that and the endpoint's limit. Pure ASGI: no task per request,
    and a streamed answer passes through unbuffered."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter
        if scope["type"] != "http" or not limiter.enabled or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        caller = limiter.caller(request)
        decision = await limiter.hit(limiter.tier_item(caller.tier), "tier", caller.key)
        if not decision.allowed:
            metrics.rate_limited(caller.tier)
            await _too_many(request, decision)(scope, receive, send)
            return
        request.state.rate_limit = decision  # the endpoint limit may replace it with a tighter one

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(request.state.rate_limit.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)
