"""Ending a partnership, on either side.

The side that ends it disables its partner and owes the other side a notice
(``jobs.leave`` sends it, again and again while the partner is down); both are
written in one transaction, so a disable is never left untold. The side that is
told disables its partner too and keeps the reason to show. Engagements stay as
history: a disabled partner is neither polled nor delivered to, and the
federation API answers it nothing but a repeated leave.

Re-enabling is a decision of each side alone: it tells the other side nothing,
so a partner that left stays gone until it re-enables us itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db.models import Partner, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: ``session.info`` flag: this transaction owes a partner a leave notice, so its commit may nudge ``jobs.leave``
WAKE_LEAVE = "outsource_wake_leave"

#: what a partner is told when the partner manager gave no reason
NO_REASON = "no reason given"


def leave_partnership(session: Session, partner: Partner, reason: str = "") -> Partner:
    """Disable ``partner`` here and, when it has a partnership of its own to end (a peer), owe it
    a notice of why; the caller commits.

    A partner disabled already (by us, or by its own leave) is left as it is: the partnership
    ended once, and its partner heard of it once."""
    if not partner.active:
        return partner
    partner.active = False
    partner.disabled_reason = reason.strip() or NO_REASON
    partner.disabled_by_partner_at = None
    partner.leave_attempts = 0
    partner.leave_error = None
    partner.leave_due_at = utcnow() if adapter_class(partner.adapter).announces_leave else None
    if partner.leave_due_at is not None:
        session.info[WAKE_LEAVE] = True
    return partner


def partner_left(partner: Partner, reason: str) -> bool:
    """The partner told us it ended the partnership: disable it here and keep its reason.

    A notice repeated (its answer was lost, the sender retried) changes nothing;
    returns whether this one did. Any notice we still owed it is dropped: it left.
    """
    if partner.disabled_by_partner_at is not None and not partner.active:
        return False
    partner.active = False
    partner.disabled_reason = reason.strip() or NO_REASON
    partner.disabled_by_partner_at = utcnow()
    partner.leave_due_at = None
    return True


def our_leave(partner: Partner) -> str | None:
    """What the partner page says about a partnership we ended: why, and whether the partner heard."""
    if partner.active or partner.disabled_by_partner_at is not None or partner.disabled_reason is None:
        return None
    said = f"We ended the partnership: {partner.disabled_reason}."
    if partner.leave_due_at is not None:
        return f"{said} {partner.name} has not been reached yet: it is told as soon as it answers."
    if partner.leave_error:
        return f"{said} {partner.name} refused the notice: {partner.leave_error}"
    if adapter_class(partner.adapter).announces_leave:
        return f"{said} {partner.name} was told."
    return said


def ended_notice(partner: Partner) -> str | None:
    """What the pages say about a partnership the partner ended; None when it did not."""
    if partner.active or partner.disabled_by_partner_at is None:
        return None
    when = partner.disabled_by_partner_at.strftime("%Y-%m-%d")
    return f"{partner.name} ended the partnership on {when}: {partner.disabled_reason}"
