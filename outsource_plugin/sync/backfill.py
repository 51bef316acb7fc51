"""Backfill: send a newly accepted engagement the notes and attachments its ticket had before.

The sync engine sends only what is written while sync is active, so the lead
ticket's history from before acceptance stays behind. Backfill sends that
history once, under the same rules as live sync (it goes through
``sync.send_values``): only while sync is active (never during a suspension,
nothing after Complete), never the lead's internal entries, attachments only
up to the size limit. Each entry sent gets its ``EntryLink`` and its outbox
message in one transaction, so delivery is at-least-once, the partner
applies it once (by entry key), and a second run finds the links and sends
nothing again. Only the lead side has such history: the service ticket is
opened by the acceptance itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.core.engagements import record_event
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.errors import ValidationFailed
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.sync.capture import send_values
from outsource_plugin.wire import entry_key
from outsource_plugin.workflow import Action, Side, SyncState, sync_state

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

#: the entry kinds a ticket's earlier history is made of
BACKFILLED = (EntryKind.NOTE, EntryKind.ATTACHMENT)


@dataclass
class Backfill:
    """What one engagement's backfill sent (or, on a dry run, would send)."""

    engagement_uid: str
    ticket_id: str | None
    sent: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"engagement_uid": self.engagement_uid, "ticket_id": self.ticket_id, "sent": self.sent}


def check_backfillable(engagement: Engagement) -> None:
    """Raise ValidationFailed, saying why, for an engagement that backfill must not touch."""
    if engagement.role is not Side.LEAD:
        raise ValidationFailed(
            f"engagement {engagement.id} is a service engagement: its ticket has no history from before the link"
        )
    if sync_state(engagement.status) is not SyncState.ACTIVE:
        raise ValidationFailed(
            f"engagement {engagement.id} is {engagement.status.label}: backfill runs only while sync is active "
            "(Accepted or In Progress)"
        )


def backfill(state: OutsourceState, engagement: Engagement) -> Backfill:
    """Send the ticket's unsynced notes and attachments; the caller commits (or rolls back a dry run)."""
    check_backfillable(engagement)
    result = Backfill(engagement.uid, engagement.ticket_id)
    if engagement.ticket_id is None:
        return result
    session = state.session
    # keyed by kind too: a host numbers notes and attachments apart, so their ids collide
    linked = {
        (link_kind, link_id)
        for link_kind, link_id in session.execute(
            select(EntryLink.kind, EntryLink.local_id).where(
                EntryLink.engagement_uid == engagement.uid,
                EntryLink.kind.in_([k.value for k in BACKFILLED]),
                EntryLink.deleted.is_(False),
            )
        )
    }
    for kind in BACKFILLED:
        if kind not in state.host.entry_kinds:
            continue
        for local_id, values in state.host.list_entries(kind, engagement.ticket_id):
            if (kind.value, local_id) in linked or values.get("internal"):
                continue
            link = EntryLink(
                engagement_uid=engagement.uid,
                entry_key=entry_key(engagement.role, kind, local_id),
                kind=kind.value,
                local_id=local_id,
                owner=engagement.role,
            )
            session.add(link)
            send_values(state, engagement, link, kind, values)
            if link.sent:
                result.sent.append(f"{kind.value} {local_id}")
    if result.sent:
        record_event(
            session,
            engagement,
            "backfill",
            Action.BACKFILL,
            f"sent {len(result.sent)} entries from before the link: {', '.join(result.sent)}",
        )
    return result
