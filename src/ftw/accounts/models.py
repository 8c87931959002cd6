"""Users and the refresh tokens of their sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from ftw.core.db import Base, Timestamped


class Role(StrEnum):
    HOMEOWNER = "homeowner"
    CONTRACTOR = "contractor"
    OPERATOR = "operator"
    ADMIN = "admin"


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    is_pro: Mapped[bool] = mapped_column(server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # Contractors only: open to new work in their territory.
    is_available: Mapped[bool] = mapped_column(server_default=text("false"))
    phone: Mapped[str | None] = mapped_column(String(20))
    zip: Mapped[str | None] = mapped_column(String(5))
    territory_fips: Mapped[str | None] = mapped_column(String(5), ForeignKey("territories.fips"))
    referral_code: Mapped[str] = mapped_column(String(12))
    referred_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    last_login_at: Mapped[datetime | None]
    # Set when the owner follows the confirmation link: nothing is e-mailed before.
    email_verified_at: Mapped[datetime | None]
    # Set when the owner entered the code texted to ``phone`` (E.164): nothing else is texted before.
    phone_verified_at: Mapped[datetime | None]
    sms_opted_out_at: Mapped[datetime | None]  # the number answered STOP (Twilio's inbound webhook)
    # Contractors and operators: the provider's connected account payouts go to (Stripe:
    # acct_...), made by the platform (billing.payouts.open_account), never typed in by a user.
    payout_account: Mapped[str | None] = mapped_column(String(64))
    notify_email: Mapped[bool] = mapped_column(server_default=text("true"))
    notify_sms: Mapped[bool] = mapped_column(server_default=text("true"))
    # Operators only: an operator signs up as an applicant and may claim a county once an
    # admin approved it (accounts.service.approve_operator).
    operator_approved_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r.value) for r in Role)})", name="role"),
        CheckConstraint("email = lower(email)", name="email_lower"),
        Index("uq_users_email", "email", unique=True),
        Index("uq_users_referral_code", "referral_code", unique=True),
        Index("ix_users_role_territory", "role", "territory_fips"),
        Index(
            "ix_users_available_contractors",
            "territory_fips",
            "id",
            postgresql_where=text("role = 'contractor' AND is_available AND is_active"),
        ),
        Index("ix_users_referred_by", "referred_by_id", postgresql_where=text("referred_by_id IS NOT NULL")),
    )


class RefreshToken(Base):
    """One issued refresh token. A family is one login; rotation keeps the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_refresh_tokens_token_hash", "token_hash", unique=True),
        Index("ix_refresh_tokens_family", "family_id"),
        Index("ix_refresh_tokens_user", "user_id"),
    )


class SignInBackoff(Base):
    """Failed sign-ins in a row for one e-mail (as its digest), known or not, and until
    when its sign-in stays closed: an unknown address backs off exactly like an account."""

    __tablename__ = "sign_in_backoffs"

    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_failed_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
    EMAIL_CONFIRM = "email_confirm"
    PHONE_VERIFY = "phone_verify"


class AccountToken(Base):
    """A single-use, expiring token e-mailed to a user (a reset or a confirmation link);
    stored only as its SHA-256."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))  # wrong codes entered

    __table_args__ = (
        CheckConstraint(f"purpose IN ({', '.join(repr(p.value) for p in TokenPurpose)})", name="purpose"),
        Index("uq_account_tokens_token_hash", "token_hash", unique=True),
        Index("ix_account_tokens_user", "user_id"),
    )
