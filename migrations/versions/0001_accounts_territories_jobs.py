"""Accounts, territories and jobs, with every index their launch queries use.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "territories",
        sa.Column("fips", sa.String(length=5), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_number", sa.Integer(), nullable=True),
        sa.Column("claim_price_cents", sa.Integer(), nullable=True),
        sa.Column("monthly_cents", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("fips", name=op.f("pk_territories")),
    )
    op.create_index("ix_territories_state_name", "territories", ["state", "name"], unique=False)
    op.create_index("uq_territories_claim_number", "territories", ["claim_number"], unique=True)
    op.create_index(
        "uq_territories_operator",
        "territories",
        ["operator_id"],
        unique=True,
        postgresql_where=sa.text("operator_id IS NOT NULL"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_pro", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_available", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("zip", sa.String(length=5), nullable=True),
        sa.Column("territory_fips", sa.String(length=5), nullable=True),
        sa.Column("referral_code", sa.String(length=12), nullable=False),
        sa.Column("referred_by_id", sa.BigInteger(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role IN ('homeowner', 'contractor', 'operator', 'admin')", name=op.f("ck_users_role")
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower")),
        sa.ForeignKeyConstraint(["referred_by_id"], ["users.id"], name=op.f("fk_users_referred_by_id_users")),
        sa.ForeignKeyConstraint(
            ["territory_fips"], ["territories.fips"], name=op.f("fk_users_territory_fips_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    # territories <-> users reference each other: the operator key comes once both exist.
    op.create_foreign_key(
        op.f("fk_territories_operator_id_users"), "territories", "users", ["operator_id"], ["id"]
    )
    op.create_index(
        "ix_users_available_contractors",
        "users",
        ["territory_fips", "id"],
        unique=False,
        postgresql_where=sa.text("role = 'contractor' AND is_available AND is_active"),
    )
    op.create_index(
        "ix_users_referred_by",
        "users",
        ["referred_by_id"],
        unique=False,
        postgresql_where=sa.text("referred_by_id IS NOT NULL"),
    )
    op.create_index("ix_users_role_territory", "users", ["role", "territory_fips"], unique=False)
    op.create_index("uq_users_email", "users", ["email"], unique=True)
    op.create_index("uq_users_referral_code", "users", ["referral_code"], unique=True)
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("homeowner_id", sa.BigInteger(), nullable=False),
        sa.Column("territory_fips", sa.String(length=5), nullable=False),
        sa.Column("zip", sa.String(length=5), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("trade", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("price_low_cents", sa.Integer(), nullable=False),
        sa.Column("price_high_cents", sa.Integer(), nullable=False),
        sa.Column("size", sa.String(length=8), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=3, scale=2, asdecimal=False), nullable=False),
        sa.Column(
            "materials",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("estimate_source", sa.String(length=16), server_default="offline", nullable=False),
        sa.Column("photo_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("size IN ('small', 'medium', 'large')", name=op.f("ck_jobs_size")),
        sa.CheckConstraint(
            "status IN ('open', 'awarded', 'in_progress', 'completed', 'cancelled')",
            name=op.f("ck_jobs_status"),
        ),
        sa.CheckConstraint("tier IN ('QUICK_FIX', 'STANDARD', 'MAJOR_PROJECT')", name=op.f("ck_jobs_tier")),
        sa.CheckConstraint(
            "trade IN ('plumbing', 'electrical', 'hvac', 'roofing', 'carpentry', 'painting', 'flooring', 'landscaping', 'cleaning', 'handyman', 'appliance_repair', 'pest_control', 'remodeling', 'concrete', 'fencing', 'windows_doors')",
            name=op.f("ck_jobs_trade"),
        ),
        sa.CheckConstraint("urgency IN ('flexible', 'normal', 'urgent')", name=op.f("ck_jobs_urgency")),
        sa.CheckConstraint("photo_count >= 0", name=op.f("ck_jobs_photo_count")),
        sa.CheckConstraint(
            "price_low_cents > 0 AND price_low_cents <= price_high_cents", name=op.f("ck_jobs_price_range")
        ),
        sa.ForeignKeyConstraint(["homeowner_id"], ["users.id"], name=op.f("fk_jobs_homeowner_id_users")),
        sa.ForeignKeyConstraint(
            ["territory_fips"], ["territories.fips"], name=op.f("fk_jobs_territory_fips_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        "ix_jobs_browse_open",
        "jobs",
        ["territory_fips", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
        postgresql_include=[
            "status",
            "title",
            "trade",
            "size",
            "urgency",
            "tier",
            "price_low_cents",
            "price_high_cents",
            "zip",
            "deadline_at",
        ],
    )
    op.create_index(
        "ix_jobs_homeowner_recent",
        "jobs",
        ["homeowner_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index("ix_jobs_search", "jobs", ["search"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_jobs_search_open",
        "jobs",
        ["search"],
        unique=False,
        postgresql_using="gin",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_jobs_territory_status_recent",
        "jobs",
        ["territory_fips", "status", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_jobs_urgent_open",
        "jobs",
        ["territory_fips", "deadline_at"],
        unique=False,
        postgresql_where=sa.text("urgency = 'urgent' AND status = 'open'"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"], unique=False)
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"], unique=False)
    op.create_index("uq_refresh_tokens_token_hash", "refresh_tokens", ["token_hash"], unique=True)
    op.create_table(
        "job_photos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_photos_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_photos")),
    )
    op.create_index("ix_job_photos_job", "job_photos", ["job_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_photos_job", table_name="job_photos")
    op.drop_table("job_photos")
    op.drop_index("uq_refresh_tokens_token_hash", table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_user", table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_family", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(
        "ix_jobs_urgent_open",
        table_name="jobs",
        postgresql_where=sa.text("urgency = 'urgent' AND status = 'open'"),
    )
    op.drop_index("ix_jobs_territory_status_recent", table_name="jobs")
    op.drop_index("ix_jobs_search_open", table_name="jobs")
    op.drop_index("ix_jobs_search", table_name="jobs", postgresql_using="gin")
    op.drop_index("ix_jobs_homeowner_recent", table_name="jobs")
    op.drop_index(
        "ix_jobs_browse_open",
        table_name="jobs",
        postgresql_where=sa.text("status = 'open'"),
        postgresql_include=[
            "status",
            "title",
            "trade",
            "size",
            "urgency",
            "tier",
            "price_low_cents",
            "price_high_cents",
            "zip",
            "deadline_at",
        ],
    )
    op.drop_table("jobs")
    op.drop_index("uq_users_referral_code", table_name="users")
    op.drop_index("uq_users_email", table_name="users")
    op.drop_index("ix_users_role_territory", table_name="users")
    op.drop_index(
        "ix_users_referred_by", table_name="users", postgresql_where=sa.text("referred_by_id IS NOT NULL")
    )
    op.drop_index(
        "ix_users_available_contractors",
        table_name="users",
        postgresql_where=sa.text("role = 'contractor' AND is_available AND is_active"),
    )
    op.drop_constraint(op.f("fk_territories_operator_id_users"), "territories", type_="foreignkey")
    op.drop_table("users")
    op.drop_index(
        "uq_territories_operator",
        table_name="territories",
        postgresql_where=sa.text("operator_id IS NOT NULL"),
    )
    op.drop_index("uq_territories_claim_number", table_name="territories")
    op.drop_index("ix_territories_state_name", table_name="territories")
    op.drop_table("territories")
