"""A ticket's live version: what an open ticket page compares to learn whether to redraw.

It is one small query, so a page polling an unchanged ticket costs the database little.
The engagement row is touched by every status change and by every change from the
partner (``last_sync_at``), and each synced entry has an ``EntryLink``, so the newest
engagement's id and ``updated_at`` with its links' count and newest ``updated_at``
change whenever the bar or the ticket's synced entries do, and not on an idle round.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outsource_plugin.core.ticket_read import TicketRead
from outsource_plugin.db.models import Engagement, EntryLink


def live_version(session: Session, ticket_id: str) -> str:
    """An opaque token of the ticket's current engagement and its synced entries."""
    newest = select(func.max(Engagement.id)).where(Engagement.ticket_id == ticket_id).scalar_subquery()
    query = (
        select(Engagement.id, Engagement.updated_at, func.count(EntryLink.id), func.max(EntryLink.updated_at))
        .outerjoin(EntryLink, EntryLink.engagement_uid == Engagement.uid)
        .where(Engagement.id == newest)
        .group_by(Engagement.id, Engagement.updated_at)
    )
    row = session.execute(query).one_or_none()
    return _token(tuple(row) if row else None)


def read_version(read: TicketRead) -> str:
    """``live_version`` of a ticket page's read (the same token, from the rows the page has)."""
    engagement = read.current
    if engagement is None:
        return _token(None)
    stamps = [link.updated_at for link in read.links_of(engagement)]
    return _token((engagement.id, engagement.updated_at, len(stamps), max(stamps, default=None)))


def _token(facts: tuple[Any, ...] | None) -> str:
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:20]
