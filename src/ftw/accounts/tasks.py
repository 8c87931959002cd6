"""Background work of accounts: sending their e-mails.

Tokens are made here, just before the e-mail that carries them, so a raw token is never
stored anywhere (the queue holds only who and what). A send that fails rolls back its token
and the queue retries the task.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ftw.accounts import mail
from ftw.accounts.models import TokenPurpose, User
from ftw.accounts.service import issue_account_token, issue_phone_code
from ftw.integrations.context import Handler, TaskContext


async def send_mail(context: TaskContext, payload: dict[str, Any]) -> None:
    """``accounts.mail``: one account e-mail of ``payload["kind"]``."""
    auth, url = context.settings.auth, context.settings.public_url.rstrip("/")
    async with context.db.session() as session:
        if "email" in payload:
            condition = User.email == str(payload["email"])
        else:
            condition = User.id == int(payload["user_id"])
        user = await session.scalar(select(User).where(condition, User.is_active.is_(True)))
        if user is None:  # a reset asked for an address without an account: nothing to send
            return
        kind = payload["kind"]
        if kind == "signup_existing":
            subject, body = mail.signup_existing(url)
        elif kind == "email_confirm":
            if user.email_verified_at is not None:
                return
            token = await issue_account_token(
                session=session, auth=auth, user_id=user.id, purpose=TokenPurpose.EMAIL_CONFIRM
            )
            subject, body = mail.email_confirm(url, token, auth.email_confirm_hours)
        else:
            token = await issue_account_token(
                session=session, auth=auth, user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET
            )
            subject, body = mail.password_reset(url, token, auth.password_reset_minutes)
        await context.integrations.email.send(to=user.email, subject=subject, body=body)


async def send_phone_code(context: TaskContext, payload: dict[str, Any]) -> None:
    """``accounts.phone_code``: text a verification code to the number it was asked for
    (if the user still has that number): the one text an unverified number gets."""
    auth = context.settings.auth
    async with context.db.session() as session:
        user = await session.scalar(
            select(User).where(User.id == int(payload["user_id"]), User.is_active.is_(True))
        )
        if user is None or user.phone != payload["phone"] or user.sms_opted_out_at is not None:
            return
        code = await issue_phone_code(session=session, auth=auth, user_id=user.id)
        await context.integrations.sms.send(
            to=str(payload["phone"]), body=mail.phone_code(code, auth.phone_code_minutes)
        )


TASKS: dict[str, Handler] = {mail.MAIL_TASK: send_mail, mail.PHONE_CODE_TASK: send_phone_code}
SCHEDULES: list[tuple[str, str]] = []
