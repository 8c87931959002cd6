"""GET /metrics: the Prometheus scrape.

Behind a bearer token (``FTW_METRICS_TOKEN``; production refuses to serve metrics without
one): the series name routes, volumes and queue depths an attacker would like to watch.
Deployments also keep it off the public internet at the ingress (deploy/ routes only /api,
/docs and /media outside the cluster), and Prometheus sends the token.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from ftw.accounts.auth import Scraper
from ftw.core import metrics
from ftw.ops.overview import queue_stats

router = APIRouter(tags=["ops"])
log = structlog.get_logger(__name__)

SCRAPE_QUERY_TIMEOUT_S = 2.0


async def snapshot(request: Request) -> metrics.Snapshot:
    """Figures kept outside this process, read now; a failed read leaves its series out."""
    state = request.app.state
    gauges: dict[str, tuple[str, float]] = {}
    try:
        users = await state.active_users.count()
        gauges["ftw_active_users"] = ("Distinct signed-in users seen in the last 5 minutes", users)
    except Exception as exc:  # Redis down: the scrape still reports everything else
        log.warning("scrape_active_users_failed", error=f"{type(exc).__name__}: {exc}")
    try:
        async with asyncio.timeout(SCRAPE_QUERY_TIMEOUT_S), state.db.sessions() as session:
            queue = await queue_stats(session)
        gauges["ftw_queue_depth"] = ("Background tasks due and waiting for a worker", queue.depth)
        gauges["ftw_queue_oldest_task_age_seconds"] = (
            "Seconds the longest-waiting due task has waited",
            queue.oldest_age_s,
        )
    except Exception as exc:  # database down: readiness reports it; keep the scrape alive
        log.warning("scrape_queue_failed", error=f"{type(exc).__name__}: {exc}")
    return metrics.Snapshot(gauges)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def scrape(request: Request, _: Scraper) -> Response:
    """Every series in Prometheus's text format."""
    extra = await snapshot(request)
    # Reading every worker's files in multi-process mode is blocking I/O.
    body = await run_in_threadpool(metrics.exposition, extra)
    return Response(body, media_type=metrics.CONTENT_TYPE)
