"""Card payments. The sandbox adapter is the default; production uses the provider's SDK.

Every charge carries an idempotency key: the provider returns the first result for a
repeated key instead of charging twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


class PaymentDeclined(Exception):
    """The card was refused; retrying will not help."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or failed; the charge may be retried later."""


@dataclass(frozen=True)
class Charge:
    reference: str
    amount_cents: int


class Payments(Protocol):
    name: str

    async def charge(
        self, *, amount_cents: int, payment_method: str, idempotency_key: str, description: str
    ) -> Charge: ...

    async def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str: ...

    async def payout(self, *, amount_cents: int, destination: str, idempotency_key: str) -> str: ...


class SandboxPayments:
    """A local stand-in with the provider's semantics, driven by test payment methods.

    ``pm_card_declined`` is declined; ``pm_provider_down`` fails as an outage while
    ``outage`` is set (the default: always); any other method succeeds.
    """

    name = "sandbox"
    DECLINED = "pm_card_declined"
    OUTAGE = "pm_provider_down"

    def __init__(self) -> None:
        self._by_key: dict[str, Charge] = {}
        self.outage = True
        self.calls = 0

    async def charge(
        self, *, amount_cents: int, payment_method: str, idempotency_key: str, description: str
    ) -> Charge:
        self.calls += 1
        if idempotency_key in self._by_key:
            return self._by_key[idempotency_key]
        if payment_method == self.DECLINED:
            raise PaymentDeclined("Your card was declined")
        if payment_method == self.OUTAGE and self.outage:
            raise ProviderUnavailable("The payments provider is not answering")
        charge = Charge(reference=f"ch_sandbox_{uuid.uuid4().hex[:16]}", amount_cents=amount_cents)
        self._by_key[idempotency_key] = charge
        return charge

    async def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        return f"re_sandbox_{uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key).hex[:16]}"

    async def payout(self, *, amount_cents: int, destination: str, idempotency_key: str) -> str:
        return f"po_sandbox_{uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key).hex[:16]}"
