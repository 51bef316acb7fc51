"""Ticket entries in neutral terms: notes, time entries, charges, attachments.

Values cross between hosts as JSON, so every field has one wire form:
dates as ISO strings, money and hours as decimal strings, bytes as base64.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from sqlalchemy.orm import Session

from outsource_plugin.host.fields import FieldSpec
from outsource_plugin.validation.filenames import safe_filename


class EntryKind(str, Enum):
    NOTE = "note"
    TIME = "time"
    CHARGE = "charge"
    ATTACHMENT = "attachment"


#: the neutral fields of each kind, and the Python type each one has in a host model
FIELDS: dict[EntryKind, dict[str, type]] = {
    EntryKind.NOTE: {"text": str, "internal": bool, "author": str, "question": bool},
    EntryKind.TIME: {
        "work_date": date,
        "hours": Decimal,
        "resource": str,
        "work_type": str,
        "summary": str,
        "billable": bool,
    },
    EntryKind.CHARGE: {
        "name": str,
        "quantity": Decimal,
        "unit_price": Decimal,
        "unit_cost": Decimal,
        "billable": bool,
    },
    EntryKind.ATTACHMENT: {"filename": str, "media_type": str, "size": int, "data": bytes, "internal": bool},
}

#: the field of a host's note map that holds hours, for a host that keeps time on its notes; it
#: is the host's own and never crosses (a note on the wire has no hours)
HOURS = "hours"

#: entry kinds whose ``internal`` flag keeps a lead's entry on the lead's side
PRIVATE_KINDS = frozenset({EntryKind.NOTE, EntryKind.ATTACHMENT})

#: entry kinds by which a service partner starts work (Accepted -> In Progress)
WORK_KINDS = frozenset({EntryKind.NOTE, EntryKind.TIME, EntryKind.CHARGE})


@dataclass(frozen=True)
class EntryMap:
    """Where one entry kind lives in the host: its model and which attribute holds what.

    ``fields`` maps neutral names (``FIELDS``) to the model's attribute names, or to a
    ``Field`` when the host keeps the value in another shape (an author as a user id); a
    neutral field the host lacks is simply left out. A note map may also name ``hours``
    (``HOURS``): a host that keeps time on its notes gets the partner's time there.
    ``defaults`` gives the model's other required attributes on a row the plugin creates
    (a date, a user id): a value, or a callable called with the entry's neutral values.
    """

    model: type
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    ticket: str = "ticket_id"
    id: str = "id"
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: the types whose values JSON takes as they are: one look-up, not three type tests per value
_AS_THEY_ARE = frozenset({str, bool, int, float, type(None)})


def to_wire(kind: EntryKind, values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS[kind]:
        if name not in values:
            continue
        value = values[name]
        out[name] = value if type(value) in _AS_THEY_ARE else _wire_value(value)
    return out


def _wire_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, date):  # a datetime too: a tuple or union test cost twice as much per value
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def from_wire(kind: EntryKind, values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, python_type in FIELDS[kind].items():
        if name not in values or values[name] is None:
            continue
        value = values[name]
        if python_type is bytes:
            value = base64.b64decode(value, validate=True)
        elif python_type is date:
            value = date.fromisoformat(value)
        elif python_type is Decimal:
            value = Decimal(str(value))
        elif python_type is bool:
            value = bool(value)
        elif python_type is int:
            value = int(value)
        else:
            value = str(value)
        if name == "filename":
            value = safe_filename(value)
        out[name] = value
    return out


_NOT_SYNCED = "outsource_not_synced_entries"


def keep_local(session: Session, entry: Any) -> None:
    """Mark an entry the plugin itself wrote (a partner's copy, or a note about the partner's
    action) so that the sync engine never sends it back: no echo."""
    session.info.setdefault(_NOT_SYNCED, weakref.WeakSet()).add(entry)


def kept_local(session: Session) -> Container[Any]:
    """The entries ``keep_local`` marked: for a flush's many entries, looked up once."""
    return cast(Container[Any], session.info.get(_NOT_SYNCED, ()))
