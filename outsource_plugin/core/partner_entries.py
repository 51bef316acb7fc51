"""The partner's entries on an engagement as this host's staff see them: who wrote each one, and
the content of those held on the plugin's side.

A host that keeps an author as a user id writes the partner's copies as its system user, and a
host with ``partner_entries="held"`` never gets them in its rows at all; the partner's person
stays on the entry link, and the plugin's panel and entries JSON show it as "Name (Partner)".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.core.linked_entries import link_values
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind, to_wire

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def partner_author(user: str | None, partner: str) -> str:
    """A partner's person as this host shows them: "Tess Tech (Contoso)"."""
    return f"{user or 'partner'} ({partner})"


def partner_entries(state: OutsourceState, engagement: Engagement) -> list[dict[str, Any]]:
    """The partner's live entries, oldest first, in wire form. A file's bytes are left out (its size
    stays), and so is the author the host's row reads (its system user): ``author`` is the partner's."""
    links = state.session.scalars(
        select(EntryLink)
        .where(
            EntryLink.engagement_uid == engagement.uid,
            EntryLink.owner == engagement.role.other,
            EntryLink.deleted.is_(False),
        )
        .order_by(EntryLink.id)
    )
    return _shown(state, engagement, links)


def held_entries(state: OutsourceState, engagement: Engagement, links: Iterable[EntryLink]) -> list[dict[str, Any]]:
    """The partner's live entries held on our side, from the engagement's ``links`` (oldest first):
    what the bar lists, without a query, and without listing the host's entries."""
    other = engagement.role.other
    held = [link for link in links if link.owner == other and not link.deleted and link.held is not None]
    return _shown(state, engagement, held)


def _shown(state: OutsourceState, engagement: Engagement, links: Iterable[EntryLink]) -> list[dict[str, Any]]:
    out = []
    for link, values in link_values(state, engagement, links):
        if values is None:
            continue
        kind = EntryKind(link.kind)
        shown = {name: value for name, value in values.items() if name not in ("data", "author")}
        out.append(
            {
                "entry_key": link.entry_key,
                "kind": kind.value,
                "author": partner_author(link.origin_user, engagement.partner.name),
                "at": link.origin_at.isoformat() if link.origin_at else None,
                "held": link.held is not None,
                "local_id": link.local_id,
                "values": to_wire(kind, shown),
            }
        )
    return out
