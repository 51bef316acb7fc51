"""The worker's delivery job on PostgreSQL: a round as soon as a new outbox row is NOTIFYed.

Why not nudge APScheduler's interval job instead: a nudge that comes while a
round is finishing finds the job still running and is dropped (one instance
at a time), and the message waits a whole interval. The event set here is
never dropped: set during a round, it starts the next round at once.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from outsource_plugin.jobs.deliver import deliver_due
from outsource_plugin.state import current_outsource

log = logging.getLogger(__name__)


class DeliveryLoop:
    """Delivery rounds on a thread of their own: when woken, else every ``interval`` seconds."""

    def __init__(self, app: Flask, interval: float) -> None:
        self._app = app
        self._interval = interval
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outsource-deliver", daemon=True)

    def wake(self, partner_id: int | None) -> None:
        """A partner's feed grew (any partner's: the round delivers whatever is due)."""
        self._woken.set()

    def start(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            self._woken.wait(self._interval)
            if self._stopping.is_set():
                return
            self._woken.clear()
            try:
                with self._app.app_context():
                    deliver_due(current_outsource())
            except Exception:  # as the scheduler does for a job: logged, and the next round tries again
                log.exception("delivery round failed")
