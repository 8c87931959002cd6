"""A territory is a US county, keyed by its five-digit FIPS code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base


class Territory(Base):
    __tablename__ = "territories"

    fips: Mapped[str] = mapped_column(String(5), primary_key=True)
    state: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(100))
    population: Mapped[int] = mapped_column(Integer)
    operator_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", use_alter=True))
    claimed_at: Mapped[datetime | None]
    claim_number: Mapped[int | None] = mapped_column(Integer)
    claim_price_cents: Mapped[int | None] = mapped_column(Integer)
    monthly_cents: Mapped[int | None] = mapped_column(Integer)
    # The next monthly fee falls due then (a month after the claim, then monthly).
    monthly_due_at: Mapped[datetime | None]

    __table_args__ = (
        # One territory per operator, enforced by the database as well as the service.
        Index(
            "uq_territories_operator",
            "operator_id",
            unique=True,
            postgresql_where=text("operator_id IS NOT NULL"),
        ),
        Index("uq_territories_claim_number", "claim_number", unique=True),
        Index("ix_territories_state_name", "state", "name"),
    )
