"""What a ticket page shows of the plugin's tables, read with one statement.

The page's entry origins, the blue bar, the bar's live version and the
partner's held entries all come from the ticket's engagements and their entry
links. Read apart they were five queries on every ticket page; at a million
engagements each one's round trip and parse showed in the page's p95.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Engagement, EntryLink


@dataclass
class TicketRead:
    """The ticket's engagements, newest first, and every link of them (retired ones too), oldest first."""

    engagements: list[Engagement] = field(default_factory=list)
    links: list[tuple[EntryLink, Engagement]] = field(default_factory=list)

    @property
    def current(self) -> Engagement | None:
        """The ticket's current engagement: its newest one, of either role."""
        return self.engagements[0] if self.engagements else None

    def links_of(self, engagement: Engagement) -> list[EntryLink]:
        return [link for link, owner in self.links if owner is engagement]


#: built once, as it runs on every ticket page: building it was a fifth of its time in a py-spy profile
_READ = (
    select(Engagement, EntryLink)
    .outerjoin(EntryLink, EntryLink.engagement_uid == Engagement.uid)
    .where(Engagement.ticket_id == bindparam("ticket_id"))
    .order_by(Engagement.id.desc(), EntryLink.id)
)


def read_ticket(session: Session, ticket_id: str) -> TicketRead:
    """Every engagement of the ticket with each of its links (an engagement without any, once)."""
    rows = session.execute(_READ, {"ticket_id": ticket_id}).all()
    read = TicketRead()
    for engagement, link in rows:
        if not read.engagements or read.engagements[-1] is not engagement:
            read.engagements.append(engagement)
        if link is not None:
            read.links.append((link, engagement))
    read.links.sort(key=lambda pair: pair[0].id)
    return read
