"""Browser sessions: the API's refresh-token family in HttpOnly cookies, and CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.requests import Request
from starlette.responses import Response

from ftw.config import Settings
from ftw.core.db import Database
from ftw.core.security import issue_access_token
from ftw.web.session import resolve
from tests.conftest import PASSWORD, outlive_refresh_grace
from tests.web.conftest import Browser


def _cookie_flags(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value.lower()
    raise AssertionError(f"{name} not set")


async def test_sign_up_then_sign_in_sets_http_only_lax_cookies(browser: Browser) -> None:
    await browser.get("/")
    answer = await browser.post(
        "/signup",
        {"full_name": "Ada Owner", "email": "ada@example.com", "password": PASSWORD, "role": "homeowner"},
    )
    assert answer.status_code == 202
    assert "Check your e-mail" in answer.text
    assert "ftw_access" not in browser.client.cookies
    signed_in = await browser.post("/signin", {"email": "ada@example.com", "password": PASSWORD})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/dashboard"
    for name in ("ftw_access", "ftw_refresh"):
        flags = _cookie_flags(signed_in, name)
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # not production
    dashboard = await browser.get("/dashboard")
    assert dashboard.status_code == 200
    assert "My jobs" in dashboard.text


async def test_cookies_are_secure_in_production(database: Database) -> None:
    production = Settings(environment="production", auth={"secret_key": "k" * 40})
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    session = await resolve(Request(scope), production, database)
    response = Response()
    session.cookies.apply(response)
    assert "secure" in response.headers["set-cookie"].lower()


async def test_sign_in_errors_stay_next_to_the_field_and_keep_the_email(browser: Browser) -> None:
    email = await browser.sign_up()
    await browser.post("/signout")
    wrong = await browser.post("/signin", {"email": email, "password": "not the password"})
    assert wrong.status_code == 401
    assert 'id="e-password">Invalid e-mail or password' in wrong.text
    assert f'value="{email}"' in wrong.text
    assert PASSWORD not in wrong.text
    bad = await browser.post("/signin", {"email": "not-an-address", "password": "x"})
    assert bad.status_code == 422
    assert 'id="e-email">Enter an e-mail address like name@example.com' in bad.text
    right = await browser.post("/signin", {"email": email, "password": PASSWORD, "next": "/jobs/new"})
    assert right.status_code == 303
    assert right.headers["location"] == "/jobs/new"


async def test_sign_in_never_redirects_off_site(browser: Browser) -> None:
    email = await browser.sign_up()
    await browser.post("/signout")
    answer = await browser.post("/signin", {"email": email, "password": PASSWORD, "next": "//evil.example/x"})
    assert answer.headers["location"] == "/dashboard"


async def test_sign_up_refusals_keep_what_was_typed(browser: Browser, settings: Settings) -> None:
    email = await browser.sign_up()
    await browser.post("/signout")
    form = {
        "full_name": "Bo Builder",
        "email": email,
        "password": PASSWORD,
        "role": "contractor",
        "zip": "1000",
    }
    answer = await browser.post("/signup", form)
    assert answer.status_code == 422
    assert 'id="e-zip">Enter a 5-digit ZIP code' in answer.text
    assert 'value="Bo Builder"' in answer.text
    taken = await browser.post("/signup", {**form, "zip": "10001"})
    fresh = await browser.post("/signup", {**form, "zip": "10001", "email": "fresh@example.com"})
    assert taken.status_code == fresh.status_code == 202, "sign-up reveals no account, as the API"
    assert taken.text.replace(email, "X") == fresh.text.replace("fresh@example.com", "X")
    short = await browser.post(
        "/signup", {**form, "email": "new@example.com", "zip": "10001", "password": "short"}
    )
    minimum = settings.auth.password_min_length
    assert f'id="e-password">Password must be at least {minimum} characters' in short.text
    no_zip = await browser.post("/signup", {**form, "email": "new@example.com", "zip": ""})
    assert "Contractors need a ZIP code" in no_zip.text


async def test_an_expired_access_cookie_is_renewed_from_the_refresh_family(browser: Browser) -> None:
    await browser.sign_up()
    old_refresh = browser.client.cookies["ftw_refresh"]
    browser.client.cookies.delete("ftw_access")
    answer = await browser.get("/dashboard")
    assert answer.status_code == 200
    assert browser.client.cookies["ftw_refresh"] != old_refresh


async def test_two_requests_that_both_refresh_keep_the_browser_signed_in(browser: Browser) -> None:
    """Two page requests that both found the access cookie expired present the same refresh
    cookie; the second, within the grace window, is signed in too (docs/web.md)."""
    await browser.sign_up()
    presented = browser.client.cookies["ftw_refresh"]
    answers = []
    for _ in range(2):
        browser.client.cookies.set("ftw_refresh", presented)
        browser.client.cookies.delete("ftw_access")
        answers.append(await browser.get("/dashboard"))
    assert [a.status_code for a in answers] == [200, 200]
    browser.client.cookies.delete("ftw_access")
    assert (await browser.get("/dashboard")).status_code == 200, "the family is still alive"


async def test_a_replayed_refresh_cookie_revokes_the_family(
    browser_factory: Callable[[], Browser], database: Database, settings: Settings
) -> None:
    owner, thief = browser_factory(), browser_factory()
    await owner.sign_up()
    stolen = owner.client.cookies["ftw_refresh"]
    owner.client.cookies.delete("ftw_access")
    assert (await owner.get("/dashboard")).status_code == 200  # rotated: `stolen` is spent
    await outlive_refresh_grace(database, settings)
    thief.client.cookies.set("ftw_refresh", stolen)
    replay = await thief.get("/dashboard")
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/signin")
    owner.client.cookies.delete("ftw_access")
    after = await owner.get("/dashboard")
    assert after.status_code == 303, "the whole family is revoked, the owner's newer token too"


async def test_sign_out_revokes_the_refresh_token_for_the_api_too(
    browser: Browser, client: httpx.AsyncClient
) -> None:
    await browser.sign_up()
    token = browser.client.cookies["ftw_refresh"]
    answer = await browser.post("/signout")
    assert answer.status_code == 303
    assert "ftw_refresh" not in browser.client.cookies
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert refused.status_code == 401
    assert (await browser.get("/dashboard")).status_code == 303


async def test_a_tampered_or_forged_cookie_signs_nobody_in(
    browser_factory: Callable[[], Browser],
    settings: Settings,
) -> None:
    owner = browser_factory()
    await owner.sign_up()
    access = owner.client.cookies["ftw_access"]
    refresh = owner.client.cookies["ftw_refresh"]
    head, payload, signature = access.split(".")
    forged_signature = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    other_key = Settings(auth={"secret_key": "x" * 40})
    forged, _ = issue_access_token(other_key.auth, user_id=1, role="admin", pro=False)
    for cookies in (
        {"ftw_access": f"{head}.{payload}.{forged_signature}", "ftw_refresh": refresh[:-1] + "x"},
        {"ftw_access": forged, "ftw_refresh": "made-up-refresh-token-value"},
        {"ftw_access": access},  # an access token without its refresh family
    ):
        stranger = browser_factory()
        for name, value in cookies.items():
            stranger.client.cookies.set(name, value)
        answer = await stranger.get("/dashboard")
        assert answer.status_code == 303, cookies
        assert answer.headers["location"].startswith("/signin")
        landing = await stranger.get("/")
        assert "Sign out" not in landing.text


async def test_forms_without_or_with_a_wrong_csrf_token_are_refused(browser: Browser) -> None:
    await browser.sign_up()
    job = {"title": "Paint the fence", "description": "Forty feet of picket fence needs two coats of paint."}
    job |= {"trade": "painting", "zip": "10001", "urgency": "normal"}
    missing = await browser.client.post("/jobs/new", data=job)
    assert missing.status_code == 403
    assert "This form has expired" in missing.text
    wrong = await browser.client.post("/jobs/new", data={**job, "csrf_token": "guess"})
    assert wrong.status_code == 403
    via_header = await browser.client.post("/jobs/new", data=job, headers={"X-CSRF-Token": browser.csrf})
    assert via_header.status_code == 303
    dashboard = await browser.get("/dashboard")
    assert dashboard.text.count("Paint the fence") == 1, "the refused posts wrote nothing"


async def test_sign_out_and_sign_in_need_the_token_too(browser: Browser) -> None:
    email = await browser.sign_up()
    assert (await browser.client.post("/signout")).status_code == 403
    assert (await browser.get("/dashboard")).status_code == 200
    await browser.post("/signout")
    assert (
        await browser.client.post("/signin", data={"email": email, "password": PASSWORD})
    ).status_code == 403
