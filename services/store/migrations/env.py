"""Alembic environment for Contain. Run programmatically by services.store.db.Store.migrate, which
passes an open connection in `config.attributes["connection"]`; there is no alembic.ini."""

from __future__ import annotations

from alembic import context

from services.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Contain runs its migrations through open_store() in bot.py; no connection was given.")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; Alembic's batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("Offline (SQL script) migrations are not supported; use open_store() in bot.py.")
run_migrations_online()
