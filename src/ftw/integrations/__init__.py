"""Vendor services behind Protocols: a real adapter and a local sandbox each."""

from __future__ import annotations

from dataclasses import dataclass

from ftw.config import Settings
from ftw.integrations.messages import Email, SandboxEmail, SandboxSms, Sms
from ftw.integrations.payments import Payments, SandboxPayments
from ftw.integrations.storage import LocalStorage, Storage


@dataclass
class Integrations:
    storage: Storage
    payments: Payments
    sms: Sms
    email: Email


def build(settings: Settings) -> Integrations:
    """The adapters the settings ask for (sandboxes by default)."""
    outbox = settings.data_dir / "outbox"
    return Integrations(
        storage=LocalStorage(settings.media_path),
        payments=SandboxPayments(),
        sms=SandboxSms(outbox),
        email=SandboxEmail(outbox),
    )
