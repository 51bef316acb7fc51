"""Poll each active partner's change feed from its stored cursor."""

from __future__ import annotations

import logging

from sqlalchemy import select

from outsource_plugin import signals
from outsource_plugin.errors import AdapterError
from outsource_plugin.extension import OutsourceState
from outsource_plugin.inbound import apply_change
from outsource_plugin.models import Partner, utcnow

log = logging.getLogger(__name__)


def poll_partner(state: OutsourceState, partner: Partner) -> int:
    """Apply one batch of the partner's changes; the cursor advances in the same commit."""
    session = state.session
    try:
        batch = state.adapter_for(partner).fetch_changes(partner.poll_cursor)
    except AdapterError as err:
        partner.last_poll_error = err.message
        session.commit()
        signals.sync_failed.send(state.app, partner_id=partner.id, error=err.message)
        return 0
    for change in batch.changes:
        apply_change(state, partner, change)
    if batch.cursor is not None:
        partner.poll_cursor = batch.cursor
    partner.last_poll_at = utcnow()
    partner.last_poll_error = None
    session.commit()
    return len(batch.changes)


def poll_all(state: OutsourceState) -> int:
    partners = state.session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)).all()
    return sum(poll_partner(state, p) for p in partners)
