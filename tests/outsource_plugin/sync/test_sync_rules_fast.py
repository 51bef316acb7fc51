"""SPEC "What synchronises", one test per rule, in process: each runs in milliseconds.

The demo help desk is one side (the lead, or the service partner), the memory
partner the other. Capture is the host's own commit through its API; what
crossed is what the memory partner received when the outbox was delivered.
The partner's entries arrive shaped like the memory adapter's changes, through
the poll and ``inbound.apply_change``. The same rules run across two running
hosts in ``tests/cross_host/test_sync_rules.py``; these tests assert only the
documented behaviour, not how the sync engine stores it.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask

from outsource_plugin.adapters.base import Capability
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import utcnow
from outsource_plugin.workflow import Action
from tests.conftest import Api
from tests.outsource_plugin.sync_rule_helpers import Link, lead_link, service_link

TIME = {"work_date": "2026-11-27", "hours": "1.50", "summary": "triage", "resource": "Pat", "billable": True}
CHARGE = {"name": "Spare disk", "quantity": "2", "unit_price": "120", "unit_cost": "30", "billable": True}


def refused(answer: dict[str, object]) -> None:
    """A read-only refusal: a JSON error that says why."""
    assert answer["error"] == "read_only_entry", answer
    assert isinstance(answer["message"], str) and answer["message"].strip(), answer


@pytest.fixture
def lead(app: Flask, api: Api, ticket_id: str, partner_id: int) -> Link:
    return lead_link(app, api, ticket_id, partner_id, outsource_rate="80.00")


@pytest.fixture
def service(app: Flask, api: Api, partner_id: int) -> Link:
    return service_link(app, api, partner_id)


def test_notes_cross_both_ways_with_their_origin(lead: Link):
    lead.add("note", body="Customer is on site from 9")
    [sent] = lead.sent()
    assert sent["kind"] == "note" and sent["op"] == "upsert" and sent["data"]["text"] == "Customer is on site from 9"
    assert sent["origin"]["side"] == "lead" and sent["origin"]["user"] == "Admin" and sent["origin"]["at"]
    assert sent["origin"]["org"]
    lead.arrive("note", {"text": "Disk ordered", "internal": False})
    [arrived] = [n for n in lead.entries("note") if n["body"] == "Disk ordered"]
    assert arrived["author"] == "partner user (Contoso)"


def test_the_leads_time_reaches_the_partner_as_a_note_and_the_partners_as_time(lead: Link):
    lead.add("time", work_date="2026-11-27", hours="1.5", summary="triage")
    [sent] = lead.sent()
    assert sent["kind"] == "note", sent
    assert sent["data"]["text"] == "Time entry by Admin on 2026-11-27: 1.50 h, triage"
    lead.arrive("time", {**TIME, "hours": "2.25", "summary": "diagnosis"})
    [arrived] = [t for t in lead.entries("time") if t["summary"] == "diagnosis"]
    assert (arrived["hours"], arrived["work_date"], arrived["billable"]) == ("2.25", "2026-11-27", True)


def test_charges_cross_both_ways(lead: Link):
    lead.add("charge", name="Cable", quantity="3", unit_price="5", unit_cost="2", billable=False)
    [sent] = lead.sent()
    assert sent["kind"] == "charge"
    data = {k: sent["data"][k] for k in ("name", "quantity", "unit_price", "unit_cost", "billable")}
    assert data == {"name": "Cable", "quantity": "3.00", "unit_price": "5.00", "unit_cost": "2.00", "billable": False}
    lead.arrive("charge", CHARGE)
    [arrived] = [c for c in lead.entries("charge") if c["name"] == "Spare disk"]
    assert (Decimal(arrived["quantity"]), Decimal(arrived["unit_price"]), Decimal(arrived["unit_cost"])) == (2, 120, 30)


def test_attachments_cross_both_ways_byte_for_byte(lead: Link):
    data = bytes(range(256)) * 3
    lead.upload("dump.bin", data)
    [sent] = lead.sent()
    assert sent["kind"] == "attachment" and sent["data"]["filename"] == "dump.bin"
    assert base64.b64decode(sent["data"]["data"]) == data and sent["data"]["size"] == len(data)
    theirs = b"SMART errors on disk 3\n\x00\xff"
    values = {"filename": "report.bin", "media_type": "application/octet-stream", "size": len(theirs), "data": theirs}
    lead.arrive("attachment", values)
    [arrived] = [a for a in lead.entries("attachment") if a["filename"] == "report.bin"]
    assert lead.download(arrived["id"]) == theirs and arrived["size"] == len(theirs)


def test_the_owners_edits_reach_the_copy(lead: Link):
    note = lead.add("note", body="first words")
    lead.edit("note", note, body="second words")
    first, second = lead.sent()
    assert first["entry_key"] == second["entry_key"] and second["data"]["text"] == "second words"
    key = lead.arrive("note", {"text": "their first words", "internal": False})
    lead.arrive("note", {"text": "their second words", "internal": False}, key=key)
    bodies = [n["body"] for n in lead.entries("note")]
    assert "their second words" in bodies and "their first words" not in bodies


def test_the_owners_deletes_reach_the_copy(lead: Link):
    note = lead.add("note", body="soon gone")
    lead.delete("note", note)
    upsert, removed = lead.sent()
    assert removed["op"] == "delete" and removed["entry_key"] == upsert["entry_key"]
    key = lead.arrive("charge", CHARGE)
    assert [c["name"] for c in lead.entries("charge")] == ["Spare disk"]
    lead.arrive("charge", {}, key=key, op="delete")
    assert lead.entries("charge") == []


@pytest.mark.parametrize("where", ["lead", "service"])
def test_a_copy_is_read_only_until_complete(app: Flask, api: Api, ticket_id: str, partner_id: int, where: str):
    link = lead_link(app, api, ticket_id, partner_id) if where == "lead" else service_link(app, api, partner_id)
    link.arrive("note", {"text": "theirs", "internal": False})
    link.arrive("time", TIME)
    link.arrive("charge", CHARGE)
    for kind, change in (("note", {"body": "mine now"}), ("time", {"hours": "9"}), ("charge", {"quantity": "9"})):
        [copy] = link.entries(kind)
        refused(link.edit(kind, copy["id"], expect=409, **change))
        refused(link.delete(kind, copy["id"], expect=409))
        assert link.entries(kind) == [copy]


def test_internal_notes_and_attachments_of_the_lead_stay_on_the_lead(lead: Link):
    lead.add("note", body="margin is thin", internal=True)
    lead.upload("pricing.txt", b"our costs", internal=True)
    lead.add("note", body="for the partner")
    assert [s["data"].get("text") or s["data"].get("filename") for s in lead.sent()] == ["for the partner"]


@pytest.mark.parametrize("private", [True, False], ids=["private-notes", "no-private-notes"])
def test_a_services_internal_notes_reach_only_a_partner_that_keeps_them_internal(
    service: Link, monkeypatch: pytest.MonkeyPatch, private: bool
):
    if not private:
        monkeypatch.setattr(MemoryAdapter, "capabilities", MemoryAdapter.capabilities - {Capability.PRIVATE_NOTES})
    service.add("note", body="our margin", internal=True)
    service.add("note", body="for the lead")
    crossed = ["our margin", "for the lead"] if private else ["for the lead"]
    assert [s["data"]["text"] for s in service.sent()] == crossed


def test_what_arrives_at_the_lead_is_internal(lead: Link):
    lead.arrive("note", {"text": "for the customer?", "internal": False})
    lead.arrive("attachment", {"filename": "photo.txt", "media_type": "text/plain", "size": 2, "data": b"hi"})
    assert [n["internal"] for n in lead.entries("note") if n["body"] == "for the customer?"] == [True]
    assert [a["internal"] for a in lead.entries("attachment")] == [True]


@pytest.mark.parametrize("where", ["lead", "service"])
def test_no_echo_what_arrived_is_never_sent_back(app: Flask, api: Api, ticket_id: str, partner_id: int, where: str):
    link = lead_link(app, api, ticket_id, partner_id) if where == "lead" else service_link(app, api, partner_id)
    link.arrive("note", {"text": "from the other side", "internal": False})
    link.arrive("time", TIME)
    link.arrive("charge", CHARGE)
    link.add("note", body="ours")
    sent = link.sent()
    assert [s["data"]["text"] for s in sent] == ["ours"] and sent[0]["origin"]["side"] == where
    assert [n["body"] for n in link.entries("note")].count("from the other side") == 1


@pytest.mark.parametrize("how", ["note", "time", "charge", "reassign"])
def test_the_service_partners_work_starts_the_work(service: Link, how: str):
    if how == "reassign":
        me = service.api.get("/api/me").get_json()["id"]
        answer = service.api.patch(f"/api/tickets/{service.ticket_id}", json={"assignee_id": me})
        assert answer.status_code == 200, answer.get_json()
    else:
        bodies = {"note": {"body": "on my way"}, "time": TIME, "charge": CHARGE}
        service.add(how, **{k: v for k, v in bodies[how].items() if k != "resource"})
    assert service.status() == "in_progress"
    service.sent()
    assert [m.payload["action"] for m in service.partner.received if m.kind == "action"][-1] == "start_work"


def test_suspension_freezes_old_entries_and_never_sends_new_ones(lead: Link):
    before = lead.add("note", body="before the submission")
    theirs = lead.arrive("note", {"text": "their work so far", "internal": False})
    lead.partner.act(lead.uid, Action.SUBMIT)
    lead.sent()
    assert lead.status() == "waiting_approval"
    refused(lead.edit("note", before, expect=409, body="changed while waiting"))
    refused(lead.delete("note", before, expect=409))
    during = lead.add("note", body="added while waiting")
    lead.edit("note", during, body="edited while waiting")
    lead.arrive("note", {"text": "theirs while waiting", "internal": False}, at=utcnow().isoformat())
    assert "theirs while waiting" not in [n["body"] for n in lead.entries("note")]
    lead.arrive("note", {"text": "their work, edited while waiting", "internal": False}, key=theirs)
    assert "their work so far" in [n["body"] for n in lead.entries("note")]
    count = len(lead.sent())

    lead.act("reject", reason="the fan is still loud")
    lead.edit("note", before, body="before, edited after the resume")
    lead.edit("note", during, body="added while waiting, edited after the resume")
    lead.add("note", body="after the resume")
    texts = [s["data"]["text"] for s in lead.sent()[count:]]
    assert texts == ["before, edited after the resume", "after the resume"], texts
    assert lead.status() == "in_progress"


def test_the_service_partners_old_entries_are_read_only_while_it_waits(service: Link):
    before = service.add("note", body="done, please check")
    service.act("submit")
    assert service.status() == "waiting_approval"
    refused(service.edit("note", before, expect=409, body="changed while waiting"))
    refused(service.delete("note", before, expect=409))
    count = len(service.sent())
    service.add("note", body="added while waiting")
    assert len(service.sent()) == count


def test_nothing_crosses_before_accept(app: Flask, api: Api, ticket_id: str, partner_id: int):
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert created.status_code == 201
    link = Link(app, api, partner_id, "", ticket_id, "lead")
    link.uid = str(link.act("send")["engagement"]["uid"])
    link.add("note", body="before the partner accepted")
    link.arrive("note", {"text": "before we accepted", "internal": False})
    assert link.sent() == []
    assert [n["body"] for n in link.entries("note")] == ["before the partner accepted"]
    link.partner.accept(link.uid)
    assert link.sent() == [] and link.status() == "accepted"
    link.add("note", body="after the accept")
    assert [s["data"]["text"] for s in link.sent()] == ["after the accept"]


def test_after_complete_nothing_crosses_the_cost_is_charged_and_every_entry_is_the_leads(lead: Link):
    mine = lead.add("note", body="ours before the end")
    lead.arrive("time", {**TIME, "hours": "2"})
    lead.arrive("charge", CHARGE)
    lead.arrive("note", {"text": "theirs before the end", "internal": False})
    lead.partner.act(lead.uid, Action.SUBMIT)
    lead.sent()
    lead.act("approve")
    assert lead.status() == "complete"
    [cost] = [c for c in lead.entries("charge") if c["name"].startswith("Outsourcing cost")]
    assert cost["billable"] is False
    assert (
        Decimal(cost["quantity"]) * Decimal(cost["unit_cost"]) == Decimal("2") * 80 + 2 * 30
    )  # time at rate, charges at cost
    count = len(lead.sent())

    lead.add("note", body="after the end")
    lead.arrive(
        "note", {"text": "theirs after the end", "internal": False}, at=(utcnow() + timedelta(seconds=1)).isoformat()
    )
    assert "theirs after the end" not in [n["body"] for n in lead.entries("note")]
    lead.edit("note", mine, body="ours, edited after the end")
    [copy_note] = [n for n in lead.entries("note") if n["body"] == "theirs before the end"]
    lead.edit("note", copy_note["id"], body="theirs, now ours to edit")
    [copy_time] = [t for t in lead.entries("time") if t["summary"] == "triage"]
    lead.edit("time", copy_time["id"], hours="3")
    [copy_charge] = [c for c in lead.entries("charge") if c["name"] == "Spare disk"]
    lead.delete("charge", copy_charge["id"])
    assert [t["hours"] for t in lead.entries("time")] == ["3.00"]
    assert "theirs, now ours to edit" in [n["body"] for n in lead.entries("note")]
    assert len(lead.sent()) == count


def test_after_complete_every_entry_is_the_service_partners_own(service: Link):
    service.add("note", body="ours")
    service.arrive("note", {"text": "the lead's instructions", "internal": False})
    service.arrive("charge", CHARGE)
    service.act("submit")
    service.partner.act(service.uid, Action.APPROVE)
    service.sent()
    assert service.status() == "complete"
    count = len(service.sent())
    [copy_note] = [n for n in service.entries("note") if n["body"] == "the lead's instructions"]
    service.edit("note", copy_note["id"], body="instructions, annotated here")
    [copy_charge] = service.entries("charge")
    service.delete("charge", copy_charge["id"])
    service.add("note", body="after the end")
    assert service.entries("charge") == []
    assert "instructions, annotated here" in [n["body"] for n in service.entries("note")]
    assert len(service.sent()) == count
