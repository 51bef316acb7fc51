"""The transactional outbox: what we owe partners, and when to try again.

Messages are added through the caller's session, so they commit with the
change that caused them. Backoff is a pure function so it can be tested
without a clock.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, func, not_, or_, select, update
from sqlalchemy.orm import Session

from outsource_plugin.db.bulk_rows import insert_rows
from outsource_plugin.db.models import Engagement, MailMessage, MessageState, OutboxMessage, Partner, new_ids, utcnow
from outsource_plugin.errors import NotFound
from outsource_plugin.wire import EntryMessage, WireMessage

log = logging.getLogger(__name__)

#: ``session.info`` flag: this transaction queued messages, so its commit may nudge the delivery job
WAKE_DELIVERY = "outsource_wake_delivery"
#: PostgreSQL advisory lock class (with the partner's id) a claim holds until it commits its leases
_CLAIMING = 0x0B0C


def lock_feed(session: Session, partner_id: int) -> None:
    """Lock the partner's row now, before this transaction changes any engagement.

    A transaction that changes an engagement and relays it bumps the partner's feed
    counter; one that applies the partner's message moves the partner's cursor first
    and then changes the engagement. Taking the partner row first in both keeps them
    from waiting on each other in a cycle (PostgreSQL aborted a user's submit that met
    the partner's message with "deadlock detected"). SQLite serialises writers anyway.

    The lock is FOR NO KEY UPDATE: writers of the feed still queue behind each other, but a
    row that merely names the partner (its foreign key is checked with a key-share lock) is
    not held up. With FOR UPDATE a worker recording a delivery waited on that check while
    holding the message's row, and a request or a claim holding the feed waited for the row.
    """
    session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update(key_share=True))


def enqueue(session: Session, engagement: Engagement, message: WireMessage) -> OutboxMessage:
    """Queue a message for the engagement's partner, numbered next in that partner's feed.

    The counter is bumped with one UPDATE ... RETURNING, whose row lock is
    held until commit: feed numbers therefore commit in order, with no gaps.
    The same row holds how far we have read the partner's numbered feed, and
    the message carries it as ``seen``: the partner learns which of its own
    acts we knew of when we made this change (``outsource_plugin.sync.capture``
    decides crossing by it). A partner whose feed is not numbered (a foreign
    system's timestamp cursor) gets no ``seen``.

    Messages waiting in a ``numbered_together`` batch are numbered first, so the
    feed keeps the order in which messages were queued.
    """
    return _enqueue_now(session, engagement.partner_id, engagement.uid, message)


def _enqueue_now(session: Session, partner_id: int, engagement_uid: str, message: WireMessage) -> OutboxMessage:
    number_batch(session)
    seq, seen = _reserve(session, partner_id, 1)
    queued = OutboxMessage(**_row(partner_id, engagement_uid, message, seq, seen))
    session.add(queued)
    session.info[WAKE_DELIVERY] = True
    return queued


#: a message queued in a ``numbered_together`` batch: its partner's id, its engagement's uid, the message,
#: and what is told its number. A plain tuple: a NamedTuple's constructor is a Python call, made
#: thousands of times a bulk write
_Waiting = tuple[int, str, WireMessage, Callable[[int], None]]


@contextmanager
def numbered_together(session: Session) -> Iterator[None]:
    """Queue the messages of a whole flush (``enqueue_later``) and number them at the end, in bulk.

    A bulk write of entries would otherwise take one counter UPDATE and one
    INSERT per message; together it is one UPDATE per partner and one
    multi-row INSERT. Messages queued before an ``enqueue`` in between are
    numbered before it. On an error the batch is dropped with the transaction
    the host must roll back.
    """
    if _BATCH in session.info:  # already inside one: the outer batch numbers these too
        yield
        return
    session.info[_BATCH] = []
    try:
        yield
        number_batch(session)
    finally:
        session.info.pop(_BATCH, None)


def enqueue_later(
    session: Session, partner_id: int, engagement_uid: str, message: WireMessage, numbered: Callable[[int], None]
) -> None:
    """Queue a message for the partner ``partner_id`` about the engagement ``engagement_uid`` in the open
    ``numbered_together`` batch (at once without one); ``numbered`` is told its feed number.

    Ids rather than the engagement: capture reads them once per flush (``sync.flush_reads.EngagementFacts``).
    """
    batch: list[_Waiting] | None = session.info.get(_BATCH)  # one lookup: a bulk write queues thousands
    if batch is None:
        numbered(_enqueue_now(session, partner_id, engagement_uid, message).seq)
        return
    batch.append((partner_id, engagement_uid, message, numbered))


def number_batch(session: Session) -> None:
    """Number and insert what waits in the open batch: one counter UPDATE per partner, one INSERT."""
    waiting: list[_Waiting] = session.info.get(_BATCH) or []
    if not waiting:
        return
    session.info[_BATCH] = []
    by_partner: dict[int, list[_Waiting]] = {}
    for item in waiting:
        by_partner.setdefault(item[0], []).append(item)
    rows: list[tuple[Any, ...]] = []
    message_ids = iter(new_ids(len(waiting)))
    # without autoflush: what waits to be told its number (a new entry link) is still to be
    # inserted, and then is inserted with it, not inserted first and updated one by one
    with session.no_autoflush:
        for partner_id in sorted(by_partner):  # one lock order for every transaction
            items = by_partner[partner_id]
            last, seen = _reserve(session, partner_id, len(items))
            for seq, (_, engagement_uid, message, numbered) in enumerate(items, start=last - len(items) + 1):
                rows.append((partner_id, seq, engagement_uid, message.kind, _stored(message, seen), next(message_ids)))
                numbered(seq)
        now = utcnow()  # the batch's moment: converted once for all its rows (``bulk_rows``)
        shared = {"state": MessageState.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
        insert_rows(session, cast(Table, OutboxMessage.__table__), _BATCH_COLUMNS, rows, shared, json_texts=["payload"])
    session.info[WAKE_DELIVERY] = True


#: what differs between the rows of a batch (``number_batch``)
_BATCH_COLUMNS = ("partner_id", "seq", "engagement_uid", "kind", "payload", "message_id")


#: ``session.info`` key of the open ``numbered_together`` batch
_BATCH = "outsource_outbox_batch"


def _reserve(session: Session, partner_id: int, count: int) -> tuple[int, int | None]:
    """Take the next ``count`` numbers of the partner's feed: the last of them, and ``seen``."""
    last, cursor = session.execute(
        update(Partner)
        .where(Partner.id == partner_id)
        .values(outbound_seq=Partner.outbound_seq + count)
        .returning(Partner.outbound_seq, Partner.poll_cursor)
        .execution_options(synchronize_session=False)
    ).one()
    return last, int(cursor or 0) if cursor is None or cursor.isdigit() else None


def _row(partner_id: int, engagement_uid: str, message: WireMessage, seq: int, seen: int | None) -> dict[str, Any]:
    return {
        "partner_id": partner_id,
        "seq": seq,
        "engagement_uid": engagement_uid,
        "kind": message.kind,
        "payload": _payload(message, seen),
        "state": MessageState.PENDING,
        "next_attempt_at": utcnow(),
        "attempts": 0,
    }


def _payload(message: WireMessage, seen: int | None) -> dict[str, Any]:
    """The message as stored, carrying ``seen`` when the partner's feed is numbered: last, where
    ``to_wire`` puts it, set on the wire form rather than on a copy of the message."""
    wire = message.to_wire()
    if seen is not None:
        wire["seen"] = seen
    return wire


def _stored(message: WireMessage, seen: int | None) -> str:
    """``_payload`` as the JSON text the outbox stores; an entry message writes its own (the bulk of a batch)."""
    if isinstance(message, EntryMessage):
        return message.to_json(seen)
    return json.dumps(_payload(message, seen))


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, with full jitter.

    Full jitter (uniform between 0 and the capped exponential) keeps a fleet of
    workers that failed together from retrying together, and spreads them more
    than a jitter that keeps half the wait.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0.0, ceiling)


def claim(
    session: Session,
    worker: str,
    *,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    round_start: datetime | None = None,
    stalled: Mapping[int, int] | None = None,
) -> list[int]:
    """Lease up to ``limit`` due messages to ``worker`` and return their ids.

    With ``round_start``, a message already attempted is due only if its retry
    time came before the round began: a delivery round that claims again never
    retries what it failed itself, however short the jittered wait it drew.
    ``stalled`` maps a partner to the first number of its feed that failed this
    round: what follows it stays for the next round, as the partner would only
    refuse it as out of order.

    A partner's messages go to one worker at a time: its feed is numbered, and
    two workers delivering one feed would mostly send numbers out of turn and
    be told to try again. Partners whose messages another worker holds are
    left alone until that lease is released or runs out (its worker died).
    On PostgreSQL a claim takes each chosen partner's advisory lock with a try
    (``_CLAIMING``), so workers woken by one NOTIFY never wait on each other and
    never pick the same partner; SQLite serialises writers, which is enough.
    Not the partner's row: a request capturing the next change holds it (see
    ``lock_feed``) until it commits, and what is already due must go meanwhile.

    The caller commits straight after (``jobs.deliver``): until then the
    lease is invisible to other workers and the partner rows stay locked.
    """
    # begun before the clock is read: on SQLite beginning waits for the write lock, and what the
    # transaction holding it queued is due once it has committed, not a round later
    session.connection()
    now = now or utcnow()
    due = and_(
        OutboxMessage.state == MessageState.PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )
    if round_start is not None:
        due = and_(due, or_(OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at <= round_start))
    for partner_id, seq in (stalled or {}).items():
        due = and_(due, not_(and_(OutboxMessage.partner_id == partner_id, OutboxMessage.seq >= seq)))
    held = select(OutboxMessage.partner_id).where(
        OutboxMessage.state == MessageState.PENDING,
        OutboxMessage.claimed_until >= now,
        OutboxMessage.claimed_by != worker,
    )
    free = (
        select(Partner.id)
        .where(
            Partner.active.is_(True),  # a partnership that ended keeps its messages, undelivered
            Partner.id.in_(select(OutboxMessage.partner_id).where(due)),
            Partner.id.not_in(held),
        )
        .order_by(Partner.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # tried last, on the partners left: a lock tried on one filtered out would turn another worker away
        candidates = free.subquery()
        free = select(candidates.c.id).where(func.pg_try_advisory_xact_lock(_CLAIMING, candidates.c.id))
    partners = list(session.scalars(free))
    rows = (
        session.execute(
            select(OutboxMessage.id, OutboxMessage.claimed_by)
            # held again: a lease committed after the partners were read (their lock then free) counts
            .where(due, OutboxMessage.partner_id.in_(partners), OutboxMessage.partner_id.not_in(held))
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
        if partners
        else []
    )
    ids = [row.id for row in rows]
    _update(session, ids, claimed_by=worker, claimed_until=now + lease)
    _log_takeovers(worker, [(row.id, row.claimed_by) for row in rows if row.claimed_by not in (None, worker)])
    return ids


def _log_takeovers(worker: str, taken: list[tuple[int, str]]) -> None:
    """A lease that ran out with its worker still named on it: that worker died or hung mid-delivery.

    Operators read this to tell a crashed worker from a slow partner.
    """
    previous: dict[str, list[int]] = {}
    for message_id, owner in taken:
        previous.setdefault(owner, []).append(message_id)
    for owner, message_ids in previous.items():
        log.warning(
            "worker %s took over the expired lease of %d outbox message(s) from worker %s: %s",
            worker,
            len(message_ids),
            owner,
            message_ids,
            extra={"outbox_message_ids": message_ids, "previous_worker": owner},
        )


def dead_letters(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.state == MessageState.DEAD).order_by(OutboxMessage.id)
        )
    )


def retry(session: Session, message: OutboxMessage) -> None:
    """Put a dead letter back in the queue, due now, with a fresh attempt count."""
    message.state = MessageState.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    release(message)


def count_attempts(session: Session, ids: Collection[int]) -> None:
    """One more attempt for each of the messages, in one statement, committed before they are sent:
    a message whose delivery kills the worker still counts toward OUTSOURCE_MAX_ATTEMPTS."""
    _update(session, ids, attempts=OutboxMessage.attempts + 1)


def give_back(session: Session, ids: Collection[int]) -> None:
    """Claimed messages that were not tried: their attempt back and their lease released, in one
    statement, so that a later claim takes them again as if nothing had happened."""
    _update(session, ids, attempts=OutboxMessage.attempts - 1, claimed_by=None, claimed_until=None)


def mark_delivered(session: Session, ids: Collection[int], at: datetime) -> None:
    """Record many deliveries in one statement (a batch's 500 rows, not 500 updates): each
    message delivered ``at``, its lease released and its last error gone."""
    _update(
        session,
        ids,
        state=MessageState.DELIVERED,
        delivered_at=at,
        last_error=None,
        claimed_by=None,
        claimed_until=None,
    )


def acknowledge(session: Session, partner_id: int, after: int) -> None:
    """The partner has read its feed up to ``after``: what is still pending up to there is delivered."""
    _update_where(
        session,
        and_(
            OutboxMessage.partner_id == partner_id,
            OutboxMessage.seq <= after,
            OutboxMessage.state == MessageState.PENDING,
        ),
        state=MessageState.DELIVERED,
        delivered_at=utcnow(),
    )


def _update(session: Session, ids: Collection[int], **values: Any) -> None:
    if ids:
        _update_where(session, OutboxMessage.id.in_(list(ids)), **values)


def _update_where(session: Session, condition: ColumnElement[bool], **values: Any) -> None:
    """Update many outbox rows, on PostgreSQL with their row locks taken first, in id order.

    Every multi-row update of the outbox goes through here: a worker's claim and its record of a
    delivery (by ids) and a feed read's acknowledgement (by feed number). Left to the plan, each
    locks its rows in the order it finds them, by an index or by their place in the table (which
    an update moves), and two of them over the same rows met in opposite orders: PostgreSQL
    broke the deadlock by failing one (the many-workers suite, a ``GET /changes`` 500).
    """
    if session.get_bind().dialect.name == "postgresql":
        locking = select(OutboxMessage.id).where(condition).order_by(OutboxMessage.id).with_for_update()
        ids = list(session.scalars(locking))
        if not ids:
            return
        condition = OutboxMessage.id.in_(ids)
    session.execute(
        update(OutboxMessage).where(condition).values(**values).execution_options(synchronize_session=False)
    )


def release(message: OutboxMessage | MailMessage) -> None:
    """Give the lease back after an attempt, so the next claim is not mistaken for a takeover."""
    message.claimed_by = None
    message.claimed_until = None


def retry_dead_letter(session: Session, message_id: int) -> OutboxMessage:
    """Queue a dead letter again, by id; NotFound when there is no such dead letter. The caller commits."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.state is not MessageState.DEAD:
        raise NotFound(f"no dead letter {message_id}")
    retry(session, message)
    return message
