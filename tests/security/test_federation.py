"""The signed partner API on one host with two partners, through the Flask test client.

Northwind and Fabrikam are both peer partners of this host, each with its
own link id and secret. Every request is signed with the product's own
``sign``; the attacks are correctly signed by Fabrikam but name Northwind's
engagements, or are badly signed, stale or replayed copies of Northwind's
own valid requests. A refusal must be a 4xx JSON answer that changes no row
of any table, and Fabrikam's feed must never carry Northwind's data.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, MessageState, OutboxMessage
from outsource_plugin.federation.signing import LINK, REQUEST_ID, SIGNATURE, TIMESTAMP, sign
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_ticket, table_rows
from tests.conftest import Api
from tests.security.helpers import COUNTS, FEDERATION, action_message, add_peer, message, offer_message, signed, wire

NORTHWIND, NORTHWIND_SECRET = "northwind-contoso", "northwind-secret-0123456789"
FABRIKAM, FABRIKAM_SECRET = "fabrikam-contoso", "fabrikam-secret-9876543210"
#: a word only Northwind's data carries, to spot it anywhere in Fabrikam's answers
MARKER = "Northwind-only-printer-7781"


@pytest.fixture
def hosts(app: Flask, api: Api) -> dict[str, Any]:
    """Northwind offered us a ticket (its uid is ``offered``) and we outsourced one to it
    (``ours``, with a pending offer message in our feed for Northwind); Fabrikam has nothing."""
    northwind = add_peer(app, "Northwind IT", NORTHWIND, NORTHWIND_SECRET)
    fabrikam = add_peer(app, "Fabrikam Facilities", FABRIKAM, FABRIKAM_SECRET)
    client = app.test_client()
    answer = signed(
        client, "POST", "/messages", link=NORTHWIND, secret=NORTHWIND_SECRET, payload=offer_message(1, "nw1", MARKER)
    )
    assert answer.get_json() == {"status": "applied", "applied": 1}
    ticket = add_ticket(app, MARKER)
    assert api.post(f"/tickets/{ticket}/outsource", {"partner_id": northwind}).status_code == 201
    sent = api.post(f"/tickets/{ticket}/outsource/actions", {"action": "send"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    with app.app_context():
        ours = db.session.scalars(select(Engagement.uid).where(Engagement.ticket_id == ticket)).one()
        pending = db.session.scalars(select(OutboxMessage).where(OutboxMessage.partner_id == northwind)).all()
        assert [m.state for m in pending] == [MessageState.PENDING] and MARKER in str(pending[0].payload)
    return {"northwind": northwind, "fabrikam": fabrikam, "offered": "nw1", "ours": ours}


def status_of(app: Flask, uid: str) -> Status:
    with app.app_context():
        return db.session.scalars(select(Engagement.status).where(Engagement.uid == uid)).one()


def assert_json_refusal(answer: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert isinstance(body, dict) and body["error"] and body["message"]
    return body


def test_a_partner_cannot_reach_another_partners_engagements(app: Flask, hosts: dict[str, Any]) -> None:
    client = app.test_client()
    before = table_rows(app)
    offered, ours = hosts["offered"], hosts["ours"]
    entry = {"entry_key": "lead:note:1", "op": "upsert", "kind": "note", "data": {"text": "x", "internal": False}}
    attacks = [
        action_message(1, offered, "cancel", "not yours"),
        action_message(1, ours, "decline", "not yours"),
        action_message(1, ours, "accept", ticket_number="F-1"),
        offer_message(1, offered),
        offer_message(1, ours),
        message(1, "entry", offered, entry),
        message(1, "entry", ours, entry),
    ]
    for attack in attacks:
        answer = signed(client, "POST", "/messages", link=FABRIKAM, secret=FABRIKAM_SECRET, payload=attack)
        body = assert_json_refusal(answer, (403, 404))
        assert MARKER not in answer.get_data(as_text=True), body
    for uid in (offered, ours):
        answer = signed(client, "GET", f"/engagements/{uid}", link=FABRIKAM, secret=FABRIKAM_SECRET)
        assert_json_refusal(answer, (403, 404))
    assert table_rows(app) == before
    assert status_of(app, offered) is Status.ASSIGNED

    # Fabrikam's feed: asking far ahead acknowledges only its own messages, never Northwind's
    for after in (0, 1000):
        feed = signed(client, "GET", f"/changes?after={after}", link=FABRIKAM, secret=FABRIKAM_SECRET)
        assert feed.status_code == 200 and feed.get_json() == {"changes": []}
        assert MARKER not in feed.get_data(as_text=True) and ours not in feed.get_data(as_text=True)
    after_feed = table_rows(app)
    assert after_feed["outsource_outbox"] == before["outsource_outbox"], "Northwind's message was acknowledged"
    northwind_feed = signed(client, "GET", "/changes?after=0", link=NORTHWIND, secret=NORTHWIND_SECRET).get_json()
    assert [item["engagement_uid"] for item in northwind_feed["changes"]] == [ours]

    # the refusals consumed nothing of Fabrikam's sequence: its message 1 is still the next one
    own = signed(client, "POST", "/messages", link=FABRIKAM, secret=FABRIKAM_SECRET, payload=offer_message(1, "fb1"))
    assert own.get_json() == {"status": "applied", "applied": 1}
    with app.app_context():
        owner = db.session.scalars(select(Engagement.partner_id).where(Engagement.uid == "fb1")).one()
    assert owner == hosts["fabrikam"]
    # and Northwind, in sequence, cannot touch Fabrikam's new engagement either
    cross = action_message(2, "fb1", "cancel", "mine now")
    answer = signed(client, "POST", "/messages", link=NORTHWIND, secret=NORTHWIND_SECRET, payload=cross)
    assert_json_refusal(answer, (403, 404))
    assert status_of(app, "fb1") is Status.ASSIGNED
    # the messages, the two state reads, and Northwind's reach into Fabrikam's engagement
    COUNTS["cross_partner_attacks"] = len(attacks) + 2 + 1


def _attack(case: str, path: str, body: bytes) -> dict[str, str]:
    """The headers of one badly signed version of Northwind's valid request."""
    headers = sign(NORTHWIND, NORTHWIND_SECRET, "POST", path, body)
    if case == "unsigned":
        return {}
    if case == "link only":
        return {LINK: NORTHWIND}
    if case == "no signature":
        return {k: v for k, v in headers.items() if k != SIGNATURE}
    if case == "no timestamp":
        return {k: v for k, v in headers.items() if k != TIMESTAMP}
    if case == "expired":
        return sign(NORTHWIND, NORTHWIND_SECRET, "POST", path, body, now=time.time() - 301)
    if case == "from the future":
        return sign(NORTHWIND, NORTHWIND_SECRET, "POST", path, body, now=time.time() + 301)
    if case == "wrong secret":
        return sign(NORTHWIND, FABRIKAM_SECRET, "POST", path, body)
    if case == "other partner's link":
        return sign(FABRIKAM, NORTHWIND_SECRET, "POST", path, body)
    if case == "unknown link":
        return sign("nobody-contoso", NORTHWIND_SECRET, "POST", path, body)
    if case == "tampered body":
        return sign(NORTHWIND, NORTHWIND_SECRET, "POST", path, body.replace(b"not yours", b"whatever"))
    if case == "other path":
        return sign(NORTHWIND, NORTHWIND_SECRET, "POST", f"{FEDERATION}/ping", body)
    if case == "garbled signature":
        return {**headers, SIGNATURE: headers[SIGNATURE][:-4] + "0000"}
    assert case == "overlong request id"
    return {**headers, REQUEST_ID: "x" * 65}


ATTACKS = [
    "unsigned",
    "link only",
    "no signature",
    "no timestamp",
    "expired",
    "from the future",
    "wrong secret",
    "other partner's link",
    "unknown link",
    "tampered body",
    "other path",
    "garbled signature",
    "overlong request id",
]


@pytest.mark.parametrize("case", ATTACKS)
def test_a_badly_signed_request_is_refused_and_changes_nothing(app: Flask, hosts: dict[str, Any], case: str) -> None:
    """Each attack carries Northwind's next valid message: accepted, it would cancel the offer."""
    client = app.test_client()
    payload = action_message(2, hosts["offered"], "cancel", "not yours")
    body = wire(payload)
    path = f"{FEDERATION}/messages"
    before = table_rows(app)
    answer = client.post(path, data=body, headers={**_attack(case, path, body), "Content-Type": "application/json"})
    assert assert_json_refusal(answer, (401,))["error"] == "not_authenticated"
    assert table_rows(app) == before
    # the very message, signed properly, still applies: the refusal left the sequence alone
    fine = signed(client, "POST", "/messages", link=NORTHWIND, secret=NORTHWIND_SECRET, payload=payload)
    assert fine.get_json() == {"status": "applied", "applied": 2}
    assert status_of(app, hosts["offered"]) is Status.CANCELED


@pytest.fixture(scope="module", autouse=True)
def summary() -> None:
    COUNTS.update(signature_attacks=len(ATTACKS), replay_paths=len(REPLAYED))


REPLAYED = ["/messages", "/changes?after=0", "/ping", "/engagements/nw1"]


@pytest.mark.parametrize("path", REPLAYED)
def test_a_replayed_request_is_refused_and_changes_nothing(app: Flask, hosts: dict[str, Any], path: str) -> None:
    client = app.test_client()
    method = "POST" if path == "/messages" else "GET"
    payload = action_message(2, hosts["offered"], "cancel", "once only") if method == "POST" else None
    body = wire(payload)
    headers = {**sign(NORTHWIND, NORTHWIND_SECRET, method, FEDERATION + path, body), "Content-Type": "application/json"}
    first = client.open(FEDERATION + path, method=method, data=body, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    before = table_rows(app)
    again = client.open(FEDERATION + path, method=method, data=body, headers=headers)
    body_json = assert_json_refusal(again, (401,))
    assert "replayed" in body_json["message"]
    assert table_rows(app) == before
