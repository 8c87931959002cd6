"""Production refuses to pretend: a vendor left on its local stand-in (payments, SMS and
e-mail sandboxes, photos on the local disk) stops it from starting unless allowed by name
(``FTW_ALLOW_SANDBOX=sms,email``).

A module of its own, reading settings only: `ftw serve` asks it in the supervisor process,
which must not import the integrations (they create the metrics the workers report).
"""

from __future__ import annotations

from ftw.config import Settings

# Each vendor's stand-in, and the setting that replaces it with the real adapter.
SANDBOXES: dict[str, tuple[str, str]] = {
    "payments": ("sandbox", "FTW_PAYMENTS__ADAPTER=stripe"),
    "sms": ("sandbox", "FTW_SMS__ADAPTER=twilio"),
    "email": ("sandbox", "FTW_EMAIL__ADAPTER=sendgrid"),
    "storage": ("local", "FTW_STORAGE__ADAPTER=s3"),
}


class SandboxInProduction(RuntimeError):
    """Production was configured with a vendor's stand-in it was not allowed to keep."""


def sandboxes(settings: Settings) -> list[str]:
    """The vendors the settings leave on their local stand-in."""
    return [
        vendor for vendor, (sandbox, _) in SANDBOXES.items() if getattr(settings, vendor).adapter == sandbox
    ]


def refused_sandboxes(settings: Settings) -> list[str]:
    """In production, the sandboxes not allowed by name in ``allow_sandbox``."""
    if settings.environment != "production":
        return []
    return [vendor for vendor in sandboxes(settings) if vendor not in settings.allow_sandbox]


def refuse_sandboxes(settings: Settings) -> None:
    """Stop production from starting on a stand-in nobody chose: it would take payments,
    texts or photos nowhere while looking healthy."""
    refused = refused_sandboxes(settings)
    if refused:
        fixes = ", ".join(SANDBOXES[vendor][1] for vendor in refused)
        raise SandboxInProduction(
            f"production refuses the sandbox adapters of {', '.join(refused)}: set {fixes} with"
            f" the vendor's credentials, or allow them by name (FTW_ALLOW_SANDBOX={','.join(refused)})"
        )
