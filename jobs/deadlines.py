"""Time-driven housekeeping: auto-decline expired offers (lead side only), forget old request ids."""

from __future__ import annotations

from sqlalchemy import select

from outsource_plugin.engagements import Actor, perform
from outsource_plugin.extension import OutsourceState
from outsource_plugin.federation import forget_old_requests
from outsource_plugin.models import Engagement, utcnow
from outsource_plugin.workflow import Action, Side, Status


def expire_offers(state: OutsourceState) -> int:
    """The lead owns the deadline, so only lead engagements are expired here;
    the service side learns of it as a relayed auto-decline."""
    session = state.session
    due = session.scalars(
        select(Engagement)
        .where(
            Engagement.role == Side.LEAD,
            Engagement.status == Status.ASSIGNED,
            Engagement.acceptance_deadline < utcnow(),
        )
        .order_by(Engagement.id)
    ).all()
    for engagement in due:
        perform(
            state,
            engagement,
            Action.AUTO_DECLINE,
            Side.SYSTEM,
            Actor("system"),
            reason="auto-declined: the acceptance deadline passed",
        )
        session.commit()
    forget_old_requests(session, float(state.config["OUTSOURCE_SIGNATURE_TOLERANCE"]))
    session.commit()
    return len(due)
