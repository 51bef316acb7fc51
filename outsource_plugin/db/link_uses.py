"""The e-mail partner's used links, so that each link works once.

A link is recorded as used in the transaction of the action it performs: the
action and its record commit together or not at all. Two answers racing with
the same link both insert the same ``link_hash``; the unique constraint lets
one through, and the other is refused as a second use.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outsource_plugin.db.models import MailLinkUse
from outsource_plugin.errors import MailLinkRefused

USED = "This link was already used: each link in our e-mails works once."


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refuse_used(session: Session, token: str) -> None:
    """MailLinkRefused when ``token`` was used."""
    if session.scalars(select(MailLinkUse.id).where(MailLinkUse.link_hash == link_hash(token))).first() is not None:
        raise MailLinkRefused(USED)


def record_use(session: Session, token: str, engagement_uid: str, action: str) -> None:
    """Record ``token`` (a link to ``action`` on the engagement) as used in the session's transaction;
    MailLinkRefused (rolled back) when another answer with the same link got there first."""
    session.add(MailLinkUse(link_hash=link_hash(token), engagement_uid=engagement_uid, action=action))
    try:
        session.flush()
    except IntegrityError as err:
        session.rollback()
        raise MailLinkRefused(USED) from err
