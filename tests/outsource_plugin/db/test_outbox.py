"""Outbox leases: a live lease is respected, an expired one is taken over and logged as such."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from examples.helpdesk.models import db
from outsource_plugin.db import models
from outsource_plugin.db.mail import claim_mail, enqueue_mail
from outsource_plugin.db.models import (
    Engagement,
    MailMessage,
    OutboxMessage,
    Partner,
    new_id,
    new_ids,
    new_message_id,
    utcnow,
)
from outsource_plugin.db.outbox import (
    acknowledge,
    claim,
    enqueue,
    enqueue_later,
    lock_feed,
    mark_delivered,
    numbered_together,
    release,
)
from outsource_plugin.host import sqlite as sqlite_host
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import EntryMessage, WireOp
from outsource_plugin.workflow import Side, Status
from tests.conftest import make_app
from tests.polling import eventually

LEASE = timedelta(seconds=30)


def assigned(partner_id: int, uid: str) -> Engagement:
    """An Assigned lead engagement with the partner, flushed; in the app's context."""
    partner = db.session.get(Partner, partner_id)
    engagement = Engagement(uid=uid, role=Side.LEAD, ticket_id="1", partner=partner, status=Status.ASSIGNED)
    db.session.add(engagement)
    db.session.flush()
    return engagement


def queue_two(app: Flask, partner_id: int) -> None:
    with app.app_context():
        engagement = assigned(partner_id, "e" * 32)
        for n in range(2):
            enqueue(db.session, engagement, EntryMessage(f"lead:note:{n}", WireOp.UPSERT, EntryKind.NOTE))
        db.session.commit()


def test_expired_lease_is_taken_over_and_logged(app: Flask, partner_id: int, caplog: pytest.LogCaptureFixture):
    queue_two(app, partner_id)
    start = utcnow()
    with app.app_context(), caplog.at_level(logging.WARNING, logger="outsource_plugin.db.outbox"):
        first = claim(db.session, "worker-a", limit=10, lease=LEASE, now=start)
        assert len(first) == 2
        assert claim(db.session, "worker-b", limit=10, lease=LEASE, now=start + timedelta(seconds=5)) == []
        assert caplog.records == []
        taken = claim(db.session, "worker-b", limit=10, lease=LEASE, now=start + LEASE + timedelta(seconds=1))
        owners = set(db.session.scalars(select(OutboxMessage.claimed_by)))
    assert taken == first and owners == {"worker-b"}
    [record] = caplog.records
    assert "worker-b took over the expired lease of 2 outbox message(s) from worker worker-a" in record.getMessage()
    assert record.outbox_message_ids == first


def test_a_disabled_partners_messages_wait_unclaimed_and_go_once_it_is_enabled(app: Flask, partner_id: int) -> None:
    """The partnership ended: its engagements are history and nothing is sent to it."""
    queue_two(app, partner_id)
    with app.app_context():
        db.session.get(Partner, partner_id).active = False
        db.session.commit()
        assert claim(db.session, "worker-a", limit=10, lease=LEASE) == []
        db.session.get(Partner, partner_id).active = True
        db.session.commit()
        assert len(claim(db.session, "worker-a", limit=10, lease=LEASE)) == 2


def test_a_released_lease_is_not_a_takeover(app: Flask, partner_id: int, caplog: pytest.LogCaptureFixture):
    queue_two(app, partner_id)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="outsource_plugin.db.outbox"):
        ids = claim(db.session, "worker-a", limit=10, lease=LEASE)
        for message in db.session.scalars(select(OutboxMessage)):
            release(message)
        db.session.commit()
        assert claim(db.session, "worker-b", limit=10, lease=LEASE) == ids
    assert caplog.records == []


def test_a_round_does_not_retry_what_failed_after_it_began(app: Flask, partner_id: int) -> None:
    queue_two(app, partner_id)
    start = utcnow()
    with app.app_context():
        failed, fresh = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        failed.attempts, failed.next_attempt_at = 1, start + timedelta(seconds=1)
        fresh.next_attempt_at = start + timedelta(seconds=1)
        db.session.commit()
        later = start + timedelta(seconds=2)
        assert claim(db.session, "worker-a", limit=10, lease=LEASE, now=later, round_start=start) == [fresh.id]
        db.session.rollback()
        assert claim(db.session, "worker-a", limit=10, lease=LEASE, now=later, round_start=later) == [
            failed.id,
            fresh.id,
        ]


def referencing(partner_id: int) -> Engagement:
    """A new row whose foreign key names the partner: inserting it key-share locks the partner's row."""
    return Engagement(uid="k" * 32, role=Side.LEAD, ticket_id="2", partner_id=partner_id, status=Status.UNSENT)


@pytest.mark.postgresql
def test_a_row_that_names_the_partner_is_written_while_its_feed_is_locked(app: Flask, partner_id: int) -> None:
    """The feed lock must not stop a foreign-key check on the partner's row.

    Every row that names the partner (an outbox message, an engagement) has its foreign key
    checked with a key-share lock on the partner's row. A feed lock that blocked it closed a
    cycle in the many-workers run: a worker recording a delivery held the message's row and
    waited on that check, while a request or another worker's claim held the feed and waited
    for the message's row; PostgreSQL aborted one of them ("deadlock detected").
    """
    with app.app_context():
        feed = Session(db.engine)
        try:
            lock_feed(feed, partner_id)
            with Session(db.engine) as other:
                other.execute(text("SET lock_timeout = '2s'"))
                other.add(referencing(partner_id))
                other.flush()
                other.rollback()
        finally:
            feed.close()


@pytest.mark.postgresql
def test_a_claim_takes_a_feed_whose_partner_row_is_being_referenced(app: Flask, partner_id: int) -> None:
    """A transaction that inserts a row naming the partner holds a key-share lock on it until it
    commits; a claim must still take that partner's due messages, not skip them as if another
    worker held the feed."""
    queue_two(app, partner_id)
    with app.app_context(), Session(db.engine) as other:
        other.add(referencing(partner_id))
        other.flush()
        try:
            assert len(claim(db.session, "worker-a", limit=10, lease=LEASE)) == 2
        finally:
            other.rollback()


@pytest.mark.postgresql
def test_a_claim_takes_due_messages_while_a_request_holds_the_partners_feed(app: Flask, partner_id: int) -> None:
    """A request capturing the next change holds the feed lock until it commits; the messages
    already committed must go now, not after it (and only if it queues one: its NOTIFY)."""
    queue_two(app, partner_id)
    with app.app_context(), Session(db.engine) as request:
        lock_feed(request, partner_id)
        try:
            assert len(claim(db.session, "worker-a", limit=10, lease=LEASE)) == 2
        finally:
            request.rollback()


def test_a_batch_is_numbered_in_the_order_messages_were_queued(app: Flask, partner_id: int) -> None:
    with app.app_context():
        engagement = assigned(partner_id, "b" * 32)
        numbers: dict[str, int] = {}

        def later(key: str) -> None:
            message = EntryMessage(key, WireOp.UPSERT, EntryKind.NOTE)
            enqueue_later(
                db.session, engagement.partner_id, engagement.uid, message, lambda seq: numbers.__setitem__(key, seq)
            )

        with numbered_together(db.session):
            later("lead:note:1")
            later("lead:note:2")
            numbers["now"] = enqueue(
                db.session, engagement, EntryMessage("lead:note:3", WireOp.UPSERT, EntryKind.NOTE)
            ).seq
            later("lead:note:4")
            assert "lead:note:4" not in numbers
        db.session.commit()
        feed = [
            (m.seq, m.payload["entry_key"])
            for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.seq))
        ]
    assert [key for _, key in feed] == ["lead:note:1", "lead:note:2", "lead:note:3", "lead:note:4"]
    assert [seq for seq, _ in feed] == list(range(feed[0][0], feed[0][0] + 4))
    assert numbers == {
        "lead:note:1": feed[0][0],
        "lead:note:2": feed[1][0],
        "now": feed[2][0],
        "lead:note:4": feed[3][0],
    }


def test_a_batch_that_fails_queues_nothing(app: Flask, partner_id: int) -> None:
    with app.app_context():
        engagement = assigned(partner_id, "f" * 32)
        db.session.commit()
        with pytest.raises(RuntimeError), numbered_together(db.session):
            message = EntryMessage("lead:note:1", WireOp.UPSERT, EntryKind.NOTE)
            enqueue_later(db.session, engagement.partner_id, engagement.uid, message, lambda seq: None)
            raise RuntimeError("the host's flush failed")
        db.session.rollback()
        enqueue(db.session, engagement, EntryMessage("lead:note:2", WireOp.UPSERT, EntryKind.NOTE))
        db.session.commit()
        keys = [m.payload["entry_key"] for m in db.session.scalars(select(OutboxMessage))]
    assert keys == ["lead:note:2"]


@pytest.mark.postgresql
def test_two_workers_claiming_at_once_never_both_take_a_message(app: Flask, partner_id: int) -> None:
    """Both workers wake on the same NOTIFY and claim together: one gets the feed, the other nothing,
    whether it finds the first's lease still uncommitted or committed."""
    queue_two(app, partner_id)
    with app.app_context(), Session(db.engine) as first, Session(db.engine) as second:
        taken = claim(first, "worker-a", limit=10, lease=LEASE)
        second.execute(text("SET lock_timeout = '20s'"))
        with ThreadPoolExecutor(max_workers=1) as pool:
            other = pool.submit(claim, second, "worker-b", limit=10, lease=LEASE)
            eventually(lambda: other.done() or _blocks(first), what="the second claim answering or waiting")
            first.commit()
            also_taken = other.result(timeout=30)
            second.commit()
        later = claim(second, "worker-b", limit=10, lease=LEASE)
        owners = set(first.scalars(select(OutboxMessage.claimed_by)))
    assert len(taken) == 2 and also_taken == [] and later == [] and owners == {"worker-a"}


def _blocks(session: Session) -> bool:
    """Whether another backend waits on a lock this session's transaction holds."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    return bool(session.execute(query, {"pid": pid}).scalar_one())


def test_message_ids_are_version_7_uuids_that_sort_in_the_order_they_were_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbox rows take their message ids together in a bulk write (issue 18, target 1). The ids
    lead with the time, so the unique index on them is appended to: with random (version 4) ids
    each of a burst's 10,000 rows was written into a random page of an index that grows with
    the outbox. Engagement uids stay random."""
    clock = iter([1_765_000_000_000_000_000, 1_765_000_000_001_000_000])  # ns: the second a ms later
    monkeypatch.setattr(models.time, "time_ns", lambda: next(clock))
    first = new_ids(1000)
    second = new_ids(3)
    monkeypatch.undo()
    for made in (*first, *second, new_message_id()):
        parsed = uuid.UUID(hex=made)
        assert (parsed.version, parsed.variant, parsed.hex) == (7, uuid.RFC_4122, made)
    assert len(set(first)) == 1000 and max(first) < min(second)
    assert uuid.UUID(hex=new_id()).version == 4 and new_ids(0) == []


def test_a_message_queued_alone_takes_a_time_ordered_id_too(app: Flask, partner_id: int) -> None:
    queue_two(app, partner_id)
    with app.app_context():
        ids = list(db.session.scalars(select(OutboxMessage.message_id).order_by(OutboxMessage.id)))
    assert [uuid.UUID(hex=made).version for made in ids] == [7, 7]


class _Pauses:
    """Wraps ``host.sqlite._PAUSE``: tells when a writer first waits for SQLite's write lock, then pauses
    as it would."""

    def __init__(self, pause: threading.Event) -> None:
        self.pause = pause
        self.waiting = threading.Event()

    def wait(self, seconds: float) -> bool:
        self.waiting.set()
        return self.pause.wait(seconds)


def _queue_message(session: Session, engagement: Engagement) -> OutboxMessage | MailMessage:
    return enqueue(session, engagement, EntryMessage("lead:note:1", WireOp.UPSERT, EntryKind.NOTE))


def _queue_mail(session: Session, engagement: Engagement) -> OutboxMessage | MailMessage:
    content = {"subject": "Offer", "text_body": "An offer", "html_body": "<p>An offer</p>"}
    return enqueue_mail(session, "ada@example.com", event="offered", engagement_uid=engagement.uid, **content)


def _claim_messages(session: Session) -> list[int]:
    return claim(session, "worker-a", limit=10, lease=LEASE)


def _claim_mail(session: Session) -> list[int]:
    return claim_mail(session, "worker-a", limit=10, lease=LEASE, round_start=utcnow())


@pytest.mark.parametrize(
    ("queue", "claimer"), [(_queue_message, _claim_messages), (_queue_mail, _claim_mail)], ids=["outbox", "mail"]
)
def test_a_claim_that_waited_for_sqlites_write_lock_takes_what_committed_meanwhile(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    queue: Callable[[Session, Engagement], OutboxMessage | MailMessage],
    claimer: Callable[[Session], list[int]],
) -> None:
    """On SQLite a claim begins by waiting for the write lock (a burst of the host's entries, say,
    holds it while it commits). What that transaction queued is due by the time the claim gets the
    lock: a claim that read its clock before waiting left it for the next round, an interval later."""
    pauses = _Pauses(sqlite_host._PAUSE)
    monkeypatch.setattr(sqlite_host, "_PAUSE", pauses)
    app = make_app(f"sqlite:///{tmp_path / 'helpdesk.db'}", tmp_path)
    with app.app_context():
        partner = Partner(name="Contoso", adapter="memory", config={}, default_terms={})
        db.session.add(partner)
        db.session.flush()
        uid = assigned(partner.id, "w" * 32).uid
        db.session.commit()
        with Session(db.engine) as burst, ThreadPoolExecutor(max_workers=1) as pool:
            burst.connection()  # BEGIN IMMEDIATE: the write lock is the burst's
            claimed = pool.submit(_claim_in, app, claimer)
            assert pauses.waiting.wait(timeout=10), "the claim never waited for the write lock"
            row = queue(burst, burst.scalars(select(Engagement).filter_by(uid=uid)).one())
            burst.commit()
            assert claimed.result(timeout=30) == [row.id]
        db.session.remove()
        db.engine.dispose()


def _claim_in(app: Flask, claimer: Callable[[Session], list[int]]) -> list[int]:
    with app.app_context(), Session(db.engine) as session:
        ids = claimer(session)
        session.commit()
        return ids


@pytest.mark.postgresql
@pytest.mark.parametrize("update", ["acknowledge", "mark_delivered"])
def test_a_multi_row_update_takes_its_rows_in_id_order(app: Flask, partner_id: int, update: str) -> None:
    """Every multi-row update of the outbox locks its rows in id order, whatever order its plan finds
    them in, so two of them over the same rows never wait on each other in a cycle. A feed read's
    acknowledgement and a worker's record of a delivery, each in its plan's order, deadlocked in the
    many-workers run (a ``GET /changes`` 500). Here the first message is moved behind the second
    in the table and scans read the table in place: an update that locked in that order would
    hold the second while it waited for the first."""
    queue_two(app, partner_id)
    with app.app_context(), Session(db.engine) as holder, Session(db.engine) as writer:
        first, second = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))
        db.session.execute(text("UPDATE outsource_outbox SET attempts = attempts WHERE id = :id"), {"id": first})
        db.session.commit()
        holder.execute(text("SELECT id FROM outsource_outbox WHERE id = :id FOR UPDATE"), {"id": first})
        writer.execute(text("SET LOCAL enable_indexscan = off"))
        writer.execute(text("SET LOCAL enable_bitmapscan = off"))
        writer.execute(text("SET LOCAL lock_timeout = '20s'"))

        def run() -> None:
            if update == "acknowledge":
                acknowledge(writer, partner_id, 2)
            else:
                mark_delivered(writer, [first, second], utcnow())

        with ThreadPoolExecutor(max_workers=1) as pool:
            done = pool.submit(run)
            eventually(lambda: done.done() or _blocks(holder), what="the update waiting for the first message")
            with Session(db.engine) as probe:
                probe.execute(text("SET LOCAL lock_timeout = '1s'"))
                free = probe.execute(
                    text("SELECT id FROM outsource_outbox WHERE id = :id FOR UPDATE NOWAIT"), {"id": second}
                ).all()
                probe.rollback()
            holder.rollback()
            done.result(timeout=30)
            writer.commit()
    assert free == [(second,)]
