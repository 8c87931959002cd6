"""Sign up, sign in and out, change and reset the password: pages over the API's accounts
service and its refresh tokens.

A password change or reset signs every session out (the service revokes every refresh
family); the browser that changed it is signed in again with the new password, as a person
expects, and the reset page sends its person to sign in.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.accounts.schemas import (
    EmailConfirmation,
    Login,
    PasswordChange,
    PasswordForgotten,
    PasswordReset,
    ProfileUpdate,
    Signup,
)
from ftw.core.errors import DomainError, Unauthorized
from ftw.core.switches import Name
from ftw.web.forms import FormInvalid, parse, refusal
from ftw.web.page import AnyPage, Page, SignedInPage, home_of, local

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


DONE = {
    "password": "Your password is changed.",
    "notifications": "Your notification choices are saved.",
}


@router.get("/account")
async def account(page: SignedInPage, done: str = "") -> Response:
    return await _account_page(page, notice=DONE.get(done, ""))


async def _account_page(
    page: Page, *, errors: dict[str, str] | None = None, status: int = 200, notice: str = ""
) -> Response:
    async with page.reading() as s:
        me = await accounts.profile(session=s, user_id=page.user.user_id)
    return page.render(
        "account.html",
        status=status,
        me=me,
        errors=errors or {},
        notice=notice,
        password_min=page.settings.auth.password_min_length,
    )


@router.post("/account/password")
async def change_password(page: SignedInPage) -> Response:
    """The current password, then the new one; every other session of the account ends."""
    rename = {"current_password": "current", "new_password": "new"}
    try:
        await page.limit_account(None)
        data = parse(
            PasswordChange,
            {"current_password": page.field("current"), "new_password": page.field("new")},
            rename=rename,
        )
        async with page.writing() as s:
            await accounts.change_password(
                session=s, settings=page.settings, user_id=page.user.user_id,
                current_password=data.current_password, new_password=data.new_password,
            )  # fmt: skip
            email = (await accounts.get(session=s, user_id=page.user.user_id)).email
            tokens = await accounts.login(
                session=s, settings=page.settings, email=email, password=data.new_password
            )
    except FormInvalid as exc:
        return await _account_page(page, errors=exc.errors, status=422)
    except DomainError as exc:
        return await _account_page(page, errors=refusal(exc, rename=rename).errors, status=exc.status)
    page.session.signed_in(page.settings, tokens)
    return page.redirect("/account?done=password")


@router.post("/account/notifications")
async def notifications(page: SignedInPage) -> Response:
    """Notification e-mails and texts on or off (a box left unticked is not sent); account
    e-mails (confirmations, resets) go whatever is chosen here."""
    ticked = {name: page.field(name) == "on" for name in ("notify_email", "notify_sms")}
    data = ProfileUpdate(**ticked)
    async with page.writing() as s:
        await accounts.update_profile(session=s, user_id=page.user.user_id, data=data)
    return page.redirect("/account?done=notifications")


@router.get("/forgot-password")
async def forgot_form(page: AnyPage) -> Response:
    return page.render("forgot.html", values={}, sent=False)


@router.post("/forgot-password")
async def forgot(page: AnyPage) -> Response:
    """E-mail a single-use reset link (by the mail task, through the e-mail adapter). The
    answer is the same whether the address has an account or not, as the API's."""
    values = {"email": page.field("email").strip()}
    try:
        await page.limit_account(values["email"].lower() or None)
        data = parse(PasswordForgotten, values)
        async with page.writing() as s:
            await accounts.request_password_reset(session=s, email=data.email)
    except FormInvalid as exc:
        return page.render("forgot.html", status=422, values=values, errors=exc.errors, sent=False)
    return page.render("forgot.html", status=202, values=values, sent=True)


@router.get("/reset-password")
async def reset_form(page: AnyPage, token: str = "") -> Response:
    """Where the e-mailed link lands: the new password form (the token is spent on submit)."""
    return _reset_page(page, token=token[:200])


def _reset_page(
    page: Page, *, token: str, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return page.render(
        "reset.html",
        status=status,
        token=token,
        errors=errors or {},
        password_min=page.settings.auth.password_min_length,
    )


@router.post("/reset-password")
async def reset(page: AnyPage) -> Response:
    token = page.field("token")[:200]
    rename = {"new_password": "new", "token": "form"}
    try:
        await page.limit_account(None)
        data = parse(PasswordReset, {"token": token, "new_password": page.field("new")}, rename=rename)
        async with page.writing() as s:
            await accounts.reset_password(
                session=s, settings=page.settings, token=data.token, new_password=data.new_password
            )
    except FormInvalid as exc:
        if "form" in exc.errors:  # a link cut short reads as any other bad link
            exc.errors["form"] = "This link is invalid or has expired"
        return _reset_page(page, token=token, errors=exc.errors, status=422)
    except DomainError as exc:
        return _reset_page(page, token=token, errors=refusal(exc, rename=rename).errors, status=exc.status)
    page.session.signed_out()  # every session of the account has just ended, this one too
    return page.render(
        "signin.html", values={"next": ""}, notice="Your password is changed: sign in with it."
    )


@router.get("/confirm-email")
async def confirm_form(page: AnyPage, token: str = "") -> Response:
    """Where the sign-up e-mail's link lands: one button confirms (a GET changes nothing,
    since mail scanners open every link)."""
    return page.render("confirm.html", token=token[:200], errors={}, confirmed=False)


@router.post("/confirm-email")
async def confirm(page: AnyPage) -> Response:
    token = page.field("token")[:200]
    try:
        await page.limit_account(None)
        data = parse(EmailConfirmation, {"token": token}, rename={"token": "form"})
        async with page.writing() as s:
            await accounts.confirm_email(session=s, token=data.token)
    except FormInvalid:
        return _unconfirmed(page, token, status=422)
    except DomainError as exc:
        return _unconfirmed(page, token, status=exc.status)
    return page.render("confirm.html", errors={}, confirmed=True)


def _unconfirmed(page: Page, token: str, *, status: int) -> Response:
    errors = {"form": "This link is invalid, used or has expired"}
    return page.render("confirm.html", status=status, token=token, errors=errors, confirmed=False)
