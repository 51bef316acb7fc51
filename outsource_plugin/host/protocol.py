"""The host adapter: the only door between the plugin and the host's data.

Any object with the members of ``HostAdapter`` will do; ``SQLAlchemyHost``
(in ``host_sqlalchemy``) is the ready one for hosts whose tickets are
SQLAlchemy models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from outsource_plugin.host.entries import EntryKind
from outsource_plugin.host.privacy import PartnerEntries
from outsource_plugin.permissions import Permission


@dataclass(frozen=True)
class TicketInfo:
    """A host ticket in the plugin's neutral terms."""

    id: str
    number: str
    title: str
    description: str = ""
    priority: str | None = None
    due: date | None = None
    status: str = ""
    is_complete: bool = False
    customer: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)


class EntryOp(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class EntryChange:
    op: EntryOp
    kind: EntryKind
    ticket_id: str
    entry: Any


@dataclass
class HostChanges:
    """What the host's session changed that the plugin cares about, by ticket id.

    ``deleted`` names the tickets the host deleted: the plugin refuses the
    commit while one holds accepted work, and otherwise detaches their
    engagements before the host can give the id to a new ticket.
    """

    completed: list[str] = field(default_factory=list)
    reassigned: list[str] = field(default_factory=list)
    entries: list[EntryChange] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.completed or self.reassigned or self.entries or self.deleted)


@dataclass(frozen=True)
class HostUser:
    id: str
    name: str
    permission: Permission
    #: where e-mail notifications reach this user; None: the host keeps no address
    email: str | None = None


@runtime_checkable
class HostAdapter(Protocol):
    """What the plugin needs from a host; any object with these members will do."""

    @property
    def session(self) -> Session: ...

    def current_user(self) -> HostUser | None: ...

    def check_configuration(self) -> None:
        """Raise ``ConfigurationError`` for a mapping the plugin could not work with (a partner's
        internal notes it could only make public, with no ``partner_entries`` policy; a status it
        cannot see close, a row it would create without a value the host requires): ``init_app``
        calls it first, in an app context, so a bad mapping stops the start, never fails silently later."""
        ...

    def canonical_ticket_id(self, raw: str) -> str | None:
        """The one spelling of a ticket id the host's key type allows, or None for any other
        (``05``, ``+5``, `` 5``, non-ASCII digits): each ticket must have a single id."""
        ...

    def get_ticket(self, ticket_id: str) -> TicketInfo | None: ...

    def create_ticket(self, offer: Mapping[str, Any], customer: str | None) -> TicketInfo: ...

    def set_ticket_complete(self, ticket_id: str) -> None: ...

    def list_customers(self) -> list[tuple[str, str]]: ...

    def add_note(self, ticket_id: str, text: str, *, author: str) -> Any: ...

    @property
    def entry_kinds(self) -> frozenset[EntryKind]: ...

    def entry_fields(self, kind: EntryKind) -> frozenset[str]:
        """The neutral fields the host keeps for ``kind`` (none for a kind it lacks): whether it can
        mark an entry internal, whether its notes hold hours."""
        ...

    @property
    def partner_entries(self) -> PartnerEntries | None:
        """Where a partner's entries go when the host cannot mark them internal (``host.privacy``)."""
        ...

    def entry_values(self, kind: EntryKind, entry: Any) -> dict[str, Any]: ...

    def entry_id(self, kind: EntryKind, entry: Any) -> str: ...

    def list_entries(self, kind: EntryKind, ticket_id: str) -> list[tuple[str, dict[str, Any]]]: ...

    def create_entry(self, kind: EntryKind, ticket_id: str, values: Mapping[str, Any]) -> Any: ...

    def update_entry(self, kind: EntryKind, entry_id: str, values: Mapping[str, Any]) -> Any: ...

    def delete_entry(self, kind: EntryKind, entry_id: str) -> None: ...

    def watch(self, callback: Callable[[HostChanges], None]) -> None: ...


def ticket_assignee(host: HostAdapter, ticket_id: str) -> HostUser | None:
    """The user a ticket is assigned to, with the e-mail address and level that decide what they are mailed.

    An optional member: a host adapter with ``ticket_assignee(ticket_id)`` gets its
    assignees e-mailed (``outsource_plugin.notify``); one without it, as every host
    adapter written before it, answers None, and nobody is e-mailed about its tickets.
    """
    lookup: Callable[[str], HostUser | None] | None = getattr(host, "ticket_assignee", None)
    return lookup(ticket_id) if lookup is not None else None
