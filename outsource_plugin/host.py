"""The host adapter: the only door between the plugin and the host's data.

A help desk that no one here wrote keeps its own models. ``SQLAlchemyHost``
reaches them through a field map given at mount time, so mounting the plugin
needs configuration, not changes to the host's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from outsource_plugin.permissions import Permission

#: a field spec is an attribute name, or a callable that reads the value
FieldSpec = str | Callable[[Any], Any]


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


@dataclass(frozen=True)
class HostUser:
    id: str
    name: str
    permission: Permission


@runtime_checkable
class HostAdapter(Protocol):
    """What the plugin needs from a host; any object with these members will do."""

    @property
    def session(self) -> Session: ...

    def current_user(self) -> HostUser | None: ...

    def get_ticket(self, ticket_id: str) -> TicketInfo | None: ...

    def create_ticket(self, offer: Mapping[str, Any], customer: str | None) -> TicketInfo: ...

    def set_ticket_complete(self, ticket_id: str) -> None: ...

    def list_customers(self) -> list[tuple[str, str]]: ...

    def add_note(self, ticket_id: str, text: str, *, author: str) -> None: ...

    def on_ticket_complete(self, callback: Callable[[str], None]) -> None: ...


DEFAULT_TICKET_FIELDS: dict[str, FieldSpec] = {
    "id": "id",
    "number": "id",
    "title": "title",
    "description": "description",
    "priority": "priority",
    "due": "due_date",
    "status": "status",
    "customer": "customer_id",
    "contact": "contact",
}


def _read(obj: Any, spec: FieldSpec | None) -> Any:
    if spec is None:
        return None
    if callable(spec):
        return spec(obj)
    return getattr(obj, spec, None)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


class SQLAlchemyHost:
    """A host adapter for help desks whose tickets are SQLAlchemy models.

    ``ticket_fields`` maps the plugin's neutral names to the host model's
    attributes (or to callables). ``complete_status`` is the host's status
    value that means Complete. ``current_user`` returns the host's user
    object or None; ``permission`` turns that object into a level.
    """

    def __init__(
        self,
        db: Any,
        *,
        ticket_model: type,
        current_user: Callable[[], Any],
        permission: Callable[[Any], Permission],
        ticket_fields: Mapping[str, FieldSpec] | None = None,
        complete_status: str = "Complete",
        user_id: FieldSpec = "id",
        user_name: FieldSpec = "name",
        customer_model: type | None = None,
        customer_fields: Mapping[str, FieldSpec] | None = None,
        ticket_defaults: Mapping[str, Any] | None = None,
        note_model: type | None = None,
        note_fields: Mapping[str, str] | None = None,
    ) -> None:
        self._db = db
        self.ticket_model = ticket_model
        self.ticket_fields = {**DEFAULT_TICKET_FIELDS, **(ticket_fields or {})}
        self.complete_status = complete_status
        self._current_user = current_user
        self._permission = permission
        self._user_id = user_id
        self._user_name = user_name
        self.customer_model = customer_model
        self.customer_fields = {"id": "id", "name": "name", **(customer_fields or {})}
        self.ticket_defaults = dict(ticket_defaults or {})
        self.note_model = note_model
        self.note_fields = {
            "ticket": "ticket_id",
            "text": "body",
            "internal": "internal",
            "author": "author",
            **(note_fields or {}),
        }

    @property
    def session(self) -> Session:
        return self._db.session

    def current_user(self) -> HostUser | None:
        user = self._current_user()
        if user is None:
            return None
        return HostUser(
            id=str(_read(user, self._user_id)),
            name=str(_read(user, self._user_name)),
            permission=Permission(self._permission(user)),
        )

    def _ticket_key(self, ticket_id: str) -> Any:
        spec = self.ticket_fields["id"]
        column = getattr(self.ticket_model, spec) if isinstance(spec, str) else None
        python_type = getattr(getattr(column, "type", None), "python_type", str)
        try:
            return python_type(ticket_id)
        except (TypeError, ValueError):
            return None

    def _load(self, ticket_id: str) -> Any:
        key = self._ticket_key(ticket_id)
        if key is None:
            return None
        return self.session.get(self.ticket_model, key)

    def _info(self, obj: Any) -> TicketInfo:
        f = self.ticket_fields
        status = _read(obj, f["status"])
        customer = _read(obj, f["customer"])
        return TicketInfo(
            id=str(_read(obj, f["id"])),
            number=str(_read(obj, f["number"])),
            title=_read(obj, f["title"]) or "",
            description=_read(obj, f["description"]) or "",
            priority=_read(obj, f["priority"]),
            due=_as_date(_read(obj, f["due"])),
            status=str(status or ""),
            is_complete=status == self.complete_status,
            customer=None if customer is None else str(customer),
            contact=_read(obj, f["contact"]) or {},
        )

    def get_ticket(self, ticket_id: str) -> TicketInfo | None:
        obj = self._load(ticket_id)
        return None if obj is None else self._info(obj)

    def create_ticket(self, offer: Mapping[str, Any], customer: str | None) -> TicketInfo:
        """Open the service ticket for an accepted offer, writing only mapped attributes."""
        values = dict(self.ticket_defaults)
        due = offer.get("due")
        neutral = {
            "title": offer.get("title") or "(untitled)",
            "description": offer.get("description") or "",
            "priority": offer.get("priority"),
            "due": date.fromisoformat(due) if isinstance(due, str) else due,
            "contact": offer.get("contact") or {},
            "customer": customer,
        }
        for name, value in neutral.items():
            spec = self.ticket_fields.get(name)
            if isinstance(spec, str) and value is not None:
                values[spec] = value
        customer_spec = self.ticket_fields.get("customer")
        if isinstance(customer_spec, str) and customer is not None:
            values[customer_spec] = self._customer_key(customer)
        obj = self.ticket_model(**values)
        self.session.add(obj)
        self.session.flush()
        return self._info(obj)

    def _customer_key(self, customer: str) -> Any:
        if self.customer_model is None:
            return customer
        column = getattr(self.customer_model, str(self.customer_fields["id"]))
        return getattr(column.type, "python_type", str)(customer)

    def set_ticket_complete(self, ticket_id: str) -> None:
        spec = self.ticket_fields["status"]
        obj = self._load(ticket_id)
        if obj is not None and isinstance(spec, str):
            setattr(obj, spec, self.complete_status)

    def list_customers(self) -> list[tuple[str, str]]:
        if self.customer_model is None:
            return []
        rows: list[Any] = list(self.session.scalars(select(self.customer_model)))
        return [(str(_read(c, self.customer_fields["id"])), str(_read(c, self.customer_fields["name"]))) for c in rows]

    def add_note(self, ticket_id: str, text: str, *, author: str) -> None:
        """Write an internal note, e.g. a partner's decline reason, on a host ticket."""
        if self.note_model is None:
            return
        f = self.note_fields
        ticket_key = self._ticket_key(ticket_id)
        self.session.add(
            self.note_model(**{f["ticket"]: ticket_key, f["text"]: text, f["internal"]: True, f["author"]: author})
        )

    def on_ticket_complete(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(ticket_id)`` inside the flush that sets a ticket Complete.

        Running in the host's own flush means the cascade commits with the
        status change, or not at all: no window in which a crash loses it.
        """
        spec = self.ticket_fields["status"]
        if not isinstance(spec, str):
            raise TypeError("ticket_fields['status'] must be an attribute name to watch it")

        def before_flush(session: Session, flush_context: Any, instances: Any) -> None:
            for obj in list(session.dirty):
                if not isinstance(obj, self.ticket_model):
                    continue
                added = inspect(obj).attrs[spec].history.added
                if self.complete_status in added:
                    callback(str(_read(obj, self.ticket_fields["id"])))

        event.listen(self._db.session, "before_flush", before_flush)
