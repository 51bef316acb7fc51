"""Who is e-mailed about which event, and what the message says.

Each host e-mails its own people, with links to its own pages:

- a service host, the partner's mailbox (``Partner.notify_email``) when that lead
  partner's offer arrives, and when the lead cancels an offer not yet accepted;
- a lead host, the lead ticket's assignee when the service partner accepts, declines,
  submits or asks a question, and when the offer expires (auto-decline);
- a service host, the service ticket's assignee when the lead rejects or cancels.

Financial terms are in a message only for a recipient with Allow All; a partner's
mailbox has no level, so it never gets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from outsource_plugin import signals
from outsource_plugin.db.models import Engagement
from outsource_plugin.host.protocol import ticket_assignee
from outsource_plugin.permissions import Permission
from outsource_plugin.state import OutsourceState
from outsource_plugin.validation.schemas import visible_terms
from outsource_plugin.workflow import Action, Side

#: what the lead's assignee hears of: the service partner's acts, and the offer expiring
LEAD_HEARS = frozenset({Action.ACCEPT, Action.DECLINE, Action.SUBMIT, Action.AUTO_DECLINE})
#: what the service ticket's assignee hears of: the lead's acts (a cancel that crossed our
#: acceptance withdraws the ticket we had opened), by the event they are told as
SERVICE_HEARS = {Action.REJECT: "reject", Action.CANCEL: "cancel", Action.WITHDRAW: "cancel"}
#: events a partner's mailbox hears of when the ticket has no assignee to tell
MAILBOX_EVENTS = frozenset({"offer", "cancel"})

SUBJECTS = {
    "offer": "New offer from {partner}: {title}",
    "accept": "{partner} accepted ticket {number}: {title}",
    "decline": "{partner} declined ticket {number}: {title}",
    "auto_decline": "The offer of ticket {number} to {partner} expired",
    "submit": "{partner} submitted ticket {number} for approval",
    "question": "Question from {partner} on ticket {number}",
    "reject": "{partner} rejected the work on ticket {number}",
    "cancel": "{partner} canceled the outsourcing of ticket {number}",
}

#: the message's first sentence, the same in its plain text and its HTML
SUMMARIES = {
    "offer": "{partner} offers {org} a ticket: {title}.",
    "accept": "{partner} accepted ticket {number} ({title}) and will work on it.",
    "decline": "{partner} declined ticket {number} ({title}).",
    "auto_decline": "{partner} did not accept ticket {number} in time: the offer was declined automatically.",
    "submit": "{partner} finished ticket {number} and asks you to approve the work.",
    "question": "{partner} asks a question on ticket {number}.",
    "reject": "{partner} rejected the work submitted on ticket {number}: it is back in progress.",
    "cancel": "{partner} canceled the outsourcing of ticket {number}.",
}


@dataclass(frozen=True)
class Mail:
    event: str
    engagement_uid: str
    recipient: str
    subject: str
    text_body: str
    html_body: str


@dataclass(frozen=True)
class _Recipient:
    address: str
    name: str | None
    level: Permission


def mails_for(state: OutsourceState, signal: Any, kwargs: dict[str, Any]) -> list[Mail]:
    """The e-mails one pending signal causes on this host (often none)."""
    engagement = state.session.scalars(select(Engagement).where(Engagement.uid == kwargs["engagement_uid"])).first()
    if engagement is None:
        return []
    if signal is signals.status_changed:
        event = _status_event(engagement, kwargs["action"], kwargs["side"])
    elif signal is signals.question_asked and engagement.role is Side.LEAD:
        event = "question"
    else:
        event = None
    recipient = _recipient(state, engagement, event) if event else None
    if event is None or recipient is None:
        return []
    return [_render(state, engagement, event, recipient, kwargs)]


def _status_event(engagement: Engagement, action: Action, side: Side) -> str | None:
    if engagement.role is Side.SERVICE and action is Action.SEND:
        return "offer"
    if engagement.role is Side.LEAD and side is not Side.LEAD and action in LEAD_HEARS:
        return action.value
    if engagement.role is Side.SERVICE and side is not Side.SERVICE and action in SERVICE_HEARS:
        return SERVICE_HEARS[action]
    return None


def _recipient(state: OutsourceState, engagement: Engagement, event: str) -> _Recipient | None:
    """The ticket's assignee; for an offer, and a cancel nobody is assigned to hear, the partner's mailbox."""
    user = None
    if engagement.ticket_id is not None and event != "offer":
        user = ticket_assignee(state.host, engagement.ticket_id)
    if user is not None and user.email:
        return _Recipient(user.email, user.name, user.permission)
    address = engagement.partner.notify_email if event in MAILBOX_EVENTS else None
    return _Recipient(address, None, Permission.OUTSOURCE) if address else None


def _link(state: OutsourceState, engagement: Engagement) -> str:
    """The host's ticket page when there is one and the host says where, else the engagement page."""
    config = state.config
    pattern = str(config["OUTSOURCE_TICKET_URL"])
    if engagement.ticket_id and pattern:
        path = pattern.format(ticket_id=engagement.ticket_id)
    else:
        urls = state.app.url_map.bind("localhost", script_name="/")
        path = urls.build("outsource_pages.engagement_page", {"engagement_id": engagement.id})
    return str(config["OUTSOURCE_BASE_URL"]).rstrip("/") + path


def _terms(engagement: Engagement, level: Permission) -> list[tuple[str, Any]]:
    if level < Permission.OUTSOURCE:
        return []
    shown = visible_terms(engagement.effective_terms, financial=level >= Permission.ALL)
    return [(key.replace("_", " ").capitalize(), value) for key, value in shown.items() if value not in (None, "")]


def _render(
    state: OutsourceState, engagement: Engagement, event: str, recipient: _Recipient, kwargs: dict[str, Any]
) -> Mail:
    offer = engagement.offer or {}
    number = engagement.ticket_number or engagement.remote_ticket_number or offer.get("number") or f"#{engagement.id}"
    facts = {
        "partner": engagement.partner.name,
        "title": offer.get("title") or "",
        "number": number,
        "org": state.config["OUTSOURCE_ORG_NAME"],
    }
    context = {
        "event": event,
        "subject": SUBJECTS[event].format(**facts),
        "summary": SUMMARIES[event].format(**facts),
        **facts,
        "recipient_name": recipient.name,
        "link": _link(state, engagement),
        "reason": kwargs.get("reason"),
        "question": kwargs.get("text"),
        "terms": _terms(engagement, recipient.level),
        "accept_by": engagement.acceptance_deadline if event == "offer" else None,
    }
    jinja = state.app.jinja_env
    text = jinja.select_template([f"outsource/mail/{event}.txt", "outsource/mail/notice.txt"]).render(context)
    html = jinja.select_template([f"outsource/mail/{event}.html", "outsource/mail/notice.html"]).render(context)
    return Mail(event, engagement.uid, recipient.address, context["subject"], text, html)
