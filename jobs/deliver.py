"""Deliver the outbox: claim with a lease, call the adapter (a batch per partner where it takes
one), record each outcome."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.adapters.base import DeliveryResult, Outbound
from outsource_plugin.db.models import Engagement, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.db.outbox import (
    backoff,
    claim,
    count_attempts,
    give_back,
    lock_feed,
    mark_delivered,
    release,
)
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.jobs.sender import Batch, BatchSender, Claimed, Sent
from outsource_plugin.ops.logs import log_context
from outsource_plugin.ops.metrics import record_delivery
from outsource_plugin.state import OutsourceState
from outsource_plugin.wire import MessageKind, WireMessage, message_from_wire

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def deliver_due(state: OutsourceState, *, worker: str | None = None) -> dict[Outcome, int]:
    """One delivery round: every due message.

    The round claims again until nothing is due, so a message committed while
    it runs (its nudge skipped, the job being busy) goes now, not an interval later.
    A message already attempted goes only if it was due when the round began:
    the round never retries what it failed itself, however short its backoff.

    A partner's batches go out on a thread of their own (``jobs.sender``), the next
    one ready behind the one in flight: while the partner applies a batch, the round
    settles the one before and claims and prepares the one after.
    """
    counts = dict.fromkeys(Outcome, 0)
    started, name = utcnow(), worker or worker_name()
    stalled: dict[int, int] = {}
    with BatchSender() as sender:
        while True:
            outcomes: Iterable[Outcome]
            if sender.waiting >= AHEAD:
                outcomes = settle_sent(state, sender.next(), stalled)
            elif ids := claim_round(state, partial(claim, stalled=stalled), name, started):
                outcomes = deliver_claimed(state, ids, sender)
            elif sender.waiting:
                outcomes = settle_sent(state, sender.next(), stalled)
            else:
                break
            for outcome in outcomes:
                counts[outcome] += 1
                record_delivery(state, outcome.value)
    return counts


def deliver_claimed(state: OutsourceState, ids: list[int], sender: BatchSender) -> Iterator[Outcome]:
    """The claimed messages, partner by partner: handed to ``sender`` in one batch when the
    partner's adapter takes batches (``send_together``), else each in its own transaction;
    an outcome as each commits."""
    session = state.session
    pending = session.execute(
        select(OutboxMessage.id, OutboxMessage.partner_id)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == MessageState.PENDING)
        .order_by(OutboxMessage.id)
    )
    by_partner: dict[int, list[int]] = {}
    for message_id, partner_id in pending:
        by_partner.setdefault(partner_id, []).append(message_id)
    for partner_id, message_ids in by_partner.items():
        partner = session.get(Partner, partner_id)
        assert partner is not None
        if state.adapter_for(partner).delivers_batches:
            yield from send_together(state, partner, message_ids, sender)
            continue
        for message in session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(message_ids)).order_by(OutboxMessage.id)
        ):
            outcome = deliver_one(state, message)
            session.commit()
            yield outcome


#: a round's batches handed to the sender and not settled yet, at most: one in flight, the next one ready
AHEAD = 2


def claim_round(
    state: OutsourceState, claimer: Callable[..., list[int]], worker: str, round_start: datetime
) -> list[int]:
    """Lease the next batch with ``claimer`` and commit at once: until then other workers cannot see
    the lease, and on PostgreSQL the rows it locked stay locked."""
    cfg = state.config
    ids = claimer(
        state.session,
        worker,
        limit=int(cfg["OUTSOURCE_DELIVERY_BATCH"]),
        lease=timedelta(seconds=float(cfg["OUTSOURCE_DELIVERY_LEASE"])),
        round_start=round_start,
    )
    state.session.commit()
    return ids


def deliver_one(state: OutsourceState, message: OutboxMessage) -> Outcome:
    session = state.session
    partner = session.get(Partner, message.partner_id)
    engagement = session.query(Engagement).filter_by(uid=message.engagement_uid).first()
    assert partner is not None
    message.attempts += 1
    typed = _typed(message.kind, message.payload)
    if isinstance(typed, str):
        return _unreadable(message, engagement, typed)
    outbound = _outbound(message.message_id, message.engagement_uid, message.seq, typed, engagement)
    # No transaction is held across the network call (the message stays leased meanwhile):
    # on SQLite it holds the write lock, and two peers pushing to each other would deadlock.
    session.commit()
    try:
        result: DeliveryResult | Exception = state.adapter_for(partner).deliver(outbound)
    except Exception as err:  # noqa: BLE001  (settled and logged below, as every failure is)
        result = err
    return settle(state, message, partner, engagement, result)


def send_together(state: OutsourceState, partner: Partner, ids: list[int], sender: BatchSender) -> list[Outcome]:
    """A partner's claimed messages as one batch for ``sender`` (in feed order, as plain data), their
    attempts counted and committed first; a row that cannot be read is dead at once (its outcome).

    The rows are read once, as columns: the round settles them by id (``settle_sent``).
    """
    session = state.session
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.message_id,
            OutboxMessage.engagement_uid,
            OutboxMessage.seq,
            OutboxMessage.kind,
            OutboxMessage.payload,
            OutboxMessage.last_error,
        )
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == MessageState.PENDING)
        .order_by(OutboxMessage.seq)
    ).all()
    engagements = _engagements(session, {row.engagement_uid for row in rows})
    claimed: list[Claimed] = []
    unreadable: dict[int, str] = {}
    for row in rows:
        typed = _typed(row.kind, row.payload)
        if isinstance(typed, str):
            unreadable[row.id] = typed
            continue
        outbound = _outbound(row.message_id, row.engagement_uid, row.seq, typed, engagements.get(row.engagement_uid))
        claimed.append(Claimed(row.id, row.last_error, outbound))
    count_attempts(session, [c.id for c in claimed])
    outcomes = _dead_unread(state, partner.id, unreadable, engagements) if unreadable else []
    batch = Batch(partner.id, state.adapter_for(partner), tuple(claimed), _max_bytes(state))
    # last: no transaction stays open while the round waits for the sender (on SQLite it would
    # hold the write lock the web process needs to answer the partner's polls)
    session.commit()
    if claimed:
        sender.put(batch)
    return outcomes


def settle_sent(state: OutsourceState, sent: Sent, stalled: dict[int, int]) -> list[Outcome]:
    """Record a sent batch's outcomes, committed together, and what of its partner's feed waits
    for the next round (``stalled``).

    The delivered messages are marked in one statement, their engagements once each; a
    failed one is settled as ``deliver_one`` settles it. A message the adapter did not
    try (another one spoiled the request, or one before it failed) gets its attempt back
    and its lease released: a later claim takes it again.
    """
    session = state.session
    partner_id = sent.batch.partner_id
    if sent.stalled_at is not None:
        stalled[partner_id] = sent.stalled_at
    # the partner's row before its engagements: a poll or a pushed batch of this partner takes it
    # first too (``outbox.lock_feed``), and with many engagements in one transaction, the other
    # order deadlocked against them
    lock_feed(session, partner_id)
    delivered: list[tuple[Claimed, DeliveryResult]] = []
    failed: dict[int, Exception] = {}
    untried: list[int] = []
    for claimed, result in zip(sent.batch.claimed, sent.results, strict=True):
        if result is None:
            untried.append(claimed.id)
        elif isinstance(result, Exception):
            failed[claimed.id] = result
        else:
            delivered.append((claimed, result))
    give_back(session, untried)
    now = utcnow()
    mark_delivered(session, [c.id for c, _ in delivered], now)
    engagements = _engagements(session, {c.outbound.engagement_uid for c in sent.batch.claimed})
    for claimed, result in delivered:
        engagement = engagements.get(claimed.outbound.engagement_uid)
        if engagement is not None:
            _synced(engagement, result, claimed.last_error, now)
    outcomes = [Outcome.DELIVERED] * len(delivered)
    if failed:
        partner = session.get(Partner, partner_id)
        assert partner is not None
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(failed))):
            engagement = engagements.get(message.engagement_uid)
            outcomes.append(settle(state, message, partner, engagement, failed[message.id]))
    session.commit()
    return outcomes


def _engagements(session: Session, uids: set[str]) -> dict[str, Engagement]:
    return {e.uid: e for e in session.scalars(select(Engagement).where(Engagement.uid.in_(uids)))} if uids else {}


def _max_bytes(state: OutsourceState) -> int:
    return int(state.config["OUTSOURCE_DELIVERY_BATCH_BYTES"])


def _dead_unread(
    state: OutsourceState, partner_id: int, unreadable: dict[int, str], engagements: dict[str, Engagement]
) -> list[Outcome]:
    """Dead-letter claimed rows that cannot be read, their attempt counted (``_unreadable``)."""
    session = state.session
    lock_feed(session, partner_id)  # before an engagement changes: see ``settle_sent``
    outcomes = []
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(unreadable))):
        message.attempts += 1
        outcomes.append(_unreadable(message, engagements.get(message.engagement_uid), unreadable[message.id]))
    return outcomes


def _typed(kind: MessageKind, payload: dict[str, Any]) -> WireMessage | str:
    """The stored message typed; for a row it cannot read, why."""
    try:
        return message_from_wire(kind, payload)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        return f"the stored message cannot be read: {type(err).__name__}: {err}"


def _unreadable(message: OutboxMessage, engagement: Engagement | None, error: str) -> Outcome:
    """A row no version of the plugin wrote (edited by hand, say): no retry can send it, so it is dead at once."""
    release(message)
    return _dead(message, engagement, error)


def _outbound(
    message_id: str, engagement_uid: str, seq: int, typed: WireMessage, engagement: Engagement | None
) -> Outbound:
    """The message as an adapter takes it."""
    return Outbound(
        message_id=message_id,
        engagement_uid=engagement_uid,
        remote_ref=engagement.remote_ref if engagement else None,
        message=typed,
        seq=seq,
    )


def settle(
    state: OutsourceState,
    message: OutboxMessage,
    partner: Partner,
    engagement: Engagement | None,
    result: DeliveryResult | Exception,
) -> Outcome:
    """Record one delivery attempt's result: delivered, retried with backoff, or dead-lettered."""
    if isinstance(result, TransientAdapterError):
        return failed_attempt(state, message, partner, engagement, result.message, result.retry_after)
    if isinstance(result, PermanentAdapterError):
        release(message)
        return _dead(message, engagement, result.message)
    if isinstance(result, Exception):  # an adapter bug or a partner's nonsense: a counted failure, logged
        error = f"{type(result).__name__}: {result}"
        log.error(
            "delivery %s to partner %s failed: %s",
            message.message_id,
            partner.id,
            error,
            exc_info=result,
            extra=log_context(partner=partner, engagement=engagement, message=message),
        )
        return failed_attempt(state, message, partner, engagement, error, None)
    release(message)
    fixed, message.last_error = message.last_error, None
    message.state = MessageState.DELIVERED
    message.delivered_at = utcnow()
    if engagement is not None:
        _synced(engagement, result, fixed, utcnow())
    return Outcome.DELIVERED


def _synced(engagement: Engagement, result: DeliveryResult, fixed: str | None, now: datetime) -> None:
    """A delivery's news for its engagement; ``fixed``: the error the message's last attempt left."""
    if result.remote_ref and not engagement.remote_ref:
        engagement.remote_ref = result.remote_ref
    if result.remote_ticket_number:
        engagement.remote_ticket_number = result.remote_ticket_number
    engagement.last_sync_at = now
    if fixed is not None and engagement.last_sync_error == fixed:
        # only the error this message caused is over: one recorded meanwhile (the partner
        # refusing this very attachment, say) must stay visible
        engagement.last_sync_error = None


def failed_attempt(
    state: OutsourceState,
    message: OutboxMessage,
    partner: Partner,
    engagement: Engagement | None,
    error: str,
    retry_after: float | None,
) -> Outcome:
    """A failed attempt that may succeed later: retried with backoff, dead-lettered at the attempt limit."""
    release(message)
    if message.attempts >= int(state.config["OUTSOURCE_MAX_ATTEMPTS"]):
        return _dead(message, engagement, f"gave up after {message.attempts} attempts: {error}")
    wait = max(retry_after or 0.0, backoff(message.attempts, cap=float(state.config["OUTSOURCE_BACKOFF_CAP"])))
    message.next_attempt_at = utcnow() + timedelta(seconds=wait)
    message.last_error = error
    log.info(
        "delivery %s to partner %s failed, retry in %.1fs",
        message.message_id,
        partner.id,
        wait,
        extra=log_context(partner=partner, engagement=engagement, message=message),
    )
    return Outcome.RETRY


def _dead(message: OutboxMessage, engagement: Engagement | None, error: str) -> Outcome:
    message.state = MessageState.DEAD
    message.last_error = error
    if engagement is not None:
        engagement.last_sync_error = error
    log.warning(
        "delivery %s dead-lettered: %s",
        message.message_id,
        error,
        extra=log_context(engagement=engagement, message=message),
    )
    return Outcome.DEAD
