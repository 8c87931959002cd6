"""The charge primitive itself (billing.charges), against the sandbox provider and the real
database: one charge per row whatever the retries, an unknown outcome never paid twice, a
charge no longer wanted refunded, and a ledger that balances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ftw.billing import charges
from ftw.billing.charges import Booking, Charge, Down, Terms
from ftw.billing.ledger import Kind, check
from ftw.billing.models import Account, LedgerEntry, Payment, PaymentPurpose
from ftw.billing.payments import PaymentRequired, ProviderDown
from ftw.config import Settings
from ftw.core.errors import Conflict, DomainError
from ftw.integrations.payments import Charge as Taken
from ftw.integrations.payments import ProviderUnavailable
from ftw.jobs.models import Job, JobStatus
from ftw.messaging.models import Notification
from tests.conftest import SignUp
from tests.support.market import CountingSandbox, Market, market

TERMS = {
    down: Terms(
        when_down=down,
        declined="{reason}; not paid",
        down="{reason}; provider down",
        changed="held for another amount" if down is Down.HOLD else None,
    )
    for down in Down
}


class LossySandbox(CountingSandbox):
    """The sandbox whose next ``lose`` answers are lost after the charge was taken: to the
    caller, a timeout whose outcome is unknown."""

    def __init__(self) -> None:
        super().__init__()
        self.outage = False
        self.lose = 0
        self.refunds: list[tuple[str, int, str]] = []

    async def charge(
        self, *, amount_cents: int, payment_method: str, idempotency_key: str, description: str
    ) -> Taken:
        taken = await super().charge(
            amount_cents=amount_cents,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            description=description,
        )
        if self.lose:
            self.lose -= 1
            raise ProviderUnavailable("timed out")
        return taken

    async def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        self.refunds.append((reference, amount_cents, idempotency_key))
        return await super().refund(
            reference=reference, amount_cents=amount_cents, idempotency_key=idempotency_key
        )


@pytest.fixture
def provider() -> LossySandbox:
    return LossySandbox()


@pytest.fixture
async def deal(client: httpx.AsyncClient, sign_up: SignUp) -> Market:
    """A homeowner's open job with a contractor's pending bid: the row the charges pay for."""
    return await market(client, sign_up)


def _charge(
    deal: Market, *, amount_cents: int = 12_345, method: str = "pm_card_visa", key: str | None = None
) -> Charge:
    """A purchase paid by the homeowner to the contractor, the platform taking 10 %."""
    return Charge(
        purpose=PaymentPurpose.BOOST,
        payer_id=deal.homeowner.id,
        amount_cents=amount_cents,
        fee_cents=0,
        payment_method=method,
        description="a test charge",
        booking=Booking(Kind.BOOST, Account.CONTRACTOR, deal.contractor.id, cut_bps=1_000),
        job_id=deal.job["id"],
        bid_id=deal.bid["id"],
        client_key=key,
    )


Purchase = Callable[[], Awaitable[Payment]]


def _buying(
    session: AsyncSession, settings: Settings, provider: LossySandbox, charge: Charge, down: Down
) -> Purchase:
    """One request's charge: its own checks aside, what a purchase does."""

    async def buy() -> Payment:
        found = await charges.earlier(session, charge, TERMS[down])
        if found is not None and found.status == "succeeded":
            return found
        return await charges.take(
            session, settings=settings, payments=provider, charge=charge, terms=TERMS[down], earlier=found
        )

    return buy


async def _request(session: AsyncSession, buy: Purchase) -> Payment | DomainError:
    """Run ``buy`` as a request does: its writes are kept, or rolled back with a refusal that
    does not keep them."""
    savepoint = await session.begin_nested()
    try:
        payment = await buy()
    except DomainError as refused:
        await (savepoint.commit() if refused.keep_writes else savepoint.rollback())
        return refused
    await savepoint.commit()
    return payment


async def _payments(session: AsyncSession, deal: Market) -> list[Payment]:
    query = select(Payment).where(Payment.job_id == deal.job["id"]).order_by(Payment.id)
    return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def _card(session: AsyncSession, deal: Market) -> int:
    """What the payer's card was charged, by the ledger (a charge is a negative entry)."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.account == Account.CARD, LedgerEntry.owner_id == deal.homeowner.id
    )
    return -int(await session.scalar(query) or 0)


async def test_a_paid_charge_books_card_to_its_account_and_a_repeat_of_its_key_charges_nothing(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    buy = _buying(session, settings, provider, _charge(deal, key="tab-1"), Down.REFUSE)
    first, again = await _request(session, buy), await _request(session, buy)
    assert isinstance(first, Payment)
    assert isinstance(again, Payment)
    assert again.id == first.id  # the repeat is answered by the payment it made
    assert first.status == "succeeded"
    assert len(provider.charges) == 1
    entries = select(LedgerEntry.account, LedgerEntry.owner_id, LedgerEntry.amount_cents).where(
        LedgerEntry.payment_id == first.id
    )
    assert sorted(tuple(row) for row in await session.execute(entries)) == [
        ("card", deal.homeowner.id, -12_345),
        ("contractor", deal.contractor.id, 11_111),
        ("platform", None, 1_234),
    ]
    assert (await check(session)).ok


async def test_a_declined_card_is_402_and_a_repeat_of_its_key_stays_declined(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    buy = _buying(session, settings, provider, _charge(deal, method="pm_card_declined", key="k"), Down.RETRY)
    first, again = await _request(session, buy), await _request(session, buy)
    assert isinstance(first, PaymentRequired)
    assert (first.detail, first.field) == ("Your card was declined; not paid", "payment_method")
    assert isinstance(again, PaymentRequired)
    assert again.detail == "Your card was declined"
    [payment] = await _payments(session, deal)  # kept, failed; tried once
    assert (payment.status, payment.attempts) == ("failed", 1)
    assert provider.charges == []
    assert await _card(session, deal) == 0


async def test_a_refused_charge_repeated_after_a_lost_answer_is_charged_once(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    """Provider down, refused: the payment rolls back with the request, and the repeat is
    charged under the same key, so the provider hands back what it took."""
    buy = _buying(session, settings, provider, _charge(deal), Down.REFUSE)
    provider.lose = 1
    refused = await _request(session, buy)
    assert isinstance(refused, ProviderDown)
    assert (refused.status, refused.keep_writes) == (503, False)
    assert await _payments(session, deal) == []
    paid = await _request(session, buy)
    assert isinstance(paid, Payment)
    assert paid.status == "succeeded"
    assert len(provider.charges) == 1
    assert await _card(session, deal) == 12_345
    assert (await check(session)).ok


async def test_a_provider_timeout_is_held_pending_and_settled_under_its_own_key_never_paid_twice(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    buy = _buying(session, settings, provider, _charge(deal), Down.HOLD)
    provider.lose = 2
    for _ in range(2):
        held = await _request(session, buy)
        assert isinstance(held, ProviderDown)
        assert held.keep_writes
    [pending] = await _payments(session, deal)
    assert (pending.status, pending.attempts) == ("pending", 2)
    paid = await _request(session, buy)
    assert isinstance(paid, Payment)
    assert (paid.id, paid.status, paid.attempts) == (pending.id, "succeeded", 3)
    assert len(provider.charges) == 1  # three attempts, one key, one charge
    assert await _card(session, deal) == 12_345
    assert (await check(session)).ok


async def test_a_held_charge_is_not_taken_for_another_amount(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    provider.lose = 1
    held = await _request(session, _buying(session, settings, provider, _charge(deal), Down.HOLD))
    assert isinstance(held, ProviderDown)
    other = _buying(session, settings, provider, _charge(deal, amount_cents=99_999), Down.HOLD)
    refused = await _request(session, other)
    assert isinstance(refused, Conflict)
    assert refused.detail == "held for another amount"
    assert len(await _payments(session, deal)) == 1


async def test_a_retried_charge_settles_in_the_background_once(
    deal: Market, session: AsyncSession, settings: Settings, provider: LossySandbox
) -> None:
    charge = _charge(deal)
    provider.lose = 1
    pending = await _request(session, _buying(session, settings, provider, charge, Down.RETRY))
    assert isinstance(pending, Payment)
    assert pending.status == "pending"
    kinds = select(Notification.kind).where(Notification.user_id == deal.homeowner.id)
    assert "payment.pending" in list(await session.scalars(kinds))
    for _ in range(2):  # the task delivered twice: the second finds the attempt already made
        due = await charges.due(session, payment_id=pending.id, attempt=1)
        if due is not None:
            await charges.retry(
                session, settings=settings, payments=provider, payment=due, charge=charge, stale=None
            )
    [payment] = await _payments(session, deal)
    assert (payment.status, payment.attempts) == ("succeeded", 2)
    assert len(provider.charges) == 1
    assert await _card(session, deal) == 12_345
    assert (await check(session)).ok


@pytest.mark.parametrize("taken", [True, False], ids=["it-took-it", "it-did-not"])
async def test_a_retry_after_the_row_changed_asks_the_provider_and_refunds_what_it_took(
    client: httpx.AsyncClient,
    deal: Market,
    session: AsyncSession,
    settings: Settings,
    provider: LossySandbox,
    taken: bool,
) -> None:
    """The job was cancelled (or went to another bid) while its charge was pending: it is not
    charged again, and what a timed-out attempt took is refunded before it fails."""
    charge = _charge(deal)
    if taken:
        provider.lose = 1
    else:
        provider.outage = True
        charge = _charge(deal, method=provider.OUTAGE)
    pending = await _request(session, _buying(session, settings, provider, charge, Down.RETRY))
    assert isinstance(pending, Payment)
    assert pending.status == "pending"
    due = await charges.due(session, payment_id=pending.id, attempt=1)
    assert due is not None
    cancelled = await client.post(f"/api/v1/jobs/{deal.job['id']}/cancel", headers=deal.homeowner.headers)
    assert cancelled.status_code == 200, cancelled.text
    job = await session.get(Job, deal.job["id"], populate_existing=True)
    assert job is not None
    stale = None if job.status == JobStatus.OPEN else f"Not charged: the job is {job.status}"
    await charges.retry(
        session, settings=settings, payments=provider, payment=due, charge=charge, stale=stale
    )
    [payment] = await _payments(session, deal)
    assert payment.status == "failed"
    assert payment.attempts == 1  # asked, not charged again
    if taken:
        assert provider.refunds == [(payment.provider_ref, 12_345, f"refund:{payment.id}")]
        assert "refunded" in (payment.failure_reason or "")
    else:
        assert provider.refunds == []
    assert await _card(session, deal) == 0  # nothing kept, nothing booked
    assert (await check(session)).ok
