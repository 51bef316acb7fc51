"""What waits on this side for a technician: the "Outsourced work" page and the header badge.

A technician with Allow Outsourcing cannot open the dashboard (Allow Partner
Management), so the items that need a person here are gathered in one place:
offers received and waiting for acceptance, our outsourced tickets waiting
for approval, and the service partners' questions on tickets still being worked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import ScalarSelect

from outsource_plugin.db.models import Engagement, EntryLink, StatusCount
from outsource_plugin.workflow import Side, Status

#: a question stays listed while the service partner is still working the ticket
ASKING_STATUSES = (Status.ACCEPTED, Status.IN_PROGRESS)


@dataclass(frozen=True)
class Question:
    engagement: Engagement
    link: EntryLink


@dataclass(frozen=True)
class WorkItems:
    offers: list[Engagement]
    approvals: list[Engagement]
    questions: list[Question]
    counts: dict[str, int]


def _offers() -> Select[Engagement]:
    return select(Engagement).where(Engagement.role == Side.SERVICE, Engagement.status == Status.ASSIGNED)


def _approvals() -> Select[Engagement]:
    return select(Engagement).where(Engagement.role == Side.LEAD, Engagement.status == Status.WAITING_APPROVAL)


def _questions() -> Select[Engagement, EntryLink]:
    # from the links: a partial index holds the question links alone, however many links there are
    return (
        select(Engagement, EntryLink)
        .select_from(EntryLink)
        .join(Engagement, EntryLink.engagement_uid == Engagement.uid)
        .where(
            Engagement.role == Side.LEAD,
            Engagement.status.in_(ASKING_STATUSES),
            EntryLink.owner == Side.SERVICE,
            EntryLink.question.is_(True),
            EntryLink.deleted.is_(False),
        )
    )


def work_counts(session: Session) -> dict[str, int]:
    """``{"offers", "approvals", "questions", "total"}`` in one statement: the header badge runs it on every page.

    Offers and approvals are whole (role, status) keys, read from the maintained counts
    (``core.status_counts``), so the badge costs the same at a million engagements as at ten;
    questions are few, found through their own index of entry links.
    """
    row = session.execute(_COUNTS).one()
    counts = {name: int(n) for name, n in zip(("offers", "approvals", "questions"), row, strict=True)}
    counts["total"] = sum(counts.values())
    return counts


def _kept(role: Side, status: Status) -> ScalarSelect[int]:
    where = (StatusCount.role == role, StatusCount.status == status)
    return select(func.coalesce(func.sum(StatusCount.amount), 0)).where(*where).scalar_subquery()


#: the badge's statement, built once: it has no parameters, and building it was half the badge's
#: time on a ticket page (a py-spy profile), more than running it
_COUNTS = select(
    _kept(Side.SERVICE, Status.ASSIGNED),
    _kept(Side.LEAD, Status.WAITING_APPROVAL),
    select(func.count()).select_from(_questions().subquery()).scalar_subquery(),
)


def work_items(session: Session, limit: int) -> WorkItems:
    """The newest ``limit`` of each kind, with the full counts."""
    return WorkItems(
        offers=list(session.scalars(_offers().order_by(Engagement.updated_at.desc()).limit(limit))),
        approvals=list(session.scalars(_approvals().order_by(Engagement.updated_at.desc()).limit(limit))),
        questions=[
            Question(e, link)
            for e, link in session.execute(_questions().order_by(EntryLink.created_at.desc()).limit(limit))
        ],
        counts=work_counts(session),
    )
