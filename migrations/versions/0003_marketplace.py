"""Marketplace: bids, payments and the ledger, payouts, invoices, messaging and
notifications, reviews, CRM and analytics, with their launch indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("territory_fips", sa.String(length=5), nullable=False),
        sa.Column("jobs_posted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("jobs_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bids", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active_users", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("day", "territory_fips", name=op.f("pk_daily_figures")),
    )
    op.create_index(
        "ix_daily_figures_territory",
        "daily_figures",
        ["territory_fips", sa.literal_column("day DESC")],
        unique=False,
    )
    op.create_table(
        "contractor_stats",
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("rating_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rating_sum", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "rating_avg",
            sa.Numeric(precision=3, scale=2, asdecimal=False),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("jobs_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "performance_score",
            sa.Numeric(precision=5, scale=2, asdecimal=False),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["users.id"], name=op.f("fk_contractor_stats_contractor_id_users")
        ),
        sa.PrimaryKeyConstraint("contractor_id", name=op.f("pk_contractor_stats")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_user_recent",
        "notifications",
        ["user_id", sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_notifications_user_unread",
        "notifications",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("speed", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("speed IN ('standard', 'instant')", name=op.f("ck_payouts_speed")),
        sa.CheckConstraint("status IN ('pending', 'paid', 'failed')", name=op.f("ck_payouts_status")),
        sa.CheckConstraint(
            "amount_cents > 0 AND fee_cents >= 0 AND fee_cents < amount_cents",
            name=op.f("ck_payouts_amounts"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index(
        "ix_payouts_user_recent", "payouts", ["user_id", sa.literal_column("created_at DESC")], unique=False
    )
    op.create_index("uq_payouts_idempotency_key", "payouts", ["user_id", "idempotency_key"], unique=True)
    op.create_table(
        "bids",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("is_lightning", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("boosted_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'withdrawn')", name=op.f("ck_bids_status")
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_bids_amount")),
        sa.ForeignKeyConstraint(["contractor_id"], ["users.id"], name=op.f("fk_bids_contractor_id_users")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_bids_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
    )
    op.create_index(
        "ix_bids_contractor_live",
        "bids",
        ["contractor_id", sa.literal_column("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_bids_contractor_recent",
        "bids",
        ["contractor_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index("ix_bids_job", "bids", ["job_id", "status", "amount_cents"], unique=False)
    op.create_index(
        "uq_bids_accepted", "bids", ["job_id"], unique=True, postgresql_where=sa.text("status = 'accepted'")
    )
    op.create_index(
        "uq_bids_live",
        "bids",
        ["job_id", "contractor_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "crm_customers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("homeowner_id", sa.BigInteger(), nullable=False),
        sa.Column("first_job_id", sa.BigInteger(), nullable=True),
        sa.Column("stage", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("lifetime_value_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("jobs_count", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("last_interaction_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "stage IN ('lead', 'active', 'completed', 'advocate', 'inactive')",
            name=op.f("ck_crm_customers_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["users.id"], name=op.f("fk_crm_customers_contractor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["first_job_id"], ["jobs.id"], name=op.f("fk_crm_customers_first_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["homeowner_id"], ["users.id"], name=op.f("fk_crm_customers_homeowner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_customers")),
    )
    op.create_index(
        "ix_crm_pipeline",
        "crm_customers",
        ["contractor_id", "stage", sa.literal_column("last_interaction_at DESC NULLS LAST")],
        unique=False,
    )
    op.create_index("uq_crm_customers_pair", "crm_customers", ["contractor_id", "homeowner_id"], unique=True)
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("homeowner_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("subtotal_cents", sa.Integer(), nullable=False),
        sa.Column("tax_rate_bps", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("tax_cents", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("late_fee_cents", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'viewed', 'partially_paid', 'overdue', 'paid', 'cancelled')",
            name=op.f("ck_invoices_status"),
        ),
        sa.CheckConstraint("paid_cents >= 0 AND paid_cents <= total_cents", name=op.f("ck_invoices_paid")),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["users.id"], name=op.f("fk_invoices_contractor_id_users")
        ),
        sa.ForeignKeyConstraint(["homeowner_id"], ["users.id"], name=op.f("fk_invoices_homeowner_id_users")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_invoices_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_index(
        "ix_invoices_contractor_status",
        "invoices",
        ["contractor_id", "status", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_invoices_homeowner",
        "invoices",
        ["homeowner_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_invoices_overdue",
        "invoices",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('sent', 'viewed', 'partially_paid', 'overdue')"),
    )
    op.create_index(
        "ix_invoices_paid",
        "invoices",
        ["contractor_id", "paid_at"],
        unique=False,
        postgresql_where=sa.text("status = 'paid'"),
    )
    op.create_index("uq_invoices_number", "invoices", ["contractor_id", "number"], unique=True)
    op.create_table(
        "job_stats",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("views", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bids", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_bid_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_stats_job_id_jobs")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_stats")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('sms', 'email')", name=op.f("ck_notification_deliveries_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_notification_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("notification_id", "channel", name=op.f("pk_notification_deliveries")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("homeowner_id", sa.BigInteger(), nullable=False),
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating")),
        sa.ForeignKeyConstraint(["contractor_id"], ["users.id"], name=op.f("fk_reviews_contractor_id_users")),
        sa.ForeignKeyConstraint(["homeowner_id"], ["users.id"], name=op.f("fk_reviews_homeowner_id_users")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_reviews_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(
        "ix_reviews_contractor_recent",
        "reviews",
        ["contractor_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index("uq_reviews_job", "reviews", ["job_id"], unique=True)
    op.create_table(
        "threads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("homeowner_id", sa.BigInteger(), nullable=False),
        sa.Column("contractor_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contractor_id"], ["users.id"], name=op.f("fk_threads_contractor_id_users")),
        sa.ForeignKeyConstraint(["homeowner_id"], ["users.id"], name=op.f("fk_threads_homeowner_id_users")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_threads_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threads")),
    )
    op.create_index(
        "ix_threads_contractor_recent",
        "threads",
        ["contractor_id", sa.literal_column("last_message_at DESC NULLS LAST")],
        unique=False,
    )
    op.create_index(
        "ix_threads_homeowner_recent",
        "threads",
        ["homeowner_id", sa.literal_column("last_message_at DESC NULLS LAST")],
        unique=False,
    )
    op.create_index("uq_threads_job_contractor", "threads", ["job_id", "contractor_id"], unique=True)
    op.create_table(
        "crm_followups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="scheduled", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'paused', 'cancelled')", name=op.f("ck_crm_followups_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["crm_customers.id"], name=op.f("fk_crm_followups_customer_id_crm_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_followups")),
    )
    op.create_index(
        "ix_crm_followups_due",
        "crm_followups",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index("uq_crm_followups_step", "crm_followups", ["customer_id", "day"], unique=True)
    op.create_table(
        "crm_interactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), server_default="outbound", nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name=op.f("ck_crm_interactions_direction")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["crm_customers.id"], name=op.f("fk_crm_interactions_customer_id_crm_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_interactions")),
    )
    op.create_index(
        "ix_crm_interactions_customer",
        "crm_interactions",
        ["customer_id", sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cents", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND unit_cents >= 0 AND amount_cents = quantity * unit_cents",
            name=op.f("ck_invoice_lines_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index("ix_invoice_lines_invoice", "invoice_lines", ["invoice_id"], unique=False)
    op.create_table(
        "invoice_reminders",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_reminders_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "days_overdue", name=op.f("pk_invoice_reminders")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(body) BETWEEN 1 AND 5000", name=op.f("ck_messages_body")),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users")),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], name=op.f("fk_messages_thread_id_threads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_thread", "messages", ["thread_id", "id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("bid_id", sa.BigInteger(), nullable=True),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("payment_method", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("purpose IN ('award', 'boost', 'invoice')", name=op.f("ck_payments_purpose")),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_payments_status")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount")),
        sa.ForeignKeyConstraint(["bid_id"], ["bids.id"], name=op.f("fk_payments_bid_id_bids")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_payments_job_id_jobs")),
        sa.ForeignKeyConstraint(["payer_id"], ["users.id"], name=op.f("fk_payments_payer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_job", "payments", ["job_id"], unique=False)
    op.create_index(
        "ix_payments_payer", "payments", ["payer_id", sa.literal_column("created_at DESC")], unique=False
    )
    op.create_index(
        "ix_payments_pending",
        "payments",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("uq_payments_idempotency_key", "payments", ["idempotency_key"], unique=True)
    op.create_table(
        "thread_reads",
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("last_read_message_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_thread_reads_thread_id_threads")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_thread_reads_user_id_users")),
        sa.PrimaryKeyConstraint("thread_id", "user_id", name=op.f("pk_thread_reads")),
    )
    op.create_table(
        "bid_boosts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("bid_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["bids.id"], name=op.f("fk_bid_boosts_bid_id_bids")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_bid_boosts_job_id_jobs")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_bid_boosts_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_boosts")),
    )
    op.create_index("ix_bid_boosts_job_live", "bid_boosts", ["job_id", "ends_at"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("txn_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("payout_id", sa.BigInteger(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "account IN ('card', 'escrow', 'contractor', 'operator', 'platform', 'bank')",
            name=op.f("ck_ledger_entries_account"),
        ),
        sa.CheckConstraint("amount_cents <> 0", name=op.f("ck_ledger_entries_nonzero")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_ledger_entries_job_id_jobs")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_ledger_entries_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_ledger_entries_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_account_owner", "ledger_entries", ["account", "owner_id"], unique=False)
    op.create_index("ix_ledger_txn", "ledger_entries", ["txn_id"], unique=False)
    op.create_index(
        "uq_ledger_once",
        "ledger_entries",
        ["kind", "payment_id", "job_id", "payout_id", "account", "owner_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "payment_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    op.create_index("ix_payment_events_payment", "payment_events", ["payment_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payment_events_payment", table_name="payment_events")
    op.drop_table("payment_events")
    op.drop_index("uq_ledger_once", table_name="ledger_entries", postgresql_nulls_not_distinct=True)
    op.drop_index("ix_ledger_txn", table_name="ledger_entries")
    op.drop_index("ix_ledger_account_owner", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_bid_boosts_job_live", table_name="bid_boosts")
    op.drop_table("bid_boosts")
    op.drop_table("thread_reads")
    op.drop_index("uq_payments_idempotency_key", table_name="payments")
    op.drop_index(
        "ix_payments_pending", table_name="payments", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index("ix_payments_payer", table_name="payments")
    op.drop_index("ix_payments_job", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_messages_thread", table_name="messages")
    op.drop_table("messages")
    op.drop_table("invoice_reminders")
    op.drop_index("ix_invoice_lines_invoice", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index("ix_crm_interactions_customer", table_name="crm_interactions")
    op.drop_table("crm_interactions")
    op.drop_index("uq_crm_followups_step", table_name="crm_followups")
    op.drop_index(
        "ix_crm_followups_due", table_name="crm_followups", postgresql_where=sa.text("status = 'scheduled'")
    )
    op.drop_table("crm_followups")
    op.drop_index("uq_threads_job_contractor", table_name="threads")
    op.drop_index("ix_threads_homeowner_recent", table_name="threads")
    op.drop_index("ix_threads_contractor_recent", table_name="threads")
    op.drop_table("threads")
    op.drop_index("uq_reviews_job", table_name="reviews")
    op.drop_index("ix_reviews_contractor_recent", table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("notification_deliveries")
    op.drop_table("job_stats")
    op.drop_index("uq_invoices_number", table_name="invoices")
    op.drop_index("ix_invoices_paid", table_name="invoices", postgresql_where=sa.text("status = 'paid'"))
    op.drop_index(
        "ix_invoices_overdue",
        table_name="invoices",
        postgresql_where=sa.text("status IN ('sent', 'viewed', 'partially_paid', 'overdue')"),
    )
    op.drop_index("ix_invoices_homeowner", table_name="invoices")
    op.drop_index("ix_invoices_contractor_status", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("uq_crm_customers_pair", table_name="crm_customers")
    op.drop_index("ix_crm_pipeline", table_name="crm_customers")
    op.drop_table("crm_customers")
    op.drop_index("uq_bids_live", table_name="bids", postgresql_where=sa.text("status = 'pending'"))
    op.drop_index("uq_bids_accepted", table_name="bids", postgresql_where=sa.text("status = 'accepted'"))
    op.drop_index("ix_bids_job", table_name="bids")
    op.drop_index("ix_bids_contractor_recent", table_name="bids")
    op.drop_index(
        "ix_bids_contractor_live", table_name="bids", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("bids")
    op.drop_index("uq_payouts_idempotency_key", table_name="payouts")
    op.drop_index("ix_payouts_user_recent", table_name="payouts")
    op.drop_table("payouts")
    op.drop_index(
        "ix_notifications_user_unread",
        table_name="notifications",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.drop_index("ix_notifications_user_recent", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("contractor_stats")
    op.drop_index("ix_daily_figures_territory", table_name="daily_figures")
    op.drop_table("daily_figures")
