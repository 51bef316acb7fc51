"""Whole engagements end to end through the API, with the in-memory adapter
playing the partner: the lead's flow, the service side's flow, and the jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Customer, Ticket, db
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import Engagement, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.jobs.scheduler import run_once
from outsource_plugin.permissions import Permission
from outsource_plugin.signals import status_changed
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action
from tests.conftest import Api, memory_partner


def sync(app: Flask) -> dict[str, int]:
    with app.app_context():
        return run_once(current_outsource())


def state_of(api: Api, ticket_id: str) -> dict[str, Any]:
    response = api.get(f"/tickets/{ticket_id}/outsource")
    assert response.status_code == 200
    return response.get_json()


def act(api: Api, ticket_id: str, action: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/tickets/{ticket_id}/outsource/actions", json={"action": action, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def outsource(api: Api, app: Flask, ticket_id: str, partner_id: int) -> str:
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert created.status_code == 201, created.get_json()
    uid: str = act(api, ticket_id, "send")["engagement"]["uid"]
    sync(app)
    return uid


def test_lead_flow_unsent_to_complete_with_partner_actions(app: Flask, api: Api, ticket_id: str, partner_id: int):
    sent: list[tuple[str, str]] = []

    def record(sender: Any, **kw: Any) -> None:
        sent.append((kw["action"].value, kw["to_status"].value if kw["to_status"] else "none"))

    status_changed.connect(record)
    try:
        terms = {"outsource_rate": "75.00", "authorised_hours": "4", "instructions": "Replace the disk"}
        created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id, "terms": terms})
        assert created.get_json()["engagement"]["status"] == "unsent"
        assert created.get_json()["allowed_actions"] == ["edit", "send", "remove"]
        edited = api.patch(f"/tickets/{ticket_id}/outsource", json={"terms": {"authorised_hours": "6"}})
        assert edited.get_json()["engagement"]["terms"]["authorised_hours"] == "6.00"
        uid = act(api, ticket_id, "send")["engagement"]["uid"]
        partner = memory_partner(app, partner_id)
        assert partner.received == []
        sync(app)
        offer = partner.received[0]
        assert offer.kind == "offer"
        assert offer.payload["offer"]["title"] == "Server down"
        assert offer.payload["terms"]["authorised_hours"] == "6.00"

        partner.accept(uid)
        sync(app)
        accepted = state_of(api, ticket_id)["engagement"]
        assert accepted["status"] == "accepted" and accepted["sync_state"] == "active"
        assert accepted["remote_ticket_number"].startswith("MEM-")

        partner.act(uid, Action.START_WORK)
        partner.act(uid, Action.SUBMIT)
        sync(app)
        waiting = state_of(api, ticket_id)
        assert waiting["engagement"]["status"] == "waiting_approval"
        assert waiting["engagement"]["sync_state"] == "suspended"
        assert waiting["allowed_actions"] == ["approve", "reject"]

        act(api, ticket_id, "reject", reason="The disk still reports errors")
        sync(app)
        relayed = [m.payload for m in partner.received if m.kind == "action"]
        assert relayed[-1]["action"] == "reject" and relayed[-1]["reason"] == "The disk still reports errors"

        partner.act(uid, Action.SUBMIT)
        sync(app)
        final = act(api, ticket_id, "approve")["engagement"]
        assert final["status"] == "complete" and final["sync_state"] == "ended"
        history = api.get(f"/tickets/{ticket_id}/outsource/history").get_json()["history"]
        assert [h["to"] for h in history] == [
            "unsent",
            "unsent",
            "assigned",
            "accepted",
            "in_progress",
            "waiting_approval",
            "in_progress",
            "waiting_approval",
            "complete",
        ]
        assert [h["side"] for h in history][3:6] == ["service", "service", "service"]
    finally:
        status_changed.disconnect(record)
    assert ("approve", "complete") in sent and ("send", "assigned") in sent


def test_partner_decline_reaches_the_lead_with_its_reason_and_a_note(
    app: Flask, api: Api, ticket_id: str, partner_id: int
):
    uid = outsource(api, app, ticket_id, partner_id)
    memory_partner(app, partner_id).act(uid, Action.DECLINE, reason="No engineer free this week")
    sync(app)
    engagement = state_of(api, ticket_id)["engagement"]
    assert engagement["status"] == "declined" and engagement["decline_reason"] == "No engineer free this week"
    notes = api.get(f"/api/tickets/{ticket_id}").get_json()["notes"]
    assert any("No engineer free this week" in n["body"] and n["internal"] for n in notes)


def test_reconfigure_after_decline_starts_from_previous_terms(app: Flask, api: Api, ticket_id: str, partner_id: int):
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id, "terms": {"instructions": "Ladder"}})
    uid = act(api, ticket_id, "send")["engagement"]["uid"]
    sync(app)
    memory_partner(app, partner_id).act(uid, Action.DECLINE, reason="busy")
    sync(app)
    again = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert again.status_code == 201
    engagement = again.get_json()["engagement"]
    assert engagement["status"] == "unsent" and engagement["uid"] != uid
    assert engagement["terms"]["instructions"] == "Ladder"


def test_duplicate_partner_change_applies_once(app: Flask, api: Api, ticket_id: str, partner_id: int):
    uid = outsource(api, app, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    change = partner.accept(uid)
    partner.feed.append(change)
    sync(app)
    history = api.get(f"/tickets/{ticket_id}/outsource/history").get_json()["history"]
    assert [h["action"] for h in history].count("accept") == 1


def test_service_side_offer_accept_with_customer_mapping_then_submit(app: Flask, api: Api, partner_id: int):
    partner = memory_partner(app, partner_id)
    offer = {"title": "Install CCTV", "description": "Two cameras", "priority": "High", "due": "2026-12-24"}
    partner.offer("lead-eng-1", offer, {"authorised_hours": "8.00", "outsource_rate": "60.00"})
    sync(app)
    with app.app_context():
        engagement = db.session.scalars(select(Engagement).where(Engagement.uid == "lead-eng-1")).one()
        engagement_id, customer = engagement.id, str(db.session.scalars(select(Customer.id)).first())
    waiting = api.get("/dashboard").get_json()["folders"]["service"]
    assert waiting["waiting_acceptance"] == 1

    first = api.post(f"/engagements/{engagement_id}/actions", json={"action": "accept"})
    assert first.status_code == 400 and "customer_ref" in first.get_json()["details"]
    accepted = api.post(f"/engagements/{engagement_id}/actions", json={"action": "accept", "customer_ref": customer})
    assert accepted.status_code == 200, accepted.get_json()
    ticket_id = accepted.get_json()["ticket_id"]
    ticket = api.get(f"/api/tickets/{ticket_id}").get_json()
    assert ticket["title"] == "Install CCTV" and ticket["due_date"] == "2026-12-24"
    assert str(ticket["customer_id"]) == customer
    assert act(api, ticket_id, "submit")["engagement"]["status"] == "waiting_approval"
    sync(app)
    assert [m.payload["action"] for m in partner.received] == ["accept", "submit"]
    assert partner.received[0].payload["ticket_number"] == f"T{int(ticket_id):05d}"


def test_offer_past_its_deadline_is_auto_declined(app: Flask, api: Api, ticket_id: str, partner_id: int):
    outsource(api, app, ticket_id, partner_id)
    with app.app_context():
        engagement = db.session.scalars(select(Engagement)).one()
        engagement.acceptance_deadline = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert sync(app)["expired"] == 1
    engagement_json = state_of(api, ticket_id)["engagement"]
    assert engagement_json["status"] == "declined" and "auto-declined" in engagement_json["decline_reason"]
    relayed = memory_partner(app, partner_id).received[-1]
    assert relayed.payload["action"] == "auto_decline"
    assert sync(app)["expired"] == 0


def test_ticket_complete_cascades_and_relays(app: Flask, api: Api, ticket_id: str, partner_id: int):
    uid = outsource(api, app, ticket_id, partner_id)
    memory_partner(app, partner_id).accept(uid)
    sync(app)
    assert api.patch(f"/api/tickets/{ticket_id}", json={"status": "Complete"}).status_code == 200
    engagement = state_of(api, ticket_id)
    assert engagement["engagement"]["status"] == "complete" and engagement["allowed_actions"] == []
    sync(app)
    assert memory_partner(app, partner_id).received[-1].payload["action"] == "ticket_complete"


def test_partner_ticket_complete_cascades_to_the_lead(app: Flask, api: Api, ticket_id: str, partner_id: int):
    uid = outsource(api, app, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.accept(uid)
    partner.act(uid, Action.TICKET_COMPLETE)
    sync(app)
    assert state_of(api, ticket_id)["engagement"]["status"] == "complete"


def test_transient_failures_back_off_then_deliver(app: Flask, api: Api, ticket_id: str, partner_id: int):
    partner = memory_partner(app, partner_id)
    partner.failures.append(TransientAdapterError("partner answered 503", retry_after=30))
    outsource(api, app, ticket_id, partner_id)
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.state is MessageState.PENDING and message.attempts == 1
        assert message.next_attempt_at >= utcnow() + timedelta(seconds=29)
        message.next_attempt_at = utcnow()
        db.session.commit()
    sync(app)
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage)).one().state is MessageState.DELIVERED
    assert len(partner.received) == 1


def test_permanent_failure_dead_letters_and_can_be_retried(app: Flask, api: Api, ticket_id: str, partner_id: int):
    partner = memory_partner(app, partner_id)
    partner.failures.append(PermanentAdapterError("partner answered 401: bad API key"))
    outsource(api, app, ticket_id, partner_id)
    dead = api.get("/deadletters").get_json()["deadletters"]
    assert len(dead) == 1 and "401" in dead[0]["last_error"]
    assert state_of(api, ticket_id)["engagement"]["last_sync_error"].endswith("bad API key")
    assert api.post(f"/deadletters/{dead[0]['id']}/retry", json={}).status_code == 200
    sync(app)
    assert api.get("/deadletters").get_json()["deadletters"] == []
    assert len(partner.received) == 1


def test_sync_once_cli(app: Flask, api: Api, ticket_id: str, partner_id: int):
    api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    act(api, ticket_id, "send")
    result = app.test_cli_runner().invoke(args=["outsource", "sync", "--once"])
    assert result.exit_code == 0, result.output
    assert '"delivered": 1' in result.output
    assert len(memory_partner(app, partner_id).received) == 1


def test_deadletters_cli(app: Flask, api: Api, ticket_id: str, partner_id: int):
    memory_partner(app, partner_id).failures.append(PermanentAdapterError("refused"))
    outsource(api, app, ticket_id, partner_id)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outsource", "deadletters", "list"])
    assert "refused" in listed.output
    message_id = listed.output.split("\t")[0]
    assert runner.invoke(args=["outsource", "deadletters", "retry", message_id]).exit_code == 0
    again = runner.invoke(args=["outsource", "deadletters", "retry", message_id])
    assert again.exit_code != 0 and "not a dead letter" in again.output


def test_menu_is_empty_without_permission_and_on_complete_tickets(app: Flask, api: Api, ticket_id: str):
    assert api.get(f"/tickets/{ticket_id}/outsource", level=Permission.NONE).get_json()["allowed_actions"] == []
    assert api.get(f"/tickets/{ticket_id}/outsource", level=Permission.OUTSOURCE).get_json()["allowed_actions"] == [
        "configure"
    ]
    with app.app_context():
        ticket = db.session.get(Ticket, int(ticket_id))
        assert ticket is not None
        ticket.status = "Complete"
        db.session.commit()
    assert state_of(api, ticket_id)["allowed_actions"] == []
    refused = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": 1})
    assert refused.status_code == 409


def test_memory_adapter_is_registered_and_checked():
    from outsource_plugin.adapters.registry import adapter_class, adapter_names

    assert "memory" in adapter_names()
    assert adapter_class("memory") is MemoryAdapter


def test_disabled_partner_is_not_polled(app: Flask, partner_id: int):
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner is not None
        partner.active = False
        db.session.commit()
    memory_partner(app, partner_id).offer("x", {"title": "t"}, {})
    assert sync(app)["changes"] == 0
