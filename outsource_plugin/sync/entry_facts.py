"""What one side holds of an engagement's synced entries, as comparable facts.

Reconciliation compares the two sides of an engagement without shipping the
entries: each side sums up every synced entry as ``EntryFacts``, whose digest
covers only what crosses unchanged (a note's text, not its author or its
``internal`` flag, which the receiver sets itself). The lead's time entries
reach the partner as notes, so their digest is taken of that note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from outsource_plugin.adapters.base import EntryFacts
from outsource_plugin.core.linked_entries import link_values
from outsource_plugin.db.models import Engagement, EntryLink, MessageKind, MessageState, OutboxMessage
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import crossing, digest

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


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
    crossed = [link for link in links if link.owner is not engagement.role or link.sent]
    facts: list[EntryFacts] = []
    for link, values in link_values(state, engagement, crossed):
        shown, crossed_values = crossing(link.owner, EntryKind(link.kind), values or {})
        facts.append(
            EntryFacts(
                entry_key=link.entry_key,
                kind=shown.value,
                owner=link.owner.value,
                digest=None if values is None else digest(shown, crossed_values),
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
