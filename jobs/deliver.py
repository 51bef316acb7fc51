"""Deliver the outbox: claim with a lease, call the adapter (a batch per partner where it takes
one), record each outcome."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select

from outsource_plugin.adapters.base import DeliveryResult, Outbound
from outsource_plugin.db.models import Engagement, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.db.outbox import backoff, claim, lock_feed, release
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.ops.logs import log_context
from outsource_plugin.ops.metrics import record_delivery
from outsource_plugin.state import OutsourceState
from outsource_plugin.wire import message_from_wire

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
    """
    counts = dict.fromkeys(Outcome, 0)
    started = utcnow()
    while ids := claim_round(state, claim, worker or worker_name(), started):
        for outcome in deliver_claimed(state, ids):
            counts[outcome] += 1
            record_delivery(state, outcome.value)
    return counts


def deliver_claimed(state: OutsourceState, ids: list[int]) -> Iterator[Outcome]:
    """The claimed messages, partner by partner: all of a partner's in one batch when its adapter
    takes batches (``deliver_together``), else each in its own transaction; an outcome as each commits."""
    session = state.session
    pending = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == MessageState.PENDING)
        .order_by(OutboxMessage.id)
    )
    by_partner: dict[int, list[OutboxMessage]] = {}
    for message in pending:
        by_partner.setdefault(message.partner_id, []).append(message)
    for partner_id, messages in by_partner.items():
        partner = session.get(Partner, partner_id)
        assert partner is not None
        if state.adapter_for(partner).delivers_batches:
            yield from deliver_together(state, partner, sorted(messages, key=lambda m: m.seq))
            continue
        for message in messages:
            outcome = deliver_one(state, message)
            session.commit()
            yield outcome


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
    outbound = _outbound(message, engagement)
    if isinstance(outbound, Outcome):
        return outbound
    # No transaction is held across the network call (the message stays leased meanwhile):
    # on SQLite it holds the write lock, and two peers pushing to each other would deadlock.
    session.commit()
    try:
        result: DeliveryResult | Exception = state.adapter_for(partner).deliver(outbound)
    except Exception as err:  # noqa: BLE001  (settled and logged below, as every failure is)
        result = err
    return settle(state, message, partner, engagement, result)


def deliver_together(state: OutsourceState, partner: Partner, messages: list[OutboxMessage]) -> list[Outcome]:
    """A partner's messages (in feed order) in as few requests as ``OUTSOURCE_DELIVERY_BATCH_BYTES``
    allows, each settled as ``deliver_one`` settles it; the outcomes are committed together.

    A message the adapter did not try (another one spoiled the request) gets its
    attempt back and its lease released: the round's next claim takes it again.
    """
    session = state.session
    # the partner's row before its engagements, in each of the two transactions: a poll or a
    # pushed batch of this partner takes it first too (``outbox.lock_feed``), and with many
    # engagements in one transaction, the other order deadlocked against them
    lock_feed(session, partner.id)
    uids = {m.engagement_uid for m in messages}
    engagements = {e.uid: e for e in session.scalars(select(Engagement).where(Engagement.uid.in_(uids)))}
    outcomes: list[Outcome] = []
    ready: list[tuple[OutboxMessage, Outbound]] = []
    for message in messages:
        message.attempts += 1
        outbound = _outbound(message, engagements.get(message.engagement_uid))
        if isinstance(outbound, Outcome):
            outcomes.append(outbound)
        else:
            ready.append((message, outbound))
    ids = [m.id for m, _ in ready]
    session.commit()  # no transaction across the network call: see ``deliver_one``
    most = int(state.config["OUTSOURCE_DELIVERY_BATCH_BYTES"])
    try:
        results = state.adapter_for(partner).deliver_batch([o for _, o in ready], most)
    except Exception as err:  # noqa: BLE001  (the adapter failed as a whole: each attempt did; logged in settle)
        results = [err] * len(ready)
    lock_feed(session, partner.id)
    # the commit expired them: read them back in two queries, not one per message
    session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
    session.scalars(select(Engagement).where(Engagement.uid.in_(uids))).all()
    for (message, _), result in zip(ready, results, strict=True):
        if result is None:
            message.attempts -= 1
            release(message)
            continue
        outcomes.append(settle(state, message, partner, engagements.get(message.engagement_uid), result))
    session.commit()
    return outcomes


def _outbound(message: OutboxMessage, engagement: Engagement | None) -> Outbound | Outcome:
    """The message as an adapter takes it; a row it cannot read is dead at once (its Outcome)."""
    try:
        typed = message_from_wire(message.kind, message.payload)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        # a row no version of the plugin wrote (edited by hand, say): no retry can send it
        release(message)
        return _dead(message, engagement, f"the stored message cannot be read: {type(err).__name__}: {err}")
    return Outbound(
        message_id=message.message_id,
        engagement_uid=message.engagement_uid,
        remote_ref=engagement.remote_ref if engagement else None,
        message=typed,
        seq=message.seq,
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
        if result.remote_ref and not engagement.remote_ref:
            engagement.remote_ref = result.remote_ref
        if result.remote_ticket_number:
            engagement.remote_ticket_number = result.remote_ticket_number
        engagement.last_sync_at = utcnow()
        if fixed is not None and engagement.last_sync_error == fixed:
            # only the error this message caused is over: one recorded meanwhile (the partner
            # refusing this very attachment, say) must stay visible
            engagement.last_sync_error = None
    return Outcome.DELIVERED


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
