"""Account security: e-mail and phone verification, notification preferences and SMS
opt-out, per-e-mail sign-in backoff, single-use account tokens.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("sms_opted_out_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users", sa.Column("notify_email", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )
    op.add_column(
        "users", sa.Column("notify_sms", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )
    op.create_table(
        "sign_in_backoffs",
        sa.Column("email_digest", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("purpose IN ('password_reset', 'email_confirm', 'phone_verify')", name="purpose"),
    )
    op.create_index("uq_account_tokens_token_hash", "account_tokens", ["token_hash"], unique=True)
    op.create_index("ix_account_tokens_user", "account_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("account_tokens")
    op.drop_table("sign_in_backoffs")
    for column in (
        "notify_sms",
        "notify_email",
        "sms_opted_out_at",
        "phone_verified_at",
        "email_verified_at",
    ):
        op.drop_column("users", column)
