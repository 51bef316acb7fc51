"""Whether an entry crosses a suspension or an end is decided by what each side had seen of the
other's feed, never by comparing the two hosts' clocks (issue 12, defect 2).

The memory partner plays a peer: its actions and entries carry ``seen``, how far it had read
our feed when its user acted, and its entries carry its own clock in ``origin.at``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Customer, db
from outsource_plugin.db.models import Engagement, EntryLink, OutboxMessage, utcnow
from outsource_plugin.errors import InvalidPartnerMessage
from outsource_plugin.federation.feed import change_from_message
from outsource_plugin.federation.messages import checked_change
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.workflow import Action
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, act, entry_texts, note, status, sync

SKEWS = tuple(timedelta(seconds=s) for s in (-420, -240, 240, 420))


def read_position(app: Flask, partner_id: int) -> int:
    """How far the memory partner has read our feed: the last of our messages it received."""
    return max(m.seq for m in memory_partner(app, partner_id).received)


def edit_note(api: Api, ticket_id: str, note_id: int, body: str) -> Any:
    return api.call("PATCH", f"/api/tickets/{ticket_id}/notes/{note_id}", json={"body": body})


def bodies(api: Api, ticket_id: str) -> list[str]:
    return [n["body"] for n in api.get(f"/api/tickets/{ticket_id}").get_json()["notes"]]


def test_lead_note_written_before_it_heard_of_the_submit_stays_in_the_suspension_window(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    e1 = note(api, ticket_id, "e1 before the submit")
    sync(app)
    # the service submits having read our feed up to e1; we are not told yet (its host is down)
    partner.act(uid, Action.SUBMIT, seen=read_position(app, partner_id))
    e2 = note(api, ticket_id, "e2 during the outage")
    sync(app)
    assert status(app, uid) == "waiting_approval"

    assert edit_note(api, ticket_id, e1, "e1 edited").status_code == 409, "a pre-suspension entry is read-only"
    edited = edit_note(api, ticket_id, e2, "e2 edited while suspended")
    assert edited.status_code == 200, edited.get_json()
    act(api, ticket_id, "reject", reason="Not finished")
    sync(app)
    assert edit_note(api, ticket_id, e2, "e2 edited after the reject").status_code == 200
    sync(app)
    sent = entry_texts(app, partner_id, uid)
    assert not [t for t in sent if "e2 edited" in t], "a suspension-window entry never crosses"
    assert edit_note(api, ticket_id, e1, "e1 edited after the reject").status_code == 200
    sync(app)
    assert entry_texts(app, partner_id, uid)[-1] == "e1 edited after the reject"


def test_lead_note_written_after_it_read_the_submit_position_is_pre_suspension(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """The partner had read e1's message before submitting: e1 crossed, and is read-only while suspended."""
    uid = accepted(app, api, ticket_id, partner_id)
    e1 = note(api, ticket_id, "e1 read by the partner")
    sync(app)
    memory_partner(app, partner_id).act(uid, Action.SUBMIT, seen=read_position(app, partner_id))
    sync(app)
    assert edit_note(api, ticket_id, e1, "e1 edited").status_code == 409


def offered_and_accepted(app: Flask, api: Api, partner_id: int, uid: str) -> str:
    """We are the service partner of the memory lead; returns our service ticket's id."""
    memory_partner(app, partner_id).offer(uid, {"title": "Install CCTV"}, {"authorised_hours": "8.00"})
    sync(app)
    with app.app_context():
        engagement = db.session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        engagement_id, customer = engagement.id, str(db.session.scalars(select(Customer.id)).first())
    accept = {"action": "accept", "customer_ref": customer}
    response = api.post(f"/engagements/{engagement_id}/actions", json=accept)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["ticket_id"])


def lead_note(text: str) -> dict[str, Any]:
    return {"text": text, "internal": False}


def test_service_drops_a_lead_note_made_before_the_lead_saw_the_submit_whatever_the_clocks(
    app: Flask, api: Api, partner_id: int
) -> None:
    partner = memory_partner(app, partner_id)
    for i, skew in enumerate(SKEWS):
        uid = f"lead-skew-{i}"
        ticket = offered_and_accepted(app, api, partner_id, uid)
        sync(app)
        before = read_position(app, partner_id)  # the lead has read our accept, not our submit
        act(api, ticket, "submit")
        concurrent = lead_note(f"concurrent {skew}")
        partner.add_entry(uid, EntryKind.NOTE, concurrent, side="lead", seen=before, at=utcnow() + skew)
        sync(app)
        assert f"concurrent {skew}" not in bodies(api, ticket), f"lead clock {skew} off: the note crossed the submit"
        partner.act(uid, Action.REJECT, reason="again", seen=read_position(app, partner_id))
        partner.add_entry(uid, EntryKind.NOTE, lead_note(f"after the reject {skew}"), side="lead", at=utcnow() + skew)
        sync(app)
        assert f"after the reject {skew}" in bodies(api, ticket)
        assert f"concurrent {skew}" not in bodies(api, ticket)


def test_service_takes_a_concurrent_edit_of_a_note_it_already_holds_whatever_the_clocks(
    app: Flask, api: Api, partner_id: int
) -> None:
    """The lead edited a note that had crossed before the submit, not yet knowing of it: the lead
    keeps that note as a pre-suspension entry, so our copy must take the edit too."""
    partner = memory_partner(app, partner_id)
    for i, skew in enumerate(SKEWS):
        uid = f"lead-edit-{i}"
        ticket = offered_and_accepted(app, api, partner_id, uid)
        first = partner.add_entry(uid, EntryKind.NOTE, lead_note(f"original {skew}"), side="lead", seen=0)
        sync(app)
        assert f"original {skew}" in bodies(api, ticket)
        before = read_position(app, partner_id)
        act(api, ticket, "submit")
        key = str(first.data["entry_key"])
        edit = lead_note(f"edited {skew}")
        partner.add_entry(uid, EntryKind.NOTE, edit, side="lead", seen=before, at=utcnow() + skew, key=key)
        sync(app)
        assert f"edited {skew}" in bodies(api, ticket), f"lead clock {skew} off: the edit was lost"


def test_our_messages_carry_our_read_position_and_our_boundary_is_remembered(
    app: Flask, api: Api, partner_id: int
) -> None:
    uid = "lead-seen"
    partner = memory_partner(app, partner_id)
    ticket = offered_and_accepted(app, api, partner_id, uid)
    partner.add_entry(uid, EntryKind.NOTE, lead_note("one"), side="lead", seen=1)
    sync(app)
    note(api, ticket, "ours")
    act(api, ticket, "submit")
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.seq)).all()
        # the memory partner's feed: offer, then the lead's note; we had read both when we wrote
        assert [m.payload.get("seen") for m in messages] == [1, 2, 2, 2]
        engagement = db.session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        assert engagement.boundary_seq == messages[-1].seq
        link = db.session.scalars(select(EntryLink).where(EntryLink.owner == "service")).one()
        assert link.first_seq == messages[1].seq


@pytest.mark.parametrize("kind", ["entry", "action", "offer"])
@pytest.mark.parametrize("seen", ["3", -1, True, 2.5])
def test_a_peer_message_with_a_malformed_seen_is_refused(kind: str, seen: object) -> None:
    """The federation API answers such a push 400 naming ``payload.seen`` and writes nothing."""
    payload = {
        "entry": {"entry_key": "k", "op": "delete", "kind": "note", "origin": {}},
        "action": {"action": "submit"},
    }
    message = {
        "id": "m1",
        "seq": 1,
        "kind": kind,
        "engagement_uid": "u1",
        "payload": {**payload.get(kind, {}), "seen": seen},
    }
    with pytest.raises(InvalidPartnerMessage, match=r"payload\.seen"):
        checked_change(change_from_message(message))


def test_a_peer_action_carries_its_seen() -> None:
    payload = {"action": "submit", "actor": "Pat", "seen": 7}
    change = change_from_message({"id": "m2", "seq": 2, "kind": "action", "engagement_uid": "u1", "payload": payload})
    assert change.action is Action.SUBMIT and change.data["seen"] == 7
