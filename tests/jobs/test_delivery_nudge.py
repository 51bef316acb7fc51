"""The delivery job is nudged by the commit that queues a message, and one round drains the queue.

Both keep a change's way to the partner at one round trip: without the nudge
it waits for the job's next interval, without the drain for the round after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from examples.helpdesk.models import Note, db
from outsource_plugin.db.models import MessageState, OutboxMessage, Partner
from outsource_plugin.jobs.deliver import Outcome, deliver_due
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.conftest import fresh_database, make_app, memory_partner, reset_data
from tests.polling import eventually


@pytest.fixture
def nudged_app(tmp_path: Path) -> Iterator[Flask]:
    """Jobs in the process, with intervals far longer than the test: only a nudge can run them."""
    with fresh_database(tmp_path) as url:
        app = make_app(
            url,
            tmp_path / "instance",
            OUTSOURCE_SCHEDULER=True,
            OUTSOURCE_DELIVERY_INTERVAL=3600.0,
            OUTSOURCE_POLL_INTERVAL=3600.0,
            OUTSOURCE_DELIVERY_BATCH=2,
        )
        reset_data(app)
        yield app
        if app.extensions["outsource"].scheduler.running:
            app.extensions["outsource"].scheduler.shutdown(wait=True)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _partner_id(app: Flask) -> int:
    with app.app_context():
        return int(db.session.query(Partner).filter_by(name="Contoso").one().id)


def _add_notes(app: Flask, ticket_id: str, count: int) -> None:
    with app.test_request_context():
        for n in range(count):
            db.session.add(Note(ticket_id=int(ticket_id), author="Tech", body=f"Progress {n}"))
        db.session.commit()


def test_a_committed_entry_is_delivered_without_waiting_for_the_interval(nudged_app: Flask) -> None:
    partner_id = _partner_id(nudged_app)
    ticket = add_ticket(nudged_app)
    add_engagement(nudged_app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    partner = memory_partner(nudged_app, partner_id)
    _add_notes(nudged_app, ticket, 5)
    eventually(lambda: len(partner.received) >= 5, timeout=20, interval=0.05)
    assert [m.kind for m in partner.received] == ["entry"] * 5


def test_a_commit_after_the_scheduler_stopped_still_commits(nudged_app: Flask) -> None:
    """The nudge comes after the commit: a stopped scheduler must not turn it into an error."""
    partner_id = _partner_id(nudged_app)
    ticket = add_ticket(nudged_app)
    add_engagement(nudged_app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    nudged_app.extensions["outsource"].scheduler.shutdown(wait=True)
    _add_notes(nudged_app, ticket, 1)
    with nudged_app.app_context():
        pending = db.session.query(OutboxMessage).filter_by(state=MessageState.PENDING).count()
    assert pending == 1


def test_one_round_delivers_more_than_one_batch(app: Flask, partner_id: int) -> None:
    config = app.extensions["outsource"].config
    batch, config["OUTSOURCE_DELIVERY_BATCH"] = config["OUTSOURCE_DELIVERY_BATCH"], 2
    try:
        ticket = add_ticket(app)
        add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
        _add_notes(app, ticket, 5)
        with app.app_context():
            counts = deliver_due(current_outsource())
        assert counts[Outcome.DELIVERED] == 5
        assert len(memory_partner(app, partner_id).received) == 5
    finally:
        config["OUTSOURCE_DELIVERY_BATCH"] = batch


def test_a_round_claims_a_burst_of_hundreds_at_once_by_default(
    app: Flask, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OUTSOURCE_DELIVERY_BATCH is 500: the lead applies a batch in a fixed number of statements, so
    fewer, larger rounds moved the throughput bench's burst in about four fifths of the time."""
    from outsource_plugin.jobs import deliver

    claimed: list[int] = []

    def claim(*args: object, **kwargs: object) -> list[int]:
        ids = deliver_claim(*args, **kwargs)
        claimed.append(len(ids))
        return ids

    deliver_claim = deliver.claim
    monkeypatch.setattr(deliver, "claim", claim)
    ticket = add_ticket(app)
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    _add_notes(app, ticket, 300)
    with app.app_context():
        assert deliver_due(current_outsource())[Outcome.DELIVERED] == 300
    assert claimed == [300, 0]
