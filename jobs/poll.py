"""Poll each active partner's change feed from its stored cursor."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from outsource_plugin import signals
from outsource_plugin.adapters.base import EngagementRef
from outsource_plugin.errors import AdapterError, InvalidPartnerMessage
from outsource_plugin.extension import OutsourceState
from outsource_plugin.inbound import apply_change, refuse_change
from outsource_plugin.logs import log_context
from outsource_plugin.metrics import record_poll
from outsource_plugin.models import Engagement, Partner, utcnow
from outsource_plugin.outbox import lock_feed
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


def poll_partner(state: OutsourceState, partner: Partner) -> int:
    """Apply one batch of the partner's changes; the cursor advances in the same commit."""
    session, started = state.session, time.perf_counter()
    adapter, cursor = state.adapter_for(partner), partner.poll_cursor
    engagements = open_engagements(state, partner) if adapter.reads_engagements else []
    # No transaction is held across the network call: on SQLite it holds the write lock, and
    # two peers polling each other at once would each wait on the other until the timeout.
    session.commit()
    try:
        batch = adapter.fetch_changes(cursor, engagements)
    except AdapterError as err:
        partner.last_poll_error = err.message
        session.commit()
        signals.sync_failed.send(state.app, partner_id=partner.id, error=err.message)
        log.warning("poll of partner %s failed: %s", partner.id, err.message, extra=log_context(partner=partner))
        record_poll(state, partner, started, ok=False)
        return 0
    if batch.changes:
        lock_feed(session, partner.id)  # the partner row before any engagement: see lock_feed
    for change in batch.changes:
        try:
            apply_change(state, partner, change)
        except InvalidPartnerMessage as err:
            refuse_change(state, partner, change, err)
    if batch.cursor is not None:
        partner.poll_cursor = batch.cursor
    partner.last_poll_at = utcnow()
    partner.last_poll_error = None
    session.commit()
    record_poll(state, partner, started, ok=True)
    return len(batch.changes)


def poll_all(state: OutsourceState) -> int:
    partners = state.session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)).all()
    return sum(poll_partner(state, p) for p in partners)
