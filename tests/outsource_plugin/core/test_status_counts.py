"""The dashboard's maintained status counts (issue 18, target 4): after every transition,
a rollback, concurrent transitions and a folding, they equal a fresh count of the
engagements; reconciliation finds a drifted one and puts it right."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from examples.helpdesk.models import db
from outsource_plugin.core.engagements import Actor, perform
from outsource_plugin.core.status_counts import KEYS, check, fold, status_counts
from outsource_plugin.db.models import Engagement, StatusCount
from outsource_plugin.jobs.reconcile import reconcile_all
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action, Side, Status
from tests.blueprints.api_helpers import add_ticket
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import act, cli, sync


def fresh_counts() -> dict[tuple[Side, Status], int]:
    counted = db.session.execute(
        select(Engagement.role, Engagement.status, func.count()).group_by(Engagement.role, Engagement.status)
    )
    counts = dict.fromkeys(KEYS, 0)
    counts.update({(role, status): n for role, status, n in counted})
    return counts


def assert_counts_true(app: Flask) -> dict[tuple[Side, Status], int]:
    with app.app_context():
        kept, counted = status_counts(db.session), fresh_counts()
        db.session.remove()
    assert kept == counted
    return kept


def test_counts_follow_every_transition_of_both_roles(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    partner = memory_partner(app, partner_id)
    assert_counts_true(app)
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert assert_counts_true(app)[(Side.LEAD, Status.UNSENT)] == 1
    uid = act(api, ticket_id, "send")["engagement"]["uid"]
    assert assert_counts_true(app)[(Side.LEAD, Status.ASSIGNED)] == 1
    sync(app)
    for action in (Action.ACCEPT, Action.START_WORK, Action.SUBMIT):
        partner.accept(uid) if action is Action.ACCEPT else partner.act(uid, action)
        sync(app)
        assert_counts_true(app)
    act(api, ticket_id, "reject", reason="not yet")
    assert assert_counts_true(app)[(Side.LEAD, Status.IN_PROGRESS)] == 1
    partner.act(uid, Action.SUBMIT)
    sync(app)
    act(api, ticket_id, "approve")
    counts = assert_counts_true(app)
    assert counts[(Side.LEAD, Status.COMPLETE)] == 1 and sum(counts.values()) == 1
    other = str(add_ticket(app))
    api.post(f"/tickets/{other}/outsource", json={"partner_id": partner_id})
    act(api, other, "remove")
    assert sum(assert_counts_true(app).values()) == 1
    partner.offer("s" * 32, {"title": "Printer", "description": "jam", "number": "L-1"}, {"acceptance_hours": 24})
    sync(app)
    assert assert_counts_true(app)[(Side.SERVICE, Status.ASSIGNED)] == 1


def test_a_rolled_back_transition_leaves_the_counts_alone(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    before = assert_counts_true(app)
    with app.app_context():
        engagement = db.session.scalars(select(Engagement)).one()
        perform(current_outsource(), engagement, Action.SEND, Side.LEAD, Actor("Ann"))
        db.session.flush()
        assert status_counts(db.session)[(Side.LEAD, Status.ASSIGNED)] == 1  # inside the transaction
        db.session.rollback()
        db.session.remove()
    assert assert_counts_true(app) == before


def test_concurrent_transitions_are_all_counted(app: Flask, api: Api, partner_id: int) -> None:
    tickets = [str(add_ticket(app)) for _ in range(8)]
    errors: list[Any] = []

    def outsource_and_send(ticket: str) -> None:
        client = Api(app.test_client())
        for url, body in (
            (f"/tickets/{ticket}/outsource", {"partner_id": partner_id}),
            (f"/tickets/{ticket}/outsource/actions", {"action": "send"}),
        ):
            response = client.post(url, json=body)
            if response.status_code not in (200, 201):
                errors.append((url, response.status_code, response.get_json()))

    threads = [threading.Thread(target=outsource_and_send, args=(t,)) for t in tickets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert assert_counts_true(app)[(Side.LEAD, Status.ASSIGNED)] == 8


def test_folding_keeps_the_counts_in_one_row_per_key(app: Flask, api: Api, partner_id: int) -> None:
    for _ in range(3):
        ticket = str(add_ticket(app))
        api.post(f"/tickets/{ticket}/outsource", json={"partner_id": partner_id})
        act(api, ticket, "send")
    before = assert_counts_true(app)
    with app.app_context():
        assert fold(db.session) > 2
        db.session.commit()
        rows = db.session.execute(select(StatusCount.role, StatusCount.status)).all()
        db.session.remove()
    assert sorted(rows) == [(Side.LEAD, Status.ASSIGNED)]
    assert assert_counts_true(app) == before


def test_reconciliation_repairs_a_drifted_count(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    with app.app_context():
        db.session.add(StatusCount(role=Side.LEAD, status=Status.UNSENT, amount=5))
        db.session.add(StatusCount(role=Side.SERVICE, status=Status.COMPLETE, amount=-2))
        db.session.commit()
        assert [str(d) for d in check(db.session, repair=False)] == [
            "lead/unsent: kept 6, counted 1",
            "service/complete: kept -2, counted 0",
        ]
        db.session.remove()
    reported = cli(app, "reconcile")
    assert reported.exit_code == 1
    assert "status count  lead/unsent: kept 6, counted 1" in reported.output
    repaired = cli(app, "reconcile", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "(repaired)" in repaired.output
    assert_counts_true(app)
    assert cli(app, "reconcile").exit_code == 0


def test_the_reconcile_job_repairs_a_drifted_count(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    with app.app_context():
        db.session.add(StatusCount(role=Side.LEAD, status=Status.ACCEPTED, amount=1))
        db.session.commit()
        assert reconcile_all(current_outsource()) == 1
        db.session.remove()
    assert_counts_true(app)
