"""Send the leave notices owed to partners, until each partner has taken its own.

A notice is owed from the commit that disabled the partner (``partnership.leaving``)
and is retried with the outbox's capped, jittered backoff while the partner is down,
with no attempt limit: a partner that comes back weeks later still learns why it
was left. Two workers may send one notice twice; the receiver takes a repeat as done.
A refusal that no retry can change (the partner removed us already) ends the
retries, its error kept on the partner for the partners page.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from outsource_plugin.db.models import Partner, utcnow
from outsource_plugin.db.outbox import backoff
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.ops.logs import log_context
from outsource_plugin.state import OutsourceState

log = logging.getLogger(__name__)


def send_leave_notices(state: OutsourceState) -> int:
    """One round: every notice due now, each partner in its own transaction; the number taken."""
    session = state.session
    due = select(Partner.id).where(Partner.leave_due_at <= utcnow()).order_by(Partner.id)
    taken = 0
    for partner_id in session.scalars(due).all():
        partner = session.get(Partner, partner_id)
        if partner is not None and partner.leave_due_at is not None:
            taken += _send(state, partner)
            session.commit()
    return taken


def _send(state: OutsourceState, partner: Partner) -> bool:
    reason = partner.disabled_reason or ""
    partner.leave_attempts += 1
    adapter = state.adapter_for(partner)
    state.session.commit()  # no transaction held across the call to the partner
    try:
        adapter.leave(reason)
    except TransientAdapterError as err:
        wait = backoff(partner.leave_attempts, cap=float(state.config["OUTSOURCE_BACKOFF_CAP"]))
        partner.leave_due_at = utcnow() + timedelta(seconds=wait)
        partner.leave_error = err.message
        log.info(
            "leave notice to partner %s failed, retry in %.1fs", partner.id, wait, extra=log_context(partner=partner)
        )
        return False
    except PermanentAdapterError as err:
        partner.leave_due_at = None
        partner.leave_error = err.message
        log.warning(
            "leave notice to partner %s refused: %s", partner.id, err.message, extra=log_context(partner=partner)
        )
        return False
    partner.leave_due_at = None
    partner.leave_error = None
    return True
