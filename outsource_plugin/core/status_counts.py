"""How many engagements hold each (role, status), kept as the dashboard's counts.

A status change adds rows of +1 and -1 in the transaction that makes it
(``core.engagements.record_transition``), so the counts commit or roll back
with the change. Rows are only ever added, never updated, so concurrent
transitions neither wait on a shared counter nor deadlock over two of them.
``fold`` sums the rows of each key into one, so reading stays a handful of
rows however many engagements and transitions there are; ``check`` compares
the counts with a fresh count of the engagements (reconciliation) and, asked
to, adds the rows that put a drifted count right.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Engagement, StatusCount
from outsource_plugin.workflow import Side, Status

log = logging.getLogger(__name__)

#: every key a count is kept for
KEYS = [(role, status) for role in (Side.LEAD, Side.SERVICE) for status in Status]


def count_change(session: Session, role: Side, before: Status | None, after: Status | None) -> None:
    """An engagement of ``role`` moved from ``before`` to ``after`` (None: it did not exist, or no longer does)."""
    if before == after:
        return
    # added, not executed: they flush with the engagement, and a flush error stays where the caller expects it
    session.add_all(StatusCount(role=role, status=s, amount=n) for s, n in ((before, -1), (after, 1)) if s is not None)


def status_counts(session: Session) -> dict[tuple[Side, Status], int]:
    """Every key's count, from the maintained rows."""
    summed = session.execute(
        select(StatusCount.role, StatusCount.status, func.sum(StatusCount.amount)).group_by(
            StatusCount.role, StatusCount.status
        )
    )
    counts = dict.fromkeys(KEYS, 0)
    counts.update({(role, status): int(total) for role, status, total in summed})
    return counts


def fold(session: Session) -> int:
    """Replace the rows of each key by one holding their sum; how many rows there were. The caller commits.

    The rows taken are the ones the DELETE returns, so a transition that commits
    meanwhile keeps its rows and none is counted twice or lost.
    """
    taken = session.execute(delete(StatusCount).returning(StatusCount.role, StatusCount.status, StatusCount.amount))
    sums: dict[tuple[Side, Status], int] = {}
    rows = 0
    for role, status, amount in taken:
        sums[(role, status)] = sums.get((role, status), 0) + amount
        rows += 1
    folded = [{"role": r, "status": s, "amount": n} for (r, s), n in sorted(sums.items()) if n]
    if folded:
        session.execute(insert(StatusCount), folded)
    return rows


@dataclass(frozen=True)
class CountDrift:
    role: Side
    status: Status
    kept: int
    counted: int

    def __str__(self) -> str:
        return f"{self.role.value}/{self.status.value}: kept {self.kept}, counted {self.counted}"


def check(session: Session, *, repair: bool) -> list[CountDrift]:
    """Compare every kept count with a fresh count of the engagements; with ``repair``, put it right.

    Both sides come from one statement, so they see the same committed
    engagements: a transition committing meanwhile cannot pass for drift. A
    repair adds the difference as a row, which stays right whatever commits
    after. The caller commits.
    """
    pairs = []
    for role, status in KEYS:
        where = (Engagement.role == role, Engagement.status == status)
        kept = (StatusCount.role == role, StatusCount.status == status)
        pairs.append(select(func.count()).where(*where).scalar_subquery())
        pairs.append(select(func.coalesce(func.sum(StatusCount.amount), 0)).where(*kept).scalar_subquery())
    row = session.execute(select(*pairs)).one()
    drifts = [
        CountDrift(role, status, kept=int(row[2 * n + 1]), counted=int(row[2 * n]))
        for n, (role, status) in enumerate(KEYS)
        if row[2 * n] != row[2 * n + 1]
    ]
    if repair and drifts:
        session.execute(
            insert(StatusCount), [{"role": d.role, "status": d.status, "amount": d.counted - d.kept} for d in drifts]
        )
    for drift in drifts:
        log.warning("status count drift %s%s", drift, " (repaired)" if repair else "")
    return drifts
