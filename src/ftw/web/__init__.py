"""The marketplace in a browser: server-rendered pages on the same services as the API.

``install`` makes the pages, a sub-application of their own, what the app's router falls
back to when no API route matches (routes added later still come first): the API's
requests never pass through the pages' machinery (compression, error pages, sessions from
cookies), and a path under ``/api/`` never reaches the pages, so the API keeps its
problem+json 404s and 405s.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftw.core.errors import DomainError, NotFound
from ftw.web import (
    accounts,
    admin,
    contractor,
    crm,
    homeowner,
    invoices,
    messages,
    offline,
    operator,
    payouts,
    public,
    unsubscribe,
)
from ftw.web import session as browser
from ftw.web.assets import Assets
from ftw.web.page import (
    PAGE_HEADERS,
    CsrfRefused,
    SignInRequired,
    TooMany,
    WrongRole,
    sign_in_url,
    templates,
)

log = structlog.get_logger(__name__)
API_PREFIXES = ("/api/",)


class Fallback:
    """The router's answer when no route matched: the pages, except under ``/api/``."""

    def __init__(self, pages: ASGIApp, api: ASGIApp) -> None:
        self.pages = pages
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(API_PREFIXES):
            await self.pages(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """A page for a refusal or a failure, with the cookies the session had to change."""
    session: browser.Session | None = getattr(request.state, "web_session", None)
    html = request.app.state.templates.get_template("error.html").render(
        viewer=session.viewer if session else None,
        csrf=session.csrf if session else "",
        path=request.url.path,
        status=status,
        title=title,
        detail=detail,
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    if session is not None:
        session.cookies.apply(response)
    return response


class ErrorPages:
    """An unexpected error becomes the 500 page (logged), not a bare text answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("page_error", path=scope.get("path"))
            if started or scope["type"] != "http":
                raise
            response = error_page(
                Request(scope), 500, "Something went wrong", "We could not show this page. Try again shortly."
            )
            await response(scope, receive, send)


def _handlers(web: FastAPI) -> None:
    @web.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: CsrfRefused) -> Response:
        return error_page(
            request, 403, "This form has expired", "Go back, reload the page and send the form again."
        )

    @web.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        url = sign_in_url(request)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": url})
        return Response(status_code=303, headers={"Location": url})

    @web.exception_handler(TooMany)
    async def too_many(request: Request, exc: TooMany) -> Response:
        response = error_page(
            request, 429, "Too many requests", f"Wait {exc.retry_after_s} seconds, then try again."
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @web.exception_handler(WrongRole)
    async def wrong_role(request: Request, exc: WrongRole) -> Response:
        return error_page(request, 403, "Not for this account", f"This page is for {exc.role.value}s.")

    @web.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> Response:
        title = "Page not found" if isinstance(exc, NotFound) else exc.title
        return error_page(request, exc.status, title, exc.detail)

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(request, 404, "Page not found", "There is no page at this address.")
        return error_page(request, exc.status_code, "Not possible", str(exc.detail))

    @web.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 404, "Page not found", "There is no page at this address.")


# The role modules first: /jobs/new must match before /jobs/{job_id} (and /invoices/new
# before /invoices/{invoice_id}, within invoices).
PAGES = (
    accounts, homeowner, contractor, invoices, payouts, crm, operator, admin,
    messages, offline, unsubscribe, public,
)  # fmt: skip


def install(app: FastAPI) -> None:
    """Serve the static files at ``/static`` and the pages wherever the API has no route."""
    assets = Assets()
    web = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    web.state = app.state  # the pages' requests see the app's database, settings and cache
    app.state.assets = assets
    app.state.templates = templates(assets)
    for module in PAGES:
        web.include_router(module.router)
    _handlers(web)
    web.add_middleware(ErrorPages)
    web.add_middleware(GZipMiddleware, minimum_size=500)
    app.router.routes.append(assets.route())
    app.router.default = Fallback(web, app.router.default)
