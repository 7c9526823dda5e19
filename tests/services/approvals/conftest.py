from tests.services.store.databases import db_url, pg_database_url, second_store, store

__all__ = ["db_url", "pg_database_url", "second_store", "store"]
