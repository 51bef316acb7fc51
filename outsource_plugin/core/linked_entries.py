"""The values of synced entries, wherever this side keeps them: in the host's rows, or held on
the plugin's side (``EntryLink.held``) for a host that cannot keep a partner's entry internal.

Reconciliation's digests, the completion charge and the partner-entries panel all read entries
through here, so a held entry counts everywhere a written one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def link_values(
    state: OutsourceState, engagement: Engagement, links: Iterable[EntryLink]
) -> list[tuple[EntryLink, dict[str, Any] | None]]:
    """Each link with its entry's values as this side holds them; None for an entry that is gone.

    The host's entries are listed once per kind, and only for kinds that a link names.
    """
    rows: dict[EntryKind, dict[str, dict[str, Any]]] = {}
    out: list[tuple[EntryLink, dict[str, Any] | None]] = []
    for link in links:
        if link.held is not None:
            out.append((link, link.held_values))
            continue
        kind = EntryKind(link.kind)
        if kind not in rows:
            ticket_id = engagement.ticket_id
            rows[kind] = dict(state.host.list_entries(kind, ticket_id)) if ticket_id else {}
        gone = link.deleted or link.local_id is None
        out.append((link, None if gone else rows[kind].get(link.local_id or "")))
    return out
