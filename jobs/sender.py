"""A delivery round's batches go out on a thread of their own, one request after the other.

While the partner applies one batch, the round settles the batch before it and claims and
prepares the one after, so the two sides work at once instead of taking turns; the next
batch waits here, ready, and goes as soon as the partner has answered the one before.
Requests still go one at a time and in feed order, so the partner's order check seldom
has anything to refuse.

The thread gets plain data only (the adapter and its messages, no database row): a
database session is never used from two threads.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from types import TracebackType

from outsource_plugin.adapters.base import Delivered, Outbound, PartnerAdapter


@dataclass(frozen=True)
class Claimed:
    """One claimed outbox message as the round hands it over and settles it."""

    id: int
    #: the error its last attempt left (``jobs.deliver`` clears it from the engagement once delivered)
    last_error: str | None
    outbound: Outbound


@dataclass(frozen=True)
class Batch:
    """One partner's claimed messages, in feed order, ready to go."""

    partner_id: int
    adapter: PartnerAdapter
    claimed: tuple[Claimed, ...]
    max_bytes: int


@dataclass(frozen=True)
class Sent:
    """A batch with its outcomes, one per message as ``deliver_batch`` gives them, and the first
    feed number of its partner that this round no longer sends (None: nothing failed)."""

    batch: Batch
    results: list[Delivered]
    stalled_at: int | None


class BatchSender:
    """Sends batches in the order they are put, on a thread started by the first one."""

    def __init__(self) -> None:
        self._todo: queue.Queue[Batch | None] = queue.Queue()
        self._done: queue.Queue[Sent] = queue.Queue()
        self._thread: threading.Thread | None = None
        #: per partner, the lowest feed number that failed this round: what follows it would only
        #: be refused as out of order, so it is given back untried (the thread's own record)
        self._stalled: dict[int, int] = {}
        #: batches put and not yet taken back with ``next``
        self.waiting = 0

    def __enter__(self) -> BatchSender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._thread is None:
            return
        if error is not None:  # the round failed: what was not sent yet stays leased, unsent
            while not self._todo.empty():
                self._todo.get_nowait()
        self._todo.put(None)
        self._thread.join()

    def put(self, batch: Batch) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outsource-send", daemon=True)
            self._thread.start()
        self.waiting += 1
        self._todo.put(batch)

    def next(self) -> Sent:
        """The oldest batch put, once its answer is in."""
        sent = self._done.get()
        self.waiting -= 1
        return sent

    def _run(self) -> None:
        while (batch := self._todo.get()) is not None:
            self._done.put(self._send(batch))

    def _send(self, batch: Batch) -> Sent:
        stop = self._stalled.get(batch.partner_id)
        going = [c.outbound for c in batch.claimed if stop is None or c.outbound.seq < stop]
        try:
            results = batch.adapter.deliver_batch(going, batch.max_bytes) if going else []
        except Exception as err:  # noqa: BLE001  (the adapter failed as a whole: each attempt did; settled by the round)
            results = [err] * len(going)
        results += [None] * (len(batch.claimed) - len(going))
        failed = [m.seq for m, result in zip(going, results, strict=False) if isinstance(result, Exception)]
        if failed:
            self._stalled[batch.partner_id] = min(failed + ([] if stop is None else [stop]))
        return Sent(batch, results, self._stalled.get(batch.partner_id))
