"""SQLite as a host's database, for development and tests: writers that wait their turn.

PostgreSQL is the production database. On SQLite the web threads and the plugin's jobs share
one file, and a transaction that reads and then writes (every relayed change does) fails at
once with "database is locked" instead of waiting, unless each transaction takes the write
lock when it begins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def serialise_sqlite_writers(engine: Engine) -> None:
    """Start every transaction on ``engine`` with BEGIN IMMEDIATE, in WAL mode.

    Call it once on the host's SQLite engine, before the first request.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()
