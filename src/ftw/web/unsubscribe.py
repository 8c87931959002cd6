"""Unsubscribing from notification e-mails by the signed link every one of them carries.

Opening the link asks for one click (anti-spam scanners open every link in a mail, so a
GET changes nothing, as RFC 8058 advises); the button, or the mail client's own one-click
POST (``List-Unsubscribe=One-Click``, no cookies, no CSRF token), turns them off.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ftw.accounts import service as accounts
from ftw.web.page import LinkPage

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Query(min_length=3, max_length=100)]


@router.get("/unsubscribe")
async def ask(page: LinkPage, token: Token) -> Response:
    async with page.reading() as s:
        user = await accounts.unsubscriber(session=s, settings=page.settings, token=token)
    return page.render("unsubscribe.html", token=token, email=user.email, done=not user.notify_email)


@router.post("/unsubscribe")
async def unsubscribe(page: LinkPage, token: Token) -> Response:
    async with page.writing(in_maintenance=True) as s:
        user = await accounts.unsubscribe(session=s, settings=page.settings, token=token)
    return page.render("unsubscribe.html", token=token, email=user.email, done=True)
