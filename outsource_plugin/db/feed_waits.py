"""Held feed requests (``GET /changes?wait=``): how many one process holds, and their wake-ups.

A partner polling our feed learns of a change as it commits instead of at its
next poll. Each held request ties up a thread, so a process holds at most
``limit`` at once and answers any more at once, as a plain poll. On
PostgreSQL one LISTEN connection per process wakes the held requests of the
partner whose feed grew; on SQLite, and while that connection is down, a
held request checks again every ``check`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from outsource_plugin.db.wakeups import OutboxListener, listens

#: seconds between two checks of a held feed when no LISTEN connection wakes it
CHECK = 0.05
#: seconds between two checks while LISTEN wakes it: only a backstop for a lost notification
BACKSTOP = 1.0

#: where a partner's feed stood when a request looked: (every feed's count, this partner's count)
Mark = tuple[int, int]


class FeedWaits:
    """The bound on held requests and the counters the wake-ups move."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0
        self._changed = threading.Condition()
        self._all = 0
        self._partners: dict[int, int] = {}
        self._listener: OutboxListener | None = None

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Whether this request may be held: False over the bound (answer at once)."""
        with self._changed:
            taken = self._held < self._limit
            self._held += taken
        try:
            yield taken
        finally:
            with self._changed:
                self._held -= taken

    @property
    def held(self) -> int:
        """How many requests are held now."""
        with self._changed:
            return self._held

    def listen(self, engine: Engine) -> None:
        """Start this process's LISTEN connection on the first held request (PostgreSQL only)."""
        with self._changed:
            if self._listener is None and listens(engine):
                self._listener = OutboxListener(engine, self.wake).start()

    def mark(self, partner_id: int) -> Mark:
        with self._changed:
            return self._all, self._partners.get(partner_id, 0)

    def wake(self, partner_id: int | None) -> None:
        """The partner's feed grew (``None``: any feed may have)."""
        with self._changed:
            if partner_id is None:
                self._all += 1
            else:
                self._partners[partner_id] = self._partners.get(partner_id, 0) + 1
            self._changed.notify_all()

    def pause(self, partner_id: int, since: Mark, timeout: float) -> None:
        """Return when the partner's feed may have grown since ``since``, or after the next check."""
        listening = self._listener is not None and self._listener.listening.is_set()
        step = min(timeout, BACKSTOP if listening else CHECK)
        with self._changed:
            self._changed.wait_for(lambda: self._moved(partner_id, since), timeout=max(step, 0.0))

    def _moved(self, partner_id: int, since: Mark) -> bool:
        return (self._all, self._partners.get(partner_id, 0)) != since
