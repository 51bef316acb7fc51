"""PostgreSQL LISTEN for new outbox rows: one connection and one thread per process.

A worker runs its delivery round, and a held feed request answers, the moment
a commit adds an outbox row (migration ``0014_notify`` NOTIFYs with the
partner's id), instead of at the next interval. The intervals stay: a lost
connection costs latency until it is back, never a message, and nothing here
delivers or claims anything, so the lease rules alone decide who sends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = "outsource_outbox"

#: called with the partner whose feed grew, or ``None`` when anything may have (a (re)connect)
Wake = Callable[[int | None], None]


def listens(engine: Engine) -> bool:
    """Only PostgreSQL has NOTIFY; on SQLite the callers keep their intervals and checks."""
    return engine.dialect.name == "postgresql"


class OutboxListener:
    """Calls ``wake`` for each notification on its own daemon thread, reconnecting when the
    connection is lost (after ``retry`` seconds), until ``stop``."""

    def __init__(self, engine: Engine, wake: Wake, *, retry: float = 1.0) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._wake = wake
        self._retry = retry
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outsource-listen", daemon=True)
        self._connection: Any = None
        #: set while a connection is listening; tests and the health of a worker read it
        self.listening = threading.Event()
        #: how many connections have listened so far: more than one means it reconnected
        self.connections = 0

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, if any."""
        connection = self._connection
        return None if connection is None else int(connection.info.backend_pid)

    def start(self) -> OutboxListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg  # the postgres extra: only a PostgreSQL host gets here

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._connection = connection
                    self.connections += 1
                    self.listening.set()
                    # what was committed while no connection listened is due too
                    self._wake(None)
                    while not self._stopping.is_set():
                        for note in connection.notifies(timeout=0.5):
                            self._wake(int(note.payload) if note.payload.isdigit() else None)
            except psycopg.Error as err:
                log.warning("LISTEN %s lost (%s); the intervals cover until it is back", CHANNEL, type(err).__name__)
            finally:
                self.listening.clear()
                self._connection = None
            self._stopping.wait(self._retry)
