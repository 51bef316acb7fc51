"""The adapter contract: every partner adapter, against its real partner system, passes the same cases.

The lead is the demo help desk in-process; the partner is the in-memory
partner, a peer help desk, a real Redmine, a real Request Tracker, or a person
with a mailbox on real Dovecot and SMTP servers (see ``conftest.py``).
Where a system cannot do something (carry charges, go down, refuse a key),
the case reads that from the adapter's capabilities or the harness, and
checks what happens instead; a case that cannot apply at all (a partner user
taking the ticket, by e-mail) is marked ``partner_can`` and never generated.
"""

from __future__ import annotations

import pytest
from flask import Flask

from outsource_plugin.adapters.base import Capability
from outsource_plugin.db.models import MessageKind, MessageState
from outsource_plugin.errors import PermanentAdapterError
from outsource_plugin.workflow import Action
from tests.adapters.lead import Lead
from tests.adapters.partners import Harness, same_second
from tests.conftest import Api

EXPECTED = {
    Action.ACCEPT: "accepted",
    Action.DECLINE: "declined",
    Action.SUBMIT: "waiting_approval",
    Action.TICKET_COMPLETE: "complete",
}


def status_for(harness: Harness, action: Action) -> str:
    return next(name for name, mapped in harness.status_map.items() if mapped is action)


def accepted(lead: Lead, title: str = "Server down") -> tuple[str, str, str]:
    ticket_id, uid, ref = lead.outsource(title)
    lead.harness.set_status(lead.adapter(), uid, ref, status_for(lead.harness, Action.ACCEPT))
    lead.sync()
    assert lead.status(ticket_id) == "accepted"
    return ticket_id, uid, ref


def test_offer_creates_the_partner_ticket(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, _uid, ref = lead.outsource("Replace the RAID disk")
    subject, description = harness.subject(lead.adapter(), ref)
    assert subject == "Replace the RAID disk"
    assert "rack 2" in description
    if harness.offer_as_text:
        assert "Replace the disk" in description and "Outsource rate: 80" in description
    engagement = lead.engagement(ticket_id)
    assert engagement["status"] == "assigned"
    if harness.offer_as_text:  # a foreign system numbers the ticket when it is created; a peer when it accepts
        assert engagement["remote_ticket_number"] == f"#{ref}"


def test_each_status_maps_to_its_action(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    for status, action in harness.status_map.items():
        ticket_id, uid, ref = lead.outsource(f"maps {status}")
        if action is not Action.ACCEPT and action is not Action.DECLINE:
            harness.set_status(lead.adapter(), uid, ref, status_for(harness, Action.ACCEPT))
            lead.sync()
        harness.set_status(lead.adapter(), uid, ref, status)
        lead.sync()
        assert lead.status(ticket_id) == EXPECTED[action], (status, lead.engagement(ticket_id))


@pytest.mark.partner_can("assign")
def test_a_partner_user_taking_the_ticket_accepts_it(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = lead.outsource("taken by a partner user")
    harness.assign(lead.adapter(), uid, ref)
    lead.sync()
    assert lead.status(ticket_id) == "accepted"


def test_each_entry_kind_round_trips(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = accepted(lead)
    lead.add(ticket_id, "notes", body="Customer is on site from 9")
    lead.add(ticket_id, "notes", body="internal: margin is thin", internal=True)
    lead.add(ticket_id, "time", work_date="2026-11-27", hours="0.5", summary="triage")
    lead.add(ticket_id, "charges", name="Spare disk", quantity="2", unit_price="120", unit_cost="90")
    lead.attach(ticket_id, "diagram.txt", b"rack 2 layout\n")
    lead.sync()
    pushed = harness.pushed(lead.adapter(), ref)
    assert any("Customer is on site from 9" in n for n in pushed.notes), pushed
    assert not any("margin is thin" in n for n in pushed.notes), "an internal note left the lead"
    assert any("Time entry" in n and "triage" in n for n in pushed.notes), (
        "the lead's time reaches the partner as a note"
    )
    assert pushed.hours == []
    charge_notes = [n for n in pushed.notes if "Charge: Spare disk" in n]
    assert len(charge_notes) == 1, pushed
    if Capability.CHARGES not in lead.adapter().capabilities:
        assert "Quantity: 2" in charge_notes[0] and "Unit price: 120" in charge_notes[0]
        assert "Total: 240" in charge_notes[0]
    assert pushed.attachments == {"diagram.txt": b"rack 2 layout\n"}
    lead.add(ticket_id, "charges", name="Cable", quantity="1", unit_price="5", unit_cost="2")
    lead.sync()
    notices = [n for n in lead.entries(ticket_id)["notes"] if "has no charge entries" in n["body"]]
    carried = Capability.CHARGES in lead.adapter().capabilities
    assert len(notices) == (0 if carried else 1), notices
    assert len([n for n in harness.pushed(lead.adapter(), ref).notes if "Charge: " in n]) == 2

    harness.note(lead.adapter(), uid, ref, "Disk ordered, arriving tomorrow")
    harness.time(lead.adapter(), uid, ref, 1.5, "diagnosis")
    harness.attach(lead.adapter(), uid, ref, "report.txt", b"SMART errors on disk 3\n")
    lead.sync()
    ticket = lead.entries(ticket_id)
    notes = [n["body"] for n in ticket["notes"] if "Disk ordered" in n["body"]]
    assert len(notes) == 1 and all(n["internal"] for n in ticket["notes"] if "Disk ordered" in n["body"])
    assert [t["hours"] for t in ticket["time_entries"] if t["summary"] == "diagnosis"] == ["1.50"], ticket[
        "time_entries"
    ]
    assert [a["filename"] for a in ticket["attachments"] if a["filename"] == "report.txt"] == ["report.txt"]
    assert lead.status(ticket_id) == "in_progress"


def test_incremental_polling_takes_two_changes_in_one_second_once(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = accepted(lead)
    adapter = lead.adapter()
    for attempt in range(20):
        harness.note(adapter, uid, ref, f"first {attempt}")
        lead.poll()
        harness.note(adapter, uid, ref, f"second {attempt}")
        lead.poll()
        if same_second(*harness.note_times(adapter, ref, f"first {attempt}", f"second {attempt}")):
            break
    else:
        raise AssertionError("could not make two partner notes in the same second")
    lead.sync(2)
    bodies = [n["body"] for n in lead.entries(ticket_id)["notes"]]
    for text in (f"first {attempt}", f"second {attempt}"):
        assert bodies.count(text) == 1, (text, bodies)


def test_no_echo_of_what_the_lead_wrote(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = accepted(lead)
    lead.add(ticket_id, "notes", body="Please call before you go")
    lead.sync(3)
    bodies = [n["body"] for n in lead.entries(ticket_id)["notes"]]
    assert sum("Please call before you go" in b for b in bodies) == 1, bodies
    assert len([n for n in harness.pushed(lead.adapter(), ref).notes if "Please call" in n]) == 1
    harness.set_status(lead.adapter(), uid, ref, status_for(harness, Action.SUBMIT))
    lead.sync()
    lead.act(ticket_id, "reject", reason="The disk is still failing")
    lead.sync(3)
    assert lead.status(ticket_id) == "in_progress"
    assert any("The disk is still failing" in n for n in harness.pushed(lead.adapter(), ref).notes)
    assert not [n for n in lead.entries(ticket_id)["notes"] if "still failing" in n["body"] and "(" in n["author"]]


def test_a_partner_restart_mid_poll_loses_nothing(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = accepted(lead)
    harness.note(lead.adapter(), uid, ref, "before the restart")
    harness.stop()
    try:
        lead.sync()
        if harness.has_server:
            assert lead.poll_error(), "a poll of a stopped partner must record the failure"
    finally:
        harness.start()
    harness.note(lead.adapter(), uid, ref, "after the restart")
    lead.sync(2)
    assert lead.poll_error() is None
    bodies = [n["body"] for n in lead.entries(ticket_id)["notes"]]
    assert bodies.count("before the restart") == 1 and bodies.count("after the restart") == 1, bodies


def test_a_wrong_key_dead_letters_with_a_clear_error(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness, config=harness.bad_config())
    if not harness.has_credentials:
        assert not lead.adapter().secret_fields
        adapter = lead.adapter()
        assert hasattr(adapter, "failures")
        adapter.failures.append(PermanentAdapterError("refused"))
    ticket_id = lead.ticket()
    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": lead.partner_id}).status_code == 201
    uid = lead.act(ticket_id, "send")["engagement"]["uid"]
    lead.sync()
    [offer] = lead.messages(uid, MessageKind.OFFER)
    assert offer["state"] is MessageState.DEAD
    if harness.has_credentials:
        assert harness.refusal in offer["last_error"], offer["last_error"]
    dead = api.get("/deadletters")
    assert dead.status_code == 200 and dead.get_json()


def test_a_retried_push_whose_answer_was_lost_writes_once(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    ticket_id, uid, ref = accepted(lead)
    lead.add(ticket_id, "notes", body="Only once, please")
    lead.sync()
    note = [m for m in lead.messages(uid, MessageKind.ENTRY) if m["payload"]["kind"] == "note"][-1]
    assert note["state"] is MessageState.DELIVERED
    lead.lose_answer(note["id"])
    [offer] = lead.messages(uid, MessageKind.OFFER)
    lead.lose_answer(offer["id"])
    lead.sync()
    assert len([n for n in harness.pushed(lead.adapter(), ref).notes if "Only once" in n]) == 1
    assert lead.engagement(ticket_id)["remote_ref"] == ref


def test_a_lead_ticket_through_every_outsource_status(app: Flask, api: Api, harness: Harness):
    lead = Lead(app, api, harness)
    adapter = lead.adapter()
    canceled, uid, ref = lead.outsource("canceled before acceptance")
    lead.act(canceled, "cancel")
    lead.sync()
    assert lead.status(canceled) == "canceled"
    assert harness.status_of(adapter, ref) == harness.canceled_status

    ticket_id, uid, ref = accepted(lead)
    harness.note(adapter, uid, ref, "Starting now")
    lead.sync()
    assert lead.status(ticket_id) == "in_progress"
    harness.set_status(adapter, uid, ref, status_for(harness, Action.SUBMIT))
    lead.sync()
    assert lead.status(ticket_id) == "waiting_approval"
    lead.act(ticket_id, "reject", reason="Fan still loud")
    lead.sync()
    assert lead.status(ticket_id) == "in_progress"
    harness.set_status(adapter, uid, ref, status_for(harness, Action.SUBMIT), note="Fan replaced")
    lead.sync()
    assert lead.status(ticket_id) == "waiting_approval"
    lead.act(ticket_id, "approve")
    lead.sync()
    assert lead.status(ticket_id) == "complete"
    assert harness.status_of(adapter, ref) == harness.closed_status
