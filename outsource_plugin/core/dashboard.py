"""The Outsource Dashboard's queries: folder counts and keyset-paged lists.

Counts come from the maintained status counts; a page walks the folder index
of its sort order (``(role, status, updated_at | created_at, id)``), and
keyset paging keeps page 500 as cheap as page 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from outsource_plugin.core.status_counts import status_counts
from outsource_plugin.db.models import Engagement
from outsource_plugin.errors import ValidationFailed
from outsource_plugin.workflow import FOLDER_STATUSES, Folder, Side, folders_for

SORT_COLUMNS = {"updated": Engagement.updated_at, "created": Engagement.created_at}


def folder_counts(session: Session) -> dict[str, dict[str, int]]:
    """``{role: {folder: count}}`` for both roles, every folder present, from the maintained
    counts (``core.status_counts``): a few rows whatever the number of engagements."""
    by_status = status_counts(session)
    return {
        role.value: {
            folder.value: sum(by_status[(role, s)] for s in FOLDER_STATUSES[folder]) for folder in folders_for(role)
        }
        for role in (Side.LEAD, Side.SERVICE)
    }


def folder_page(
    session: Session, role: Side, folder: Folder, *, sort: str, limit: int, after: str | None
) -> tuple[list[Engagement], str | None]:
    """One page of a folder and the cursor of the next page (None on the last).

    One keyset query per status of the folder, merged here: each walks the
    ``(role, status, updated_at, id)`` index in order and stops after a page,
    where one query over several statuses would sort the whole folder first.
    """
    descending = sort.startswith("-")
    column = SORT_COLUMNS[sort.lstrip("-")]
    keyset = _decode(after) if after else None
    rows: list[Engagement] = []
    for status in FOLDER_STATUSES[folder]:
        query = select(Engagement).where(Engagement.role == role, Engagement.status == status)
        if keyset is not None:
            at, last_id = keyset
            if descending:
                query = query.where(or_(column < at, and_(column == at, Engagement.id < last_id)))
            else:
                query = query.where(or_(column > at, and_(column == at, Engagement.id > last_id)))
        order = (column.desc(), Engagement.id.desc()) if descending else (column.asc(), Engagement.id.asc())
        rows.extend(session.scalars(query.order_by(*order).limit(limit + 1)))
    rows.sort(key=lambda e: (getattr(e, column.key), e.id), reverse=descending)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode(getattr(rows[-1], column.key), rows[-1].id) if more and rows else None
    return rows, cursor


def _encode(at: datetime, last_id: int) -> str:
    return f"{at.isoformat()}~{last_id}"


def _decode(cursor: str) -> tuple[Any, int]:
    try:
        at, last_id = cursor.rsplit("~", 1)
        if not 0 < int(last_id) < 2**31:
            raise ValueError(last_id)
        return datetime.fromisoformat(at), int(last_id)
    except ValueError as err:
        raise ValidationFailed("bad page cursor", details={"after": ["not a cursor this API returned"]}) from err
