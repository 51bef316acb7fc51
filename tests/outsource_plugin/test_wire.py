"""The typed wire messages: each reads back what it writes, and the rules they own hold once."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest
from flask import Flask
from sqlalchemy import select

from outsource_plugin.db.models import MessageKind, MessageState, OutboxMessage, Partner, new_id
from outsource_plugin.host.entries import EntryKind, to_wire
from outsource_plugin.jobs.deliver import Outcome, deliver_due
from outsource_plugin.state import current_outsource
from outsource_plugin.wire import (
    ActionMessage,
    EntryMessage,
    OfferMessage,
    Origin,
    WireMessage,
    WireOp,
    crossing,
    digest,
    entry_key,
    key_tokens,
    message_from_wire,
)
from outsource_plugin.workflow import Action, Side, Status
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, act, note, sync

AT = "2026-12-01T10:00:00+00:00"

MESSAGES: list[WireMessage] = [
    OfferMessage(
        offer={"title": "Disk", "description": "Replace it", "contact": {"name": "Ann"}, "due": "2026-12-24"},
        terms={"rate_type": "hourly", "authorised_hours": "4.00"},
        ticket_number="T00001",
        acceptance_deadline=datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc),
        seen=3,
    ),
    OfferMessage(offer={"title": "Bare"}),
    ActionMessage(Action.DECLINE, "too far", "Sam", Status.ASSIGNED, "S-7", seen=0),
    ActionMessage(Action.START_WORK),
    EntryMessage(
        "lead:time:4:abcd1234",
        WireOp.UPSERT,
        EntryKind.TIME,
        to_wire(EntryKind.TIME, {"work_date": date(2026, 12, 1), "hours": Decimal("1.50"), "resource": "Ann"}),
        Origin(Side.LEAD, "Northwind", "Ann", AT),
        seen=12,
    ),
    EntryMessage("service:note:9:0000ffff", WireOp.DELETE, EntryKind.NOTE, {}, Origin(Side.SERVICE, "Contoso")),
    EntryMessage(
        "lead:attachment:2:12345678",
        WireOp.REFUSED,
        EntryKind.ATTACHMENT,
        {"filename": "photo.jpg", "size": 64},
        Origin(Side.SERVICE, "Contoso", at=AT),
        reason="over the size limit",
    ),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{m.kind.value}")
def test_a_message_reads_back_what_it_writes(message: WireMessage) -> None:
    wire = message.to_wire()
    assert type(message).from_wire(wire) == message
    assert message_from_wire(message.kind, json.loads(json.dumps(wire))) == message


def test_the_wire_keys_keep_their_order_and_seen_comes_last() -> None:
    action, entry, refusal = MESSAGES[2], MESSAGES[4], MESSAGES[6]
    assert list(action.to_wire()) == ["action", "reason", "actor", "from_status", "ticket_number", "seen"]
    assert list(entry.to_wire()) == ["entry_key", "op", "kind", "data", "origin", "seen"]
    assert list(refusal.to_wire()) == ["entry_key", "op", "kind", "data", "reason", "origin"]
    assert refusal.to_wire()["origin"] == {"side": "service", "org": "Contoso", "at": AT}
    assert list(MESSAGES[1].to_wire()) == ["offer", "terms", "ticket_number", "acceptance_deadline"]


@pytest.mark.parametrize("seen", [None, 0, 41])
def test_an_entry_messages_json_text_is_json_dumps_of_its_wire_form_seen_given_or_its_own(seen: int | None) -> None:
    """The outbox stores an entry message as this text (``outbox.number_batch``): it must be the text
    ``json.dumps`` writes of the wire form, with the feed's ``seen`` in place of the message's own."""
    unusual = EntryMessage(
        'lead:note:\u00e9"\\:00ff00ff',
        WireOp.UPSERT,
        EntryKind.NOTE,
        MappingProxyType({"text": "Grüße\n\t\u2028 ☃", "internal": False}),
        Origin(user="Zoë"),
        reason="é",
        seen=2,
    )
    # values a host or a partner may hand over beyond the wire forms: JSON must write them as ``json.dumps`` does
    odd_values = EntryMessage(
        "service:time:7:00000000",
        WireOp.UPSERT,
        EntryKind.TIME,
        {"hours": 1.5, "big": 10**30, "tiny": 1e-300, "nan": float("nan"), "none": None, "list": [1, "\ud800"]},
        seen=True,  # a bool is an int: ``_seen`` lets it through
    )
    for message in [*(m for m in MESSAGES if isinstance(m, EntryMessage)), unusual, odd_values]:
        wire = message.to_wire()
        if seen is not None:
            wire["seen"] = seen
        assert message.to_json(seen) == json.dumps(wire)
        assert message.to_json(seen) == message.to_json(seen)  # the origin's text, made once, stays right


def test_an_entry_message_with_a_value_json_cannot_write_fails_as_json_dumps_does() -> None:
    message = EntryMessage("lead:note:1:00000000", WireOp.UPSERT, EntryKind.NOTE, {"text": object()})
    with pytest.raises(TypeError) as dumped:
        json.dumps(message.to_wire())
    with pytest.raises(TypeError) as written:
        message.to_json()
    assert str(written.value) == str(dumped.value)


def test_each_class_names_its_outbox_kind() -> None:
    assert {type(m).kind for m in MESSAGES} == set(MessageKind)


def test_an_entry_key_names_owner_kind_and_id_and_is_new_for_each_life() -> None:
    first = entry_key(Side.LEAD, EntryKind.NOTE, "17")
    second = entry_key(Side.LEAD, EntryKind.NOTE, "17")
    assert first.startswith("lead:note:17:") and second.startswith("lead:note:17:")
    assert first != second
    assert len(first.rsplit(":", 1)[1]) == 8
    assert entry_key(Side.SERVICE, EntryKind.CHARGE, "c-1").startswith("service:charge:c-1:")


def test_key_tokens_made_together_are_distinct_and_of_the_form_entry_key_gives_its_own() -> None:
    """A bulk write's new links take their key tokens together (issue 18, target 1): the same form."""
    tokens = key_tokens(1000)
    assert len(set(tokens)) == 1000 and key_tokens(0) == []
    assert all(len(token) == 8 and int(token, 16) >= 0 for token in tokens)
    assert entry_key(Side.LEAD, EntryKind.NOTE, "17", tokens[0]) == f"lead:note:17:{tokens[0]}"


def test_the_leads_time_crosses_as_a_note_and_nothing_else_changes() -> None:
    time = {"work_date": date(2026, 12, 1), "hours": Decimal("1.5"), "resource": "Ann", "summary": "cabling"}
    kind, values = crossing(Side.LEAD, EntryKind.TIME, time)
    assert kind is EntryKind.NOTE
    assert values == {"text": "Time entry by Ann on 2026-12-01: 1.5 h, cabling", "internal": False}
    assert crossing(Side.SERVICE, EntryKind.TIME, time) == (EntryKind.TIME, time)
    note = {"text": "hello", "internal": True}
    assert crossing(Side.LEAD, EntryKind.NOTE, note) == (EntryKind.NOTE, note)


def test_an_entry_digest_is_the_one_reconciliation_compares() -> None:
    entry = MESSAGES[4]
    assert isinstance(entry, EntryMessage)
    held = {"work_date": date(2026, 12, 1), "hours": Decimal("1.500"), "resource": "Ann", "summary": None}
    assert entry.digest() == digest(EntryKind.TIME, held)
    deleted = MESSAGES[5]
    assert isinstance(deleted, EntryMessage) and deleted.digest() is None


def test_an_origin_time_counts_only_with_a_zone() -> None:
    assert Origin(at=AT).made_at == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    assert Origin(at="2026-12-01T10:00:00").made_at is None
    assert Origin(at="noon").made_at is None
    assert Origin.from_wire("me") == Origin()


def test_what_a_partner_is_handed_is_the_stored_row_byte_for_byte(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """Typed on the way through, the message still leaves as the JSON the outbox holds."""
    uid = accepted(app, api, ticket_id, partner_id)
    note(api, ticket_id, "Customer is on site from 9")
    answer = api.post(f"/api/tickets/{ticket_id}/time", json={"work_date": "2026-12-01", "hours": "1.5"})
    assert answer.status_code == 201, answer.get_json()
    sync(app)
    partner = memory_partner(app, partner_id)
    partner.act(uid, Action.SUBMIT)
    sync(app)
    act(api, ticket_id, "reject", reason="the fan is still loud")
    sync(app)
    received = partner.received
    with app.app_context():
        stored = {m.message_id: m.payload for m in current_outsource().session.scalars(select(OutboxMessage))}
    assert [m.kind for m in received if m.engagement_uid == uid] == ["offer", "entry", "entry", "action"]
    for message in received:
        assert json.dumps(message.payload) == json.dumps(stored[message.message_id])


#: rows queued before the messages were typed: no ``seen``, a ``user`` that is null, an action on its own
OLD_ROWS = [
    (
        MessageKind.ENTRY,
        {
            "entry_key": "lead:note:7",
            "op": "upsert",
            "kind": "note",
            "data": {"text": "queued long ago", "internal": False},
            "origin": {"side": "lead", "org": "Northwind", "user": None, "at": AT},
        },
    ),
    (MessageKind.ACTION, {"action": "cancel"}),
]


def test_rows_queued_before_typed_messages_still_deliver(app: Flask, partner_id: int) -> None:
    with app.app_context():
        session = current_outsource().session
        partner = session.get(Partner, partner_id)
        assert partner is not None
        uid = new_id()
        for kind, payload in OLD_ROWS:
            partner.outbound_seq += 1
            session.add(
                OutboxMessage(
                    partner_id=partner_id,
                    seq=partner.outbound_seq,
                    engagement_uid=uid,
                    kind=kind,
                    payload=payload,
                    state=MessageState.PENDING,
                    attempts=0,
                )
            )
        session.commit()
        assert deliver_due(current_outsource()) == {Outcome.DELIVERED: 2, Outcome.RETRY: 0, Outcome.DEAD: 0}
    entry, action = memory_partner(app, partner_id).received
    assert entry.message == EntryMessage(
        "lead:note:7",
        WireOp.UPSERT,
        EntryKind.NOTE,
        {"text": "queued long ago", "internal": False},
        Origin(Side.LEAD, "Northwind", None, AT),
    )
    assert action.message == ActionMessage(Action.CANCEL)
