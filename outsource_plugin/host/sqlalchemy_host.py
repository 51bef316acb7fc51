"""``SQLAlchemyHost``: a host adapter for help desks whose tickets are SQLAlchemy models.

A help desk that no one here wrote keeps its own models: this adapter reaches
them through field maps given at mount time, so mounting the plugin needs
configuration, not changes to the host's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

from sqlalchemy import BigInteger, event, inspect, select
from sqlalchemy.orm import InstrumentedAttribute, Mapper, Session

from outsource_plugin.errors import OutsourceError
from outsource_plugin.host.entries import EntryKind, EntryMap
from outsource_plugin.host.fields import FieldSpec, read_field, values_reader, watched, write_field
from outsource_plugin.host.privacy import PartnerEntries, holds, partner_entries_policy, require_policy
from outsource_plugin.host.protocol import EntryChange, EntryOp, HostChanges, HostUser, TicketInfo
from outsource_plugin.host.required import check_filled
from outsource_plugin.host.status import StatusField, status_field
from outsource_plugin.permissions import Permission

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

#: the neutral fields ``create_ticket`` writes; an offer always gives the first three, and may lack the others
OFFER_ALWAYS = ("title", "description", "contact")
OFFER_MAYBE = ("priority", "due", "customer")


def _defaults(defaults: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """A host's defaults for a new row, each callable called with what the row is made from."""
    return {name: value(source) if callable(value) else value for name, value in defaults.items()}


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _int_bits(column_type: Any) -> int:
    """Value bits of an integer key column: BIGINT holds 63, INTEGER (PostgreSQL's 32-bit) 31."""
    return 63 if isinstance(column_type, BigInteger) else 31


def _canonical(column_type: Any, python_type: type, value: str) -> str | None:
    """``value`` if it is the one spelling of a key of this column type, else None."""
    if python_type is int:
        bits = _int_bits(column_type)
        if not (value.isascii() and value.isdigit()) or len(value) > 19 or str(int(value)) != value:
            return None
        return value if int(value) < 2**bits else None
    if python_type is uuid.UUID:
        try:
            return value if str(uuid.UUID(value)) == value else None
        except ValueError:
            return None
    length = getattr(column_type, "length", None)
    return value if value and (length is None or len(value) <= length) else None


@cache
def _column(model: type, attribute: str) -> tuple[Any, type]:
    """A mapped column's type and its Python type; read once per column, not once per entry."""
    column_type = getattr(getattr(model, attribute), "type", None)
    try:
        python_type = column_type.python_type if column_type is not None else str
    except NotImplementedError:
        python_type = str
    return column_type, python_type


def _kept_in_dict(model: type) -> frozenset[str]:
    """The model's mapped columns: an instance keeps each one's loaded value in its ``__dict__``, and
    the attribute's getter returns it from there (``fields.values_reader`` reads it there directly)."""
    mapper: Mapper[Any] | None = inspect(model, raiseerr=False)
    if mapper is None:
        return frozenset()
    return frozenset(
        prop.key
        for prop in mapper.column_attrs
        if isinstance(getattr(model, prop.key, None), InstrumentedAttribute)  # not shadowed by the model's own
    )


def _key(model: type, attribute: str, value: str) -> Any:
    """A string id turned into the type of the model's key column (int, UUID, str); None when it
    cannot be one, so that a bad id is "not found", not a database error. Lenient on purpose: ids
    from outside are checked at the edge (``canonical_ticket_id``), and rows stored before that
    keep reaching their ticket."""
    column_type, python_type = _column(model, attribute)
    try:
        key = python_type(value)
    except (TypeError, ValueError):
        return None
    if isinstance(key, int):
        bits = _int_bits(column_type)
        if not -(2**bits) <= key < 2**bits:
            return None
    return key


class SQLAlchemyHost:
    """The ready host adapter.

    ``ticket_fields`` maps the plugin's neutral ticket names to attributes or
    callables, or to None for a field the host does not have; ``entries``
    maps each entry kind the host has to an ``EntryMap`` (a kind the host
    lacks is left out). ``complete_status`` is the status value meaning Complete
    (for a status table, the name in its rows' ``status_name`` attribute);
    ``current_user`` returns the host's user object or None and
    ``permission`` turns it into a level. ``ticket_defaults`` fills the ticket's other
    required attributes: a value, or a callable called with the offer. ``partner_entries``
    (``"held"`` or ``"public"``, see ``host.privacy``) is required when the note or
    attachment map has no ``internal`` field. ``user_model`` (with ``ticket_fields["assignee"]``
    holding the user's key or the user itself) and ``user_email`` let the plugin e-mail
    a ticket's assignee (``ticket_assignee``).
    """

    def __init__(
        self,
        db: Any,
        *,
        ticket_model: type,
        current_user: Callable[[], Any],
        permission: Callable[[Any], Permission],
        ticket_fields: Mapping[str, FieldSpec | None] | None = None,
        complete_status: str = "Complete",
        user_id: FieldSpec = "id",
        user_name: FieldSpec = "name",
        user_email: FieldSpec | None = "email",
        user_model: type | None = None,
        customer_model: type | None = None,
        customer_fields: Mapping[str, FieldSpec] | None = None,
        ticket_defaults: Mapping[str, Any] | None = None,
        entries: Mapping[EntryKind, EntryMap] | None = None,
        system_author: str = "Outsourcing",
        status_name: str = "name",
        partner_entries: str | None = None,
    ) -> None:
        self._db = db
        self.ticket_model = ticket_model
        self.ticket_fields = {**DEFAULT_TICKET_FIELDS, **(ticket_fields or {})}
        self.complete_status = complete_status
        self._current_user = current_user
        self._permission = permission
        self._user_id = user_id
        self._user_name = user_name
        self._user_email = user_email
        self.user_model = user_model
        self.customer_model = customer_model
        self.customer_fields = {"id": "id", "name": "name", **(customer_fields or {})}
        self.ticket_defaults = dict(ticket_defaults or {})
        self.entries = dict(entries or {})
        self.system_author = system_author
        self.status_name = status_name
        self._partner_entries = partner_entries_policy(partner_entries)

    @property
    def session(self) -> Session:
        return self._db.session

    @cached_property
    def status(self) -> StatusField:
        """The ticket status in the host's shape (raises ConfigurationError for one it cannot watch)."""
        return status_field(self.ticket_model, self.ticket_fields["status"], self.complete_status, self.status_name)

    def check_configuration(self) -> None:
        """Refuse a mapping the plugin could not work with: a partner's internal entries it could
        only show the ticket's requester (``host.privacy``), a status it cannot watch or resolve, or
        a ticket or entry row it would create without a value the host's model requires."""
        models = ((kind, spec.model.__name__, frozenset(spec.fields)) for kind, spec in self.entries.items())
        require_policy(models, self._partner_entries)
        self.status.check(self.session)
        check_filled(
            self.ticket_model,
            [*self.ticket_defaults, *self._offer_attributes(OFFER_ALWAYS)],
            f"a {self.ticket_model.__name__} for an accepted offer (ticket_fields and ticket_defaults)",
            "give each a value in ticket_defaults (a value, or a callable taking the offer)",
            sometimes=self._offer_attributes(OFFER_MAYBE),
        )
        for kind, spec in self.entries.items():
            check_filled(
                spec.model,
                [spec.ticket, *(name for value in spec.fields.values() for name in watched(value)), *spec.defaults],
                f"a {spec.model.__name__} for a {kind.value} (its EntryMap)",
                f"give each a value in EntryMap({spec.model.__name__}, ..., defaults={{...}}) (a value, or a "
                f"callable taking the entry's values)",
            )

    def _offer_attributes(self, names: tuple[str, ...]) -> list[str]:
        """The ticket attributes ``create_ticket`` writes these neutral fields to."""
        return [spec for spec in (self.ticket_fields.get(name) for name in names) if isinstance(spec, str)]

    def current_user(self) -> HostUser | None:
        user = self._current_user()
        return None if user is None else self._host_user(user)

    def _host_user(self, user: Any) -> HostUser:
        email = read_field(user, self._user_email)
        return HostUser(
            id=str(read_field(user, self._user_id)),
            name=str(read_field(user, self._user_name)),
            permission=Permission(self._permission(user)),
            email=str(email) if email else None,
        )

    def ticket_assignee(self, ticket_id: str) -> HostUser | None:
        """The ticket's assignee: ``ticket_fields["assignee"]`` read as a user object, or as the key of
        a ``user_model`` row; None when the ticket, the field, the model or the assignee is missing."""
        spec = self.ticket_fields.get("assignee")
        obj = self._load(ticket_id)
        if obj is None or spec is None or self.user_model is None:
            return None
        value = read_field(obj, spec)
        user = (
            value if isinstance(value, self.user_model) or value is None else self.session.get(self.user_model, value)
        )
        return None if user is None else self._host_user(user)

    def canonical_ticket_id(self, raw: str) -> str | None:
        """Driven by the ticket key's column type: int keys are ASCII digits without sign, leading
        zeros or spaces, within the column's range; UUID keys lowercase and hyphenated; string
        keys as they are. A computed id (a callable field) is the host's own: taken as it is."""
        spec = self.ticket_fields["id"]
        if not isinstance(spec, str):
            return raw
        return _canonical(*_column(self.ticket_model, spec), raw)

    def _load(self, ticket_id: str) -> Any:
        spec = self.ticket_fields["id"]
        key = _key(self.ticket_model, spec, ticket_id) if isinstance(spec, str) else ticket_id
        return None if key is None else self.session.get(self.ticket_model, key)

    def _info(self, obj: Any) -> TicketInfo:
        f = self.ticket_fields
        customer = read_field(obj, f["customer"])
        return TicketInfo(
            id=str(read_field(obj, f["id"])),
            number=str(read_field(obj, f["number"])),
            title=read_field(obj, f["title"]) or "",
            description=read_field(obj, f["description"]) or "",
            priority=read_field(obj, f["priority"]),
            due=_as_date(read_field(obj, f["due"])),
            status=self.status.name(self.session, obj),
            is_complete=self.status.is_complete(self.session, obj),
            customer=None if customer is None else str(customer),
            contact=read_field(obj, f["contact"]) or {},
        )

    def get_ticket(self, ticket_id: str) -> TicketInfo | None:
        obj = self._load(ticket_id)
        return None if obj is None else self._info(obj)

    def create_ticket(self, offer: Mapping[str, Any], customer: str | None) -> TicketInfo:
        """Open the service ticket for an accepted offer, writing only mapped attributes; the
        defaults fill what the offer does not give."""
        values = _defaults(self.ticket_defaults, offer)
        due = offer.get("due")
        neutral = {
            "title": offer.get("title") or "(untitled)",
            "description": offer.get("description") or "",
            "priority": offer.get("priority"),
            "due": date.fromisoformat(due) if isinstance(due, str) else due,
            "contact": offer.get("contact") or {},
        }
        for name, value in neutral.items():
            spec = self.ticket_fields.get(name)
            if isinstance(spec, str) and value is not None:
                values[spec] = value
        customer_spec = self.ticket_fields.get("customer")
        if isinstance(customer_spec, str) and customer is not None and self.customer_model is not None:
            values[customer_spec] = _key(self.customer_model, str(self.customer_fields["id"]), customer)
        obj = self.ticket_model(**values)
        self.session.add(obj)
        self.session.flush()
        return self._info(obj)

    def set_ticket_complete(self, ticket_id: str) -> None:
        obj = self._load(ticket_id)
        if obj is not None:
            self.status.set_complete(self.session, obj)

    def list_customers(self) -> list[tuple[str, str]]:
        if self.customer_model is None:
            return []
        rows: list[Any] = list(self.session.scalars(select(self.customer_model)))
        return [
            (str(read_field(c, self.customer_fields["id"])), str(read_field(c, self.customer_fields["name"])))
            for c in rows
        ]

    def add_note(self, ticket_id: str, text: str, *, author: str) -> Any:
        """An internal note from the plugin itself, e.g. a partner's decline reason; None when
        the host has no notes, or holds what it cannot mark internal (``partner_entries="held"``:
        the engagement keeps the reason, shown in the bar and its history)."""
        values = {"text": text, "internal": True, "author": author}
        if EntryKind.NOTE not in self.entries or holds(
            self._partner_entries, self.entry_fields(EntryKind.NOTE), values
        ):
            return None
        return self.create_entry(EntryKind.NOTE, ticket_id, values)

    @property
    def entry_kinds(self) -> frozenset[EntryKind]:
        return frozenset(self.entries)

    def entry_fields(self, kind: EntryKind) -> frozenset[str]:
        spec = self.entries.get(kind)
        return frozenset(spec.fields) if spec is not None else frozenset()

    @property
    def partner_entries(self) -> PartnerEntries | None:
        return self._partner_entries

    def entry_values(self, kind: EntryKind, entry: Any) -> dict[str, Any]:
        return self._entry_readers[kind](entry)

    @cached_property
    def _entry_readers(self) -> dict[EntryKind, Callable[[Any], dict[str, Any]]]:
        """Each kind's reader of an entry's values, made once: capture reads thousands in a bulk write."""
        return {kind: values_reader(spec.fields, kept=_kept_in_dict(spec.model)) for kind, spec in self.entries.items()}

    def entry_id(self, kind: EntryKind, entry: Any) -> str:
        return str(getattr(entry, self.entries[kind].id))

    def _entry(self, kind: EntryKind, entry_id: str) -> Any:
        spec = self.entries[kind]
        key = _key(spec.model, spec.id, entry_id)
        return None if key is None else self.session.get(spec.model, key)

    def list_entries(self, kind: EntryKind, ticket_id: str) -> list[tuple[str, dict[str, Any]]]:
        if kind not in self.entries:
            return []
        spec = self.entries[kind]
        ticket_key = _key(spec.model, spec.ticket, ticket_id)
        column = getattr(spec.model, spec.ticket)
        rows: list[Any] = list(
            self.session.scalars(select(spec.model).where(column == ticket_key).order_by(getattr(spec.model, spec.id)))
        )
        return [(self.entry_id(kind, row), self.entry_values(kind, row)) for row in rows]

    def create_entry(self, kind: EntryKind, ticket_id: str, values: Mapping[str, Any]) -> Any:
        """Add an entry; its id exists after the next flush."""
        spec = self.entries[kind]
        attrs = _defaults(spec.defaults, values)
        attrs[spec.ticket] = _key(spec.model, spec.ticket, ticket_id)
        entry = spec.model(**attrs)
        # a value the entry lacks (None) leaves the host's default for its attribute in place
        given = {
            name: value for name, value in values.items() if value is not None or spec.fields.get(name) not in attrs
        }
        self._write(spec, entry, given)
        self.session.add(entry)
        return entry

    def update_entry(self, kind: EntryKind, entry_id: str, values: Mapping[str, Any]) -> Any:
        entry = self._entry(kind, entry_id)
        if entry is not None:
            self._write(self.entries[kind], entry, values)
        return entry

    @staticmethod
    def _write(spec: EntryMap, entry: Any, values: Mapping[str, Any]) -> None:
        """Set the mapped values through the field map: a ``Field`` writes through the host's code."""
        for name, value in values.items():
            write_field(entry, spec.fields.get(name), value)

    def delete_entry(self, kind: EntryKind, entry_id: str) -> None:
        entry = self._entry(kind, entry_id)
        if entry is not None:
            self.session.delete(entry)

    def watch(self, callback: Callable[[HostChanges], None]) -> None:
        """Call ``callback`` with what the host changed, before each commit.

        Changes are collected after every flush (when new entries have ids)
        and handed over in ``before_commit``, so what the plugin writes in
        answer (outbox messages, cascades) commits with the host's change or
        not at all: no window in which a crash after the host's commit loses
        it. An error the callback raises (a read-only entry, the delete of a
        ticket with accepted work) stops the commit, and every later commit of
        the transaction, until the host rolls it back.
        """
        status = self.status
        assignee = self.ticket_fields.get("assignee")
        kinds = {spec.model: kind for kind, spec in self.entries.items()}
        pending_key = ("outsource_pending", id(self))

        def after_flush(session: Session, flush_context: Any) -> None:
            changes: HostChanges = session.info.setdefault(pending_key, HostChanges())
            for op, objects in (
                (EntryOp.CREATE, session.new),
                (EntryOp.UPDATE, session.dirty),
                (EntryOp.DELETE, session.deleted),
            ):
                for obj in list(objects):
                    if isinstance(obj, self.ticket_model) and op is EntryOp.UPDATE:
                        self._ticket_changes(session, obj, status, assignee, changes)
                    elif isinstance(obj, self.ticket_model) and op is EntryOp.DELETE:
                        changes.deleted.append(str(read_field(obj, self.ticket_fields["id"])))
                    kind = kinds.get(type(obj))
                    if kind is None or (op is EntryOp.UPDATE and not session.is_modified(obj)):
                        continue
                    ticket_id = str(getattr(obj, self.entries[kind].ticket))
                    changes.entries.append(EntryChange(op, kind, ticket_id, obj))

        def before_commit(session: Session) -> None:
            for _ in range(100):
                session.flush()
                changes = session.info.pop(pending_key, None)
                if not changes:
                    return
                try:
                    callback(changes)
                except OutsourceError:
                    # kept for the next commit of this transaction, which then fails the same way:
                    # a host that catches the error without rolling back never commits what it refused
                    session.info[pending_key] = changes
                    raise
            raise RuntimeError("host changes kept causing further changes: giving up after 100 rounds")

        def after_rollback(session: Session) -> None:
            session.info.pop(pending_key, None)

        event.listen(self._db.session, "after_flush", after_flush)
        event.listen(self._db.session, "before_commit", before_commit)
        event.listen(self._db.session, "after_soft_rollback", lambda session, tx: after_rollback(session))

    def _ticket_changes(
        self, session: Session, obj: Any, status: StatusField, assignee: FieldSpec | None, changes: HostChanges
    ) -> None:
        """A watched status attribute changed and the ticket is now Complete: the completion cascade's cue."""
        attrs = inspect(obj).attrs
        ticket_id = str(read_field(obj, self.ticket_fields["id"]))
        if any(attrs[name].history.has_changes() for name in status.watch) and status.is_complete(session, obj):
            changes.completed.append(ticket_id)
        if isinstance(assignee, str) and attrs[assignee].history.has_changes():
            changes.reassigned.append(ticket_id)
