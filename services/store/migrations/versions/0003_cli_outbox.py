"""cli_outbox: announcements the command line leaves for the bot to post in an incident's thread (a
break-glass run, a request waiting for a second responder, a decision taken at the terminal).

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cli_outbox",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", _ts()),
        sa.Column("outcome", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_cli_outbox"),
    )
    op.create_index("ix_cli_outbox_delivered_at", "cli_outbox", ["delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_cli_outbox_delivered_at", table_name="cli_outbox")
    op.drop_table("cli_outbox")
