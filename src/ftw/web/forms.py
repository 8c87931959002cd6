"""Form input through the API's own schemas, and their refusals in words next to each field."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ftw.core.errors import DomainError
from ftw.integrations.payments import SandboxPayments

M = TypeVar("M", bound=BaseModel)

# What a person reads when a field breaks a schema rule, by the rule's pydantic type.
_WORDS: dict[str, str] = {
    "missing": "Fill this in",
    "string_too_short": "Too short: at least {min_length} characters",
    "string_too_long": "Too long: at most {max_length} characters",
    "enum": "Choose one of the options",
    "literal_error": "Choose one of the options",
    "int_parsing": "Enter a whole number",
    "greater_than": "Must be more than {gt}",
    "greater_than_equal": "Must be at least {ge}",
    "less_than_equal": "Must be at most {le}",
}
# Pattern rules say nothing a person understands; each patterned field says it here.
_PATTERNS: dict[str, str] = {
    "zip": "Enter a 5-digit ZIP code",
    "phone": "Enter a phone number (digits, spaces, + ( ) -)",
}


# The sandbox provider's test cards, by the number a person types (Stripe's test numbers).
SANDBOX_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": SandboxPayments.DECLINED,
}


def card_method(number: str) -> str:
    """The payment method of a card number typed into the sandbox checkout."""
    digits = re.sub(r"[\s-]", "", number)
    if not digits:
        raise FormInvalid({"card": "Enter the card number"})
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        raise FormInvalid({"card": "A card number is 13 to 19 digits"})
    method = SANDBOX_CARDS.get(digits)
    if method is None:
        raise FormInvalid({"card": "This is the test checkout: use 4242 4242 4242 4242"})
    return method


class FormInvalid(Exception):
    """Field name -> message, for the form to show next to each field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = dict(errors)


def _message(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    kind = error["type"]
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(field, "Not in the expected form")
    if kind == "value_error" and field == "email":
        return "Enter an e-mail address like name@example.com"
    if kind == "value_error" and "NUL" in error["msg"]:
        return "Remove the invisible control characters"
    if kind == "value_error" and (error.get("ctx") or {}).get("error"):
        return str(error["ctx"]["error"])  # a schema's own sentence, without pydantic's prefix
    if kind == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        kind = "missing"
    template = _WORDS.get(kind)
    if template is None:
        return str(error["msg"])
    return template.format(**(error.get("ctx") or {}))


def parse(schema: type[M], values: Mapping[str, Any], *, rename: Mapping[str, str] | None = None) -> M:
    """``values`` as ``schema``; FormInvalid names each bad field by its form name."""
    try:
        return schema.model_validate(dict(values))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault((rename or {}).get(name, name), _message(error))
        raise FormInvalid(errors) from exc


def refusal(exc: DomainError, *, rename: Mapping[str, str] | None = None) -> FormInvalid:
    """A service's refusal as a field error (the form's own when it names no field)."""
    field = exc.field or "form"
    return FormInvalid({(rename or {}).get(field, field): exc.detail})


def cents(amount: str, field: str = "amount") -> int:
    """Dollars as typed ("250", "$1,249.99") in cents; FormInvalid names ``field``."""
    try:
        value = Decimal(amount.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        raise FormInvalid({field: "Enter an amount in dollars, like 250 or 249.99"}) from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or value <= 0:
        raise FormInvalid({field: "Enter an amount in dollars, like 250 or 249.99"})
    return int(value * 100)


_REQUEST_KEY = re.compile(r"^[\w-]{16,64}$")


def new_request_key() -> str:
    """A name for one filled-in money form (a payment, a payout), sent back with it: pressing
    its button twice, or reloading its answer, repeats the first request instead of paying twice."""
    return secrets.token_urlsafe(18)


def request_key(value: str) -> str | None:
    """The form's request key, as the API's Idempotency-Key (None when absent or malformed)."""
    return value if _REQUEST_KEY.match(value) else None
