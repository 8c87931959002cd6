"""Rate limits: a moving window per caller, shared through Redis, one round trip a request.

Every ``/api/`` request counts against its caller's tier per minute (anonymous callers by
client address, IPv6 by its /64; signed-in callers by user id; admins share the operator
tier), and routes marked ``@limit("post_job")`` also against that endpoint limit. Account
routes (sign-in, sign-up, refresh, password reset) are marked ``@auth_limit(...)`` instead:
they count against the anonymous tier, the account routes' window of the client address and
the window of the e-mail in their body, whatever token the request carries, so a guesser's
own valid token buys it nothing. All of a request's limits are decided together, before
routing, by one Lua script in Redis: a request refused by any limit consumes none, and the
answer carries the RateLimit-* headers of whichever limit leaves the caller fewer requests.

The windows are the `limits` library's moving window (a list of hit times per key, newest
first), kept by the script on Redis's own clock so instances with skewed clocks agree. The
library holds the limits themselves (`parse`, keys, expiry) and the in-memory fallback: when
Redis fails or is slow the limiter fails open to a per-process window (each instance then
enforces the limits on its own share of the traffic) and logs a warning at most once per
interval: a limiter outage must not take the API down.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import NoScriptError, RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftw.config import AuthLimits, EndpointLimits, Settings
from ftw.core import metrics
from ftw.core.errors import problem
from ftw.core.principal import principal
from ftw.core.redispool import RedisPool
from ftw.core.replicas import RECENT_WRITER
from ftw.core.security import digest

log = structlog.get_logger(__name__)

Endpoint_ = TypeVar("Endpoint_", bound=Callable[..., Any])  # a route's endpoint function
Tier = Literal["anonymous", "authenticated", "pro", "operator"]
Endpoint = Literal["post_job", "post_bid", "post_invoice", "post_message", "scope", "list_jobs", "list_bids"]
AccountRoute = Literal["login", "signup", "refresh", "password_reset", "email_confirm", "phone"]
# An account route's body is read before routing to find its e-mail; larger bodies are refused.
AUTH_BODY_MAX = 4_096
REDIS_TIMEOUT_S = 0.25
LOG_EVERY_S = 30.0
WARM_TIMEOUT_S = 5.0  # connecting at start-up, outside any request
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
OPERATOR_ROLES = frozenset({"operator", "admin"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# KEYS: one list of hit times per limit, newest first. ARGV: amount and window (s) per limit.
# Returns: allowed (1/0), Redis's clock, then per limit the hits in its window and the time
# of the oldest of them. All limits are checked before any hit is recorded.
# A signed-in caller's recent-write marker rides along (read-your-writes across instances):
# then the last KEY is the marker and the last ARGV its lifetime in ms, set by an allowed
# write (> 0) or looked up by a read (0); its existence (1/0) is the last value returned.
# Each redis.call costs Redis about as much as the command itself, so the script makes as few
# as it can: the oldest hit in a window is the last one the binary search found inside it, and
# a list is trimmed only when it is full.
MOVING_WINDOWS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stamp = clock[1] .. '.' .. string.format('%06d', tonumber(clock[2]))
local limits, marker, lifetime = #KEYS, nil, 0
if #ARGV % 2 == 1 then
  limits, marker, lifetime = #KEYS - 1, KEYS[#KEYS], tonumber(ARGV[#ARGV])
end
local allowed, counts, oldest, full = 1, {}, {}, {}
for i = 1, limits do
  local amount, since = tonumber(ARGV[2 * i - 1]), now - tonumber(ARGV[2 * i])
  local length = redis.call('LLEN', KEYS[i])
  local low, high, first = 0, math.min(length, amount), stamp
  while low < high do
    local middle = math.floor((low + high) / 2)
    local entry = redis.call('LINDEX', KEYS[i], middle)
    if tonumber(entry) > since then low, first = middle + 1, entry else high = middle end
  end
  counts[i], oldest[i], full[i] = low, first, length >= amount
  if low >= amount then allowed = 0 end
end
local result = {allowed, stamp}
for i = 1, limits do
  if allowed == 1 then
    redis.call('LPUSH', KEYS[i], stamp)
    if full[i] then redis.call('LTRIM', KEYS[i], 0, tonumber(ARGV[2 * i - 1]) - 1) end
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i]))
    counts[i] = counts[i] + 1
  end
  result[#result + 1] = counts[i]
  result[#result + 1] = oldest[i]
end
if marker then
  if lifetime > 0 then
    if allowed == 1 then redis.call('SET', marker, '1', 'PX', lifetime) end
    result[#result + 1] = 1
  else
    result[#result + 1] = redis.call('EXISTS', marker)
  end
end
return result
"""
# Its name in Redis's script cache (EVALSHA): a content address, not a security measure.
MOVING_WINDOWS_SHA = hashlib.sha1(MOVING_WINDOWS.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int  # until the window frees a slot
    recent_writer: bool = False  # the caller wrote within replicas.read_your_writes_s

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after_s),
        }


def _tightest(decisions: Sequence[Decision]) -> Decision:
    """The decision to report: a refusing limit if any (the longest wait), else the one that
    leaves the caller fewest requests."""
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.reset_after_s)
    return min(decisions, key=lambda d: (d.remaining, -d.reset_after_s))


@dataclass(frozen=True)
class Caller:
    tier: Tier
    key: str
    user_id: int | None = None


Limit = tuple[RateLimitItem, str, str]  # the limit, the name its window is kept under, the key


@dataclass(frozen=True)
class Writer:
    """A signed-in caller whose recent writes the limiter's round trip tracks."""

    user_id: int
    writes: bool  # this request may write (not GET, HEAD, OPTIONS)


class Limiter:
    """Moving-window limits in Redis (``redis_url``) with an in-memory fallback."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.tiers = settings.rate_limits
        self.endpoints: EndpointLimits = settings.endpoint_limits
        self.accounts: AuthLimits = settings.auth_limits
        # Parsed once: a limit's text ("50/hour") belongs to the settings, not to a request.
        self._tier_items = {
            tier: RateLimitItemPerMinute(getattr(self.tiers, tier)) for tier in get_args(Tier)
        }
        self._endpoint_items = {name: parse(getattr(self.endpoints, name)) for name in get_args(Endpoint)}
        self._per_address = parse(self.accounts.per_address)
        self._per_email = parse(self.accounts.per_email)
        self.trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.trusted_proxies]
        self.prefix = f"{settings.redis_prefix}:limits:"
        self.writers_prefix = f"{settings.redis_prefix}:wrote:"
        # Only when reads may go to a replica does a write need remembering across instances.
        replicas = settings.replicas
        self.writer_ms = (
            int(replicas.read_your_writes_s * 1000) if replicas.browse or replicas.analytics else 0
        )
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._redis: RedisPool | None = None
        if settings.redis_url:
            # No socket timeout (redis-py 8 sets 5 s: a task per send, a timer per read); ``hit``
            # bounds the whole call with one timer.
            self._redis = RedisPool.from_url(
                settings.redis_url, socket_timeout=None, socket_connect_timeout=REDIS_TIMEOUT_S
            )
        self._last_error_log = 0.0

    async def hit(self, limits: Sequence[Limit], *, writer: Writer | None = None) -> Decision:
        """Count one request against every limit (each under its own key), or against none
        if any refuses; with ``writer``, also mark (a write) or look up (a read) the caller's
        recent write."""
        if self._redis is not None:
            try:
                async with asyncio.timeout(REDIS_TIMEOUT_S * 4):
                    return await self._shared(self._redis, limits, writer)
            except (RedisError, OSError, TimeoutError) as exc:
                self._unavailable(exc)
        return await self._in_memory(limits)

    def _unavailable(self, exc: Exception) -> None:
        """Log that limits fall back to this process, at most once every LOG_EVERY_S."""
        now = time.monotonic()
        if now - self._last_error_log >= LOG_EVERY_S:
            self._last_error_log = now
            log.warning("rate_limit_store_unavailable", error=repr(exc), effect="per-process limits")

    async def _shared(self, pool: RedisPool, limits: Sequence[Limit], writer: Writer | None) -> Decision:
        keys = [self.prefix + item.key_for(name, key) for item, name, key in limits]
        args = [value for item, _, _ in limits for value in (item.amount, item.get_expiry())]
        if writer is not None:
            keys.append(f"{self.writers_prefix}{writer.user_id}")
            args.append(self.writer_ms if writer.writes else 0)
        try:
            reply = await pool.call("EVALSHA", MOVING_WINDOWS_SHA, len(keys), *keys, *args)
        except NoScriptError:  # a restarted or flushed Redis: load it once more
            reply = await pool.call("EVAL", MOVING_WINDOWS, len(keys), *keys, *args)
        allowed, stamp, *windows = reply
        recent_writer = bool(windows.pop()) if writer is not None else False
        now = float(stamp)
        decisions = []
        for (item, _, _), count, oldest in zip(limits, windows[::2], windows[1::2], strict=True):
            frees_in = math.ceil(float(oldest) + item.get_expiry() - now)
            decisions.append(
                Decision(
                    allowed=bool(allowed) or count < item.amount,  # refused: which limits are full
                    limit=item.amount,
                    remaining=max(0, item.amount - int(count)),
                    reset_after_s=max(0 if allowed else 1, frees_in),
                    recent_writer=recent_writer,
                )
            )
        return _tightest(decisions)

    async def _in_memory(self, limits: Sequence[Limit]) -> Decision:
        local = self._local
        rooms = [await local.test(item, name, key) for item, name, key in limits]
        allowed = all(rooms)
        decisions = []
        for (item, name, key), room in zip(limits, rooms, strict=True):
            if allowed:
                await local.hit(item, name, key)
            stats = await local.get_window_stats(item, name, key)
            decisions.append(
                Decision(
                    allowed=room,
                    limit=item.amount,
                    remaining=max(0, stats.remaining),
                    reset_after_s=max(0 if allowed else 1, math.ceil(stats.reset_time - time.time())),
                )
            )
        return _tightest(decisions)

    def tier_item(self, tier: Tier) -> RateLimitItem:
        return self._tier_items[tier]

    def endpoint_item(self, name: Endpoint) -> RateLimitItem:
        return self._endpoint_items[name]

    def caller(self, scope: Scope) -> Caller:
        claims = principal(scope.get("state", {}))
        if claims is not None:
            return Caller(_tier(claims.role, claims.pro), f"user:{claims.user_id}", claims.user_id)
        return self.address(scope)

    def address(self, scope: Scope) -> Caller:
        """The caller as its address, whatever token it carries."""
        return Caller("anonymous", f"ip:{address_key(client_ip(Request(scope), self.trusted))}")

    def account_limits(self, scope: Scope, email: str | None) -> list[Limit]:
        """An account route's limits: the anonymous tier and the account routes' window of the
        client address, and the window of the e-mail it targets (when it names one)."""
        address = self.address(scope).key
        limits: list[Limit] = [
            (self.tier_item("anonymous"), "tier", address),
            (self._per_address, "accounts", address),
        ]
        if email is not None:
            # Hashed: the limit needs only to tell addresses apart, Redis need not hold them.
            limits.append((self._per_email, "accounts", f"email:{digest(email)}"))
        return limits

    async def warm(self) -> None:
        """Connect to Redis and load the script before the first request, so that request
        is not the one paying both under the hot path's bound (on a busy starting pod it
        would miss it and be counted in process instead). Redis down is only logged here:
        each request falls back on its own."""
        if self._redis is None:
            return
        try:
            async with asyncio.timeout(WARM_TIMEOUT_S):
                await self._redis.call("SCRIPT", "LOAD", MOVING_WINDOWS)
        except (RedisError, OSError, TimeoutError) as exc:
            self._unavailable(exc)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _tier(role: str, pro: bool) -> Tier:
    if role in OPERATOR_ROLES:
        return "operator"
    return "pro" if pro else "authenticated"


def _trusted(address: str, trusted: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def address_key(address: str) -> str:
    """The address a limit counts: an IPv6 client by its /64 (one subscriber's whole
    allocation, which it can rotate through at will), an IPv4 client by itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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


def limit(name: Endpoint) -> Callable[[Endpoint_], Endpoint_]:
    """Declares that a route also counts against the endpoint limit ``name`` of
    config.EndpointLimits (``@limit("post_job")`` under the route's decorator).
    ``TierLimitMiddleware`` finds the mark on the endpoint and decides it with the caller's
    tier, before routing. A mark, not a dependency: FastAPI would solve even a dependency
    that does nothing on every request."""

    def mark(endpoint: Endpoint_) -> Endpoint_:
        endpoint.endpoint_limit = name  # type: ignore[attr-defined]
        return endpoint

    return mark


def auth_limit(name: AccountRoute) -> Callable[[Endpoint_], Endpoint_]:
    """Declares an account route: limited by client address and target e-mail (the body's
    ``email``), never by the token it carries. Decided by ``TierLimitMiddleware``."""

    def mark(endpoint: Endpoint_) -> Endpoint_:
        endpoint.account_route = name  # type: ignore[attr-defined]
        return endpoint

    return mark


Declared = tuple[APIRoute, Endpoint | None]  # a limited route, its endpoint limit (None: an account route)


def endpoint_limits(routes: Sequence[Any]) -> list[Declared]:
    """The routes marked with an endpoint limit (with its name) or as account routes."""
    found: list[Declared] = []
    for route in routes:
        if isinstance(route, APIRoute):
            name = getattr(route.endpoint, "endpoint_limit", None)
            if name is not None or hasattr(route.endpoint, "account_route"):
                found.append((route, name))
    return found


def target_email(body: bytes) -> str | None:
    """The ``email`` of a JSON body, lowercased as accounts store it; None when absent."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    email = data.get("email") if isinstance(data, dict) else None
    return email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past ``limit``."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then listens for disconnect."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _too_many(request: Request, decision: Decision) -> JSONResponse:
    headers = {**decision.headers(), "Retry-After": str(max(1, decision.reset_after_s))}
    return problem(
        429,
        "Too many requests",
        f"Rate limit of {decision.limit} exceeded; retry in {headers['Retry-After']} s",
        instance=request.url.path,
        headers=headers,
    )


def install(app: FastAPI, settings: Settings, routes: Sequence[Any]) -> None:
    """Create the app's limiter and the middleware that applies it to ``routes`` (the API
    routers' routes, as included: without a prefix of their own)."""
    limiter = Limiter(settings)
    app.state.limiter = limiter
    app.add_middleware(TierLimitMiddleware, limiter=limiter, limited=endpoint_limits(routes))


class TierLimitMiddleware:
    """Every ``/api/`` request against its caller's tier and, where the route declares one,
    its endpoint limit, in one decision; the answer carries the RateLimit-* headers of the
    tighter. Pure ASGI: no task per request, and a streamed answer passes through unbuffered."""

    def __init__(self, app: ASGIApp, limiter: Limiter, limited: list[Declared]) -> None:
        self.app = app
        self.limiter = limiter
        # By method, then the path's pattern: most requests (GETs) have one or two candidates,
        # and a pattern match costs a fraction of ``route.matches`` (which builds a child scope).
        self.limited: dict[str, list[tuple[re.Pattern[str], Declared]]] = {}
        for route, name in limited:
            for method in route.methods or ():
                self.limited.setdefault(method, []).append((route.path_regex, (route, name)))

    def _declared(self, scope: Scope) -> Declared | None:
        path = scope["path"]
        for pattern, declared in self.limited.get(scope["method"], ()):
            if pattern.match(path):
                return declared
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter
        if scope["type"] != "http" or not limiter.enabled or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        declared = self._declared(scope)
        writer = None
        if declared is not None and declared[1] is None:  # an account route
            body = await read_body(receive, AUTH_BODY_MAX)
            if body is None:
                await problem(413, "Payload too large", f"At most {AUTH_BODY_MAX} bytes")(
                    scope, receive, send
                )
                return
            receive = replay(body, receive)
            tier: Tier = "anonymous"
            limits = limiter.account_limits(scope, target_email(body))
        else:
            caller = limiter.caller(scope)
            tier = caller.tier
            limits = [(limiter.tier_item(tier), "tier", caller.key)]
            if declared is not None and declared[1] is not None:
                limits.append((limiter.endpoint_item(declared[1]), declared[1], caller.key))
            if caller.user_id is not None and limiter.writer_ms:
                writer = Writer(caller.user_id, writes=scope["method"] not in SAFE_METHODS)
        decision = await limiter.hit(limits, writer=writer)
        if decision.recent_writer:  # read-your-writes across instances (core/deps reads it)
            scope.setdefault("state", {})[RECENT_WRITER] = True
        if not decision.allowed:
            metrics.rate_limited(tier)
            await _too_many(Request(scope), decision)(scope, receive, send)
            return
        # Appended as raw pairs: no route sets RateLimit-* itself, so nothing needs replacing.
        added = [(name.lower().encode(), value.encode()) for name, value in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
