"""Bounces: a delivery status notification (RFC 3464) that a mail server returned for one of our e-mails.

SMTP accepting an e-mail is not the partner receiving it: the partner's server
may refuse it later and mail back a ``multipart/report`` of type
``delivery-status``. Such a report is a failed attempt of the outbox message
that sent the e-mail, counted like any other: retried with the outbox's
backoff, dead-lettered at ``OUTSOURCE_MAX_ATTEMPTS``, and shown on the
engagement meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser

from sqlalchemy import select

from outsource_plugin.db.models import Engagement, MessageKind, MessageState, OutboxMessage, Partner
from outsource_plugin.jobs.deliver import failed_attempt
from outsource_plugin.state import current_outsource

#: our Message-IDs: ``<offer.<uid>@...>`` for the offer, ``<<outbox message id>.<uid>@...>`` after it
OUR_ID = re.compile(r"<(?P<message>[\w-]+)\.(?P<uid>[\w-]+)@[^>]+>")


@dataclass(frozen=True)
class Bounce:
    """A report that our e-mail ``original_id`` could not be delivered, and the server's reason."""

    original_id: str
    reason: str


def read_bounce(message: EmailMessage) -> Bounce | None:
    """The bounce a report carries; None for any other e-mail, and for a report of a delay or a success."""
    if message.get_content_type() != "multipart/report" or message.get_param("report-type") != "delivery-status":
        return None
    failures: list[str] = []
    original = ""
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            failures += [_reason(block) for block in _blocks(part) if _failed(block)]
        elif kind == "text/rfc822-headers":
            original = str(HeaderParser().parsestr(str(part.get_content())).get("Message-ID") or "")
        elif kind == "message/rfc822":
            original = next((str(m.get("Message-ID") or "") for m in _blocks(part)), "")
    if not failures or not original:
        return None
    return Bounce(original.strip(), "; ".join(failures))


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part, or the message a message/rfc822 part holds."""
    payload = part.get_payload()
    return [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []


def _failed(block: Message) -> bool:
    return str(block.get("Action") or "").strip().lower() == "failed"


def _reason(block: Message) -> str:
    recipient = str(block.get("Final-Recipient") or "").partition(";")[2].strip()
    said = str(block.get("Diagnostic-Code") or block.get("Status") or "").partition(";")[2].strip()
    return f"{recipient}: {said or block.get('Status')}"


def bounced_engagement(bounce: Bounce, engagement_uids: Collection[str]) -> str | None:
    """The open engagement whose e-mail bounced, if the report names one of ours."""
    found = OUR_ID.fullmatch(bounce.original_id)
    return found["uid"] if found is not None and found["uid"] in engagement_uids else None


def count_bounce(partner_id: int, bounce: Bounce, engagement_uid: str) -> None:
    """The bounced e-mail's outbox message failed once more (the poll's commit writes it).

    Only a delivered message counts: a report for one already being retried changes nothing.
    The caller counts each report once (it is kept aside by its Message-ID) and only for an
    open engagement of this partner (``bounced_engagement``).
    """
    found = OUR_ID.fullmatch(bounce.original_id)
    assert found is not None
    which = (
        OutboxMessage.kind == MessageKind.OFFER
        if found["message"] == "offer"
        else OutboxMessage.message_id == found["message"]
    )
    state = current_outsource()
    message = state.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.partner_id == partner_id,
            OutboxMessage.engagement_uid == engagement_uid,
            OutboxMessage.state == MessageState.DELIVERED,
            which,
        )
    ).first()
    if message is None:
        return
    engagement = state.session.scalars(select(Engagement).where(Engagement.uid == engagement_uid)).first()
    error = f"the e-mail bounced: {bounce.reason}"
    partner = state.session.get(Partner, partner_id)
    assert partner is not None
    message.state = MessageState.PENDING
    failed_attempt(state, message, partner, engagement, error, None)
    if engagement is not None and message.state is MessageState.PENDING:
        engagement.last_sync_error = error
