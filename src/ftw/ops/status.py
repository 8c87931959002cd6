"""The public status page (/status): each part of the service up, degraded or down, from
the probes of /readyz and this instance's circuit breakers, with the notice an admin set.

Rendered from ``templates/status.html`` and kept for ``CACHE_S`` seconds, so a crowd
reloading it during an incident costs one set of probes per instance every few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ftw.accounts.auth import Anyone
from ftw.core.metrics import BreakerState
from ftw.core.switches import Board, Name
from ftw.ops import health

router = APIRouter(tags=["ops"])
log = structlog.get_logger(__name__)

CACHE_S = 5.0
Condition = Literal["up", "degraded", "down"]
# What users call each vendor, and the switch that pauses the feature it serves.
VENDORS: dict[str, tuple[str, Name | None]] = {
    "payments": ("Payments", None),
    "sms": ("Text messages", Name.SMS),
    "email": ("E-mail", Name.EMAIL),
    "llm": ("Refined estimates", Name.LLM_REFINEMENT),
    "storage": ("Photo uploads", Name.PHOTO_UPLOADS),
}
BREAKERS: dict[BreakerState, Condition] = {"closed": "up", "half_open": "degraded", "open": "down"}
_ORDER: tuple[Condition, ...] = ("up", "degraded", "down")
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


@dataclass(frozen=True)
class Component:
    name: str
    condition: Condition
    note: str = ""


@dataclass(frozen=True)
class Status:
    components: list[Component]
    maintenance: str | None
    incident: str | None
    checked_at: datetime

    @property
    def overall(self) -> Condition:
        return max((c.condition for c in self.components), key=_ORDER.index, default="up")


async def status(state: Any) -> Status:
    """Probe the database and Redis as /readyz does; read the breakers and the switches."""
    checks = await health.probes(state)
    components = [
        Component("Website and API", "down" if state.lifecycle.draining else "up"),
        Component("Database", "up" if checks["database"]["ok"] else "down"),
    ]
    if "redis" in checks:  # without Redis the app serves from PostgreSQL: slower, not down
        components.append(Component("Cache", "up" if checks["redis"]["ok"] else "degraded"))
    board: Board = state.switches
    try:
        await board.refresh(state.db)
    except Exception as exc:  # the database is down (shown above): keep the last copy
        log.warning("status_switches_failed", error=f"{type(exc).__name__}: {exc}")
    for vendor, (label, switch) in VENDORS.items():
        breaker = state.breakers.get(vendor)
        condition: Condition = BREAKERS[breaker.state] if breaker is not None else "up"
        note = ""
        if switch is not None and not board.state(switch).on:
            condition, note = max(condition, "degraded", key=_ORDER.index), "paused"
        components.append(Component(label, condition, note))
    maintenance, incident = board.state(Name.MAINTENANCE), board.state(Name.INCIDENT)
    return Status(
        components=components,
        maintenance=(maintenance.message or "Down for maintenance") if maintenance.on else None,
        incident=incident.message if incident.on else None,
        checked_at=datetime.now(UTC),
    )


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, _: Anyone) -> HTMLResponse:
    """The public status page: each component up, degraded or down, and the notice."""
    state = request.app.state
    cached: tuple[float, str] | None = getattr(state, "status_page", None)
    if cached is None or time.monotonic() - cached[0] >= CACHE_S:
        page = _templates.get_template("status.html").render(status=await status(state))
        cached = state.status_page = (time.monotonic(), page)
    return HTMLResponse(cached[1], headers={"Cache-Control": f"public, max-age={int(CACHE_S)}"})
