"""What one side holds of an engagement's synced entries, as comparable facts.

Reconciliation compares the two sides of an engagement without shipping the
entries: each side sums up every synced entry as ``EntryFacts``, whose digest
covers only what crosses unchanged (a note's text, not its author or its
``internal`` flag, which the receiver sets itself). The lead's time entries
reach the partner as notes, so their digest is taken of that note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.adapters.base import EntryFacts
from outsource_plugin.db.models import Engagement, EntryLink, MessageKind, MessageState, OutboxMessage
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.sync.capture import time_as_note
from outsource_plugin.workflow import Side

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

#: the fields of each kind that arrive on the other side as they were sent
COMPARED: dict[EntryKind, tuple[str, ...]] = {
    EntryKind.NOTE: ("text",),
    EntryKind.TIME: ("work_date", "hours", "resource", "work_type", "summary", "billable"),
    EntryKind.CHARGE: ("name", "quantity", "unit_price", "unit_cost", "billable"),
    EntryKind.ATTACHMENT: ("filename", "media_type", "data"),
}


def digest(kind: EntryKind, values: Mapping[str, Any]) -> str:
    """A short fingerprint of an entry's crossing content, equal on both sides when in sync.

    ``values`` are Python values (a host's, or ``from_wire``'s). Decimals are
    normalised, since one database keeps ``1.50`` where the other says ``1.5``.
    """
    picked: dict[str, Any] = {}
    for name in COMPARED[kind]:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bytes):
            value = hashlib.sha256(value).hexdigest()
        elif isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        elif isinstance(value, date):
            value = value.isoformat()
        picked[name] = value
    text = json.dumps([kind.value, picked], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def crossing_view(role: Side, kind: EntryKind, values: Mapping[str, Any]) -> tuple[EntryKind, Mapping[str, Any]]:
    """One of our own entries as the partner receives it: the lead's time is a note there."""
    if role is Side.LEAD and kind is EntryKind.TIME:
        return EntryKind.NOTE, {"text": time_as_note(dict(values))}
    return kind, values


def local_facts(state: OutsourceState, engagement: Engagement) -> list[EntryFacts]:
    """Every entry of the engagement that crossed (either way), as this side holds it now.

    Entries that never cross are left out: those added during a suspension,
    the lead's internal ones, and any that were never sent.
    """
    links = state.session.scalars(
        select(EntryLink)
        .where(EntryLink.engagement_uid == engagement.uid, EntryLink.in_suspension.is_(False))
        .order_by(EntryLink.id)
    ).all()
    held: dict[EntryKind, dict[str, dict[str, Any]]] = {}
    facts: list[EntryFacts] = []
    for link in links:
        own = link.owner is engagement.role
        if own and not link.sent:
            continue
        kind = EntryKind(link.kind)
        if kind not in held:
            held[kind] = dict(state.host.list_entries(kind, engagement.ticket_id)) if engagement.ticket_id else {}
        values = None if link.deleted or link.local_id is None else held[kind].get(link.local_id)
        shown, crossing = crossing_view(engagement.role, kind, values or {}) if own else (kind, values or {})
        facts.append(
            EntryFacts(
                entry_key=link.entry_key,
                kind=shown.value,
                owner=link.owner.value,
                digest=None if values is None else digest(shown, crossing),
                deleted=link.deleted,
            )
        )
    return facts


def in_flight_keys(state: OutsourceState, engagement: Engagement) -> set[str]:
    """Entries with a change still in our outbox: the partner may not have it yet, and that is no drift."""
    payloads = state.session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.engagement_uid == engagement.uid,
            OutboxMessage.kind == MessageKind.ENTRY,
            OutboxMessage.state == MessageState.PENDING,
        )
    )
    return {str(p.get("entry_key")) for p in payloads if isinstance(p, dict)}
