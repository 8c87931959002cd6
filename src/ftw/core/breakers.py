"""Circuit breakers: one per vendor, so a vendor that is down costs a fast error, not a
request stuck for the whole call timeout.

A breaker is closed while calls succeed. ``failures`` consecutive failures (an exception
or the call timeout) open it; while open every call fails at once with
:class:`BreakerOpen` and never reaches the vendor. After ``reset_timeout_s`` it turns
half-open: up to ``successes_to_close`` probe calls go through at a time; that many
successes close it, one failure opens it again.

State lives in the process (each instance learns on its own that a vendor is down, after
a handful of failed calls): no shared store to fail in its turn. The libraries looked at
(purgatory, aiobreaker) close on the first half-open success and have no call timeout,
see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from ftw.config import Breaker, Breakers
from ftw.core import metrics
from ftw.core.metrics import BreakerState

T = TypeVar("T")
log = structlog.get_logger(__name__)


def _never(_: Exception) -> bool:
    return False


class BreakerOpen(Exception):
    """The vendor is considered down; the call was not made. Treat it as an outage."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"The {name} circuit is open; retry in {retry_in_s:.0f} s")
        self.name = name
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """Guards the calls to one vendor (see the module docstring for the states)."""

    def __init__(self, name: str, policy: Breaker, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self._state: BreakerState = "closed"
        self._opened_mono = 0.0
        self._probes = 0  # half-open calls in flight
        self.consecutive_failures = 0
        self.half_open_successes = 0
        self.failures = 0
        self.successes = 0
        self.rejected = 0
        self.last_failure: str | None = None
        self.last_failure_at: datetime | None = None
        self.opened_at: datetime | None = None

    @property
    def state(self) -> BreakerState:
        """The state now: reading it turns an open breaker whose reset timeout passed half-open."""
        if self._state == "open" and self._clock() - self._opened_mono >= self.policy.reset_timeout_s:
            self._move("half_open")
        return self._state

    async def call(
        self, operation: Callable[[], Awaitable[T]], *, answered: Callable[[Exception], bool] = _never
    ) -> T:
        """Run ``operation`` under the breaker, cancelled after the call timeout.

        Exceptions for which ``answered`` is true (a declined card, a refused request) mean
        the vendor is up: they count as successes and propagate unchanged.
        """
        probe = self._admit()
        try:
            async with asyncio.timeout(self.policy.call_timeout_s):
                result = await operation()
        except Exception as exc:  # TimeoutError included
            if answered(exc):
                self._succeeded()
            else:
                self._failed(exc)
            raise
        finally:
            if probe:
                self._probes -= 1
        self._succeeded()
        return result

    def reset(self) -> None:
        """Close the breaker by hand (an operator knows the vendor is back)."""
        self.consecutive_failures = 0
        self._move("closed")

    def _admit(self) -> bool:
        """Let a call through or raise BreakerOpen; True when the call is a half-open probe."""
        state = self.state
        if state == "closed":
            return False
        if state == "half_open" and self._probes < self.policy.successes_to_close:
            self._probes += 1
            return True
        self.rejected += 1
        remaining = max(self.policy.reset_timeout_s - (self._clock() - self._opened_mono), 0.0)
        raise BreakerOpen(self.name, remaining)

    def _succeeded(self) -> None:
        self.successes += 1
        self.consecutive_failures = 0
        if self._state == "half_open":
            self.half_open_successes += 1
            if self.half_open_successes >= self.policy.successes_to_close:
                self._move("closed")

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_failure = f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
        self.last_failure_at = datetime.now(UTC)
        if self._state == "half_open" or (
            self._state == "closed" and self.consecutive_failures >= self.policy.failures
        ):
            self._move("open")

    def _move(self, state: BreakerState) -> None:
        if state == self._state:
            return
        self._state = state
        self.half_open_successes = 0
        if state == "open":
            self._opened_mono = self._clock()
            self.opened_at = datetime.now(UTC)
        elif state == "closed":
            self.opened_at = None
        metrics.breaker_changed(self.name, state)
        log.warning("breaker_changed", vendor=self.name, state=state, last_failure=self.last_failure)


class BreakerBoard(Mapping[str, CircuitBreaker]):
    """The breakers of one process, one per vendor of config.Breakers, by vendor name."""

    def __init__(self, policies: Breakers, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._breakers = {
            name: CircuitBreaker(name, getattr(policies, name), clock=clock) for name in Breakers.model_fields
        }

    def __getitem__(self, name: str) -> CircuitBreaker:
        return self._breakers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._breakers)

    def __len__(self) -> int:
        return len(self._breakers)
