"""SQLite as a host's database, for development and tests: writers that wait their turn.

PostgreSQL is the production database. On SQLite the web threads and the plugin's jobs share
one file, and a transaction that reads and then writes (every relayed change does) fails at
once with "database is locked" instead of waiting, unless each transaction takes the write
lock when it begins. ``init_app`` applies this to the host's bind itself
(``OUTSOURCE_SQLITE_SERIALISE_WRITERS``); a host that still calls the helper gets it once.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)


def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_serialised(engine: Engine) -> bool:
    return event.contains(engine, "begin", _begin_immediate)


def serialise_sqlite_writers(engine: Engine) -> None:
    """Start every transaction on ``engine`` with BEGIN IMMEDIATE, in WAL mode; a second call does nothing.

    The pool is emptied so that connections opened before start this way too.
    """
    if is_serialised(engine):
        return
    event.listen(engine, "connect", _no_implicit_begin)
    event.listen(engine, "begin", _begin_immediate)
    engine.dispose()


def prepare_sqlite(engine: Engine, serialise: bool) -> None:
    """What ``init_app`` does to the host's bind: serialise a SQLite file's writers, or say why not.

    Any other database is left alone, and so is an in-memory SQLite database: its one shared
    connection has no second writer to wait for, and emptying the pool would drop it.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    if serialise:
        serialise_sqlite_writers(engine)
    elif not is_serialised(engine):
        log.warning(
            "OUTSOURCE_SQLITE_SERIALISE_WRITERS is off on SQLite: concurrent writers (web threads, the "
            "plugin's jobs) may fail with 'database is locked' instead of waiting"
        )
