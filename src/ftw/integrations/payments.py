"""Card payments. The sandbox adapter is the default; production uses Stripe's SDK.

Every charge carries an idempotency key: the provider returns the first result for a
repeated key instead of charging twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import stripe

from ftw.core.breakers import BreakerOpen, CircuitBreaker

T = TypeVar("T")


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

    async def find_payout(self, *, idempotency_key: str) -> str | None:
        """The reference of the payout made under ``idempotency_key``, None if none was:
        how a payout whose call timed out is resolved without paying again."""
        ...

    async def find_charge(self, *, idempotency_key: str) -> Charge | None:
        """The charge made under ``idempotency_key``, None if none was."""
        ...

    async def open_account(self, *, email: str, idempotency_key: str, return_url: str) -> PayoutAccount:
        """A connected account to pay a user out to, and the link where its owner completes
        it (identity, bank) with the provider."""
        ...


@dataclass(frozen=True)
class PayoutAccount:
    account_id: str
    onboarding_url: str


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
        self._payouts: dict[str, str] = {}
        self._accounts: dict[str, str] = {}  # idempotency key -> account id
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
        if destination not in self._accounts.values():  # as Stripe refuses an unknown destination
            raise PaymentDeclined(f"No such destination: {destination}")
        reference = f"po_sandbox_{uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key).hex[:16]}"
        self._payouts[idempotency_key] = reference
        return reference

    async def find_payout(self, *, idempotency_key: str) -> str | None:
        return self._payouts.get(idempotency_key)

    async def find_charge(self, *, idempotency_key: str) -> Charge | None:
        return self._by_key.get(idempotency_key)

    async def open_account(self, *, email: str, idempotency_key: str, return_url: str) -> PayoutAccount:
        account = self._accounts.setdefault(idempotency_key, f"acct_sandbox_{uuid.uuid4().hex[:16]}")
        return PayoutAccount(account_id=account, onboarding_url=f"{return_url}?sandbox_account={account}")


class StripePayments:
    """Stripe through its official SDK, every call guarded by the payments breaker.

    A charge is a PaymentIntent created and confirmed in one call, captured at once: the
    platform holds the funds until the job is complete (the ledger says whose they are).
    Payouts are Transfers to the contractor's connected account. The SDK does not retry
    (``max_network_retries=0``): the breaker counts each attempt, and the durable retry
    queue of billing spaces the next ones out.
    """

    name = "stripe"

    def __init__(
        self, *, api_key: str, breaker: CircuitBreaker, base_url: str | None = None, currency: str = "usd"
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url} if base_url else None,
            http_client=stripe.HTTPXClient(timeout=breaker.policy.call_timeout_s),
            max_network_retries=0,
        )
        self._breaker = breaker
        self._currency = currency

    async def charge(
        self, *, amount_cents: int, payment_method: str, idempotency_key: str, description: str
    ) -> Charge:
        intent = await self._call(
            lambda: self._client.v1.payment_intents.create_async(
                {
                    "amount": amount_cents,
                    "currency": self._currency,
                    "payment_method": payment_method,
                    # Card-only checkout: a payment that would need a redirect is refused.
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                    "confirm": True,
                    "description": description,
                    # The key again, as metadata Stripe lets us search intents by.
                    "metadata": {"ftw_key": idempotency_key},
                },
                {"idempotency_key": idempotency_key},
            )
        )
        if intent.status != "succeeded":
            raise PaymentDeclined(f"The payment needs attention ({intent.status})")
        return Charge(reference=intent.id, amount_cents=intent.amount)

    async def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        refund = await self._call(
            lambda: self._client.v1.refunds.create_async(
                {"payment_intent": reference, "amount": amount_cents}, {"idempotency_key": idempotency_key}
            )
        )
        return refund.id

    async def payout(self, *, amount_cents: int, destination: str, idempotency_key: str) -> str:
        transfer = await self._call(
            lambda: self._client.v1.transfers.create_async(
                {
                    "amount": amount_cents,
                    "currency": self._currency,
                    "destination": destination,
                    # The key again, as a field Stripe lets us search transfers by.
                    "transfer_group": idempotency_key,
                },
                {"idempotency_key": idempotency_key},
            )
        )
        return transfer.id

    async def open_account(self, *, email: str, idempotency_key: str, return_url: str) -> PayoutAccount:
        """An Express connected account able to receive transfers, and its onboarding link."""
        account = await self._call(
            lambda: self._client.v1.accounts.create_async(
                {"type": "express", "email": email, "capabilities": {"transfers": {"requested": True}}},
                {"idempotency_key": idempotency_key},
            )
        )
        link = await self._call(
            lambda: self._client.v1.account_links.create_async(
                {
                    "account": account.id,
                    "type": "account_onboarding",
                    "refresh_url": return_url,
                    "return_url": return_url,
                }
            )
        )
        return PayoutAccount(account_id=account.id, onboarding_url=link.url)

    async def find_charge(self, *, idempotency_key: str) -> Charge | None:
        """Search is eventually consistent (Stripe: about a minute); it is asked only by the
        charge retry, which runs a minute or more after the attempt it checks."""
        found = await self._call(
            lambda: self._client.v1.payment_intents.search_async(
                {"query": f"metadata['ftw_key']:'{idempotency_key}' AND status:'succeeded'", "limit": 1}
            )
        )
        if not found.data:
            return None
        return Charge(reference=found.data[0].id, amount_cents=found.data[0].amount)

    async def find_payout(self, *, idempotency_key: str) -> str | None:
        found = await self._call(
            lambda: self._client.v1.transfers.list_async({"transfer_group": idempotency_key, "limit": 1})
        )
        return found.data[0].id if found.data else None

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """A card error or a refused request means Stripe answered: declined, breaker untouched
        by failure. Anything else (no connection, 5xx, 429, timeout, open breaker) is an outage."""
        try:
            return await self._breaker.call(operation, answered=_refused)
        except (stripe.CardError, stripe.InvalidRequestError) as refused:
            raise PaymentDeclined(refused.user_message or "The payment was refused") from refused
        except (BreakerOpen, TimeoutError, stripe.StripeError) as down:
            raise ProviderUnavailable(str(down) or "The payments provider timed out") from down


def _refused(exc: Exception) -> bool:
    return isinstance(exc, stripe.CardError | stripe.InvalidRequestError)
