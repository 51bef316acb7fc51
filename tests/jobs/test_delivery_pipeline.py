"""A peer's batches are pipelined: the round claims the next batch while one is on its way,
and a failure stops the partner's later messages for the round without counting against them.

Both are about the time a burst takes to cross (issue 18, target 2): the partner
applies one batch while the round settles the one before and prepares the one after;
and a message held back only because an earlier one failed has not failed itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from examples.helpdesk.models import Note, db
from outsource_plugin.db.models import MessageState, OutboxMessage, Partner
from outsource_plugin.jobs.deliver import Outcome, deliver_due
from outsource_plugin.jobs.sender import BatchSender, Sent
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.polling import eventually

#: the peer partner of ``peer_id``
PEER_URL = "http://fabrikam.invalid"


class FakeLead(BaseAdapter):
    """The peer's federation API as the sender sees it: ``answer`` makes each answer from the
    request's messages (and the request's number), and the requests are kept."""

    def __init__(self, answer: Callable[[int, list[dict[str, Any]]], tuple[int, dict[str, Any]]]) -> None:
        super().__init__()
        self.answer = answer
        self.requests: list[list[dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = json.loads(request.body or b"{}")
        messages = body["messages"] if str(request.url).endswith("/messages/batch") else [body]
        self.requests.append(messages)
        status, answer = self.answer(len(self.requests), messages)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(answer).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url, response.request = str(request.url), request
        return response

    def close(self) -> None:
        return None


def lead(app: Flask, peer_id: int, monkeypatch: pytest.MonkeyPatch, fake: FakeLead) -> FakeLead:
    with app.app_context():
        state = current_outsource()
        adapter = state.adapter_for(state.session.get(Partner, peer_id))
    session = requests.Session()
    session.mount(PEER_URL, fake)
    monkeypatch.setattr(adapter, "_session", session)
    return fake


def applied(number: int, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return 200, {"results": [{"id": m["id"], "status": "applied"} for m in messages]}


def notes(app: Flask, peer_id: int, count: int) -> None:
    """``count`` notes on a ticket outsourced to the peer: ``count`` entry messages queued, in feed order."""
    ticket = add_ticket(app)
    add_engagement(app, peer_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    with app.test_request_context():
        for n in range(count):
            db.session.add(Note(ticket_id=int(ticket), author="Tech", body=f"Progress {n}"))
        db.session.commit()


def queued(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.seq)))


def leased(app: Flask) -> int:
    with app.app_context():
        try:
            return int(db.session.scalar(select(func.count()).where(OutboxMessage.claimed_by.is_not(None))) or 0)
        finally:
            db.session.remove()


def test_the_next_batch_is_claimed_while_one_is_on_its_way(
    app: Flask, peer_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_DELIVERY_BATCH", 2)
    notes(app, peer_id, 6)
    claimed_meanwhile: list[int] = []

    def first_waits_for_the_next(number: int, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        if number == 1:
            claimed_meanwhile.append(eventually(lambda: leased(app) if leased(app) >= 4 else None, timeout=10))
        return applied(number, messages)

    fake = lead(app, peer_id, monkeypatch, FakeLead(first_waits_for_the_next))
    with app.app_context():
        counts = deliver_due(current_outsource())
    assert claimed_meanwhile == [4]
    assert counts == {Outcome.DELIVERED: 6, Outcome.RETRY: 0, Outcome.DEAD: 0}
    assert [m["seq"] for r in fake.requests for m in r] == [1, 2, 3, 4, 5, 6]
    rows = queued(app)
    assert [(m.state, m.attempts, m.claimed_by, m.last_error) for m in rows] == [
        (MessageState.DELIVERED, 1, None, None)
    ] * 6


@pytest.mark.parametrize(
    "setting",
    [("OUTSOURCE_DELIVERY_BATCH", 2), ("OUTSOURCE_DELIVERY_BATCH_BYTES", 1)],
    ids=["a later batch", "a later request of the batch"],
)
def test_what_follows_a_failed_request_in_the_round_keeps_its_attempts_and_is_due_at_once(
    app: Flask, peer_id: int, monkeypatch: pytest.MonkeyPatch, setting: tuple[str, int]
) -> None:
    """The partner would answer it 'out of order' (an earlier message is missing): no attempt of its own
    failed, so it is neither counted toward OUTSOURCE_MAX_ATTEMPTS nor backed off, and its lease is free."""
    monkeypatch.setitem(app.extensions["outsource"].config, *setting)
    notes(app, peer_id, 4)

    def down_then_out_of_order(number: int, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        if number == 1:
            return 503, {"error": "unavailable"}
        return 409, {"error": "out_of_order", "message": "an earlier message is missing", "expected": 1}

    fake = lead(app, peer_id, monkeypatch, FakeLead(down_then_out_of_order))
    before = datetime.now(timezone.utc)
    with app.app_context():
        counts = deliver_due(current_outsource())
    first = len(fake.requests[0])
    assert counts[Outcome.RETRY] == first and counts[Outcome.DELIVERED] == counts[Outcome.DEAD] == 0
    rows = queued(app)
    for failed in rows[:first]:
        assert failed.attempts == 1 and failed.last_error and "503" in failed.last_error
    for held_back in rows[first:]:
        assert held_back.state is MessageState.PENDING
        assert (held_back.attempts, held_back.claimed_by, held_back.claimed_until, held_back.last_error) == (
            0,
            None,
            None,
            None,
        )
        assert held_back.next_attempt_at <= before


def writable_elsewhere(database_url: str) -> bool:
    """Whether another connection could write now: no transaction holds SQLite's write lock, or sits
    open on PostgreSQL (``idle in transaction``, with its row locks)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                raw = conn.connection.dbapi_connection
                raw.isolation_level = None
                raw.execute("PRAGMA busy_timeout = 0")
                try:
                    raw.execute("BEGIN IMMEDIATE")
                except Exception:  # noqa: BLE001  "database is locked"
                    return False
                raw.execute("ROLLBACK")
                return True
            held = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
            return held == 0
    finally:
        engine.dispose()


def test_no_transaction_stays_open_while_the_round_waits_for_a_batch(
    app: Flask, peer_id: int, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """The round waits for the partner's answer with its transaction committed: on SQLite an open one
    holds the write lock that the web process needs to answer the partner's own requests, and two
    peers pushing to each other waited on each other until their requests timed out."""
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_DELIVERY_BATCH", 1)
    notes(app, peer_id, 4)
    waits: list[tuple[bool, bool]] = []
    wait = BatchSender.next

    def next_checked(sender: BatchSender) -> Sent:
        waits.append((db.session().in_transaction(), writable_elsewhere(database_url)))
        return wait(sender)

    monkeypatch.setattr(BatchSender, "next", next_checked)
    lead(app, peer_id, monkeypatch, FakeLead(applied))
    with app.app_context():
        counts = deliver_due(current_outsource())
    assert counts == {Outcome.DELIVERED: 4, Outcome.RETRY: 0, Outcome.DEAD: 0}
    assert waits == [(False, True)] * 4
