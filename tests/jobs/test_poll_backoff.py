"""A partner that is down is polled by the job at growing waits, not at every round (issue 19).

The clock is the job's own ``now``: each round is run at a chosen time, one poll
interval after the other, so which rounds reach the partner is exact, with no sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.adapters.base import ChangeBatch, EngagementRef
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import Engagement, Partner
from outsource_plugin.errors import TransientAdapterError
from outsource_plugin.jobs.poll import poll_all, poll_due
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.poll_backoff import due_partners
from tests.conftest import make_app, memory_partner
from tests.examples.test_helpdesk import signed_in
from tests.jobs.test_isolation import offer
from tests.outsource_plugin.sync.test_inbound_validation import push

START = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


class Outage:
    """The partner's system as the poller meets it: down or up, and every poll that reached it."""

    def __init__(self, adapter: MemoryAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = True
        self.calls = 0
        fetch = adapter.fetch_changes

        def fetch_changes(cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
            self.calls += 1
            if self.down:
                raise TransientAdapterError("connection refused")
            return fetch(cursor, engagements)

        monkeypatch.setattr(adapter, "fetch_changes", fetch_changes)


def interval(app: Flask) -> float:
    return float(app.extensions["outsource"].config["OUTSOURCE_POLL_INTERVAL"])


def at(app: Flask, round_no: int) -> datetime:
    return START + timedelta(seconds=interval(app) * round_no)


def run_rounds(app: Flask, outage: Outage, rounds: range) -> list[int]:
    """Run the scheduled poll job once per round; the rounds in which it reached the partner."""
    reached = []
    for round_no in rounds:
        before = outage.calls
        with app.app_context():
            poll_due(current_outsource(), now=at(app, round_no))
        if outage.calls > before:
            reached.append(round_no)
    return reached


def backoff_of(app: Flask, partner_id: int) -> tuple[int, datetime | None]:
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner is not None
        return partner.poll_failures, partner.poll_due_at


def next_try_on_the_partners_page(app: Flask, partner_id: int) -> str | None:
    page = signed_in(app, Permission.ALL).get("/outsource/partners").get_data(as_text=True)
    row = page.split(f'data-partner-id="{partner_id}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(r'class="op-note op-next-poll">([^<]*)<', row)
    return found.group(1) if found else None


def partner_health(app: Flask, partner_id: int) -> dict[str, Any]:
    body = signed_in(app, Permission.ALL).get("/outsource/api/v1/health").get_json()
    [health] = [p for p in body["partners"] if p["id"] == partner_id]
    return dict(health)


@pytest.fixture
def capped(app: Flask, monkeypatch: pytest.MonkeyPatch) -> float:
    """A cap of eight poll intervals, so the waits reach it in a few rounds."""
    cap = 8 * interval(app)
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_POLL_BACKOFF_MAX", cap)
    return cap


def test_the_waits_double_from_the_poll_interval_up_to_the_cap_and_the_others_are_polled_at_every_round(
    app: Flask, partner_id: int, second_partner_id: int, capped: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = Outage(memory_partner(app, partner_id), monkeypatch)
    healthy = Outage(memory_partner(app, second_partner_id), monkeypatch)
    healthy.down = False
    reached = run_rounds(app, down, range(31))
    assert reached == [0, 2, 6, 14, 22, 30]
    assert [b - a for a, b in pairwise(reached)] == [2, 4, 8, 8, 8]
    assert healthy.calls == 31
    failures, due = backoff_of(app, partner_id)
    assert failures == 6 and due == at(app, 30) + timedelta(seconds=capped)
    assert backoff_of(app, second_partner_id) == (0, None)


def test_the_partner_is_polled_again_at_its_due_time_and_what_it_said_meanwhile_is_applied_once(
    app: Flask, partner_id: int, capped: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = memory_partner(app, partner_id)
    outage = Outage(adapter, monkeypatch)
    adapter.feed.append(offer("said-while-down"))
    assert run_rounds(app, outage, range(7)) == [0, 2, 6]
    health = partner_health(app, partner_id)
    assert health["next_poll_at"] == at(app, 14).isoformat() and health["poll_failures"] == 3
    assert "connection refused" in health["last_poll_error"]
    assert next_try_on_the_partners_page(app, partner_id) == "Next try 2026-12-04 12:01 UTC"
    outage.down = False  # back, but not asked until its due time
    assert run_rounds(app, outage, range(7, 17)) == [14, 15, 16]
    assert backoff_of(app, partner_id) == (0, None)
    health = partner_health(app, partner_id)
    assert health["next_poll_at"] is None and health["poll_failures"] == 0 and health["last_poll_error"] is None
    assert next_try_on_the_partners_page(app, partner_id) is None
    with app.app_context():
        arrived = db.session.query(Engagement).filter_by(uid="said-while-down").all()
        assert len(arrived) == 1


def test_a_failure_after_a_success_starts_again_from_the_poll_interval(
    app: Flask, partner_id: int, capped: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    outage = Outage(memory_partner(app, partner_id), monkeypatch)
    assert run_rounds(app, outage, range(7)) == [0, 2, 6]
    outage.down = False
    assert run_rounds(app, outage, range(7, 15)) == [14]
    outage.down = True
    assert run_rounds(app, outage, range(15, 20)) == [15, 17]


@pytest.fixture
def backing_off(app: Flask, partner_id: int, capped: float, monkeypatch: pytest.MonkeyPatch) -> Outage:
    """Contoso down for rounds 0 to 2: failed at 0 and 2, next due at 6."""
    outage = Outage(memory_partner(app, partner_id), monkeypatch)
    assert run_rounds(app, outage, range(3)) == [0, 2]
    return outage


def test_a_direct_poll_reaches_a_partner_that_is_backing_off_at_once(
    app: Flask, partner_id: int, backing_off: Outage
) -> None:
    """``poll_all`` (a full round run by hand, ``run_once``) asks every partner, whatever its backoff."""
    backing_off.down = False
    with app.app_context():
        poll_all(current_outsource())
    assert backing_off.calls == 3
    assert backoff_of(app, partner_id) == (0, None)
    assert run_rounds(app, backing_off, range(3, 5)) == [3, 4]


def test_another_worker_on_the_database_keeps_to_the_backoff(
    app: Flask,
    partner_id: int,
    backing_off: Outage,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker started afresh (its own app, engine and adapters) reads the due time from the partner's row."""
    worker = make_app(database_url, tmp_path)
    try:
        fresh = Outage(memory_partner(worker, partner_id), monkeypatch)
        monkeypatch.setitem(worker.extensions["outsource"].config, "OUTSOURCE_POLL_BACKOFF_MAX", 8 * interval(app))
        assert run_rounds(worker, fresh, range(3, 7)) == [6]
        assert backoff_of(app, partner_id)[0] == 3
    finally:
        with worker.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_peer_that_pushes_ahead_of_a_missing_message_is_asked_at_the_next_round(
    app: Flask, peer_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its push proves it is up: the poll the 409 nudges is not held back by the backoff."""
    with app.app_context():
        peer = db.session.get(Partner, peer_id)
        assert peer is not None
        peer.poll_failures, peer.poll_due_at = 4, at(app, 30)
        db.session.commit()
    nudged: list[bool] = []
    monkeypatch.setattr(app.extensions["outsource"], "poll_now", lambda: nudged.append(True))
    answer = push(app, 5, "entry", "fab-1", {})
    assert answer.status_code == 409 and answer.get_json()["error"] == "out_of_order", answer.get_json()
    assert nudged == [True]
    assert backoff_of(app, peer_id) == (4, None)
    with app.app_context():
        assert peer_id in [p.id for p in due_partners(current_outsource(), at(app, 1))]


def test_a_due_time_beyond_the_cap_is_due_at_once(
    app: Flask, partner_id: int, backing_off: Outage, capped: float
) -> None:
    """Set by a clock that was ahead (a host restarted on true time after a skew): no wait is longer
    than the cap, so a due time further off than that is not waited for."""
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner is not None
        partner.poll_due_at = at(app, 3) + timedelta(seconds=capped + interval(app))
        db.session.commit()
    assert run_rounds(app, backing_off, range(3, 5)) == [3]
