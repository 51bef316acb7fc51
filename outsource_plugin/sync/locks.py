"""Which host entries are read-only under the sync rules, and why; which are a partner's copies.

The same rules as ``sync.capture_entry`` refuses an edit by, asked before the
edit, so that a page can mark an entry read-only instead of letting the user
find out at commit:

- an entry that came from the partner is theirs until the engagement is Complete;
- while the ticket waits for approval, entries from before the suspension are
  read-only on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.core.engagements import current_engagement
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.workflow import SyncState, sync_state

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def lock_reason(engagement: Engagement, link: EntryLink, kind: EntryKind) -> str | None:
    """Why ``link``'s entry may not be changed on this host now; None when it may."""
    sync = sync_state(engagement.status)
    if link.deleted or sync is SyncState.NONE:
        return None
    if link.owner is not engagement.role and sync is not SyncState.ENDED:
        return f"this {kind.value} came from {engagement.partner.name}: only they can change it"
    if sync is SyncState.SUSPENDED and not link.in_suspension:
        return f"this {kind.value} is read-only while the ticket waits for approval"
    return None


@dataclass(frozen=True)
class EntryStanding:
    """What a host entry is under the sync rules: ours or a partner's copy, and whether it may change now.

    A client tells a partner's time entry from its own staff's by this, not by
    the resource's name, which can be the same on both sides.
    """

    own: bool
    #: a copy's origin: our name for the partner, the partner's user and when they made it
    origin: dict[str, str | None] | None = None
    read_only_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "own": self.own,
            "origin": self.origin,
            "read_only": self.read_only_reason is not None,
            "read_only_reason": self.read_only_reason,
        }


def entry_standing(state: OutsourceState, kind: EntryKind | str, entry: Any) -> EntryStanding:
    """The standing of an entry (a host entry object or its id); an entry that never synced is simply ours."""
    kind = EntryKind(kind)
    local_id = entry if isinstance(entry, str | int) else state.host.entry_id(kind, entry)
    session = state.session
    found = session.execute(
        select(EntryLink, Engagement)
        .join(Engagement, Engagement.uid == EntryLink.engagement_uid)
        .where(EntryLink.kind == kind.value, EntryLink.local_id == str(local_id), EntryLink.deleted.is_(False))
        .order_by(EntryLink.id.desc())
    ).first()
    if found is None:
        return EntryStanding(own=True)
    link, engagement = found
    current = current_engagement(session, engagement.ticket_id) if engagement.ticket_id is not None else None
    return link_standing(link, engagement, current=current is None or current.uid == engagement.uid)


def link_standing(link: EntryLink, engagement: Engagement, *, current: bool) -> EntryStanding:
    """The standing of a linked entry; only the ticket's ``current`` engagement's rules lock it."""
    origin = None
    if link.owner is not engagement.role:
        made = link.origin_at or link.created_at
        origin = {"partner": engagement.partner.name, "user": link.origin_user, "at": made.isoformat()}
    reason = lock_reason(engagement, link, EntryKind(link.kind)) if current else None
    return EntryStanding(own=origin is None, origin=origin, read_only_reason=reason)


def entry_lock(state: OutsourceState, kind: EntryKind | str, entry: Any) -> str | None:
    """The reason an entry (a host entry object or its id) is read-only, or None."""
    return entry_standing(state, kind, entry).read_only_reason
