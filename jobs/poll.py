"""Poll each active partner's change feed from its stored cursor."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import select

from outsource_plugin import signals
from outsource_plugin.adapters.base import Capability, EngagementRef
from outsource_plugin.db.models import Engagement, Partner, utcnow
from outsource_plugin.db.outbox import lock_feed
from outsource_plugin.errors import AdapterError
from outsource_plugin.ops.logs import log_context
from outsource_plugin.ops.metrics import record_poll
from outsource_plugin.state import OutsourceState
from outsource_plugin.sync.inbound import apply_polled
from outsource_plugin.sync.poll_backoff import back_off, due_partners, end_backoff
from outsource_plugin.validation.schemas import MAX_FEED_WAIT
from outsource_plugin.workflow import Side, Status

log = logging.getLogger(__name__)

#: the engagements whose remote tickets a foreign partner system is read for
POLLED_STATUSES = (Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_APPROVAL)


def open_engagements(state: OutsourceState, partner: Partner) -> list[EngagementRef]:
    """This partner's open engagements that we outsourced, for adapters that read ticket by ticket."""
    query = (
        select(Engagement)
        .where(
            Engagement.partner_id == partner.id,
            Engagement.role == Side.LEAD,
            Engagement.status.in_(POLLED_STATUSES),
        )
        .order_by(Engagement.id)
    )
    return [EngagementRef(e.uid, e.remote_ref, e.status.value) for e in state.session.scalars(query)]


def poll_partner(state: OutsourceState, partner: Partner, hold: float = 0.0, at: datetime | None = None) -> int:
    """Apply one batch of the partner's changes; the cursor advances in the same commit.

    Whatever goes wrong with this partner (its system is down, answers nonsense, or one of
    its messages cannot be applied) is rolled back and recorded on the partner as its
    last poll error, and ``sync_failed`` is sent: it is this partner's failure only, and
    the round goes on to the next partner. With ``hold`` (seconds) a partner that can holds
    the poll open until it has a change. A failure also sets when the poll job asks the
    partner next, counted from ``at`` (the round's start; now by default).
    """
    started, partner_id, attempted_at = time.perf_counter(), partner.id, at or utcnow()
    try:
        return _apply_batch(state, partner, started, hold)
    except AdapterError as err:
        state.session.rollback()
        log.warning("poll of partner %s failed: %s", partner_id, err.message, extra=log_context(partner=partner))
        return _failed(state, partner, started, err.message, attempted_at)
    except Exception as err:  # any bug or malformed message: isolated to this partner, logged
        state.session.rollback()
        error = f"{type(err).__name__}: {err}"
        log.exception("poll of partner %s failed: %s", partner_id, error, extra=log_context(partner=partner))
        return _failed(state, partner, started, error, attempted_at)


def _apply_batch(state: OutsourceState, partner: Partner, started: float, hold: float) -> int:
    session = state.session
    adapter, cursor = state.adapter_for(partner), partner.poll_cursor
    engagements = [] if Capability.FEED in adapter.capabilities else open_engagements(state, partner)
    # No transaction is held across the network call: on SQLite it holds the write lock, and
    # two peers polling each other at once would each wait on the other until the timeout.
    session.commit()
    held = hold > 0 and adapter.holds_feed
    batch = adapter.hold_changes(cursor, hold) if held else adapter.fetch_changes(cursor, engagements)
    if batch.changes:
        lock_feed(session, partner.id)  # the partner row before any engagement: see lock_feed
    refused = apply_polled(state, partner, batch.changes)
    if batch.cursor is not None:
        partner.poll_cursor = batch.cursor
    partner.last_poll_at = utcnow()
    partner.last_poll_error = refused
    end_backoff(partner)
    session.commit()
    record_poll(state, partner, started, ok=True)
    return len(batch.changes)


def _failed(state: OutsourceState, partner: Partner, started: float, error: str, attempted_at: datetime) -> int:
    """Keep the error where the pages show it; the caller has rolled back what the poll half-wrote."""
    session = state.session
    partner.last_poll_error = error
    back_off(state, partner, attempted_at)
    session.commit()
    signals.sync_failed.send(state.app, partner_id=partner.id, error=error)
    record_poll(state, partner, started, ok=False)
    return 0


def poll_all(state: OutsourceState, hold: float = 0.0) -> int:
    """Poll every active partner in turn, backing off or not (a round run by hand: ``run_once``);
    one partner's failure does not keep the others waiting.

    With ``hold``, the partners share it, so a round lasts at most that long.
    """
    partners = state.session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)).all()
    return _poll_round(state, list(partners), hold, utcnow())


def poll_due(state: OutsourceState, hold: float = 0.0, now: datetime | None = None) -> int:
    """The poll job's round: as ``poll_all``, but a partner whose polls fail only when its wait is over
    (``sync.poll_backoff``); ``now`` is the round's start, the job's clock."""
    now = now or utcnow()
    return _poll_round(state, due_partners(state, now), hold, now)


def _poll_round(state: OutsourceState, partners: list[Partner], hold: float, now: datetime) -> int:
    share = hold / len(partners) if partners else 0.0
    return sum(poll_partner(state, p, share, now) for p in partners)


def follow_feeds(state: OutsourceState) -> int:
    """The poll job under ``OUTSOURCE_POLL_HOLD``: held rounds back to back, so a partner's change
    arrives as it commits, pushes or not.

    It returns when a round neither brought changes nor was held (the partners answered at
    once: over their bound, or down), and the next interval starts it again.
    """
    hold = min(float(state.config["OUTSOURCE_POLL_INTERVAL"]), MAX_FEED_WAIT)
    changes = 0
    while True:
        started = time.perf_counter()
        polled = poll_due(state, hold)
        changes += polled
        if not polled and time.perf_counter() - started < hold / 2:
            return changes
