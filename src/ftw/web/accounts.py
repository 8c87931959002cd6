"""Sign up, sign in and sign out, on the API's accounts service and its refresh tokens.

Password change and reset are pages over the accounts service's own functions for them
(issue 13); they are added once that service exists.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.accounts.schemas import Login, Signup
from ftw.core.errors import DomainError, Unauthorized
from ftw.core.switches import Name
from ftw.web.forms import FormInvalid, parse, refusal
from ftw.web.page import AnyPage, Page, home_of, local

router = APIRouter(include_in_schema=False)

ROLES = [
    ("homeowner", "I need work done (homeowner)"),
    ("contractor", "I do the work (contractor)"),
    ("operator", "I run a county (operator)"),
]


@router.get("/signup")
async def signup_form(page: AnyPage) -> Response:
    if page.viewer is not None:
        return page.redirect(home_of(page.viewer))
    return _signup_page(page, values={"role": "homeowner"})


def _signup_page(
    page: Page, *, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return page.render(
        "signup.html",
        status=status,
        roles=ROLES,
        values=values,
        errors=errors or {},
        password_min=page.settings.auth.password_min_length,
    )


@router.post("/signup")
async def signup(page: AnyPage) -> Response:
    values = {name: page.field(name).strip() for name in ("full_name", "email", "role", "zip", "phone")}
    values = {k: v for k, v in values.items() if v}
    try:
        await page.limit_account(values.get("email", "").lower() or None)
        data = parse(Signup, {**values, "password": page.field("password")})
        if data.role == "contractor" and not data.zip:
            raise FormInvalid({"zip": "Contractors need a ZIP code: it sets the county whose jobs you see"})
        async with page.writing(Name.SIGNUPS) as s:
            await accounts.signup(session=s, settings=page.settings, data=data)
    except FormInvalid as exc:
        return _signup_page(page, values=values, errors=exc.errors, status=422)
    except DomainError as exc:
        return _signup_page(page, values=values, errors=refusal(exc).errors, status=exc.status)
    # As the API answers: the same page whether the address was new or already had an account
    # (its owner is e-mailed instead), so sign-up reveals no account.
    return page.render("signed_up.html", status=202, values={"email": data.email, "next": ""})


@router.get("/signin")
async def signin_form(page: AnyPage, next: str = "") -> Response:
    if page.viewer is not None:
        return page.redirect(local(next, home_of(page.viewer)))
    return page.render("signin.html", values={"next": local(next, "")})


@router.post("/signin")
async def signin(page: AnyPage) -> Response:
    values = {"email": page.field("email").strip(), "next": local(page.field("next"), "")}
    try:
        await page.limit_account(values["email"].lower() or None)
        data = parse(Login, {"email": values["email"], "password": page.field("password")})
        async with page.writing(in_maintenance=True) as s:
            tokens = await accounts.login(
                session=s, settings=page.settings, email=data.email, password=data.password
            )
    except FormInvalid as exc:
        return page.render("signin.html", status=422, values=values, errors=exc.errors)
    except Unauthorized as exc:
        return page.render("signin.html", status=401, values=values, errors={"password": exc.detail})
    viewer = page.session.signed_in(page.settings, tokens)
    return page.redirect(local(values["next"], home_of(viewer)))


@router.post("/signout")
async def signout(page: AnyPage) -> Response:
    """Revoke this browser's refresh-token family, as the API's logout does, and forget the cookies."""
    if page.session.refresh_token is not None:
        try:
            async with page.writing(in_maintenance=True) as s:
                await accounts.logout(session=s, token=page.session.refresh_token, everywhere=False)
        except Unauthorized:
            pass  # already gone: the browser is signed out either way
    page.session.signed_out()
    return page.redirect("/")
