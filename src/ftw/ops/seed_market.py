"""The marketplace on top of seeded jobs: bids, awards and their money, messages, invoices, reviews.

Rows follow the app's own conventions (bids.flows, billing.ledger, billing.invoices,
reviews.service, crm.service) so that ``ftw ledger check`` reconciles a seeded database:
an award is a succeeded payment whose capture moves bid + fee from the card to the job's
escrow; completion releases the escrow to the contractor, the territory's operator and the
platform; a paid invoice moves money from the homeowner's card to the contractor.

Jobs are processed in chunks; each chunk's rows are written with COPY, parents first, with
ids reserved from the tables' identity sequences, inside the caller's transaction.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from ftw.bids.models import BidStatus
from ftw.billing.ledger import Kind
from ftw.billing.models import Account, InvoiceStatus, PaymentPurpose, PaymentStatus
from ftw.billing.schemas import DEFAULT_METHOD
from ftw.config import Settings
from ftw.crm.models import Stage
from ftw.crm.service import ADVOCATE_MIN_JOBS
from ftw.jobs.models import JobStatus
from ftw.messaging.models import PREVIEW_CHARS
from ftw.reviews.service import performance_score

CHUNK_JOBS = 20_000
MAX_BIDS = 10  # bids on one job; the mean is about 5 (7,500 bids for 1,500 jobs a day)
THREAD_SHARE = 0.5  # of losing bidders who exchange messages with the homeowner
REVIEW_SHARE = 0.8  # of completed jobs
RESPONSE_SHARE = 0.3  # of reviews the contractor answers
INVOICE_SHARE = 0.3  # of completed jobs: the contractor invoices extra work
INVOICE_PAID_SHARE = 0.65
PARTIAL_SHARE = 0.3  # of unpaid overdue invoices: half paid
INVOICE_DUE = timedelta(days=14)  # billing.invoices.DEFAULT_DUE
RATINGS, RATING_WEIGHTS = (1, 2, 3, 4, 5), (3, 4, 10, 28, 55)
TAX_RATES = (0, 0, 600, 825)
PROVIDER = "sandbox"
CENT = Decimal("0.01")  # rating_avg as PostgreSQL's round(numeric, 2) gives it

BID_COLUMNS = (
    "id", "job_id", "contractor_id", "amount_cents", "message", "status", "is_lightning", "decided_at",
    "created_at", "updated_at",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "id", "payer_id", "purpose", "job_id", "bid_id", "invoice_id", "amount_cents", "fee_cents",
    "payment_method", "idempotency_key", "status", "provider", "provider_ref", "attempts", "created_at",
    "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("payment_id", "kind", "data", "created_at")
LEDGER_COLUMNS = (
    "txn_id",
    "account",
    "owner_id",
    "amount_cents",
    "kind",
    "payment_id",
    "job_id",
    "created_at",
)
THREAD_COLUMNS = (
    "id",
    "job_id",
    "homeowner_id",
    "contractor_id",
    "created_at",
    "last_message_at",
    "last_message_preview",
    "last_sender_id",
)
MESSAGE_COLUMNS = ("id", "thread_id", "sender_id", "body", "created_at")
READ_COLUMNS = ("thread_id", "user_id", "last_read_message_id")
NOTIFICATION_COLUMNS = ("user_id", "kind", "payload", "created_at", "read_at")
INVOICE_COLUMNS = (
    "id", "number", "contractor_id", "homeowner_id", "job_id", "status", "subtotal_cents", "tax_rate_bps",
    "tax_cents", "late_fee_cents", "total_cents", "paid_cents", "notes", "due_at", "sent_at", "viewed_at",
    "paid_at", "created_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = ("invoice_id", "description", "quantity", "unit_cents", "amount_cents")
REVIEW_COLUMNS = (
    "job_id",
    "homeowner_id",
    "contractor_id",
    "rating",
    "body",
    "response",
    "responded_at",
    "created_at",
)
STATS_COLUMNS = (
    "contractor_id", "rating_count", "rating_sum", "rating_avg", "jobs_completed", "performance_score",
    "updated_at",
)  # fmt: skip
CUSTOMER_COLUMNS = (
    "contractor_id", "homeowner_id", "first_job_id", "stage", "lifetime_value_cents", "jobs_count",
    "last_interaction_at", "created_at", "updated_at",
)  # fmt: skip
JOB_STATS_COLUMNS = ("job_id", "views", "bids", "first_bid_at")

# Tables in the order a chunk is written (parents before children).
TABLES: Mapping[str, Sequence[str]] = {
    "bids": BID_COLUMNS,
    "invoices": INVOICE_COLUMNS,
    "invoice_lines": LINE_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "payment_events": EVENT_COLUMNS,
    "ledger_entries": LEDGER_COLUMNS,
    "threads": THREAD_COLUMNS,
    "messages": MESSAGE_COLUMNS,
    "thread_reads": READ_COLUMNS,
    "notifications": NOTIFICATION_COLUMNS,
    "reviews": REVIEW_COLUMNS,
    "job_stats": JOB_STATS_COLUMNS,
}
# Mean ids per job, and the most one job can take (MAX_BIDS threads of at most 12 messages).
PER_JOB = {"bids": 6.0, "payments": 1.2, "threads": 4.0, "messages": 12.0, "invoices": 0.4}
PER_JOB_MAX = {"bids": MAX_BIDS, "payments": 2, "threads": MAX_BIDS, "messages": MAX_BIDS * 12, "invoices": 1}

_BID_MESSAGES = (
    "I can start this week and have done many jobs like this one.",
    "Licensed and insured, happy to take a look before confirming the price.",
    "Price includes materials and cleanup. I can send photos of similar work.",
    "Available tomorrow morning; the quote covers parts and labor.",
    "Family business, 15 years in the trade. Warranty on all work.",
    "I was just in your neighborhood and can fit this in quickly.",
)
_CONTRACTOR_LINES = (
    "Thanks for the details. Could you send a photo of the area?",
    "I can come by on Thursday afternoon to take a look.",
    "Is there parking close to the house for the truck?",
    "The parts are ordered; I will confirm the start time tomorrow.",
    "All done. Let me know if anything needs another look.",
    "Do you know roughly how old the existing unit is?",
)
_HOMEOWNER_LINES = (
    "Thursday works. The side gate will be open.",
    "Here are a few more details: it started last week.",
    "Street parking is fine, there is usually space in front.",
    "Great, thank you for the quick reply!",
    "Can you also take a look at the one in the basement while you are here?",
    "Everything looks good, thanks again.",
)
_REVIEWS = {
    1: ("Did not show up on the agreed day and the work was unfinished.",),
    2: ("The job got done but took much longer than promised.",),
    3: ("Okay work, communication could have been better.",),
    4: ("Good work at a fair price, arrived on time.", "Solid job, would hire again."),
    5: (
        "Excellent work, clean and fast. Highly recommended!",
        "Fixed it on the first visit, very professional.",
    ),
}
_RESPONSES = ("Thank you for the feedback!", "Thanks, it was a pleasure working with you.")
_INVOICE_LINES = (
    "Additional materials",
    "Extra labor hours",
    "Disposal of old parts",
    "Follow-up visit",
    "Permit fee",
)


@dataclass(frozen=True, slots=True)
class SeededJob:
    """What the marketplace needs of a job written by the population seeder."""

    id: int
    homeowner_id: int
    fips: str
    status: str
    low: int
    high: int
    created: datetime
    updated: datetime


class _Stats(NamedTuple):
    rating_count: int
    rating_sum: int
    jobs_completed: int
    responses: int


@dataclass(slots=True)
class _Customer:
    first_job_id: int
    first_at: datetime
    last_at: datetime
    jobs: int = 0
    completed_last: bool = False
    value: int = 0


class Reserved:
    """Ids reserved from a table's identity sequence, handed out in order."""

    def __init__(self) -> None:
        self.block = range(0)
        self.used = 0

    @property
    def left(self) -> int:
        return len(self.block) - self.used

    def refill(self, ids: range) -> None:
        """Hand out ``ids`` from now on; what is left of the last block stays a gap."""
        self.block, self.used = ids, 0

    def __next__(self) -> int:
        value = self.block[self.used]
        self.used += 1
        return value


class Marketplace:
    """Generates the marketplace rows of seeded jobs, chunk by chunk, and the running totals."""

    def __init__(
        self,
        rng: random.Random,
        settings: Settings,
        *,
        contractors: Mapping[str, Sequence[int]],
        operators: Mapping[str, int],
        now: datetime,
    ) -> None:
        self.rng = rng
        self.settings = settings
        self.by_county = contractors
        self.everyone = [c for ids in contractors.values() for c in ids]
        self.operators = operators
        self.now = now
        self.ids = {table: Reserved() for table in PER_JOB}
        self.stats: dict[int, _Stats] = {}
        self.customers: dict[tuple[int, int], _Customer] = {}
        self.invoice_numbers: dict[int, int] = {}
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def wanted(self) -> dict[str, int]:
        """Ids to reserve before the next chunk: enough for about CHUNK_JOBS jobs."""
        return {
            table: round(CHUNK_JOBS * mean)
            for table, mean in PER_JOB.items()
            if self.ids[table].left < PER_JOB_MAX[table] * 2
        }

    def chunk(self, jobs: Sequence[SeededJob], start: int) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        """The rows of the marketplace of ``jobs[start:]``, as far as the reserved ids go.

        Returns where the next chunk starts and the rows by table.
        """
        self.rows = {table: [] for table in TABLES}
        end = min(len(jobs), start + CHUNK_JOBS)
        for index in range(start, end):
            if any(self.ids[table].left < most for table, most in PER_JOB_MAX.items()):
                return index, self.rows
            self._job(jobs[index])
        return end, self.rows

    def _txn(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _between(self, start: datetime, end: datetime, skew: float = 1.0) -> datetime:
        fraction: float = self.rng.random() ** skew
        return start + (end - start) * fraction

    def _job(self, job: SeededJob) -> None:
        rng, rules = self.rng, self.settings.bids
        status = job.status
        awarded = status in (JobStatus.AWARDED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED)
        # When the homeowner chose: the job's last change, or earlier if the work went on since.
        if status == JobStatus.AWARDED:
            award_at = job.updated
        elif awarded:
            award_at = job.created + (job.updated - job.created) * rng.uniform(0.2, 0.6)
        else:
            award_at = job.updated if status == JobStatus.CANCELLED else self.now
        count = rng.randint(1, MAX_BIDS - 1) if awarded else rng.randint(0, MAX_BIDS - 2)
        local = self.by_county.get(job.fips, ())
        pool = local if len(local) >= count else self.everyone
        bidders = rng.sample(pool, min(count, len(pool)))
        if awarded and not bidders:
            raise ValueError("Awarded jobs need contractors to bid: seed more users")
        lowest = -(-job.low * int(rules.min_factor_of_low * 100) // 100)
        highest = int(job.high * rules.max_factor_of_high)
        lightning = timedelta(minutes=rules.lightning_minutes)
        winner = rng.randrange(len(bidders)) if awarded else -1
        bids: list[tuple[int, int, int, datetime]] = []  # id, contractor, amount, placed
        for rank, contractor in enumerate(bidders):
            placed = max(
                job.created,
                self._between(job.created + timedelta(minutes=1), award_at - timedelta(minutes=1), 3),
            )
            amount = round(rng.uniform(job.low * 0.85, job.high * 1.15) / 100) * 100
            amount = min(max(amount, lowest), highest)
            if rank == winner:
                bid_status, decided = BidStatus.ACCEPTED, award_at
            elif awarded:
                bid_status, decided = BidStatus.REJECTED, award_at
            elif status == JobStatus.OPEN and rng.random() < 0.03:
                bid_status = BidStatus.WITHDRAWN
                decided = self._between(placed, self.now)
            else:  # still pending (a cancelled job's bids stay as they were, as jobs.service does)
                bid_status, decided = BidStatus.PENDING, None
            bid_id = next(self.ids["bids"])
            self.rows["bids"].append(
                (bid_id, job.id, contractor, amount, rng.choice(_BID_MESSAGES), bid_status.value,
                 placed - job.created <= lightning, decided, placed, decided or placed)
            )  # fmt: skip
            bids.append((bid_id, contractor, amount, placed))
        if bids:
            views = len(bids) * rng.randint(3, 12) + rng.randint(0, 20)
            self.rows["job_stats"].append((job.id, views, len(bids), min(b[3] for b in bids)))
        elif rng.random() < 0.7:
            self.rows["job_stats"].append((job.id, rng.randint(0, 15), 0, None))
        for rank, (_, contractor, _, placed) in enumerate(bids):
            if rank == winner or rng.random() < THREAD_SHARE:
                self._thread(job, contractor, placed, won=rank == winner, award_at=award_at)
        if awarded:
            bid_id, contractor, amount, _ = bids[winner]
            self._award(job, bid_id, contractor, amount, award_at)

    def _thread(
        self, job: SeededJob, contractor: int, start: datetime, *, won: bool, award_at: datetime
    ) -> None:
        rng = self.rng
        thread_id = next(self.ids["threads"])
        count = rng.randint(3, 12) if won else rng.randint(1, 3)
        end = min(self.now, (job.updated if won else award_at) + timedelta(days=2))
        times = sorted(self._between(start, max(start, end), 2) for _ in range(count))
        sender = contractor
        last_id = {job.homeowner_id: 0, contractor: 0}
        for at in times:
            message_id = next(self.ids["messages"])
            lines = _CONTRACTOR_LINES if sender == contractor else _HOMEOWNER_LINES
            self.rows["messages"].append((message_id, thread_id, sender, rng.choice(lines), at))
            last_id[sender] = message_id  # a sender has read up to their own message
            sender = job.homeowner_id if sender == contractor else contractor
        # Older threads are read through; a recent last message may still be unread.
        final, _, last_sender, body, _ = self.rows["messages"][-1]
        recent = self.now - times[-1] < timedelta(days=2)
        for user in (job.homeowner_id, contractor):
            if not recent or rng.random() < 0.5:
                last_id[user] = final
        preview = body[:PREVIEW_CHARS]
        self.rows["threads"].append(
            (thread_id, job.id, job.homeowner_id, contractor, times[0], times[-1], preview, last_sender)
        )
        self.rows["thread_reads"] += [(thread_id, user, read) for user, read in last_id.items()]

    def _payment(
        self,
        *,
        payer: int,
        purpose: PaymentPurpose,
        job_id: int,
        amount: int,
        fee: int,
        key: str,
        at: datetime,
        bid_id: int | None = None,
        invoice_id: int | None = None,
    ) -> int:
        """A charge that succeeded on its first attempt, with the events payments.attempt records."""
        payment_id = next(self.ids["payments"])
        reference = f"ch_sandbox_{self.rng.getrandbits(64):016x}"
        self.rows["payments"].append(
            (payment_id, payer, purpose.value, job_id, bid_id, invoice_id, amount, fee, DEFAULT_METHOD, key,
             PaymentStatus.SUCCEEDED.value, PROVIDER, reference, 1, at, at)
        )  # fmt: skip
        self.rows["payment_events"] += [
            (payment_id, "attempt", f'{{"attempt": 1, "payment_method": "{DEFAULT_METHOD}"}}', at),
            (payment_id, "succeeded", f'{{"reference": "{reference}", "amount_cents": {amount}}}', at),
        ]
        return payment_id

    def _entries(
        self,
        kind: str,
        entries: Sequence[tuple[Account, int | None, int]],
        *,
        at: datetime,
        job_id: int,
        payment_id: int | None = None,
    ) -> None:
        """One ledger transaction, as billing.ledger.post writes it (zero entries dropped)."""
        assert sum(e[2] for e in entries) == 0, f"{kind} transaction does not balance"
        txn = self._txn()
        self.rows["ledger_entries"] += [
            (txn, account.value, owner, amount, kind, payment_id, job_id, at)
            for account, owner, amount in entries
            if amount
        ]

    def _award(self, job: SeededJob, bid_id: int, contractor: int, amount: int, award_at: datetime) -> None:
        rng, fees = self.rng, self.settings.fees
        fee = fees.homeowner_platform_fee_cents
        charged = amount + fee
        payment_id = self._payment(
            payer=job.homeowner_id,
            purpose=PaymentPurpose.AWARD,
            job_id=job.id,
            bid_id=bid_id,
            amount=charged,
            fee=fee,
            key=f"award:{job.id}:{bid_id}:attempt-1",
            at=award_at,
        )
        self._entries(
            Kind.AWARD_CAPTURE,
            [(Account.CARD, job.homeowner_id, -charged), (Account.ESCROW, job.id, charged)],
            at=award_at,
            job_id=job.id,
            payment_id=payment_id,
        )
        read = award_at + timedelta(hours=rng.uniform(0.1, 48))
        self.rows["notifications"].append(
            (contractor, "bid.accepted",
             f'{{"job_id": {job.id}, "bid_id": {bid_id}, "amount_cents": {amount}}}', award_at,
             read if read < self.now else None)
        )  # fmt: skip
        completed = job.status == JobStatus.COMPLETED
        customer = self.customers.get((contractor, job.homeowner_id))
        if customer is None:
            customer = self.customers[contractor, job.homeowner_id] = _Customer(job.id, award_at, award_at)
        customer.jobs += 1
        customer.last_at = max(customer.last_at, award_at)
        customer.completed_last = completed
        if not completed:
            return
        # Release, as bids.flows._release: escrow -> contractor, operator share, platform rest.
        contractor_fee = amount * fees.contractor_fee_bps // 10_000
        operator = self.operators.get(job.fips)
        share = fee * fees.operator_share_bps // 10_000 if operator is not None else 0
        self._entries(
            Kind.RELEASE,
            [
                (Account.ESCROW, job.id, -charged),
                (Account.CONTRACTOR, contractor, amount - contractor_fee),
                (Account.OPERATOR, operator, share),
                (Account.PLATFORM, None, fee - share + contractor_fee),
            ],
            at=job.updated,
            job_id=job.id,
        )
        stats = self.stats.get(contractor, _Stats(0, 0, 0, 0))
        rating, responded = 0, 0
        if rng.random() < REVIEW_SHARE:
            rating = rng.choices(RATINGS, weights=RATING_WEIGHTS)[0]
            reviewed = self._between(job.updated, min(self.now, job.updated + timedelta(days=10)))
            response = responded_at = None
            if rng.random() < RESPONSE_SHARE:
                response, responded = rng.choice(_RESPONSES), 1
                responded_at = self._between(reviewed, min(self.now, reviewed + timedelta(days=5)))
            self.rows["reviews"].append(
                (job.id, job.homeowner_id, contractor, rating, rng.choice(_REVIEWS[rating]), response,
                 responded_at, reviewed)
            )  # fmt: skip
        self.stats[contractor] = _Stats(
            stats.rating_count + (rating > 0),
            stats.rating_sum + rating,
            stats.jobs_completed + 1,
            stats.responses + responded,
        )
        if rng.random() < INVOICE_SHARE:
            customer.value += self._invoice(job, contractor)

    def _invoice(self, job: SeededJob, contractor: int) -> int:
        """An invoice for extra work after completion; returns the cents paid on it."""
        rng = self.rng
        invoice_id = next(self.ids["invoices"])
        number = self.invoice_numbers.get(contractor, 0) + 1
        self.invoice_numbers[contractor] = number
        lines = []
        for description in rng.sample(_INVOICE_LINES, rng.randint(1, 3)):
            quantity, unit = rng.randint(1, 4), rng.randint(20, 400) * 100
            lines.append((invoice_id, description, quantity, unit, quantity * unit))
        subtotal = sum(line[4] for line in lines)
        rate = rng.choice(TAX_RATES)
        tax = (subtotal * rate + 5_000) // 10_000  # billing.invoices._bps
        total = subtotal + tax
        created = job.updated + timedelta(hours=rng.uniform(1, 48))
        if created >= self.now:
            created = job.updated
        sent = self._between(created, min(self.now, created + timedelta(days=1)))
        due = sent + INVOICE_DUE
        paid_at = viewed = None
        paid = 0
        if rng.random() < INVOICE_PAID_SHARE:
            status, paid = InvoiceStatus.PAID, total
            paid_at = self._between(sent, min(self.now, due + timedelta(days=10)), 2)
            viewed = self._between(sent, paid_at)
        elif due < self.now:
            status = InvoiceStatus.OVERDUE
            if rng.random() < PARTIAL_SHARE:
                paid = total // 2
                viewed = self._between(sent, due)
        else:
            status = InvoiceStatus.SENT
        updated = paid_at or viewed or sent
        self.rows["invoices"].append(
            (invoice_id, f"INV-{number:06d}", contractor, job.homeowner_id, job.id, status.value, subtotal,
             rate, tax, 0, total, paid, None, due, sent, viewed, paid_at, created, updated)
        )  # fmt: skip
        self.rows["invoice_lines"] += lines
        if paid:
            at = paid_at or viewed or sent
            payment_id = self._payment(
                payer=job.homeowner_id,
                purpose=PaymentPurpose.INVOICE,
                job_id=job.id,
                invoice_id=invoice_id,
                amount=paid,
                fee=0,
                key=f"invoice:{invoice_id}:attempt-1",
                at=at,
            )
            contractor_fee = paid * self.settings.fees.contractor_fee_bps // 10_000
            self._entries(
                Kind.INVOICE_PAYMENT,
                [
                    (Account.CARD, job.homeowner_id, -paid),
                    (Account.CONTRACTOR, contractor, paid - contractor_fee),
                    (Account.PLATFORM, None, contractor_fee),
                ],
                at=at,
                job_id=job.id,
                payment_id=payment_id,
            )
        return paid

    def stats_rows(self) -> Iterator[tuple[Any, ...]]:
        """contractor_stats as reviews.service keeps them."""
        for contractor, s in self.stats.items():
            average = (
                (Decimal(s.rating_sum) / s.rating_count).quantize(CENT, ROUND_HALF_UP)
                if s.rating_count
                else Decimal(0)
            )
            score = performance_score(
                rating_sum=s.rating_sum,
                rating_count=s.rating_count,
                jobs_completed=s.jobs_completed,
                responses=s.responses,
            )
            yield (
                contractor,
                s.rating_count,
                s.rating_sum,
                average,
                s.jobs_completed,
                Decimal(f"{score:.2f}"),
                self.now,
            )

    def customer_rows(self) -> Iterator[tuple[Any, ...]]:
        """One CRM customer per contractor and homeowner, as crm.service keeps them."""
        for (contractor, homeowner), c in self.customers.items():
            if not c.completed_last:
                stage = Stage.ACTIVE
            else:
                stage = Stage.ADVOCATE if c.jobs >= ADVOCATE_MIN_JOBS else Stage.COMPLETED
            yield (
                contractor, homeowner, c.first_job_id, stage.value, c.value, c.jobs, c.last_at, c.first_at,
                c.last_at,
            )  # fmt: skip
