"""Persistence for Contain: incidents, action requests, snapshots, the hash-chained audit log and the
small tables the bot needs for idempotency (processed activities, webhook deliveries, choices).

`Store` (services.store.db) owns the engine; the modules next to it hold small keyword-only
repository functions grouped by table. SQLite by default, PostgreSQL for several instances.
"""

from services.store.db import Store

__all__ = ["Store"]
