"""The rows a captured flush stores, to the character: capture's hot path may be rewritten for
speed (issue 18, target 1), never what it writes.

One flush carries every kind of entry on a lead ticket (Accepted) and a service ticket (In
Progress), an internal note on each, an edit and a delete of entries synced before. Its outbox
payloads are compared as the text the database holds, and its links column by column. What is
drawn or read afresh per flush (entry key tokens, the moment, message ids) is checked for its
shape and then named, so the comparison holds on every run and on both databases.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import text

from examples.helpdesk.models import Attachment, Charge, Note, TimeEntry, db
from outsource_plugin.db.models import Engagement
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket

WORK_DATE = date(2026, 12, 4)
KINDS = {Note: "note", TimeEntry: "time", Charge: "charge", Attachment: "attachment"}
#: an ISO moment with its zone, as ``stamp`` writes it
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")


def _uid(app: Flask, engagement_id: int) -> str:
    with app.app_context():
        return str(db.session.get(Engagement, engagement_id).uid)


def _outbox(uids: list[str], after: int) -> list[tuple[Any, ...]]:
    """The entry messages of the engagements numbered after ``after``: payloads as stored text."""
    query = text(
        "SELECT seq, engagement_uid, kind, CAST(payload AS TEXT), state, attempts, message_id,"
        " next_attempt_at = created_at FROM outsource_outbox"
        " WHERE engagement_uid IN (:a, :b) AND kind = 'entry' AND seq > :after ORDER BY seq"
    )
    return [tuple(row) for row in db.session.execute(query, {"a": uids[0], "b": uids[1], "after": after})]


def _links(uids: list[str]) -> list[tuple[Any, ...]]:
    query = text(
        "SELECT engagement_uid, entry_key, kind, local_id, owner, in_suspension, first_seq, sent, deleted,"
        " question, origin_user, origin_at, created_at = updated_at FROM outsource_entry_link"
        " WHERE engagement_uid IN (:a, :b) ORDER BY id"
    )
    return [tuple(row) for row in db.session.execute(query, {"a": uids[0], "b": uids[1]})]


def test_a_captured_flush_stores_exactly_these_outbox_rows_and_links(app: Flask, partner_id: int) -> None:
    lead_ticket, service_ticket = add_ticket(app, "Printer"), add_ticket(app, "VPN")
    lead_uid = _uid(app, add_engagement(app, partner_id, status=Status.ACCEPTED, ticket_id=lead_ticket))
    service_uid = _uid(
        app,
        add_engagement(app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE, ticket_id=service_ticket),
    )
    uids = [lead_uid, service_uid]
    lead, service = int(lead_ticket), int(service_ticket)
    with app.app_context():
        edited = Note(ticket_id=service, author="Bo", body="draft", internal=False)
        deleted = Charge(ticket_id=service, name="Cable", quantity=Decimal(2), unit_price=Decimal("3.10"))
        db.session.add_all([edited, deleted])
        db.session.commit()
        before = max(row[0] for row in _outbox(uids, 0))
        made = [
            Note(ticket_id=lead, author="Ann", body='Grüße, "quoted" \\ line\nnext', internal=False),
            Note(ticket_id=lead, author="Ann", body="lead only", internal=True),
            TimeEntry(ticket_id=lead, resource="Ann", work_date=WORK_DATE, hours=Decimal("1.25"), summary="Fix"),
            Charge(ticket_id=lead, name="Toner", quantity=Decimal("1.5"), unit_price=Decimal("40.00")),
            Attachment(ticket_id=lead, filename="a.txt", media_type="text/plain", size=3, data=b"abc"),
            Note(ticket_id=service, author="Bo", body="on site", internal=False),
            Note(ticket_id=service, author="Bo", body="private", internal=True),
            TimeEntry(
                ticket_id=service, resource="Bo", work_date=WORK_DATE, hours=Decimal("0.25"), work_type="On site"
            ),
            Charge(ticket_id=service, name="Part", quantity=Decimal(1), unit_price=Decimal("4.50"), billable=False),
            Attachment(
                ticket_id=service, filename="log.bin", media_type="application/octet-stream", size=2, data=b"\x00\xff"
            ),
        ]
        db.session.add_all(made)
        edited.body = "final"
        db.session.delete(deleted)
        db.session.commit()
        labels = {(KINDS[type(entry)], str(entry.id)): f"#{n}" for n, entry in enumerate([edited, deleted, *made])}
        outbox, links = _outbox(uids, before), _links(uids)
        db.session.rollback()

    # what is drawn afresh: its shape, then a name for it
    names = {lead_uid: "LEAD", service_uid: "SERVICE"}
    keys: dict[str, str] = {}
    for link in links:
        side, kind, local_id, token = link[1].split(":")
        assert (side, kind) == (link[4], link[2]) and re.fullmatch("[0-9a-f]{8}", token)
        keys[link[1]] = f"{side}:{kind}:{labels[(kind, local_id)]}"
    first = outbox[0][0]
    assert [row[0] for row in outbox] == list(range(first, first + len(outbox)))
    assert all(row[4:6] == ("pending", 0) and re.fullmatch("[0-9a-f]{32}", row[6]) and row[7] for row in outbox)
    assert len({row[6] for row in outbox}) == len(outbox)
    moments = {json.loads(row[3])["origin"]["at"] for row in outbox}  # one stamp for the flush
    assert len(moments) == 1
    at = moments.pop()
    assert MOMENT.fullmatch(at)

    def named(payload: str) -> str:
        key = json.loads(payload)["entry_key"]
        return payload.replace(json.dumps(key), json.dumps(keys[key])).replace(json.dumps(at), '"AT"')

    stored = [(row[0] - first, names[row[1]], row[2], named(row[3])) for row in outbox]
    assert stored == EXPECTED_OUTBOX

    def first_seq(seq: int | None) -> int | str | None:
        return seq if seq is None else "before" if seq <= before else seq - first

    stored_links = [
        (names[uid], keys[key], kind, owner, bool(held), first_seq(seq), *map(bool, flags), user, at, bool(alike))
        for uid, key, kind, _, owner, held, seq, *flags, user, at, alike in links
    ]
    assert stored_links == EXPECTED_LINKS


#: the flush's messages: number after the flush's first, engagement, kind, payload as stored
EXPECTED_OUTBOX: list[tuple[int, str, str, str]] = [
    (
        0,
        "LEAD",
        "entry",
        '{"entry_key": "lead:note:#2", "op": "upsert", "kind": "note", "data": {"text": "Gr\\u00fc\\u00dfe, '
        '\\"quoted\\" \\\\ line\\nnext", "internal": false, "author": "Ann"}, "origin": {"side": "lead", '
        '"org": "Northwind IT", "user": "Ann", "at": "AT"}, "seen": 0}',
    ),
    (
        1,
        "LEAD",
        "entry",
        '{"entry_key": "lead:time:#4", "op": "upsert", "kind": "note", '
        '"data": {"text": "Time entry by Ann on 2026-12-04: 1.25 h, Fix", "internal": false}, '
        '"origin": {"side": "lead", "org": "Northwind IT", "at": "AT"}, "seen": 0}',
    ),
    (
        2,
        "LEAD",
        "entry",
        '{"entry_key": "lead:charge:#5", "op": "upsert", "kind": "charge", "data": {"name": "Toner", '
        '"quantity": "1.5", "unit_price": "40.00", "unit_cost": "0", "billable": true}, '
        '"origin": {"side": "lead", "org": "Northwind IT", "at": "AT"}, "seen": 0}',
    ),
    (
        3,
        "LEAD",
        "entry",
        '{"entry_key": "lead:attachment:#6", "op": "upsert", "kind": "attachment", '
        '"data": {"filename": "a.txt", "media_type": "text/plain", "size": 3, "data": "YWJj", '
        '"internal": false}, "origin": {"side": "lead", "org": "Northwind IT", "at": "AT"}, "seen": 0}',
    ),
    (
        4,
        "SERVICE",
        "entry",
        '{"entry_key": "service:note:#7", "op": "upsert", "kind": "note", "data": {"text": "on site", '
        '"internal": false, "author": "Bo"}, "origin": {"side": "service", "org": "Northwind IT", '
        '"user": "Bo", "at": "AT"}, "seen": 0}',
    ),
    (
        5,
        "SERVICE",
        "entry",
        '{"entry_key": "service:note:#8", "op": "upsert", "kind": "note", "data": {"text": "private", '
        '"internal": true, "author": "Bo"}, "origin": {"side": "service", "org": "Northwind IT", '
        '"user": "Bo", "at": "AT"}, "seen": 0}',
    ),
    (
        6,
        "SERVICE",
        "entry",
        '{"entry_key": "service:time:#9", "op": "upsert", "kind": "time", '
        '"data": {"work_date": "2026-12-04", "hours": "0.25", "resource": "Bo", "work_type": "On site", '
        '"summary": "", "billable": true}, "origin": {"side": "service", "org": "Northwind IT", '
        '"user": "Bo", "at": "AT"}, "seen": 0}',
    ),
    (
        7,
        "SERVICE",
        "entry",
        '{"entry_key": "service:charge:#10", "op": "upsert", "kind": "charge", "data": {"name": "Part", '
        '"quantity": "1", "unit_price": "4.50", "unit_cost": "0", "billable": false}, '
        '"origin": {"side": "service", "org": "Northwind IT", "at": "AT"}, "seen": 0}',
    ),
    (
        8,
        "SERVICE",
        "entry",
        '{"entry_key": "service:attachment:#11", "op": "upsert", "kind": "attachment", '
        '"data": {"filename": "log.bin", "media_type": "application/octet-stream", "size": 2, '
        '"data": "AP8=", "internal": false}, "origin": {"side": "service", "org": "Northwind IT", '
        '"at": "AT"}, "seen": 0}',
    ),
    (
        9,
        "SERVICE",
        "entry",
        '{"entry_key": "service:note:#0", "op": "upsert", "kind": "note", "data": {"text": "final", '
        '"internal": false, "author": "Bo"}, "origin": {"side": "service", "org": "Northwind IT", '
        '"user": "Bo", "at": "AT"}, "seen": 0}',
    ),
    (
        10,
        "SERVICE",
        "entry",
        '{"entry_key": "service:charge:#1", "op": "delete", "kind": "charge", "data": {}, '
        '"origin": {"side": "service", "org": "Northwind IT", "at": "AT"}, "seen": 0}',
    ),
]
#: the two engagements' links: engagement, key, kind, owner, in_suspension, first_seq (as above), sent,
#: deleted, question, origin_user, origin_at, created_at = updated_at
EXPECTED_LINKS: list[tuple[Any, ...]] = [
    ("SERVICE", "service:note:#0", "note", "service", False, "before", True, False, False, None, None, True),
    ("SERVICE", "service:charge:#1", "charge", "service", False, "before", True, True, False, None, None, False),
    ("LEAD", "lead:note:#2", "note", "lead", False, 0, True, False, False, None, None, True),
    ("LEAD", "lead:note:#3", "note", "lead", False, None, False, False, False, None, None, True),
    ("LEAD", "lead:time:#4", "time", "lead", False, 1, True, False, False, None, None, True),
    ("LEAD", "lead:charge:#5", "charge", "lead", False, 2, True, False, False, None, None, True),
    ("LEAD", "lead:attachment:#6", "attachment", "lead", False, 3, True, False, False, None, None, True),
    ("SERVICE", "service:note:#7", "note", "service", False, 4, True, False, False, None, None, True),
    ("SERVICE", "service:note:#8", "note", "service", False, 5, True, False, False, None, None, True),
    ("SERVICE", "service:time:#9", "time", "service", False, 6, True, False, False, None, None, True),
    ("SERVICE", "service:charge:#10", "charge", "service", False, 7, True, False, False, None, None, True),
    ("SERVICE", "service:attachment:#11", "attachment", "service", False, 8, True, False, False, None, None, True),
]


def test_work_started_within_a_flush_is_seen_by_its_later_entries(app: Flask, partner_id: int) -> None:
    """An Accepted service ticket's first work in a flush starts the work, once: the start is numbered
    after the entry that started it and before the later ones, which are sent as In Progress."""
    ticket = add_ticket(app, "VPN")
    uid = _uid(app, add_engagement(app, partner_id, status=Status.ACCEPTED, role=Side.SERVICE, ticket_id=ticket))
    with app.app_context():
        made = [
            Attachment(ticket_id=int(ticket), filename="a.txt", media_type="text/plain", size=1, data=b"a"),
            Note(ticket_id=int(ticket), author="Bo", body="on my way", internal=False),
            TimeEntry(ticket_id=int(ticket), resource="Bo", work_date=WORK_DATE, hours=Decimal("0.5")),
            Note(ticket_id=int(ticket), author="Bo", body="done", internal=False),
        ]
        db.session.add_all(made)
        db.session.commit()
        labels = {f"{KINDS[type(entry)]}:{entry.id}": f"#{n}" for n, entry in enumerate(made)}
        query = text(
            "SELECT kind, CAST(payload AS TEXT) FROM outsource_outbox WHERE engagement_uid = :uid ORDER BY seq"
        )
        feed = [(kind, json.loads(payload)) for kind, payload in db.session.execute(query, {"uid": uid})]
        status = db.session.scalar(text("SELECT status FROM outsource_engagement WHERE uid = :uid"), {"uid": uid})
        first_seqs = db.session.execute(
            text("SELECT kind, first_seq FROM outsource_entry_link WHERE engagement_uid = :uid ORDER BY id"),
            {"uid": uid},
        ).all()
        seqs = db.session.scalars(
            text("SELECT seq FROM outsource_outbox WHERE engagement_uid = :uid ORDER BY seq"), {"uid": uid}
        ).all()
        db.session.rollback()

    def told(kind: str, payload: dict[str, Any]) -> str:
        if kind == "entry":
            side, entry_kind, local_id, _ = payload["entry_key"].split(":")
            return f"{side}:{entry_kind}:{labels[f'{entry_kind}:{local_id}']}"
        return f"{kind}:{payload['action']}:{payload.get('status', '')}"

    assert [told(kind, payload) for kind, payload in feed] == [
        "service:attachment:#0",
        "service:note:#1",
        "action:start_work:",
        "service:time:#2",
        "service:note:#3",
    ]
    assert status == "in_progress"
    assert [seq for _, seq in first_seqs] == [seqs[0], seqs[1], seqs[3], seqs[4]]
