"""A peer's numbered feed as the poll applies it (issue 18, target 2).

A page of the feed is applied as a pushed batch is: the run of next numbers is
claimed with one compare-and-set, whatever its length, and numbers a push
already applied are skipped without a statement each. The lead's poll and the
service's pushes carry the same messages; one at a time, the poll held the
partner's row so long that the pushes queued behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from flask import Flask
from sqlalchemy import select, update

from examples.helpdesk.models import db
from outsource_plugin.adapters.base import ChangeBatch, EngagementRef
from outsource_plugin.adapters.peer import PeerAdapter
from outsource_plugin.db.models import Partner
from outsource_plugin.federation.feed import change_from_message
from outsource_plugin.jobs.poll import poll_partner
from outsource_plugin.state import current_outsource
from tests.blueprints.test_federation_batch import cursor, note, notes
from tests.statements import statements


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What the peer's feed answers the next poll: fill it with messages."""
    answer: list[dict[str, object]] = []

    def fetch_changes(self: PeerAdapter, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        return ChangeBatch(changes=tuple(change_from_message(m) for m in answer), cursor=None)

    monkeypatch.setattr(PeerAdapter, "fetch_changes", fetch_changes)
    return answer


def poll(app: Flask, peer: int) -> list[str]:
    """One poll of the peer; the SQL it ran."""
    with app.app_context():
        state = current_outsource()
        with statements() as ran:
            poll_partner(state, db.session.get(Partner, peer))
        return ran


def cursor_claims(ran: list[str]) -> list[str]:
    return [s for s in ran if s.startswith("UPDATE outsource_partner SET") and "poll_cursor=" in s.split(" WHERE ")[0]]


def test_a_polled_page_claims_its_run_of_numbers_with_one_statement(
    app: Flask, peer: int, uid: str, page: list[dict[str, object]]
) -> None:
    page.extend(note(n, uid, f"polled {n}") for n in range(1, 41))
    ran = poll(app, peer)
    assert len(cursor_claims(ran)) == 1
    assert notes(app) == [f"polled {n}" for n in range(1, 41)]
    assert cursor(app, peer) == "40"


def test_numbers_a_push_applied_are_skipped_by_the_poll(
    app: Flask, peer: int, uid: str, page: list[dict[str, object]]
) -> None:
    page.extend(note(n, uid, f"polled {n}") for n in range(1, 6))
    poll(app, peer)
    page.extend(note(n, uid, f"polled {n}") for n in range(6, 11))
    with app.app_context():  # a push applied 6 and 7 meanwhile (its notes aside: the numbers are what count)
        db.session.execute(update(Partner).where(Partner.id == peer).values(poll_cursor="7"))
        db.session.commit()
    ran = poll(app, peer)
    assert len(cursor_claims(ran)) == 1
    assert notes(app) == [f"polled {n}" for n in (1, 2, 3, 4, 5, 8, 9, 10)]
    assert cursor(app, peer) == "10"
    with app.app_context():
        assert db.session.scalar(select(Partner.last_poll_error).where(Partner.id == peer)) is None


def test_a_gap_in_a_polled_page_holds_back_what_follows_it(
    app: Flask, peer: int, uid: str, page: list[dict[str, object]]
) -> None:
    page.extend(note(n, uid, f"polled {n}") for n in (1, 2, 4, 5))
    poll(app, peer)
    assert notes(app) == ["polled 1", "polled 2"]
    assert cursor(app, peer) == "2"


def test_an_invalid_polled_change_is_refused_and_the_rest_of_the_page_applies(
    app: Flask, peer: int, uid: str, page: list[dict[str, object]]
) -> None:
    bad = note(2, uid, "bad")
    bad["payload"] = {**bad["payload"], "kind": "no such kind"}  # type: ignore[dict-item]
    page.extend([note(1, uid, "polled 1"), bad, note(3, uid, "polled 3")])
    poll(app, peer)
    assert notes(app) == ["polled 1", "polled 3"]
    assert cursor(app, peer) == "3"
    with app.app_context():
        assert "refused" in str(db.session.scalar(select(Partner.last_poll_error).where(Partner.id == peer)))
