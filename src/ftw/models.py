"""Every table, imported in one place for Alembic and the tests."""

from ftw.accounts.models import RefreshToken, User
from ftw.analytics.models import DailyFigures, JobStats
from ftw.bids.models import Bid, BidBoost
from ftw.billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    LedgerEntry,
    Payment,
    PaymentEvent,
    Payout,
)
from ftw.core.audit import AuditEntry
from ftw.core.db import Base
from ftw.core.switches import Switch
from ftw.crm.models import Customer, FollowUp, Interaction
from ftw.jobs.models import Job, JobPhoto
from ftw.messaging.models import Delivery, Message, Notification, Thread, ThreadRead
from ftw.reviews.models import ContractorStats, Review
from ftw.territories.models import Territory

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "Bid",
    "BidBoost",
    "ContractorStats",
    "Customer",
    "DailyFigures",
    "Delivery",
    "FollowUp",
    "Interaction",
    "Invoice",
    "InvoiceLine",
    "InvoiceReminder",
    "Job",
    "JobPhoto",
    "JobStats",
    "LedgerEntry",
    "Message",
    "Notification",
    "Payment",
    "PaymentEvent",
    "Payout",
    "RefreshToken",
    "Review",
    "Switch",
    "Territory",
    "Thread",
    "ThreadRead",
    "User",
    "metadata",
]
