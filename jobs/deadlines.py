"""Time-driven housekeeping: auto-decline expired offers (lead side only), forget old request ids."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.core.engagements import Actor, perform
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.db.outbox import lock_feed
from outsource_plugin.federation.feed import forget_old_requests
from outsource_plugin.state import OutsourceState
from outsource_plugin.workflow import Action, Side, Status


def expire_offers(state: OutsourceState) -> int:
    """The lead owns the deadline, so only lead engagements are expired here;
    the service side learns of it as a relayed auto-decline."""
    session = state.session
    expired = 0
    while (engagement := _next_expired(session)) is not None:
        perform(
            state,
            engagement,
            Action.AUTO_DECLINE,
            Side.SYSTEM,
            Actor("system"),
            reason="auto-declined: the acceptance deadline passed",
        )
        session.commit()
        expired += 1
    forget_old_requests(session, float(state.config["OUTSOURCE_SIGNATURE_TOLERANCE"]))
    session.commit()
    return expired


def _next_expired(session: Session) -> Engagement | None:
    """One expired offer, locked until this transaction commits.

    One at a time, re-read under the lock: several workers run this job, and
    an offer must be declined once. Its partner's row is locked first, as every
    transition does (``outbox.lock_feed``), so the job and the partner's crossing
    accept wait on each other in one order, never in a cycle. PostgreSQL skips
    rows another worker holds; SQLite's write transactions already run one at a time.
    """
    expired = (
        Engagement.role == Side.LEAD,
        Engagement.status == Status.ASSIGNED,
        Engagement.acceptance_deadline < utcnow(),
    )
    partner_id = session.scalar(select(Engagement.partner_id).where(*expired).order_by(Engagement.id).limit(1))
    if partner_id is None:
        return None
    lock_feed(session, partner_id)
    query = (
        select(Engagement)
        .where(*expired, Engagement.partner_id == partner_id)
        .order_by(Engagement.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Engagement)
    return session.scalars(query).first()
