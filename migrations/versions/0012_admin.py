"""Admin pages: sessions and login throttling (issue 13).

`admin_sessions` holds the SHA-256 of each session cookie and its CSRF token;
`admin_login_attempts` the tries at the login form (the lockout counts recent failures);
two partial indexes serve the dashboard: a territory's searches that found nothing, and
its booked slots hour by hour; professionals are listed in creation order by an index
(national scale: 50,000 of them).

Revision ID: 0012_admin
Revises: 0011_fhir
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_admin"
down_revision: str | None = "0011_fhir"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("admin_user_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_user_id"],
            ["admin_users.id"],
            name=op.f("fk_admin_sessions_admin_user_id_admin_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
    )
    op.create_index(op.f("ix_admin_sessions_admin_user_id"), "admin_sessions", ["admin_user_id"])
    op.create_index(op.f("ix_admin_sessions_expires_at"), "admin_sessions", ["expires_at"])
    op.create_table(
        "admin_login_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_login_attempts")),
    )
    op.create_index(
        "ix_admin_login_attempts_email_at", "admin_login_attempts", ["email", "attempted_at"]
    )
    op.create_index(
        "ix_admin_login_attempts_client_at",
        "admin_login_attempts",
        ["client_address", "attempted_at"],
    )
    op.create_index(
        "ix_audit_events_empty_searches",
        "audit_events",
        ["territory_id", "occurred_at"],
        postgresql_where=sa.text("action = 'search.run' AND detail ->> 'candidates' = '0'"),
    )

    op.create_index(
        "ix_slots_site_booked_start",
        "slots",
        ["site_id", "start_at"],
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index("ix_professionals_created_at_id", "professionals", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_professionals_created_at_id", table_name="professionals")
    op.drop_index("ix_slots_site_booked_start", table_name="slots")
    op.drop_index("ix_audit_events_empty_searches", table_name="audit_events")
    op.drop_table("admin_login_attempts")
    op.drop_table("admin_sessions")
