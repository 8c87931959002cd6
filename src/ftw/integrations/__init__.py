"""Vendor services behind Protocols: a real adapter and a local sandbox each.

The real adapters call their vendor through the vendor's circuit breaker, from the
``breakers`` board built here (one per process); the sandboxes are local and need none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftw.config import Breakers, Settings
from ftw.core.breakers import BreakerBoard
from ftw.integrations.llm import AnthropicRefiner, Refiner
from ftw.integrations.messages import Email, SandboxEmail, SandboxSms, SendGridEmail, Sms, TwilioSms
from ftw.integrations.payments import Payments, SandboxPayments, StripePayments
from ftw.integrations.storage import LocalStorage, S3Storage, Storage
from ftw.sandboxes import refuse_sandboxes


@dataclass
class Integrations:
    storage: Storage
    payments: Payments
    sms: Sms
    email: Email
    llm: Refiner | None = None  # None: the offline estimator answers alone
    breakers: BreakerBoard = field(default_factory=lambda: BreakerBoard(Breakers()))


def _secret(value: object, name: str) -> str:
    secret = getattr(value, "get_secret_value", None)
    if secret is None:
        raise ValueError(f"{name} must be set for this adapter")
    text: str = secret()
    return text


def build(settings: Settings) -> Integrations:
    """The adapters the settings ask for (sandboxes by default; in production only those
    allowed by name, see ``refuse_sandboxes``)."""
    refuse_sandboxes(settings)
    breakers = BreakerBoard(settings.breakers)
    outbox = settings.data_dir / "outbox"

    payments: Payments = SandboxPayments()
    if settings.payments.adapter == "stripe":
        payments = StripePayments(
            api_key=_secret(settings.payments.stripe_api_key, "FTW_PAYMENTS__STRIPE_API_KEY"),
            breaker=breakers["payments"],
            base_url=settings.payments.base_url,
        )
    sms: Sms = SandboxSms(outbox)
    if settings.sms.adapter == "twilio":
        vendor = settings.sms
        sms = TwilioSms(
            account_sid=vendor.twilio_account_sid or "",
            auth_token=_secret(vendor.twilio_auth_token, "FTW_SMS__TWILIO_AUTH_TOKEN"),
            from_number=vendor.from_number or "",
            breaker=breakers["sms"],
            base_url=vendor.base_url,
        )
    email: Email = SandboxEmail(outbox)
    if settings.email.adapter == "sendgrid":
        email = SendGridEmail(
            api_key=_secret(settings.email.sendgrid_api_key, "FTW_EMAIL__SENDGRID_API_KEY"),
            from_address=settings.email.from_address,
            breaker=breakers["email"],
            base_url=settings.email.base_url,
        )
    storage: Storage = LocalStorage(settings.media_path)
    if settings.storage.adapter == "s3":
        storage = S3Storage(settings.storage, breaker=breakers["storage"])
    llm: Refiner | None = None
    if settings.llm.adapter == "anthropic":
        llm = AnthropicRefiner(
            settings.llm,
            api_key=_secret(settings.llm.anthropic_api_key, "FTW_LLM__ANTHROPIC_API_KEY"),
            breaker=breakers["llm"],
        )
    return Integrations(storage=storage, payments=payments, sms=sms, email=email, llm=llm, breakers=breakers)
