"""One partner's failure stays that partner's: the poll and delivery rounds go on to the next.

A partner whose adapter raises something unexpected (a bug, a malformed message, an
HTML page where JSON was due) is rolled back, its error recorded and announced, and the
partners after it are still polled and delivered to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from outsource_plugin import signals
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import Engagement, MessageKind, MessageState, OutboxMessage, Partner
from outsource_plugin.jobs.deliver import Outcome, deliver_due
from outsource_plugin.jobs.poll import poll_all
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement
from tests.conftest import Api, memory_partner
from tests.cross_host.html_partner import html_site
from tests.examples.test_helpdesk import outsource, signed_in, ticket_page
from tests.outsource_plugin.test_signals import documented, recorded

OFFER = {"offer": {"title": "Printer jam", "number": "L-7"}, "terms": {"authorised_hours": "2"}}


def broken(adapter: MemoryAdapter, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make one adapter call raise what no adapter is supposed to raise."""

    def explode(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("partner adapter bug")

    monkeypatch.setattr(adapter, method, explode)


def offer(uid: str, **data: Any) -> RemoteChange:
    return RemoteChange(kind=ChangeKind.OFFER, engagement_uid=uid, change_id=f"c-{uid}", data={**OFFER, **data})


def engagement(app: Flask, uid: str) -> Engagement | None:
    with app.app_context():
        return current_outsource().session.query(Engagement).filter_by(uid=uid).first()


def partner_row(app: Flask, partner_id: int) -> Partner:
    with app.app_context():
        partner = current_outsource().session.get(Partner, partner_id)
        assert partner is not None
        return partner


def poll(app: Flask) -> int:
    with app.app_context():
        return poll_all(current_outsource())


def test_a_partner_whose_adapter_raises_does_not_stop_the_poll_round(
    app: Flask, partner_id: int, second_partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken(memory_partner(app, partner_id), "fetch_changes", monkeypatch)
    memory_partner(app, second_partner_id).feed.append(offer("from-fabrikam"))
    with recorded(signals.sync_failed) as failures:
        assert poll(app) == 1
    arrived = engagement(app, "from-fabrikam")
    assert arrived is not None and arrived.status is Status.ASSIGNED
    first = partner_row(app, partner_id)
    assert first.last_poll_error is not None and "partner adapter bug" in first.last_poll_error
    assert partner_row(app, second_partner_id).last_poll_error is None
    assert [set(kw) for kw in failures] == [documented(signals.sync_failed)]
    assert failures[0]["partner_id"] == partner_id and "partner adapter bug" in failures[0]["error"]


def test_the_partner_page_and_the_blue_bar_show_the_poll_error(
    app: Flask, api: Api, ticket_id: str, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    outsource(api, ticket_id, partner_id)
    broken(memory_partner(app, partner_id), "fetch_changes", monkeypatch)
    poll(app)
    client = signed_in(app, Permission.ALL)
    bar = ticket_page(client, ticket_id)
    assert 'class="ob-error ob-poll-error"' in bar and "RuntimeError: partner adapter bug" in bar
    partners = client.get("/outsource/partners").get_data(as_text=True)
    assert "RuntimeError: partner adapter bug" in partners


def test_a_malformed_message_is_refused_alone_and_named_on_the_partner(
    app: Flask, partner_id: int, second_partner_id: int
) -> None:
    poisoned = memory_partner(app, partner_id)
    poisoned.feed.extend([offer("fine-before"), offer("poisoned", acceptance_deadline="garbage")])
    memory_partner(app, second_partner_id).feed.append(offer("from-fabrikam"))
    poll(app)
    assert engagement(app, "from-fabrikam") is not None
    assert engagement(app, "fine-before") is not None and engagement(app, "poisoned") is None
    error = partner_row(app, partner_id).last_poll_error
    assert error is not None and "acceptance_deadline" in error


def test_an_unexpected_error_while_applying_rolls_back_the_batch_and_the_next_partner_still_polled(
    app: Flask, partner_id: int, second_partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outsource_plugin.sync import inbound

    def poisoned_apply(state: Any, partner: Partner, change: RemoteChange) -> Any:
        if change.engagement_uid == "poisoned":
            raise RuntimeError("garbage in the host's own code")
        return apply(state, partner, change)

    apply = inbound.apply_change
    monkeypatch.setattr(inbound, "apply_change", poisoned_apply)
    poisoned = memory_partner(app, partner_id)
    poisoned.feed.extend([offer("fine-before"), offer("poisoned")])
    memory_partner(app, second_partner_id).feed.append(offer("from-fabrikam"))
    poll(app)
    assert engagement(app, "from-fabrikam") is not None
    # nothing of the failed batch stays half-written, and its cursor waits for the next round
    assert engagement(app, "fine-before") is None and engagement(app, "poisoned") is None
    first = partner_row(app, partner_id)
    assert first.poll_cursor is None and first.last_poll_error and "garbage" in first.last_poll_error

    monkeypatch.setattr(inbound, "apply_change", apply)
    poll(app)
    assert engagement(app, "fine-before") is not None and engagement(app, "poisoned") is not None
    assert partner_row(app, partner_id).last_poll_error is None


def test_a_partner_url_answering_html_is_a_clear_poll_error_and_the_next_partner_is_polled(
    app: Flask, api: Api
) -> None:
    with html_site() as url:
        created = api.post(
            "/partners",
            json={
                "name": "Wrong URL",
                "adapter": "peer",
                "config": {"base_url": url, "link_id": "wrong-url", "secret": "s" * 32},
            },
        )
        assert created.status_code == 201, created.get_json()
        html_partner = int(created.get_json()["id"])
        later = api.post("/partners", json={"name": "Fabrikam", "adapter": "memory", "config": {}})
        assert later.status_code == 201, later.get_json()
        memory_partner(app, int(later.get_json()["id"])).feed.append(offer("from-fabrikam"))
        poll(app)
    assert engagement(app, "from-fabrikam") is not None
    error = partner_row(app, html_partner).last_poll_error
    assert error is not None and "text/html, not JSON" in error and "JSONDecodeError" not in error


def queue(app: Flask, partner_id: int, engagement_id: int) -> int:
    """A pending message for the engagement, due now."""
    with app.app_context():
        session = current_outsource().session
        engagement = session.get(Engagement, engagement_id)
        partner = session.get(Partner, partner_id)
        assert engagement is not None and partner is not None
        partner.outbound_seq += 1
        message = OutboxMessage(
            partner_id=partner_id,
            seq=partner.outbound_seq,
            engagement_uid=engagement.uid,
            kind=MessageKind.ACTION,
            payload={"action": "cancel"},
            state=MessageState.PENDING,
            attempts=0,
        )
        session.add(message)
        session.commit()
        return int(message.id)


def message(app: Flask, message_id: int) -> OutboxMessage:
    with app.app_context():
        found = current_outsource().session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def deliver(app: Flask) -> dict[Outcome, int]:
    with app.app_context():
        return deliver_due(current_outsource())


@pytest.fixture
def two_queued(app: Flask, partner_id: int, second_partner_id: int) -> Iterator[tuple[int, int, int]]:
    """One message for each partner; Contoso's engagement id comes first."""
    first = add_engagement(app, partner_id, status=Status.ASSIGNED)
    second = add_engagement(app, second_partner_id, status=Status.ASSIGNED)
    yield first, queue(app, partner_id, first), queue(app, second_partner_id, second)


def test_an_unexpected_delivery_error_is_a_counted_failure_and_the_batch_goes_on(
    app: Flask,
    partner_id: int,
    two_queued: tuple[int, int, int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, failing, fine = two_queued
    broken(memory_partner(app, partner_id), "deliver", monkeypatch)
    with caplog.at_level(logging.ERROR, logger="outsource_plugin.jobs.deliver"):
        counts = deliver(app)
    assert counts[Outcome.DELIVERED] == 1 and counts[Outcome.RETRY] == 1
    assert message(app, fine).state is MessageState.DELIVERED
    failed = message(app, failing)
    assert failed.state is MessageState.PENDING and failed.attempts == 1
    assert failed.claimed_by is None and failed.claimed_until is None
    assert failed.last_error and "partner adapter bug" in failed.last_error
    [logged] = [r for r in caplog.records if r.exc_info]
    assert logged.exc_info and logged.exc_info[0] is RuntimeError


def test_an_unexpected_delivery_error_is_dead_lettered_at_the_attempt_limit(
    app: Flask,
    partner_id: int,
    two_queued: tuple[int, int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engagement_id, failing, _ = two_queued
    broken(memory_partner(app, partner_id), "deliver", monkeypatch)
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_MAX_ATTEMPTS", 1)
    counts = deliver(app)
    assert counts[Outcome.DEAD] == 1 and counts[Outcome.DELIVERED] == 1
    dead = message(app, failing)
    assert dead.state is MessageState.DEAD and dead.claimed_by is None
    assert dead.last_error and "partner adapter bug" in dead.last_error
    with app.app_context():
        row = current_outsource().session.get(Engagement, engagement_id)
        assert row is not None and row.last_sync_error and "partner adapter bug" in row.last_sync_error


def test_a_stored_message_that_cannot_be_read_is_dead_lettered_and_the_batch_goes_on(
    app: Flask, two_queued: tuple[int, int, int]
) -> None:
    """A row no version of the plugin wrote (edited by hand, say) is never sendable: it is
    dead-lettered with the reason, not left leased to stop its partner's feed."""
    _, unreadable, fine = two_queued
    with app.app_context():
        session = current_outsource().session
        row = session.get(OutboxMessage, unreadable)
        assert row is not None
        row.kind, row.payload = MessageKind.ENTRY, {"op": "upsert"}
        session.commit()
    counts = deliver(app)
    assert counts[Outcome.DEAD] == 1 and counts[Outcome.DELIVERED] == 1
    dead = message(app, unreadable)
    assert dead.state is MessageState.DEAD and dead.claimed_by is None and dead.attempts == 1
    assert dead.last_error == "the stored message cannot be read: KeyError: 'entry_key'"
    assert message(app, fine).state is MessageState.DELIVERED
