"""What capture reads once per host flush, however many entries the flush carries.

A host's bulk write (an import, a burst of entries) hands capture thousands of
changes at once. Read one at a time, each change's engagement and entry link
cost a query or two and a flush of everything pending; read here, they cost a
query per few hundred tickets or entries, and the links made meanwhile are
inserted together at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Integer, String, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from outsource_plugin.db import outbox
from outsource_plugin.db.bulk_rows import insert_rows
from outsource_plugin.db.models import Engagement, EntryLink, utcnow
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import EntryMessage, Origin
from outsource_plugin.workflow import Side, Status, SyncState, sync_state

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

#: values per IN list: well under every database's limit of bound parameters
_IN_CHUNK = 500
#: the column types whose values SQLite may take as one JSON text, and the Python type each value must have:
#: it compares a value read from JSON with the column under its type affinity rules, which match what an
#: IN list of bound values selects only for values of the column's own type (an int against a String
#: column matches nothing there); and these types bind their values as they are
_JSON_LISTED: dict[type, type] = {String: str, Integer: int}
#: ``session.info`` key of the open ``stamped_alike`` block's stamp (None until first read)
_STAMP = "outsource_flush_stamp"


def one_of(
    session: Session, column: InstrumentedAttribute[Any], values: Iterable[Any]
) -> Iterator[ColumnElement[bool]]:
    """Conditions that ``column`` is one of ``values``, one per query to run, in value order.

    PostgreSQL takes them all as one array parameter (``= ANY``): psycopg parsed a long
    IN list of bound values again for every query, a fifth of capture's time there.
    SQLite has no arrays; it takes values of the column's own type (``_JSON_LISTED``) as one
    JSON text (``json_each``), parsed in a third of the time of as many bound values. Other
    values go in IN lists of at most ``_IN_CHUNK``, under its parameter limit, each one
    expanding parameter: a list of values given to ``in_`` is coerced value by value.
    """
    ordered = sorted(set(values))
    if not ordered:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
        return
    listed = _JSON_LISTED.get(type(column.type))
    if listed is not None and all(type(value) is listed for value in ordered):
        values_of = func.json_each(bindparam(None, json.dumps(ordered), type_=String)).table_valued("value")
        yield column.in_(select(values_of.c.value))
        return
    for first in range(0, len(ordered), _IN_CHUNK):
        yield column.in_(bindparam(None, ordered[first : first + _IN_CHUNK], type_=column.type, expanding=True))


def current_engagements(state: OutsourceState, ticket_ids: Iterable[str]) -> dict[str, Engagement]:
    """Each ticket's current engagement (its newest, of either role), the open ones locked.

    The same as ``core.engagements.current_engagement`` then ``lock_status`` for each ticket, in
    a few statements: every partner's row first, then the engagements' rows, each in id order,
    so two flushes lock in one order; and each open engagement's status re-read under its lock,
    since the partner's crossing act may have just committed (a cancel that withdrew the offer).
    """
    session = state.session
    newest: dict[str, Engagement] = {}
    for among in one_of(session, Engagement.ticket_id, ticket_ids):
        for engagement in session.scalars(select(Engagement).where(among).order_by(Engagement.id)):
            newest[str(engagement.ticket_id)] = engagement
    open_ones = {e.id: e for e in newest.values() if e.is_open}  # a closed one never opens again
    for partner_id in sorted({e.partner_id for e in open_ones.values()}):
        outbox.lock_feed(session, partner_id)
    session.flush()
    for among in one_of(session, Engagement.id, open_ones):
        locked = session.execute(
            select(Engagement.id, Engagement.status).where(among).order_by(Engagement.id).with_for_update()
        )
        for engagement_id, status in locked:
            set_committed_value(open_ones[engagement_id], "status", status)
    return newest


@dataclass(slots=True)
class EngagementFacts:
    """What capture reads of an engagement for each entry it captures, read once per flush.

    A bulk write has thousands of entries on a few hundred engagements, and each
    mapped attribute read is a Python getter (``InstrumentedAttribute.__get__``),
    about six per entry. The status is the one fact capture itself changes within a
    flush (work started on an Accepted service ticket): ``read_status`` reads it again.
    """

    engagement: Engagement
    uid: str
    partner_id: int
    side: Side
    status: Status
    sync: SyncState

    @classmethod
    def of(cls, engagement: Engagement) -> EngagementFacts:
        status = engagement.status
        return cls(engagement, engagement.uid, engagement.partner_id, engagement.role, status, sync_state(status))

    def read_status(self) -> None:
        """The engagement's status changed: the flush's later entries see the new one."""
        self.status = self.engagement.status
        self.sync = sync_state(self.status)


@dataclass(slots=True)
class NewLink:
    """A link made in bulk, by a flush's capture or a run of the partner's entries: a plain
    record, not an ORM object.

    Thousands of mapped objects per bulk write cost their instrumentation and events
    for rows that ``LiveLinks.insert_new`` writes with one statement anyway.
    """

    engagement_uid: str
    entry_key: str
    kind: str
    local_id: str | None
    owner: Side
    in_suspension: bool = False
    first_seq: int | None = None
    sent: bool = False
    deleted: bool = False
    #: who made a partner's entry, and when (``inbound``'s runs make these links too)
    origin_user: str | None = None
    origin_at: datetime | None = None


def partner_link_fields(engagement: Engagement, message: EntryMessage, kind: EntryKind) -> dict[str, Any]:
    """What every link of a partner's new entry says, made one at a time or in a run (``run_entries``)."""
    return {
        "engagement_uid": engagement.uid,
        "entry_key": message.entry_key,
        "kind": kind.value,
        "owner": engagement.role.other,
        "sent": True,
        "origin_user": message.origin.user or None,
        "origin_at": message.origin.made_at,
    }


#: a live link as capture handles it: read from the database, or made by this flush
Link = EntryLink | NewLink


class LiveLinks:
    """The live link of each entry a flush changed, keyed by engagement, kind and local id.

    A link the flush makes is recorded here too, so a later change of the same
    entry in the flush finds it. It stays out of the ORM session (whose unit of
    work inserted thousands of links one statement each): ``insert_new`` writes
    the flush's new links with one executemany on the session's connection, in
    the host's transaction, once their messages are numbered.
    """

    def __init__(self, found: dict[tuple[str, str, str], Link]) -> None:
        self.found = found
        self.new: list[NewLink] = []

    @classmethod
    def of(cls, state: OutsourceState, wanted: Iterable[tuple[str, EntryKind, str]]) -> LiveLinks:
        """The live links of these (engagement uid, kind, local id), one query per kind and chunk of ids."""
        by_kind: dict[EntryKind, set[str]] = {}
        uids: set[str] = set()
        for uid, kind, local_id in wanted:
            by_kind.setdefault(kind, set()).add(local_id)
            uids.add(uid)
        found: dict[tuple[str, str, str], Link] = {}
        for kind, local_ids in by_kind.items():
            for among in one_of(state.session, EntryLink.local_id, local_ids):
                query = (
                    select(EntryLink)
                    .where(EntryLink.kind == kind.value, among, EntryLink.deleted.is_(False))
                    .order_by(EntryLink.id)
                )
                # the newest live link of an id wins, as in ``capture._link_by_local``
                for link in state.session.scalars(query):
                    if link.engagement_uid in uids:
                        found[(link.engagement_uid, link.kind, link.local_id or "")] = link
        return cls(found)

    def get(self, uid: str, kind: EntryKind, local_id: str) -> Link | None:
        link = self.found.get((uid, kind.value, local_id))
        return link if link is not None and not link.deleted else None

    def put(self, link: Link) -> None:
        self.found[(link.engagement_uid, link.kind, link.local_id or "")] = link

    def add(self, link: NewLink) -> None:
        """A link the flush made: found by later changes of the flush, inserted by ``insert_new``."""
        self.put(link)
        self.new.append(link)

    def insert_new(self, session: Session) -> None:
        """Insert the links the flush made, as they stand, with one statement."""
        rows = [
            (
                link.engagement_uid,
                link.entry_key,
                link.kind,
                link.local_id,
                link.owner,
                link.in_suspension,
                link.first_seq,
                link.sent,
                link.deleted,
                link.origin_user,
                link.origin_at,
            )
            for link in self.new
        ]
        self.new = []
        now = utcnow()
        shared = {"question": False, "created_at": now, "updated_at": now}
        insert_rows(session, cast(Table, EntryLink.__table__), _NEW_LINK_COLUMNS, rows, shared)


#: what differs between the links a flush made (``LiveLinks.insert_new``)
_NEW_LINK_COLUMNS = (
    "engagement_uid",
    "entry_key",
    "kind",
    "local_id",
    "owner",
    "in_suspension",
    "first_seq",
    "sent",
    "deleted",
    "origin_user",
    "origin_at",
)


@dataclass(frozen=True)
class Stamp:
    """Who made a change and when (ISO time), as its messages tell the partner (``wire.Origin``)."""

    user: str | None
    at: str
    _origins: dict[tuple[Side, str, str | None], Origin] = field(default_factory=dict, compare=False, repr=False)

    def origin(self, side: Side, org: str, author: str | None) -> Origin:
        """The origin of a message from ``side`` of ``org``: made by the stamp's user, or else by the
        entry's ``author``. One object for the flush's messages alike: its JSON text is made once
        (``wire.Origin.json_text``), not for each of a bulk write's thousands of messages."""
        user = self.user if self.user is not None else author
        key = (side, org, user)
        made = self._origins.get(key)
        if made is None:
            made = self._origins[key] = Origin(side=side, org=org, user=user, at=self.at)
        return made


@contextmanager
def stamped_alike(session: Session) -> Iterator[None]:
    """The messages queued meanwhile carry one stamp (``stamp``), read when the first needs it.

    A flush is one user's write at one moment; read for each of a bulk write's messages,
    the user (through the host) and the clock were a tenth of capture's time.
    """
    session.info[_STAMP] = None
    try:
        yield
    finally:
        session.info.pop(_STAMP, None)


def stamp(state: OutsourceState) -> Stamp:
    """The open ``stamped_alike`` block's stamp, or, outside one, the current user's now."""
    info = state.session.info
    found = info.get(_STAMP)
    if found is not None:
        return cast(Stamp, found)
    user = state.host.current_user()
    made = Stamp(user=user.name if user else None, at=utcnow().isoformat())
    if _STAMP in info:
        info[_STAMP] = made
    return made
