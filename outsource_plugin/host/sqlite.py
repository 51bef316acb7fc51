"""SQLite as a host's database, for development and tests: writers that wait their turn.

PostgreSQL is the production database. On SQLite the web threads and the plugin's jobs share
one file, and a transaction that reads and then writes (every relayed change does) fails at
once with "database is locked" instead of waiting, unless each transaction takes the write
lock when it begins. ``init_app`` applies this to the host's bind itself
(``OUTSOURCE_SQLITE_SERIALISE_WRITERS``); a host that still calls the helper gets it once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

#: where a connection keeps the host's busy timeout (ms) while its own waits are ours
_PATIENCE = "outsource_busy_timeout_ms"
#: the longest pause between two tries for the write lock. SQLite's own wait sleeps up to 100 ms
#: at a time, so a writer woke up to 100 ms after the lock came free: with a job's short
#: transaction ahead of it, most of what a pushed batch waited on a busy file.
_LONGEST_PAUSE = 0.002
#: never set: its ``wait`` is the pause. ``time.sleep`` fails with EINVAL in a process whose
#: clock libfaketime moves (the clock-skew tests), where a lock's timed wait works
_PAUSE = threading.Event()


def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    _patience(dbapi_connection, record.info)


def _patience(dbapi_connection: Any, info: dict[str, Any]) -> int:
    """The host's busy timeout of the connection, in ms, read before our waits set it to 0."""
    if _PATIENCE not in info:
        info[_PATIENCE] = int(dbapi_connection.execute("PRAGMA busy_timeout").fetchone()[0])
    return int(info[_PATIENCE])


def _begin_immediate(connection: Any) -> None:
    """Take the write lock as soon as it is free, waiting no longer than the host's busy timeout."""
    pooled = connection.connection
    raw = pooled.dbapi_connection
    patience = _patience(raw, pooled.info)
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        give_up, pause = time.monotonic() + patience / 1000, _LONGEST_PAUSE / 16
        while time.monotonic() < give_up:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err):
                    break
            _PAUSE.wait(pause)
            pause = min(2 * pause, _LONGEST_PAUSE)
        # the last try through SQLAlchemy: a lock still held (or any other refusal) is its error, as before
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout = {patience}")


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


def bound_sqlite_memory(engine: Engine, limit: int) -> None:
    """Keep SQLite's heap in this process near ``limit`` bytes (SQLite's soft heap limit); 0: leave it alone.

    For a worker process (``flask outsource worker``): its jobs take the pool's connections in
    turn, and each connection's page cache fills to SQLite's default (2 MiB) as the outbox is
    read, so a burst grew the worker by a page cache per pooled connection. The limit binds the
    whole process, the host's own connections included, which is why only the plugin's own
    process sets it. Any database other than SQLite is left alone.
    """
    if engine.dialect.name != "sqlite" or limit <= 0:
        return
    connection = engine.raw_connection()
    try:
        connection.cursor().execute(f"PRAGMA soft_heap_limit = {int(limit)}")
    finally:
        connection.close()


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
