"""The mail outbox: e-mails queued with the change they announce, and leased to one sender.

Like the partner outbox (``db.outbox``), a row is added through the caller's
session, so a rolled-back change sends no mail and a committed one cannot lose
its mail to a crash or a mail-server outage. Unlike it, mail has no feed order:
any worker takes any due row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outsource_plugin.db.models import MailMessage, MessageState, utcnow

#: ``session.info`` flag: this transaction queued mail, so its commit may nudge the mail job
WAKE_MAIL = "outsource_wake_mail"


def enqueue_mail(session: Session, recipient: str, **content: str) -> MailMessage:
    """Queue one rendered e-mail (``content``: the ``MailMessage`` columns event, engagement_uid,
    subject, text_body, html_body); its ``Message-ID`` is fixed now, so a retry is the same message."""
    message_id = make_msgid("outsource", domain=recipient.rpartition("@")[2] or None)
    mail = MailMessage(recipient=recipient, message_id=message_id, **content)
    session.add(mail)
    session.info[WAKE_MAIL] = True
    return mail


def claim_mail(
    session: Session, worker: str, *, limit: int, lease: timedelta, round_start: datetime, now: datetime | None = None
) -> list[int]:
    """Lease up to ``limit`` due e-mails to ``worker``; the caller commits at once.

    A row already tried is due only if its retry time came before the round
    began, so a round never retries what it failed itself. On PostgreSQL the
    rows are taken with SKIP LOCKED: two workers never lease the same e-mail.
    """
    session.connection()  # begun before the clock is read, as ``outbox.claim`` does, and for its reason
    now = now or utcnow()
    due = (
        select(MailMessage.id)
        .where(
            MailMessage.state == MessageState.PENDING,
            MailMessage.next_attempt_at <= now,
            or_(MailMessage.claimed_until.is_(None), MailMessage.claimed_until < now),
            or_(MailMessage.attempts == 0, MailMessage.next_attempt_at <= round_start),
        )
        .order_by(MailMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(MailMessage).where(MailMessage.id.in_(ids)).values(claimed_by=worker, claimed_until=now + lease)
        )
    return ids
