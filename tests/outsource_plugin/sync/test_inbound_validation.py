"""What a partner sends is validated before anything is stored.

A peer's offer with a bad due date or a list for a title is refused with a
400 (so Accept can never trip on it); values the host's own API refuses
(negative hours, quantity or unit cost, a 2 MB note) are refused too, and the
completion cost charge is computed only from what was accepted. A foreign
adapter's malformed change becomes a sync error on its engagement, and the
rest of the poll round is applied.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Charge, Customer, Note, Ticket, TimeEntry, db
from outsource_plugin import signals
from outsource_plugin.db.models import Engagement
from outsource_plugin.federation.signing import sign
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, table_rows
from tests.conftest import PEER_LINK as LINK
from tests.conftest import PEER_SECRET as SECRET
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, sync

MESSAGES = "/outsource/federation/v1/messages"


def push(app: Flask, seq: int, kind: str, uid: str, payload: dict[str, Any]) -> Any:
    """One message from the peer, signed as its delivery job signs it."""
    message = {"id": f"m-{seq}-{kind}", "seq": seq, "kind": kind, "engagement_uid": uid, "payload": payload}
    body = json.dumps(message).encode()
    headers = sign(LINK, SECRET, "POST", MESSAGES, body)
    return app.test_client().post(MESSAGES, data=body, content_type="application/json", headers=headers)


def refused(response: Any, field: str) -> None:
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["error"] == "validation_failed" and field in body["message"], body
    assert body["details"], body


def offer(**changes: Any) -> dict[str, Any]:
    return {
        "offer": {"title": "Printer jam", "description": "Tray 2", "priority": "High", "due": "2026-12-24", **changes},
        "terms": {"rate_type": "hourly", "outsource_rate": "50.00"},
        "ticket_number": "FAB-1",
        "acceptance_deadline": "2026-12-20T12:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"due": "31/31/2026"}, "payload.offer.due"), ({"title": ["Printer", "jam"]}, "payload.offer.title")],
)
def test_a_malformed_offer_is_refused_and_a_valid_one_can_be_accepted(
    app: Flask, api: Api, peer_id: int, changes: dict[str, Any], field: str
) -> None:
    rows = table_rows(app)
    refused(push(app, 1, "offer", "fab-offer-1", offer(**changes)), field)
    assert table_rows(app) == rows
    assert push(app, 1, "offer", "fab-offer-1", offer()).status_code == 200
    with app.app_context():
        engagement_id = db.session.scalars(select(Engagement.id).where(Engagement.uid == "fab-offer-1")).one()
        customer = str(db.session.scalars(select(Customer.id)).first())
    answer = api.post(f"/engagements/{engagement_id}/actions", json={"action": "accept", "customer_ref": customer})
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        ticket = db.session.get(Ticket, int(answer.get_json()["ticket_id"]))
        assert (ticket.title, ticket.due_date) == ("Printer jam", date(2026, 12, 24))


def entry(key: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "entry_key": f"service:{kind}:{key}",
        "op": "upsert",
        "kind": kind,
        "data": data,
        "origin": {"side": "service", "org": "Fabrikam", "user": "Sam", "at": "2026-12-01T10:00:00+00:00"},
    }


def test_values_the_host_refuses_are_refused_from_a_partner_and_never_costed(
    app: Flask, api: Api, peer_id: int
) -> None:
    ticket = add_ticket(app, "VPN down")
    engagement_id = add_engagement(
        app, peer_id, status=Status.ACCEPTED, ticket_id=ticket, terms={"rate_type": "hourly", "outsource_rate": "50.00"}
    )
    with app.app_context():
        uid = db.session.get(Engagement, engagement_id).uid
    rows = table_rows(app)
    bad = [
        (entry("1", "time", {"work_date": "2026-12-01", "hours": "-7.50"}), "payload.data.hours"),
        (entry("2", "charge", {"name": "cable", "quantity": "-3", "unit_cost": "1.00"}), "payload.data.quantity"),
        (entry("3", "charge", {"name": "cable", "quantity": "1", "unit_cost": "-99999999"}), "payload.data.unit_cost"),
        (entry("4", "note", {"text": "x" * 2 * 2**20, "internal": False}), "payload.data.text"),
    ]
    for payload, field in bad:
        refused(push(app, 1, "entry", uid, payload), field)
    assert table_rows(app) == rows
    good = entry(
        "5",
        "time",
        {"work_date": "2026-12-01", "hours": "2.00", "resource": "Sam", "summary": "fixed", "billable": True},
    )
    assert push(app, 1, "entry", uid, good).status_code == 200
    answer = api.post(f"/tickets/{ticket}/outsource/actions", json={"action": "complete"})
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        charges = db.session.scalars(select(Charge).where(Charge.ticket_id == int(ticket))).all()
        assert [(c.name, c.unit_cost) for c in charges] == [("Outsourcing cost: Fabrikam", Decimal("100.00"))]
        hours = db.session.scalars(select(TimeEntry.hours).where(TimeEntry.ticket_id == int(ticket))).all()
        assert hours == [Decimal("2.00")]


def test_a_foreign_partners_malformed_change_is_a_sync_error_and_the_round_goes_on(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.add_entry(uid, EntryKind.TIME, {"work_date": date(2026, 12, 1), "hours": Decimal("-7.50")})
    partner.add_entry(uid, EntryKind.CHARGE, {"name": "cable", "quantity": Decimal(1), "unit_cost": Decimal(-99999999)})
    partner.add_entry(uid, EntryKind.NOTE, {"text": "on site now", "internal": False})
    failures: list[str] = []
    with signals.sync_failed.connected_to(lambda sender, **kw: failures.append(kw["error"]), sender=app):
        sync(app)
    assert len(failures) == 2 and "payload.data.hours" in failures[0], failures
    with app.app_context():
        engagement = db.session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        assert engagement.role is Side.LEAD
        assert engagement.last_sync_error and "unit_cost" in engagement.last_sync_error, engagement.last_sync_error
        assert db.session.scalars(select(TimeEntry).where(TimeEntry.ticket_id == int(ticket_id))).all() == []
        assert db.session.scalars(select(Charge).where(Charge.ticket_id == int(ticket_id))).all() == []
        notes = db.session.scalars(select(Note.body).where(Note.ticket_id == int(ticket_id))).all()
        assert "on site now" in notes
