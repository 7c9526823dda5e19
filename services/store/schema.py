"""Table definitions shared by the repositories and the Alembic migrations' consistency test.

The migrations in services/store/migrations are the source of truth for the database; this metadata must
describe the same schema (tests/services/store/test_migrations.py compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both dialects.

    SQLite has no time zone type: values are stored as naive UTC text, which also keeps their
    lexical order equal to their time order, so range comparisons in SQL stay correct.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when: datetime = value  # the column's DateTime type hands back a datetime
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

incidents = sa.Table(
    "incidents", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("target_user_id", sa.String(64), nullable=False),
    sa.Column("target_upn", sa.String(320), nullable=False),
    sa.Column("target_display_name", sa.String(256), nullable=False),
    sa.Column("target_is_admin", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("opened_by_id", sa.String(64), nullable=False),
    sa.Column("opened_by_name", sa.String(256), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("contained_at", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("closed_by_id", sa.String(64)),
    sa.Column("closed_by_name", sa.String(256)),
    sa.Column("close_reason", sa.String(500)),
    sa.Column("investigation", JSONType),
    sa.Column("conversation_ref", JSONType),
    sa.Column("conversation_id", sa.String(512)),
    sa.Column("card_activity_id", sa.String(256)),
    sa.Column("cutoff", UTCDateTime()),
    sa.Column("correlation_id", sa.String(64)),
    # One incident that is not closed per account; enforced by the database, not by a read-then-write.
    sa.Index("uq_incidents_open_target", "target_user_id", unique=True,
             sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'")),
    sa.Index("ix_incidents_status", "status"),
    sa.Index("ix_incidents_card_activity_id", "card_activity_id"),  # migration 0002: a click's card
)

action_requests = sa.Table(
    "action_requests", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("incident_id", sa.String(32), sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("batch_id", sa.String(32), nullable=False),
    sa.Column("action", sa.String(48), nullable=False),
    sa.Column("impact", sa.String(16), nullable=False),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("requested_by_id", sa.String(64), nullable=False),
    sa.Column("requested_by_name", sa.String(256), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("remind_at", UTCDateTime()),
    sa.Column("reminded_at", UTCDateTime()),
    # Who approved, rejected or cancelled it (for standard actions: the requester); `state` says which.
    sa.Column("decided_by_id", sa.String(64)),
    sa.Column("decided_by_name", sa.String(256)),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("override", sa.Boolean(), nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_expires_at", UTCDateTime()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("result", JSONType),
    sa.Column("undo_of", sa.String(32), sa.ForeignKey("action_requests.id")),
    sa.Column("correlation_id", sa.String(64)),
    sa.Index("ix_action_requests_incident_id", "incident_id"),
    sa.Index("ix_action_requests_batch_id", "batch_id"),
    sa.Index("ix_action_requests_state", "state", "lease_expires_at"),
)

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("action_request_id", sa.String(32), sa.ForeignKey("action_requests.id"), nullable=False),
    sa.Column("action", sa.String(48), nullable=False),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Index("ix_snapshots_action_request_id", "action_request_id"),
)

# Append-only. No foreign keys: the record must outlive anything it mentions.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor_id", sa.String(64), nullable=False),
    sa.Column("actor_name", sa.String(256), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("incident_id", sa.String(32)),
    sa.Column("request_ids", JSONType, nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_incident_id", "incident_id"),
)

conversation_refs = sa.Table(
    "conversation_refs", metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("team_id", sa.String(256)),
    sa.Column("reference", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("alert_id", sa.String(256), nullable=False),
    sa.Column("account", sa.String(320), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("incident_id", sa.String(32), sa.ForeignKey("incidents.id")),
    sa.UniqueConstraint("source", "alert_id", name="uq_alerts_source_alert_id"),
    sa.Index("ix_alerts_incident_id", "incident_id"),
)

cursors = sa.Table(
    "cursors", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

processed_activities = sa.Table(
    "processed_activities", metadata,
    sa.Column("activity_id", sa.String(512), primary_key=True),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
    sa.Index("ix_processed_activities_seen_at", "seen_at"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Index("ix_webhook_deliveries_received_at", "received_at"),
)

choices = sa.Table(
    "choices", metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("query", sa.String(256), nullable=False),
    sa.Column("candidates", JSONType, nullable=False),
    sa.Column("created_by_id", sa.String(64), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

cli_outbox = sa.Table(
    "cli_outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(32), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("outcome", sa.String(32)),
    sa.Index("ix_cli_outbox_delivered_at", "delivered_at"),
)

# Deletion order for tests and maintenance (children first).
ALL_TABLES = (cli_outbox, audit_log, snapshots, alerts, action_requests, incidents, conversation_refs, cursors,
              processed_activities, webhook_deliveries, choices)
