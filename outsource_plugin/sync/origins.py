"""Where a ticket's entries came from and why a locked one is locked, for the host's own entry lists.

A host lists a ticket's notes, time, charges and attachments in its own pages and JSON. To mark a
partner's entry ("Tess Tech (Contoso)") and leave Edit and Delete off a read-only one, it asks here
instead of reading the plugin's tables: once per ticket, in one query, however many entries it lists.
The rules are ``locks.lock_reason``'s, the same the sync engine refuses an edit by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from outsource_plugin.core.partner_entries import partner_author
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.locks import lock_reason

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


@dataclass(frozen=True)
class Origin:
    """A partner's entry (``partner``, ``author``), or one of ours that is locked now; ``locked_reason`` in words."""

    partner: str | None
    author: str | None
    locked_reason: str | None

    @property
    def read_only(self) -> bool:
        return self.locked_reason is not None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "read_only": self.read_only}


class TicketOrigins:
    """The origins of one ticket's entries; an entry it does not name is the host's own and unlocked."""

    def __init__(self, state: OutsourceState, found: dict[tuple[EntryKind, str], Origin]) -> None:
        self._state = state
        self._found = found

    def get(self, kind: EntryKind | str, entry: Any) -> Origin | None:
        """The origin of an entry (a host entry object or its id), or None for the host's own unlocked one."""
        kind = EntryKind(kind)
        local_id = entry if isinstance(entry, str | int) else self._state.host.entry_id(kind, entry)
        return self._found.get((kind, str(local_id)))


def ticket_origins(state: OutsourceState, ticket_id: str) -> TicketOrigins:
    """Every linked entry of the ticket with its engagement (its partner joined) and the ticket's newest
    engagement's id, in one statement: only the newest engagement's rules lock an entry."""
    newest = select(func.max(Engagement.id)).where(Engagement.ticket_id == ticket_id).scalar_subquery()
    rows = state.session.execute(
        select(EntryLink, Engagement, newest)
        .join(Engagement, Engagement.uid == EntryLink.engagement_uid)
        .where(Engagement.ticket_id == ticket_id, EntryLink.deleted.is_(False), EntryLink.local_id.is_not(None))
        .order_by(EntryLink.id)
    )
    found: dict[tuple[EntryKind, str], Origin] = {}
    for link, engagement, current_id in rows:
        kind = EntryKind(link.kind)
        reason = lock_reason(engagement, link, kind) if engagement.id == current_id else None
        key = (kind, str(link.local_id))
        if link.owner is not engagement.role:
            name = engagement.partner.name
            found[key] = Origin(name, partner_author(link.origin_user, name), reason)
        elif reason is not None:
            found[key] = Origin(None, None, reason)
        else:
            found.pop(key, None)  # an older life of a reused id
    return TicketOrigins(state, found)


def entry_origins(ticket: Any) -> TicketOrigins:
    """The origins of a ticket's entries (the ticket or its id), for a host's templates and JSON."""
    return ticket_origins(current_outsource(), str(getattr(ticket, "id", ticket)))
