"""Initial schema: incidents, action requests, snapshots, audit log, conversation references,
alerts, cursors, processed activities, webhook deliveries, choices.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _big() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("target_user_id", sa.String(64), nullable=False),
        sa.Column("target_upn", sa.String(320), nullable=False),
        sa.Column("target_display_name", sa.String(256), nullable=False),
        sa.Column("target_is_admin", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("opened_by_id", sa.String(64), nullable=False),
        sa.Column("opened_by_name", sa.String(256), nullable=False),
        sa.Column("opened_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("contained_at", _ts()),
        sa.Column("closed_at", _ts()),
        sa.Column("closed_by_id", sa.String(64)),
        sa.Column("closed_by_name", sa.String(256)),
        sa.Column("close_reason", sa.String(500)),
        sa.Column("investigation", _json()),
        sa.Column("conversation_ref", _json()),
        sa.Column("conversation_id", sa.String(512)),
        sa.Column("card_activity_id", sa.String(256)),
        sa.Column("cutoff", _ts()),
        sa.Column("correlation_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("uq_incidents_open_target", "incidents", ["target_user_id"], unique=True,
                    sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'"))
    op.create_index("ix_incidents_status", "incidents", ["status"])

    op.create_table(
        "action_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("impact", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("requested_by_id", sa.String(64), nullable=False),
        sa.Column("requested_by_name", sa.String(256), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("requested_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts()),
        sa.Column("remind_at", _ts()),
        sa.Column("reminded_at", _ts()),
        sa.Column("decided_by_id", sa.String(64)),
        sa.Column("decided_by_name", sa.String(256)),
        sa.Column("decided_at", _ts()),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires_at", _ts()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", _ts()),
        sa.Column("finished_at", _ts()),
        sa.Column("result", _json()),
        sa.Column("undo_of", sa.String(32)),
        sa.Column("correlation_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_action_requests"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_action_requests_incident_id_incidents"),
        sa.ForeignKeyConstraint(["undo_of"], ["action_requests.id"],
                                name="fk_action_requests_undo_of_action_requests"),
    )
    op.create_index("ix_action_requests_incident_id", "action_requests", ["incident_id"])
    op.create_index("ix_action_requests_batch_id", "action_requests", ["batch_id"])
    op.create_index("ix_action_requests_state", "action_requests", ["state", "lease_expires_at"])

    op.create_table(
        "snapshots",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("action_request_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("taken_at", _ts(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(["action_request_id"], ["action_requests.id"],
                                name="fk_snapshots_action_request_id_action_requests"),
    )
    op.create_index("ix_snapshots_action_request_id", "snapshots", ["action_request_id"])

    op.create_table(
        "audit_log",
        sa.Column("seq", _big(), autoincrement=False, nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(256), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("incident_id", sa.String(32)),
        sa.Column("request_ids", _json(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_incident_id", "audit_log", ["incident_id"])

    op.create_table(
        "conversation_refs",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(256)),
        sa.Column("reference", _json(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_conversation_refs"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("alert_id", sa.String(256), nullable=False),
        sa.Column("account", sa.String(320), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("incident_id", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_alerts_incident_id_incidents"),
        sa.UniqueConstraint("source", "alert_id", name="uq_alerts_source_alert_id"),
    )
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cursors"),
    )

    op.create_table(
        "processed_activities",
        sa.Column("activity_id", sa.String(512), nullable=False),
        sa.Column("seen_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name="pk_processed_activities"),
    )
    op.create_index("ix_processed_activities_seen_at", "processed_activities", ["seen_at"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])

    op.create_table(
        "choices",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("query", sa.String(256), nullable=False),
        sa.Column("candidates", _json(), nullable=False),
        sa.Column("created_by_id", sa.String(64), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_choices"),
    )


def downgrade() -> None:
    for table in ("choices", "webhook_deliveries", "processed_activities", "cursors", "alerts",
                  "conversation_refs", "audit_log", "snapshots", "action_requests", "incidents"):
        op.drop_table(table)
