"""create_app(): routers, middleware, lifespan and the process's hooks; nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.routing import BaseRoute

from ftw import hooks
from ftw.accounts.auth import document_bearer
from ftw.accounts.routes import router as accounts_router
from ftw.analytics.routes import router as analytics_router
from ftw.analytics.views import Views
from ftw.bids.routes import router as bids_router
from ftw.billing.routes import router as billing_router
from ftw.config import Settings, get_settings
from ftw.core import cache, errors, introspection, observability, ratelimit, switches
from ftw.core.db import Database
from ftw.core.deps import ReadSessions
from ftw.core.edge import EdgeMiddleware
from ftw.core.embedded import start_embedded
from ftw.core.logging import configure
from ftw.core.principal import PrincipalMiddleware
from ftw.crm.routes import router as crm_router
from ftw.integrations import Integrations, build
from ftw.jobs.routes import PHOTOS_PATH
from ftw.jobs.routes import router as jobs_router
from ftw.messaging import stream
from ftw.messaging.routes import router as messaging_router
from ftw.ops import health
from ftw.ops.admin import router as admin_router
from ftw.ops.dashboard import router as dashboard_router
from ftw.ops.health import router as health_router
from ftw.ops.scrape import router as metrics_router
from ftw.ops.status import router as status_router
from ftw.reviews.routes import router as reviews_router
from ftw.scoping.routes import router as scoping_router
from ftw.territories.routes import router as territories_router
from ftw.web import install as install_web
from ftw.web.homeowner import WEB_JOB_FORM

DESCRIPTION = "Home-services marketplace: homeowners post jobs, contractors bid, operators run counties."
# Starlette tries routes in order, each a regex and FastAPI's scope lookups: a request pays
# for every route ahead of its own. After the probes (two routes, polled by every load
# balancer) come the launch mix's reads (`HOT_READS`), then the busiest routers (jobs 31 %,
# messaging 24 %, billing 15 %, accounts 10 % of its requests). No route shadows another's
# path, so the order changes nothing else (tests/test_app.py). The routes go into the app's
# router flat: FastAPI 0.137+ keeps an included router as one node that matches its routes
# twice per request (to find the router, then the route), a tenth of a hot read's CPU; an
# inclusion that adds no prefix, dependency or response class has nothing else to give.
ROUTERS = (
    health_router,
    jobs_router,
    messaging_router,
    billing_router,
    accounts_router,
    bids_router,
    crm_router,
    analytics_router,
    territories_router,
    reviews_router,
    scoping_router,
    admin_router,
    metrics_router,
    dashboard_router,
    status_router,
)


# The launch mix's reads, busiest first (loadtest/mix.py; 88 % of its requests). In
# ROUTERS' order `GET /me` was the 46th route tried and routing 2.4 % of a worker's CPU.
HOT_READS = (
    "/api/v1/jobs",  # browse, search and the caller's own: 28 %
    "/api/v1/threads",
    "/api/v1/me",
    "/api/v1/notifications",
    "/api/v1/invoices",
    "/api/v1/jobs/{job_id}/bids",
    "/api/v1/balance",
    "/api/v1/jobs/{job_id}",
    "/api/v1/analytics/contractor",
    "/api/v1/crm/customers",
    "/api/v1/payouts",
    "/api/v1/jobs/{job_id}/messages",
)


# FastAPI's native OpenTelemetry asks, on every request, whether a provider is configured;
# none is (our metrics are Prometheus's, our traces Sentry's errors), so it is off outright.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def route_table() -> list[BaseRoute]:
    """Every route of ROUTERS, flat: the probes, the launch mix's reads, then the rest in
    ROUTERS' order."""
    routes = [route for router in ROUTERS for route in router.routes]
    rank = {path: i for i, path in enumerate(HOT_READS)}

    def place(route: BaseRoute) -> int:
        if route in health_router.routes:
            return -1
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
            return rank.get(route.path, len(HOT_READS))
        return len(HOT_READS)

    return sorted(routes, key=place)  # stable: the rest keep ROUTERS' order


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    integrations: Integrations | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure(json=settings.log_json, level=settings.log_level)
    hooks.install()
    introspection.install()
    media = settings.media_path
    media.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            observability.running(app),
            health.drain_on_signal(app),
            aclosing(app.state.cache),
            aclosing(app.state.limiter),
        ):
            db = database or Database.connect(
                settings.database_url or start_embedded(settings.data_dir), settings
            )
            app.state.db = db
            await app.state.limiter.warm()
            async with (
                stream.running(app.state.notifications, settings.streams.listen_url or db.url),
                app.state.views.running(db),
            ):
                yield
            if database is None:
                await db.dispose()

    docs = settings.docs_served
    app = FastAPI(
        title="FairTradeWorker API",
        version="0.1.0",
        lifespan=lifespan,
        description=DESCRIPTION,
        summary="FairTradeWorker marketplace API",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    if database is not None:
        app.state.db = database
    app.state.integrations = integrations or build(settings)
    app.state.storage = app.state.integrations.storage
    app.state.breakers = app.state.integrations.breakers
    app.state.views = Views()
    app.state.switches = switches.Board(
        ttl_s=settings.switches.ttl_s, retry_after_s=settings.switches.retry_after_s
    )
    app.state.notifications = stream.Hub(settings.streams, page_size=settings.jobs.page_size_max)
    errors.install(app)
    # Innermost: closes the request's read sessions (core/deps.py) once it is answered.
    app.add_middleware(ReadSessions)
    # 429s and cache bumps still pass through metrics and request ids.
    cache.install(app, settings)
    routes = route_table()
    ratelimit.install(app, settings, routes)
    # Outside the limiter, which counts signed-in callers by the user it resolves.
    app.add_middleware(PrincipalMiddleware, auth=settings.auth)
    health.install(app, settings)
    # Added before the edge (request id, body bounds, headers), so it runs inside it and its
    # log lines carry the id.
    observability.install(app, settings)
    app.add_middleware(
        EdgeMiddleware,
        json_body_bytes=settings.requests.json_body_bytes,
        upload_body_bytes=settings.upload_body_bytes,
        upload_paths=[PHOTOS_PATH, WEB_JOB_FORM],
        hsts=settings.environment == "production",
    )

    app.router.routes[:0] = routes  # flat, hot reads first (see above), before FastAPI's docs
    document_bearer(app, routes)
    app.mount("/media", StaticFiles(directory=media), name="media")
    install_web(app)  # the pages take every path the API does not
    return app
