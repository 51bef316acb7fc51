"""The partner's entries of one applied run, written together (issue 18, target 2).

Applied one at a time, each new entry from the partner cost a look-up of its
link, a flush of its copy, a look-up of a stale link on the copy's id and an
INSERT of its own link: about six statements an entry, the lead's whole cost of
a sync. A run of a pushed batch or a polled page (``inbound.apply_run``) reads
the links of all its entries at once, adds the new copies and flushes them
together, and inserts their links with one statement, as capture does for a
host's bulk write (``flush_reads.LiveLinks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind, keep_local
from outsource_plugin.sync.flush_reads import LiveLinks, NewLink, one_of, partner_link_fields
from outsource_plugin.wire import EntryMessage

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


class RunEntries:
    """The links of a run's entries, read at once, and the partner's new copies waiting to be written.

    A key whose link was missing when looked up may have one by the next look-up (a
    copy made meanwhile, pending here or added to the session): that look-up writes
    what waits (``settle``) and reads the link again.
    """

    def __init__(self, state: OutsourceState, found: dict[tuple[str, str], EntryLink]) -> None:
        self.state = state
        self.found = found
        self.unsure: set[tuple[str, str]] = set()
        self.pending: list[tuple[Any, EntryKind, NewLink]] = []

    @classmethod
    def of(cls, state: OutsourceState, changes: Iterable[RemoteChange]) -> RunEntries:
        """The links of the run's entry changes, one query per chunk of entry keys.

        Asked by engagement as well as by key: the links' index leads with the engagement, and
        by key alone every received batch read every link there is.
        """
        wanted = {(c.engagement_uid, str(c.data.get("entry_key"))) for c in changes if c.kind is ChangeKind.ENTRY}
        session, found = state.session, dict[tuple[str, str], EntryLink]()
        uids = {uid for uid, _ in wanted}
        for keys in one_of(session, EntryLink.entry_key, {key for _, key in wanted}):
            for among in one_of(session, EntryLink.engagement_uid, uids):
                query = select(EntryLink).where(among, keys).order_by(EntryLink.id)
                for link in session.scalars(query):
                    if (link.engagement_uid, link.entry_key) in wanted:
                        found.setdefault((link.engagement_uid, link.entry_key), link)
        return cls(state, found)

    def link(self, uid: str, entry_key: str) -> EntryLink | None:
        """The entry's link, as ``apply_entry`` would read it."""
        key = (uid, entry_key)
        if key in self.unsure:
            self.settle()
            query = select(EntryLink).where(EntryLink.engagement_uid == uid, EntryLink.entry_key == entry_key)
            found = self.state.session.scalars(query).first()
            if found is not None:
                self.found[key] = found
                self.unsure.discard(key)
        link = self.found.get(key)
        if link is None:
            self.unsure.add(key)
        return link

    def add_copy(self, engagement: Engagement, message: EntryMessage, kind: EntryKind, values: dict[str, Any]) -> None:
        """The partner's new entry on our ticket, and its link, written at the next ``settle``."""
        assert engagement.ticket_id is not None
        entry = self.state.host.create_entry(kind, engagement.ticket_id, values)
        keep_local(self.state.session, entry)
        self.pending.append((entry, kind, NewLink(**partner_link_fields(engagement, message, kind), local_id=None)))

    def settle(self) -> None:
        """Write the waiting copies (one flush), retire live links still naming their ids (as
        ``capture.retire_local`` does), and insert their links with one statement."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        state = self.state
        state.session.flush()
        for entry, kind, link in pending:
            link.local_id = state.host.entry_id(kind, entry)
        live = LiveLinks.of(state, ((link.engagement_uid, kind, link.local_id or "") for _, kind, link in pending))
        for _, kind, link in pending:
            stale = live.get(link.engagement_uid, kind, link.local_id or "")
            if stale is not None:
                stale.deleted = True
            live.add(link)
        live.insert_new(state.session)
