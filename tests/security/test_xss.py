"""Stored XSS through every field a partner supplies is escaped on every page that shows it.

Two peer partners, both with the payload in their names, drive the payload in
exactly as a partner host would: signed federation messages (an offer, entries,
accept/decline/submit/reject actions, a change id that ends up in a sync error)
and the answers of its real HTTP server to a connection test. Every page that
shows them must carry the payload only escaped (no raw ``<script>`` and no
``<img`` breaking out of an attribute), and the JSON API must carry it as data
under ``application/json``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from examples.helpdesk.models import Customer, db
from outsource_plugin.db.models import Engagement
from outsource_plugin.jobs.deliver import Outcome, deliver_due
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.blueprints.api_helpers import add_ticket
from tests.blueprints.page_helpers import html, page_client, post
from tests.conftest import Api
from tests.security.helpers import COUNTS, FEDERATION, XSS_SCRIPT, PartnerServer, action_message, message, signed

SECRET = "xss-test-shared-secret-0001"
#: every partner-supplied field; each gets its own numbered payload, so each can be found
FIELDS = [
    "service partner's name",
    "lead partner's name",
    "org name from the partner's ping",
    "partner's error message on a connection test",
    "partner's error message on a delivery",
    "offer title",
    "offer description",
    "offer ticket number",
    "offer lead name",
    "offer customer contact",
    "terms instructions",
    "partner ticket reference",
    "accepted by",
    "note text",
    "note author",
    "time entry summary",
    "time entry resource",
    "time entry work type",
    "charge description",
    "attachment file name",
    "question text",
    "decline reason",
    "reject reason",
    "cancel reason",
    "change id in a sync error",
    "customer ref",
]
#: fields that reach only pages (an HTTP answer of the partner's server), not the JSON API
PAGE_ONLY = {"org name from the partner's ping", "partner's error message on a connection test"}
#: fields no page or answer shows at all: a connection test names the status, never the body
NEVER_SHOWN = {"partner's error message on a connection test"}
#: fields the JSON API serves but no page shows today; every page is still checked for
#: any raw payload, so a page that starts showing one unescaped fails
JSON_ONLY = {"offer lead name", "accepted by", "time entry work type", "cancel reason", "customer ref"}
#: a ``/`` in an attachment's name is a path separator and is cut off (see ``safe_filename``):
#: only the attribute breakout, which has none, reaches the page whole
ATTRIBUTE_ONLY = {"attachment file name"}


def x(field: str) -> str:
    """The payload for ``field``: a script tag and an attribute breakout, numbered."""
    n = FIELDS.index(field)
    breakout = f'"><img src=x onerror=alert({n})>'
    return breakout if field in ATTRIBUTE_ONLY else f"<script>alert({n})</script>{breakout}"


def escaped(field: str) -> str:
    n = FIELDS.index(field)
    breakout = f"&#34;&gt;&lt;img src=x onerror=alert({n})&gt;"
    return breakout if field in ATTRIBUTE_ONLY else f"&lt;script&gt;alert({n})&lt;/script&gt;{breakout}"


class Seen:
    """Every page and JSON answer fetched, to check each field turned up somewhere."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.json: dict[str, str] = {}

    def page(self, client: FlaskClient, path: str) -> None:
        """The page carries some payload, and no payload unescaped."""
        page = html(client, path)
        assert "<script>alert" not in page, path
        assert "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path
        self.pages[path] = page

    def answer(self, api: Api, path: str) -> None:
        """The JSON API hands the payloads back verbatim, as data."""
        response = api.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:500])
        assert response.mimetype == "application/json", path
        self.json[path] = json.dumps(response.get_json())


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    COUNTS.update(
        xss_fields=len(FIELDS),
        xss_pages=len(PAGES_CHECKED),
        xss_json_answers=len(JSON_CHECKED),
        attachment_types=len(SERVED),
    )


PAGES_CHECKED: set[str] = set()
JSON_CHECKED: set[str] = set()


@pytest.fixture
def server() -> Iterator[PartnerServer]:
    with PartnerServer() as running:
        yield running


def _entries(seq: int, uid: str) -> list[dict[str, Any]]:
    """A note, a question, a time entry, a charge and an attachment, each full of the payload."""
    origin = {"user": x("note author")}
    data = base64.b64encode(b"evidence").decode()
    time_entry = {
        "work_date": "2030-01-02",
        "hours": "1.5",
        "summary": x("time entry summary"),
        "resource": x("time entry resource"),
        "work_type": x("time entry work type"),
    }
    kinds = [
        ("note", {"text": x("note text"), "internal": False}),
        ("note", {"text": f"Question: {x('question text')}", "internal": False, "question": True}),
        ("time", time_entry),
        ("charge", {"name": x("charge description"), "quantity": "1", "unit_price": "9.5", "billable": True}),
        ("attachment", {"filename": x("attachment file name"), "media_type": "text/plain", "size": 8, "data": data}),
    ]
    return [
        message(
            seq + i,
            "entry",
            uid,
            {"entry_key": f"partner:{kind}:{i}", "op": "upsert", "kind": kind, "data": values, "origin": origin},
        )
        for i, (kind, values) in enumerate(kinds)
    ]


def _offer(seq: int, uid: str) -> dict[str, Any]:
    offer = {
        "title": x("offer title"),
        "description": x("offer description"),
        "number": x("offer ticket number"),
        "lead": x("offer lead name"),
        "priority": "High",
        "contact": {"name": x("offer customer contact"), "phone": "555"},
    }
    terms = {"instructions": x("terms instructions"), "acceptance_hours": 24}
    return message(
        seq,
        "offer",
        uid,
        {"offer": offer, "terms": terms, "ticket_number": x("offer ticket number"), "acceptance_deadline": None},
    )


def _send(app: Flask, link: str, *messages: dict[str, Any]) -> None:
    client = app.test_client()
    for item in messages:
        answer = signed(client, "POST", "/messages", link=link, secret=SECRET, payload=item)
        assert answer.get_json() == {"status": "applied", "applied": item["seq"]}, answer.get_data(as_text=True)


def _register(api: Api, name: str, link: str, base: str) -> int:
    config = {"base_url": f"{base}/outsource", "link_id": link, "secret": SECRET}
    created = api.post("/partners", {"name": name, "adapter": "peer", "config": config})
    assert created.status_code == 201, created.get_data(as_text=True)
    return int(created.get_json()["id"])


def _engagement(app: Flask, uid: str) -> tuple[int, str | None]:
    with app.app_context():
        row = db.session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        return row.id, row.ticket_id


def _outsourced(app: Flask, api: Api, partner_id: int) -> tuple[str, str]:
    """A ticket of ours sent to ``partner_id``: its ticket id and engagement uid."""
    ticket = add_ticket(app, "Printer on fire")
    assert api.post(f"/tickets/{ticket}/outsource", {"partner_id": partner_id}).status_code == 201
    assert api.post(f"/tickets/{ticket}/outsource/actions", {"action": "send"}).status_code == 200
    with app.app_context():
        return ticket, db.session.scalars(select(Engagement.uid).where(Engagement.ticket_id == ticket)).one()


def test_every_partner_supplied_field_is_escaped_on_every_page(app: Flask, api: Api, server: PartnerServer) -> None:
    seen = Seen()
    server.answers[f"{FEDERATION}/ping"] = (200, {"org": x("org name from the partner's ping")})
    northwind = _register(api, "Northwind " + x("service partner's name"), "nw-xss", server.base)
    fabrikam = _register(api, "Fabrikam " + x("lead partner's name"), "fb-xss", server.base)
    pages = page_client(app, Permission.ALL)

    # the connection test shows what the partner's server answered, then (failing) only the status
    seen.page(pages, post(pages, f"/outsource/partners/{northwind}/test").location + "?passed")
    error = {"error": "bad", "message": x("partner's error message on a connection test")}
    server.answers[f"{FEDERATION}/ping"] = (400, error)
    seen.page(pages, post(pages, f"/outsource/partners/{northwind}/test").location + "?failed")
    assert [path for _, path, _, _ in server.requests] == [f"{FEDERATION}/ping"] * 2

    # Northwind offers us a ticket and withdraws another; we accept the first, it sends
    # entries, rejects our submission, and sends an action our table refuses
    _send(app, "nw-xss", _offer(1, "nw-offer"), _offer(2, "nw-withdrawn"))
    _send(app, "nw-xss", action_message(3, "nw-withdrawn", "cancel", x("cancel reason")))
    service_id, _ = _engagement(app, "nw-offer")
    withdrawn_id, _ = _engagement(app, "nw-withdrawn")
    for path in (
        f"/outsource/engagements/{service_id}",
        f"/outsource/engagements/{service_id}/terms",
        f"/outsource/engagements/{service_id}/actions/accept",
        f"/outsource/engagements/{withdrawn_id}",
        "/outsource/dashboard?role=service&folder=waiting_acceptance",
        "/outsource/dashboard?role=service&folder=canceled",
        "/outsource/partners",
        f"/outsource/partners/{northwind}",
        f"/outsource/tickets/{add_ticket(app)}/outsource",
    ):
        seen.page(pages, path)
    with app.app_context():
        customer = str(db.session.scalars(select(Customer.id)).first())
    accepted = api.post(f"/engagements/{service_id}/actions", {"action": "accept", "customer_ref": customer})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    _, service_ticket = _engagement(app, "nw-offer")
    _send(app, "nw-xss", *_entries(4, "nw-offer"))
    assert api.post(f"/engagements/{service_id}/actions", {"action": "submit"}).status_code == 200
    refused = action_message(10, "nw-offer", "accept")
    refused["id"] = x("change id in a sync error")
    _send(app, "nw-xss", action_message(9, "nw-offer", "reject", x("reject reason")), refused)
    seen.page(pages, f"/tickets/{service_ticket}")
    seen.page(pages, f"/outsource/engagements/{service_id}")
    seen.answer(api, f"/engagements/{service_id}?before-delivery")

    # we outsource two tickets to Fabrikam: it accepts one and sends entries, declines the other
    lead_ticket, lead_uid = _outsourced(app, api, fabrikam)
    declined_ticket, declined_uid = _outsourced(app, api, fabrikam)
    accept = action_message(1, lead_uid, "accept", ticket_number=x("partner ticket reference"), actor=x("accepted by"))
    decline = action_message(7, declined_uid, "decline", x("decline reason"))
    _send(app, "fb-xss", accept, *_entries(2, lead_uid), decline)
    # Fabrikam refuses our deliveries in its own words: dead letters and sync errors
    refusal = {"error": "refused", "message": x("partner's error message on a delivery")}
    server.answers[f"{FEDERATION}/messages"] = (400, refusal)
    with app.app_context():
        assert deliver_due(current_outsource())[Outcome.DEAD] >= 2
    # the customer ref is stored as given
    assert api.patch(f"/partners/{fabrikam}", {"customer_ref": x("customer ref")}).status_code == 200
    lead_id, _ = _engagement(app, lead_uid)
    declined_id, _ = _engagement(app, declined_uid)
    for path in (
        f"/tickets/{lead_ticket}",
        f"/tickets/{declined_ticket}",
        f"/tickets/{service_ticket}?after-delivery",
        f"/outsource/engagements/{lead_id}",
        f"/outsource/engagements/{lead_id}/terms",
        f"/outsource/engagements/{declined_id}",
        "/outsource/dashboard?role=lead&folder=accepted_or_in_progress",
        "/outsource/dashboard?role=lead&folder=declined",
        "/outsource/dashboard?role=service&folder=accepted_or_in_progress",
        "/outsource/deadletters",
        "/outsource/partners",
        f"/outsource/partners/{fabrikam}",
    ):
        seen.page(pages, path)
    for path in (
        f"/engagements/{service_id}",
        f"/engagements/{withdrawn_id}",
        f"/engagements/{lead_id}",
        f"/engagements/{declined_id}",
        f"/tickets/{lead_ticket}/outsource/history",
        "/dashboard/service/accepted_or_in_progress",
        "/dashboard/lead/declined",
        "/deadletters",
        "/partners",
        f"/api/tickets/{lead_ticket}",
        f"/api/tickets/{service_ticket}",
    ):
        seen.answer(api, path)

    PAGES_CHECKED.update(seen.pages)
    JSON_CHECKED.update(seen.json)
    every_page = "\n".join(seen.pages.values())
    unseen = [f for f in FIELDS if f not in JSON_ONLY | NEVER_SHOWN and escaped(f) not in every_page]
    assert unseen == [], f"fields no page showed (escaped): {unseen}"
    shown = [f for f in NEVER_SHOWN if escaped(f) in every_page or x(f) in every_page]
    assert shown == [], f"fields a page showed that it must not: {shown}"
    every_answer = "\n".join(seen.json.values())
    missing = [f for f in FIELDS if f not in PAGE_ONLY and json.dumps(x(f))[1:-1] not in every_answer]
    assert missing == [], f"fields no JSON answer carried: {missing}"


#: media types a browser runs as a document when it opens the file in the help desk's origin
ACTIVE_TYPES = ["text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "text/html; charset=utf-8"]
#: what each declared type is served as: active or malformed ones as a plain download
SERVED = {
    **dict.fromkeys(ACTIVE_TYPES, "application/octet-stream"),
    "TEXT/HTML": "application/octet-stream",
    "application/rss+xml": "application/octet-stream",
    "text/plain\r\nX-Injected: 1": "application/octet-stream",
    "image/png": "image/png",
    "application/pdf": "application/pdf",
    "text/plain": "text/plain",
}


@pytest.mark.parametrize(("media_type", "served"), SERVED.items())
def test_a_partner_file_never_opens_as_a_page_of_the_help_desk(
    app: Flask, api: Api, media_type: str, served: str
) -> None:
    """A partner's attachment that claims to be HTML must not run in our origin when opened;
    the type it declared is kept as it was sent (reconciliation compares it)."""
    partner_id = _register(api, "Northwind", "nw-files", "http://127.0.0.1:9")
    lead_ticket, uid = _outsourced(app, api, partner_id)
    page = f"<html><body>{XSS_SCRIPT}</body></html>".encode()
    data = {
        "filename": "report.html",
        "media_type": media_type,
        "size": len(page),
        "data": base64.b64encode(page).decode(),
    }
    entry = {
        "entry_key": "partner:attachment:1",
        "op": "upsert",
        "kind": "attachment",
        "data": data,
        "origin": {"side": "service", "org": "Contoso", "user": "Pat", "at": "2026-12-01T10:00:00+00:00"},
    }
    _send(app, "nw-files", action_message(1, uid, "accept", ticket_number="NW-1"), message(2, "entry", uid, entry))
    [attachment] = api.get(f"/api/tickets/{lead_ticket}").get_json()["attachments"]
    assert attachment["media_type"] == media_type
    opened = page_client(app, Permission.ALL).get(f"/api/attachments/{attachment['id']}")
    assert opened.status_code == 200 and opened.data == page
    assert opened.mimetype == served, opened.headers
    assert opened.headers.get("X-Content-Type-Options") == "nosniff"
    assert opened.headers.get("Content-Security-Policy") == "sandbox"
    assert "X-Injected" not in opened.headers
