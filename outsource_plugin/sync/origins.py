"""Where a ticket's entries came from and why a locked one is locked, for the host's own entry lists.

A host lists a ticket's notes, time, charges and attachments in its own pages and JSON. To mark a
partner's entry ("Tess Tech (Contoso)") and leave Edit and Delete off a read-only one, it asks here
instead of reading the plugin's tables: once per ticket, in one query, however many entries it lists.
The rules are ``locks.lock_reason``'s, the same the sync engine refuses an edit by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from outsource_plugin.core.partner_entries import partner_author
from outsource_plugin.core.ticket_read import TicketRead, read_ticket
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.locks import EntryStanding, link_standing

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

    @classmethod
    def of(cls, standing: EntryStanding) -> Origin | None:
        """What a list shows of an entry's standing: None for the host's own entry that may change."""
        if standing.origin is None:
            return None if standing.read_only_reason is None else cls(None, None, standing.read_only_reason)
        partner = str(standing.origin["partner"])
        return cls(partner, partner_author(standing.origin["user"], partner), standing.read_only_reason)


class TicketOrigins:
    """The standing of one ticket's linked entries; an entry it does not name is the host's own and unlocked."""

    def __init__(self, state: OutsourceState, found: dict[tuple[EntryKind, str], EntryStanding]) -> None:
        self._state = state
        self._found = found

    def standing(self, kind: EntryKind | str, entry: Any) -> EntryStanding:
        """What an entry (a host entry object or its id) is: ``locks.entry_standing``'s answer, without a query."""
        kind = EntryKind(kind)
        local_id = entry if isinstance(entry, str | int) else self._state.host.entry_id(kind, entry)
        return self._found.get((kind, str(local_id)), EntryStanding(own=True))

    def get(self, kind: EntryKind | str, entry: Any) -> Origin | None:
        """The origin of an entry (a host entry object or its id), or None for the host's own unlocked one."""
        return Origin.of(self.standing(kind, entry))


def ticket_origins(state: OutsourceState, ticket_id: str) -> TicketOrigins:
    """Every linked entry of the ticket with its engagement, in one statement (``core.ticket_read``):
    only the newest engagement's rules lock an entry."""
    return read_origins(state, read_ticket(state.session, ticket_id))


def read_origins(state: OutsourceState, read: TicketRead) -> TicketOrigins:
    """The origins from a read of the ticket's engagements and links, without a query. A reused id's
    newest link wins, as in ``locks.entry_standing``."""
    current = read.current
    found = {
        (EntryKind(link.kind), str(link.local_id)): link_standing(link, engagement, current=engagement is current)
        for link, engagement in read.links
        if not link.deleted and link.local_id is not None
    }
    return TicketOrigins(state, found)


def entry_origins(ticket: Any) -> TicketOrigins:
    """The origins of a ticket's entries (the ticket or its id), for a host's templates and JSON."""
    return ticket_origins(current_outsource(), str(getattr(ticket, "id", ticket)))
