"""The engagement's history page: who did what, when and why, read from the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask.typing import ResponseReturnValue
from sqlalchemy import select

from outsource_plugin.blueprints.pages_common import ID, caller, pages, render, state, ticket_url
from outsource_plugin.core.engagements import get_engagement
from outsource_plugin.db.models import AuditEvent, Engagement
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Action, Side, Status

#: what each audit action reads as in the history
ACTION_WORDS = {
    Action.CONFIGURE: "Outsourcing configured",
    Action.EDIT: "Partner or terms edited",
    Action.REMOVE: "Unsent outsourcing removed",
    Action.SEND: "Sent to the partner",
    Action.CANCEL: "Outsourcing canceled",
    Action.DECLINE: "Declined",
    Action.AUTO_DECLINE: "Automatically declined: not accepted in time",
    Action.ACCEPT: "Accepted",
    Action.START_WORK: "Work started",
    Action.SUBMIT: "Submitted for approval",
    Action.REJECT: "Rejected",
    Action.APPROVE: "Approved",
    Action.COMPLETE: "Completed",
    Action.TICKET_COMPLETE: "The ticket was set Complete",
    Action.WITHDRAW: "Withdrawn: the lead partner had canceled first",
    Action.LAPSE: "Lapsed: the offer had been declined before the acceptance arrived",
    Action.OVERRULE: "Overruled: the lead partner had completed first",
    Action.BACKFILL: "Existing entries sent to the partner",
    Action.REPAIR: "Repaired by reconciliation",
}


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    who: str
    action: str
    what: str
    change: str
    why: str


def _who(event: AuditEvent, engagement: Engagement) -> str:
    """Our user by name; a partner's user with the partner's name, which the actor alone may not say."""
    if event.side is Side.SYSTEM:
        return "System"
    if event.side is engagement.role or event.actor == engagement.partner.name:
        return event.actor
    return f"{event.actor} ({engagement.partner.name})"


def _change(before: Status | None, after: Status | None) -> str:
    if before is after:
        return ""
    if before is None:
        return after.label if after else ""
    return f"{before.label} → {after.label if after else 'removed'}"


def history_rows(engagement: Engagement) -> list[HistoryRow]:
    """The engagement's audit events, oldest first, in words."""
    events = state().session.scalars(
        select(AuditEvent).where(AuditEvent.engagement_uid == engagement.uid).order_by(AuditEvent.id)
    )
    return [
        HistoryRow(
            at=event.at,
            who=_who(event, engagement),
            action=event.action.value,
            what=ACTION_WORDS[event.action],
            change=_change(event.from_status, event.to_status),
            why=event.reason or "",
        )
        for event in events
    ]


@pages.get(f"/engagements/<{ID}:engagement_id>/history")
def engagement_history(engagement_id: int) -> ResponseReturnValue:
    """Whoever may see the engagement's terms and reasons (Allow Outsourcing) may read its history."""
    caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    return render(
        "outsource/history.html",
        engagement=engagement,
        rows=history_rows(engagement),
        back=ticket_url(engagement.ticket_id, engagement),
    )
