"""An index for finding the incident whose card a click came from, by the card's activity id.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_card_activity_id", "incidents", ["card_activity_id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_card_activity_id", table_name="incidents")
