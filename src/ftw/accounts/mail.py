"""The e-mails accounts send: confirmation and reset links, and the notice to an address
that someone tried to sign up with again. Queued by the service in the request's
transaction, sent by ``accounts.tasks``."""

from __future__ import annotations

from typing import Literal

MAIL_TASK = "accounts.mail"
PHONE_CODE_TASK = "accounts.phone_code"
MailKind = Literal["email_confirm", "signup_existing", "password_reset"]


def email_confirm(public_url: str, token: str, hours: int) -> tuple[str, str]:
    return (
        "Confirm your FairTradeWorker e-mail address",
        f"Confirm this address by opening {public_url}/confirm-email?token={token} "
        f"within {hours} hours. Until then we send nothing else to it.",
    )


def signup_existing(public_url: str) -> tuple[str, str]:
    return (
        "Your FairTradeWorker account",
        "Someone, perhaps you, tried to sign up with this address, which already has an account. "
        f"Sign in at {public_url}/signin, or choose a new password at {public_url}/forgot-password "
        "if you forgot it. "
        "If it was not you, ignore this e-mail.",
    )


def phone_code(code: str, minutes: int) -> str:
    return f"FairTradeWorker code: {code}. It expires in {minutes} minutes. Reply STOP to opt out."


def password_reset(public_url: str, token: str, minutes: int) -> tuple[str, str]:
    return (
        "Reset your FairTradeWorker password",
        f"Choose a new password at {public_url}/reset-password?token={token} within {minutes} minutes. "
        "The link works once. If you did not ask for it, ignore this e-mail: your password is unchanged.",
    )
