"""What every page handler gets: the viewer, the form token, templates and the database.

A handler declares ``page: AnyPage`` (or ``HomeownerPage``, ``ContractorPage``); the
dependency resolves the browser session and, for unsafe methods, refuses a request whose
CSRF token is missing or wrong with a 403 page before the handler runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Query, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ftw.accounts.models import Role
from ftw.config import Settings
from ftw.core import switches
from ftw.core.db import Database, ReadSession
from ftw.core.multipart import Form
from ftw.core.pagination import CURSOR_MAX_CHARS, PageParams
from ftw.core.principal import PRINCIPAL
from ftw.core.ratelimit import Endpoint, Limit, Limiter
from ftw.core.replicas import ReadKind
from ftw.core.security import AccessClaims
from ftw.web import session as browser
from ftw.web.assets import Assets

R = TypeVar("R", bound=Response)
Cursor = Annotated[str, Query(max_length=CURSOR_MAX_CHARS)]  # a list page's ?cursor= ('' the first)
TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def dollars(cents: int | None) -> str:
    return "" if cents is None else f"${cents / 100:,.2f}".replace(".00", "")


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%b %-d, %Y %H:%M UTC")


def templates(assets: Assets) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["asset"] = assets.url
    env.filters["dollars"] = dollars
    env.filters["when"] = when
    env.filters["label"] = label
    env.filters["sentence"] = lambda text: text[:1].upper() + text[1:]
    return env


ACRONYMS = {"llm": "LLM", "sms": "SMS", "crm": "CRM", "hvac": "HVAC"}


def label(value: object) -> str:
    """An enum value as words: ``llm_refinement`` -> "LLM refinement" (the rest lower case)."""
    return " ".join(ACRONYMS.get(word, word) for word in str(getattr(value, "value", value)).split("_"))


class SignInRequired(Exception):
    """The page needs a signed-in viewer; the answer is the sign-in page."""


class WrongRole(Exception):
    def __init__(self, role: Role) -> None:
        self.role = role


class CsrfRefused(Exception):
    pass


class TooMany(Exception):
    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s


class Page:
    """One page request: render templates, redirect, and open database sessions."""

    def __init__(self, request: Request, session: browser.Session, form: FormData | None) -> None:
        self.request = request
        self.session = session
        self.form = form
        self.settings: Settings = request.app.state.settings
        self.db: Database = request.app.state.db
        self.env: Environment = request.app.state.templates
        self.banner: str | None = None  # maintenance or incident notice, shown on every page

    @property
    def viewer(self) -> AccessClaims | None:
        return self.session.viewer

    @property
    def user(self) -> AccessClaims:
        assert self.session.viewer is not None, "a role page has a viewer"
        return self.session.viewer

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def rows(self, cursor: str | None = None, limit: int | None = None) -> PageParams:
        """A page of a list: after ``cursor`` ('' or None: the first), ``limit`` rows or the
        default page size."""
        return PageParams(cursor or None, limit or self.settings.jobs.page_size_default)

    def more(self, next_cursor: str | None, param: str = "cursor") -> str | None:
        """This page's address continued at ``next_cursor`` (as its ``param``, for a page
        holding two lists); None at the end of the list."""
        if not next_cursor:
            return None
        return str(self.request.url.include_query_params(**{param: next_cursor}))

    def field(self, name: str) -> str:
        """A text field of the posted form ('' when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            {"errors": {}, "values": {}, **context},
            viewer=self.viewer,
            csrf=self.session.csrf,
            path=self.request.url.path,
            banner=self.banner,
        )
        return self.respond(HTMLResponse(html, status_code=status, headers=PAGE_HEADERS))

    def redirect(self, url: str) -> Response:
        """See other: after a POST the browser GETs ``url``; htmx is told to follow it too."""
        if self.is_htmx:
            return self.respond(Response(status_code=204, headers={"HX-Redirect": url}))
        return self.respond(RedirectResponse(url, status_code=303))

    def respond(self, response: R) -> R:
        self.session.cookies.apply(response)
        return response

    async def limit(self, *, tier: bool = True, endpoint: Endpoint | None = None) -> None:
        """Count this request against the caller's tier and ``endpoint``'s limit, in the API's
        own windows: a browser is no way around them. Every form post counts on its tier."""
        limiter: Limiter = self.request.app.state.limiter
        if not limiter.enabled:
            return
        caller = limiter.caller(self.request.scope)
        limits = [(limiter.tier_item(caller.tier), "tier", caller.key)] if tier else []
        if endpoint is not None:
            limits.append((limiter.endpoint_item(endpoint), endpoint, caller.key))
        await self._hit(limiter, limits)

    async def limit_account(self, email: str | None) -> None:
        """An account form (sign-in, sign-up) counts as the API's account routes do: by the
        client's address and the e-mail it names, in the same windows."""
        limiter: Limiter = self.request.app.state.limiter
        if limiter.enabled:
            await self._hit(limiter, limiter.account_limits(self.request.scope, email))

    @staticmethod
    async def _hit(limiter: Limiter, limits: list[Limit]) -> None:
        decision = await limiter.hit(limits)
        if not decision.allowed:
            raise TooMany(max(1, decision.reset_after_s))

    async def upload(self, *, max_files: int, too_many_files: str) -> Form:
        """The form of an upload page, its text fields read up to its first file (forms send
        the CSRF token first) into ``self.form``: the token is checked and the post counted as
        any form's before a file is stored; its files then come one by one from the result."""
        form = Form.upload(self.request, self.settings, max_files=max_files, too_many_files=too_many_files)
        try:
            await form.fields()
        finally:
            self.form = FormData(form.text)  # what was typed, for a refusal to show again
        if browser.check_csrf(self.request, self.form, self.session.csrf) != "ok":
            raise CsrfRefused
        await self.limit()
        return form

    @asynccontextmanager
    async def writing(
        self, feature: switches.Name | None = None, *, in_maintenance: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A unit of work, committed at the end of the block; the viewer then reads its writes.

        Refused (503) as the API's write session is: in maintenance mode unless
        ``in_maintenance`` (signing in and out), and while ``feature`` is switched off.
        """
        board = switches.board(self.request)
        if not in_maintenance:
            await board.refuse_writes(self.db)
        if feature is not None:
            await board.require(self.db, feature)
        async with self.db.session() as s:
            yield s
        if self.viewer is not None:
            self.db.wrote(self.viewer.user_id)

    def reading(self, kind: ReadKind = ReadKind.OWN) -> AbstractAsyncContextManager[ReadSession]:
        """A read-only session (``BROWSE`` may use a replica)."""
        user_id = self.viewer.user_id if self.viewer is not None else None
        return self.db.read_session(kind, user_id=user_id)


async def _open(request: Request, *, read_form: bool, csrf: bool = True) -> Page:
    state = request.app.state
    session = await browser.resolve(request, state.settings, state.db)
    request.state.web_session = session  # for the error pages, which must send its cookies too
    request.scope["state"][PRINCIPAL] = session.viewer  # the caller, as the API resolves it
    form = None
    if read_form and request.method not in browser.SAFE_METHODS:
        # No files: the one form that takes them streams them (``Page.upload``).
        form = await request.form(max_files=0, max_fields=state.settings.requests.form_fields)
        if csrf and browser.check_csrf(request, form, session.csrf) != "ok":
            raise CsrfRefused
    page = Page(request, session, form)
    page.banner = await switches.banner(request)
    if form is not None:
        await page.limit()
    return page


async def _page(request: Request) -> Page:
    return await _open(request, read_form=True)


async def _link_page(request: Request) -> Page:
    """A page whose form posts are authorised by a signed token in their address."""
    return await _open(request, read_form=True, csrf=False)


async def _upload_page(request: Request) -> Page:
    """A page whose form carries files: its body is left unread for ``Page.upload``."""
    return await _open(request, read_form=False)


def _role(
    *roles: Role, opened: Callable[[Request], Coroutine[Any, Any, Page]] = _page
) -> Callable[[Page], Coroutine[Any, Any, Page]]:
    # A default, not ``Annotated``: annotations are strings here, and ``opened`` is no global.
    async def dependency(page: Page = Depends(opened)) -> Page:
        if page.viewer is None:
            raise SignInRequired
        if page.viewer.role not in roles:
            raise WrongRole(roles[0])
        return page

    return dependency


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/signin?next={quote(target, safe='')}"


def local(target: str | None, fallback: str) -> str:
    """``target`` when it is a path on this site, else ``fallback`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return fallback


def home_of(viewer: AccessClaims) -> str:
    homes = {
        Role.HOMEOWNER: "/dashboard",
        Role.CONTRACTOR: "/board",
        Role.OPERATOR: "/territory",
        Role.ADMIN: "/admin",
    }
    return homes.get(Role(viewer.role), "/")


AnyPage = Annotated[Page, Depends(_page)]
SignedInPage = Annotated[Page, Depends(_role(*Role))]
# A page whose form posts are authorised by a signed token in their address, not by the
# session: no CSRF token is asked, since a mail client posts them (RFC 8058 one-click).
LinkPage = Annotated[Page, Depends(_link_page)]
HomeownerPage = Annotated[Page, Depends(_role(Role.HOMEOWNER))]
HomeownerUploadPage = Annotated[Page, Depends(_role(Role.HOMEOWNER, opened=_upload_page))]
ContractorPage = Annotated[Page, Depends(_role(Role.CONTRACTOR))]
OperatorPage = Annotated[Page, Depends(_role(Role.OPERATOR))]
EarnerPage = Annotated[Page, Depends(_role(Role.CONTRACTOR, Role.OPERATOR))]  # has a balance
PartyPage = Annotated[Page, Depends(_role(Role.HOMEOWNER, Role.CONTRACTOR))]  # of an invoice
AdminPage = Annotated[Page, Depends(_role(Role.ADMIN))]
