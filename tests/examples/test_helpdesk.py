"""The demo help desk end to end: sign-in, pages with the plugin's bar and menu, its JSON API, seeding."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from examples.helpdesk import create_app
from examples.helpdesk.cli import DEMO_USERS
from examples.helpdesk.models import Attachment, Customer, Note, Ticket, User, db
from outsource_plugin.db.models import AuditEvent, Engagement, MessageKind, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.jobs.scheduler import run_once
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action, Status
from tests.conftest import LEVELS, Api, memory_partner

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LIVE_SCRIPT = "/outsource/static/outsource/live.js"


# --- helpers ------------------------------------------------------------------------------------


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values.setdefault(str(found["name"]), []).append(found.get("value") or "")


def csrf_from(html: str) -> str:
    parser = _HiddenInputs()
    parser.feed(html)
    tokens = set(parser.values.get("csrf_token", []))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def page_csrf(client: FlaskClient, path: str = "/login") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return csrf_from(response.get_data(as_text=True))


def sign_in(client: FlaskClient, level: Permission) -> None:
    token = page_csrf(client)
    response = client.post(
        "/login", data={"email": f"{LEVELS[level]}@t.example", "password": "pw", "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def signed_in(app: Flask, level: Permission) -> FlaskClient:
    client = app.test_client()
    sign_in(client, level)
    return client


def outsource(api: Api, ticket_id: str, partner_id: int) -> dict[str, Any]:
    response = api.post(f"/tickets/{ticket_id}/outsource", {"partner_id": partner_id})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["engagement"]["status"] == "unsent"
    return body


def act(api: Api, ticket_id: str, action: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/tickets/{ticket_id}/outsource/actions", {"action": action, **extra})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def outbox(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def ticket_page(client: FlaskClient, ticket_id: str) -> str:
    response = client.get(f"/tickets/{ticket_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def new_ticket(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/tickets", {"title": "Printer jams", **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


# --- sign-in and CSRF ---------------------------------------------------------------------------


def test_login_page_carries_the_session_csrf_token(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="password"' in html
    token = csrf_from(html)
    assert len(token) >= 32
    with client.session_transaction() as session:
        assert session["csrf"] == token
        assert "user_id" not in session
    # the token is stable for the session
    assert page_csrf(client) == token


def test_login_with_the_right_password(app: Flask) -> None:
    client = app.test_client()
    token = page_csrf(client)
    response = client.post("/login", data={"email": "tech@t.example", "password": "pw", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    with client.session_transaction() as session:
        assert session["user_id"] is not None
    index = client.get("/")
    assert index.status_code == 200
    assert "Tech" in index.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"),
    [("tech@t.example", "wrong"), ("tech@t.example", ""), ("nobody@t.example", "pw")],
)
def test_login_with_wrong_credentials(app: Flask, email: str, password: str) -> None:
    client = app.test_client()
    token = page_csrf(client)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    page_csrf(client)
    response = client.post("/login", data={"email": "tech@t.example", "password": "pw"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_login_with_a_wrong_or_foreign_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    page_csrf(client)
    response = client.post("/login", data={"email": "tech@t.example", "password": "pw", "csrf_token": "forged"})
    assert response.status_code == 400

    other = app.test_client()
    foreign = page_csrf(other)
    fresh = app.test_client()  # no session at all: someone else's token must not work
    response = fresh.post("/login", data={"email": "tech@t.example", "password": "pw", "csrf_token": foreign})
    assert response.status_code == 400
    with fresh.session_transaction() as session:
        assert "user_id" not in session


def test_pages_need_sign_in(app: Flask, ticket_id: str) -> None:
    client = app.test_client()
    for path in ("/", f"/tickets/{ticket_id}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/login")


def test_page_forms_need_the_csrf_token(app: Flask, ticket_id: str) -> None:
    client = signed_in(app, Permission.OUTSOURCE)
    refused = client.post(f"/tickets/{ticket_id}/status", data={"status": "In Progress"})
    assert refused.status_code == 400
    with app.app_context():
        assert db.get_or_404(Ticket, int(ticket_id)).status == "New"

    token = page_csrf(client, f"/tickets/{ticket_id}")
    accepted = client.post(f"/tickets/{ticket_id}/status", data={"status": "In Progress", "csrf_token": token})
    assert accepted.status_code == 302
    with app.app_context():
        assert db.get_or_404(Ticket, int(ticket_id)).status == "In Progress"


def test_logout_needs_the_csrf_token(app: Flask) -> None:
    client = signed_in(app, Permission.OUTSOURCE)
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    token = page_csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


# --- the ticket page with the plugin's bar and menu ---------------------------------------------


def test_ticket_page_before_outsourcing(app: Flask, ticket_id: str) -> None:
    html = ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id)
    assert "Server down" in html
    assert "The file server is down" in html
    assert "outsource-bar" not in html
    assert "outsource-menu" in html
    assert 'data-action="configure"' in html


def test_ticket_page_shows_the_bar_once_outsourced(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    outsource(api, ticket_id, partner_id)
    html = ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id)
    assert 'class="outsource-bar"' in html
    assert "Outsourced to Contoso" in html
    assert 'data-status="unsent"' in html
    assert "Unsent" in html


def test_outsource_menu_for_allow_outsourcing_but_not_for_viewer(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, ticket_id, partner_id)

    tech = ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id)
    assert 'class="outsource-menu"' in tech
    assert 'data-action="send"' in tech
    assert 'data-action="remove"' in tech

    viewer = ticket_page(signed_in(app, Permission.NONE), ticket_id)
    assert "outsource-bar" in viewer  # everyone may see that the ticket is outsourced
    assert "outsource-menu" not in viewer
    assert "data-action=" not in viewer


def test_no_outsource_menu_on_a_complete_ticket(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    outsource(api, ticket_id, partner_id)
    assert api.patch(f"/api/tickets/{ticket_id}", {"status": "Complete"}).status_code == 200
    html = ticket_page(signed_in(app, Permission.ALL), ticket_id)
    assert "outsource-bar" in html
    assert 'data-status="complete"' in html
    assert "outsource-menu" not in html


def test_partner_supplied_text_is_escaped_in_the_bar(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    with app.app_context():
        partner = db.get_or_404(Partner, partner_id)
        partner.name = f"Evil {XSS}"
        db.session.commit()
    outsource(api, ticket_id, partner_id)
    with app.app_context():
        engagement = db.session.scalars(select(Engagement).where(Engagement.ticket_id == ticket_id)).one()
        engagement.remote_ticket_number = '<img src=x onerror="alert(2)">'
        engagement.last_sync_error = "<b>boom</b>"
        db.session.commit()

    for level in (Permission.NONE, Permission.OUTSOURCE, Permission.ALL):
        html = ticket_page(signed_in(app, level), ticket_id)
        assert "outsource-bar" in html
        assert XSS not in html
        # the only scripts are the bar's own and the demo page's list refresh
        assert re.findall(r"<script[^>]*>", html) == [f'<script src="{LIVE_SCRIPT}" defer>', "<script>"]
        assert f"Evil {XSS_ESCAPED}" in html
        assert "<img" not in html
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
        assert "<b>boom</b>" not in html
        if level >= Permission.PARTNER_MANAGEMENT:  # the recorded sync errors are the operators'
            assert "&lt;b&gt;boom&lt;/b&gt;" in html


# --- the help desk JSON API ---------------------------------------------------------------------


def test_api_me(api: Api) -> None:
    for level, key in LEVELS.items():
        response = api.get("/api/me", level)
        assert response.status_code == 200
        body = response.get_json()
        assert body["email"] == f"{key}@t.example"
        assert body["name"] == key.title()
        assert body["outsource_level"] == int(level)


def test_api_needs_a_valid_token(api: Api) -> None:
    missing = api.client.get("/api/me")
    assert missing.status_code == 401
    assert missing.get_json()["error"] == "not_authenticated"
    wrong = api.client.get("/api/me", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    assert api.client.get("/api/me", headers={"Authorization": "Basic dGVjaDpwdw=="}).status_code == 401


def test_api_accepts_a_signed_in_session(app: Flask) -> None:
    client = signed_in(app, Permission.PARTNER_MANAGEMENT)
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.get_json()["name"] == "Manager"


def test_api_create_and_read_ticket(app: Flask, api: Api) -> None:
    with app.app_context():
        customer_id = db.session.scalars(select(Customer.id)).one()
    created = new_ticket(
        api,
        description="Paper everywhere",
        priority="High",
        due_date="2030-01-02",
        customer_id=customer_id,
        contact={"name": "Pat"},
    )
    assert created["status"] == "New"
    assert created["priority"] == "High"
    assert created["due_date"] == "2030-01-02"
    assert created["number"] == f"T{created['id']:05d}"

    read = api.get(f"/api/tickets/{created['id']}")
    assert read.status_code == 200
    body = read.get_json()
    assert body["title"] == "Printer jams"
    assert body["description"] == "Paper everywhere"
    assert body["customer_id"] == customer_id
    assert body["contact"] == {"name": "Pat"}
    assert body["notes"] == body["time_entries"] == body["charges"] == body["attachments"] == []

    listed = api.get("/api/tickets").get_json()["tickets"]
    assert listed[0]["id"] == created["id"]


def test_api_create_with_a_known_status(api: Api) -> None:
    assert new_ticket(api, status="In Progress")["status"] == "In Progress"


BAD_TICKETS: list[tuple[dict[str, Any], str]] = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x", "priority": "Urgent"}, "priority"),
    ({"title": "x", "due_date": "tomorrow"}, "due_date"),
    ({"title": "x", "customer_id": "1"}, "customer_id"),
    ({"title": "x", "colour": "red"}, "colour"),
]


def test_api_bad_input_names_the_field(api: Api) -> None:
    for payload, field in BAD_TICKETS:
        response = api.post("/api/tickets", payload)
        assert response.status_code == 400, payload
        body = response.get_json()
        assert body["error"] == "validation_failed"
        assert field in body["details"], (payload, body)
        assert field in body["message"], (payload, body)
    assert api.get("/api/tickets").get_json()["tickets"] == []


def test_api_body_must_be_json(api: Api) -> None:
    response = api.call("POST", "/api/tickets", data="title=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "_body" in response.get_json()["details"]
    array = api.post("/api/tickets", ["not", "an", "object"])
    assert array.status_code == 400
    assert array.get_json()["error"] == "validation_failed"


def test_api_unknown_status_is_refused(api: Api, ticket_id: str) -> None:
    created = api.post("/api/tickets", {"title": "x", "status": "Bogus"})
    assert created.status_code == 400
    assert "status" in created.get_json()["details"]
    assert "Bogus" in created.get_json()["message"]

    patched = api.patch(f"/api/tickets/{ticket_id}", {"status": "Closed"})
    assert patched.status_code == 400
    assert patched.get_json()["error"] == "validation_failed"
    assert "status" in patched.get_json()["details"]
    assert api.get(f"/api/tickets/{ticket_id}").get_json()["status"] == "New"


def test_api_patch_ticket(api: Api, ticket_id: str) -> None:
    response = api.patch(f"/api/tickets/{ticket_id}", {"title": "Server up again", "priority": "Low"})
    assert response.status_code == 200
    body = api.get(f"/api/tickets/{ticket_id}").get_json()
    assert body["title"] == "Server up again"
    assert body["priority"] == "Low"
    assert body["description"] == "The file server is down"


def test_api_unknown_ticket_is_404(api: Api) -> None:
    for response in (
        api.get("/api/tickets/999999"),
        api.patch("/api/tickets/999999", {"title": "x"}),
        api.post("/api/tickets/999999/notes", {"body": "x"}),
        api.call("DELETE", "/api/tickets/999999"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


def test_api_add_note_time_and_charge(api: Api, ticket_id: str) -> None:
    note = api.post(f"/api/tickets/{ticket_id}/notes", {"body": "Rebooted it", "internal": True}, Permission.OUTSOURCE)
    assert note.status_code == 201
    time = api.post(
        f"/api/tickets/{ticket_id}/time",
        {"work_date": "2030-03-04", "hours": "1.5", "summary": "On site"},
        Permission.OUTSOURCE,
    )
    assert time.status_code == 201
    charge = api.post(
        f"/api/tickets/{ticket_id}/charges",
        {"name": "Cable", "quantity": "2", "unit_price": "3.50", "unit_cost": 1.25, "billable": False},
    )
    assert charge.status_code == 201

    body = api.get(f"/api/tickets/{ticket_id}").get_json()
    [n] = body["notes"]
    assert (n["id"], n["body"], n["internal"], n["author"]) == (note.get_json()["id"], "Rebooted it", True, "Tech")
    [t] = body["time_entries"]
    assert t["id"] == time.get_json()["id"]
    assert t["work_date"] == "2030-03-04"
    assert Decimal(t["hours"]) == Decimal("1.5")
    assert t["resource"] == "Tech"
    assert t["work_type"] == "Remote support"
    assert t["billable"] is True
    [c] = body["charges"]
    assert c["id"] == charge.get_json()["id"]
    assert c["name"] == "Cable"
    assert Decimal(c["quantity"]) == 2
    assert Decimal(c["unit_price"]) == Decimal("3.50")
    assert Decimal(c["unit_cost"]) == Decimal("1.25")
    assert c["billable"] is False


BAD_ENTRIES: list[tuple[str, dict[str, Any], str]] = [
    ("notes", {}, "body"),
    ("notes", {"body": ""}, "body"),
    ("time", {"hours": 1}, "work_date"),
    ("time", {"work_date": "2030-01-01", "hours": 0}, "hours"),
    ("time", {"work_date": "2030-01-01", "hours": 25}, "hours"),
    ("charges", {"name": "x", "quantity": -1}, "quantity"),
    ("charges", {}, "name"),
]


def test_api_bad_entries_name_the_field(api: Api, ticket_id: str) -> None:
    for kind, payload, field in BAD_ENTRIES:
        response = api.post(f"/api/tickets/{ticket_id}/{kind}", payload)
        assert response.status_code == 400, (kind, payload)
        assert field in response.get_json()["details"], (kind, payload, response.get_json())
    body = api.get(f"/api/tickets/{ticket_id}").get_json()
    assert body["notes"] == body["time_entries"] == body["charges"] == []


def test_api_unknown_entry_kind_is_404(api: Api, ticket_id: str) -> None:
    response = api.post(f"/api/tickets/{ticket_id}/expenses", {"name": "x"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [("dump.bin", "application/octet-stream"), ("report.pdf", "application/pdf"), ("empty.txt", "text/plain")],
)
def test_api_attachment_round_trip(api: Api, ticket_id: str, filename: str, mimetype: str) -> None:
    payload = b"" if filename == "empty.txt" else bytes(range(256)) * 64 + b"\r\n\x00\xff end"
    upload = api.call(
        "POST",
        f"/api/tickets/{ticket_id}/attachments",
        data={"file": (io.BytesIO(payload), filename, mimetype), "internal": "true"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    created = upload.get_json()
    assert created["size"] == len(payload)

    [listed] = api.get(f"/api/tickets/{ticket_id}").get_json()["attachments"]
    assert listed == {
        "id": created["id"],
        "filename": filename,
        "media_type": mimetype,
        "size": len(payload),
        "internal": True,
        "outsource": {"own": True, "origin": None, "read_only": False, "read_only_reason": None},
        "origin": None,
    }

    download = api.get(f"/api/attachments/{created['id']}")
    assert download.status_code == 200
    assert download.mimetype == mimetype
    assert download.get_data() == payload


def test_api_attachment_needs_a_file(api: Api, ticket_id: str) -> None:
    response = api.call(
        "POST", f"/api/tickets/{ticket_id}/attachments", data={"other": "x"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "file" in response.get_json()["details"]
    assert api.get("/api/attachments/424242").status_code == 404


# --- delete and outsourcing ---------------------------------------------------------------------


def test_delete_a_ticket_never_outsourced(app: Flask, api: Api, ticket_id: str) -> None:
    assert api.post(f"/api/tickets/{ticket_id}/notes", {"body": "x"}).status_code == 201
    assert api.post(f"/api/tickets/{ticket_id}/charges", {"name": "x"}).status_code == 201
    upload = api.call(
        "POST",
        f"/api/tickets/{ticket_id}/attachments",
        data={"file": (io.BytesIO(b"abc"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201

    response = api.call("DELETE", f"/api/tickets/{ticket_id}")
    assert response.status_code == 204
    assert api.get(f"/api/tickets/{ticket_id}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note)) == 0
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_delete_is_refused_once_an_engagement_was_accepted(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, ticket_id, partner_id)
    act(api, ticket_id, "send")
    with app.app_context():
        engagement = db.session.scalars(select(Engagement).where(Engagement.ticket_id == ticket_id)).one()
        engagement.status = Status.ACCEPTED
        engagement.accepted_at = utcnow()
        db.session.commit()

    response = api.call("DELETE", f"/api/tickets/{ticket_id}")
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "conflict"
    assert "accepted" in body["message"]
    assert api.get(f"/api/tickets/{ticket_id}").status_code == 200


def test_delete_is_refused_after_a_partner_accepted_through_sync(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """The whole flow: send, the partner accepts, the next sync round brings it in."""
    outsource(api, ticket_id, partner_id)
    act(api, ticket_id, "send")
    partner = memory_partner(app, partner_id)
    with app.app_context():
        run_once(current_outsource())
    [offer] = partner.received
    assert offer.kind == MessageKind.OFFER.value
    partner.accept(offer.engagement_uid)
    with app.app_context():
        run_once(current_outsource())

    state = api.get(f"/tickets/{ticket_id}/outsource").get_json()
    assert state["engagement"]["status"] == "accepted"
    assert state["engagement"]["remote_ticket_number"].startswith("MEM-")

    response = api.call("DELETE", f"/api/tickets/{ticket_id}")
    assert response.status_code == 409
    assert api.get(f"/api/tickets/{ticket_id}").status_code == 200


def test_delete_is_allowed_while_the_engagement_was_only_sent(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, ticket_id, partner_id)
    act(api, ticket_id, "send")
    act(api, ticket_id, "cancel", reason="changed our mind")
    assert api.call("DELETE", f"/api/tickets/{ticket_id}").status_code == 204


# --- the completion cascade ---------------------------------------------------------------------


def test_complete_status_completes_the_open_engagement(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    outsource(api, ticket_id, partner_id)
    sent = act(api, ticket_id, "send")
    assert sent["engagement"]["status"] == "assigned"
    uid = sent["engagement"]["uid"]
    before = outbox(app)
    assert [m.kind for m in before] == [MessageKind.OFFER]

    response = api.patch(f"/api/tickets/{ticket_id}", {"status": "Complete"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "Complete"

    state = api.get(f"/tickets/{ticket_id}/outsource").get_json()
    assert state["ticket"]["complete"] is True
    assert state["engagement"]["status"] == "complete"
    assert state["engagement"]["sync_state"] == "ended"
    assert state["engagement"]["status_times"]["complete"] is not None
    assert state["engagement"]["sync_ended_at"] is not None
    assert state["allowed_actions"] == []

    after = outbox(app)
    assert len(after) == len(before) + 1
    message = after[-1]
    assert message.kind is MessageKind.ACTION
    assert message.state is MessageState.PENDING
    assert message.engagement_uid == uid
    assert message.partner_id == partner_id
    assert message.payload["action"] == Action.TICKET_COMPLETE.value
    assert message.payload["from_status"] == "assigned"

    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.engagement_uid == uid)))
    assert actions[-1] is Action.TICKET_COMPLETE

    # the cascade is over: nothing more happens on a second save
    assert api.patch(f"/api/tickets/{ticket_id}", {"title": "Done"}).status_code == 200
    assert len(outbox(app)) == len(after)


def test_complete_status_through_the_page_form_cascades_too(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, ticket_id, partner_id)
    act(api, ticket_id, "send")
    client = signed_in(app, Permission.OUTSOURCE)
    token = page_csrf(client, f"/tickets/{ticket_id}")
    response = client.post(f"/tickets/{ticket_id}/status", data={"status": "Complete", "csrf_token": token})
    assert response.status_code == 302
    assert api.get(f"/tickets/{ticket_id}/outsource").get_json()["engagement"]["status"] == "complete"
    assert outbox(app)[-1].payload["action"] == "ticket_complete"


def test_other_status_changes_leave_the_engagement_alone(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    outsource(api, ticket_id, partner_id)
    act(api, ticket_id, "send")
    assert api.patch(f"/api/tickets/{ticket_id}", {"status": "Waiting Customer"}).status_code == 200
    assert api.get(f"/tickets/{ticket_id}/outsource").get_json()["engagement"]["status"] == "assigned"
    assert len(outbox(app)) == 1


def test_complete_status_without_outsourcing_queues_nothing(app: Flask, api: Api, ticket_id: str) -> None:
    assert api.patch(f"/api/tickets/{ticket_id}", {"status": "Complete"}).status_code == 200
    assert outbox(app) == []
    assert api.get(f"/tickets/{ticket_id}/outsource").get_json()["engagement"] is None


# --- flask helpdesk seed ------------------------------------------------------------------------


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "HELPDESK_INSTANCE": str(tmp_path),
            "SECRET_KEY": "x",
            "TESTING": True,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Customer, Ticket, Note, Partner)
        }


def test_seed_creates_the_demo_users_and_is_idempotent(empty_app: Flask) -> None:
    assert _counts(empty_app)["User"] == 0
    runner = empty_app.test_cli_runner()

    first = runner.invoke(args=["helpdesk", "seed"])
    assert first.exit_code == 0, first.output
    for key, _, level in DEMO_USERS:
        assert f"{key}@northwind.example / demo  level={level.label}  token={key}-northwind.example-token" in (
            first.output
        )
    seeded = _counts(empty_app)
    assert seeded == {"User": 4, "Customer": 3, "Ticket": 4, "Note": 4, "Partner": 1}

    client = empty_app.test_client()
    for key, name, level in DEMO_USERS:
        response = client.get("/api/me", headers={"Authorization": f"Bearer {key}-northwind.example-token"})
        assert response.status_code == 200
        assert response.get_json() == {
            "id": response.get_json()["id"],
            "name": name,
            "email": f"{key}@northwind.example",
            "outsource_level": int(level),
        }

    second = runner.invoke(args=["helpdesk", "seed"])
    assert second.exit_code == 0, second.output
    assert "already seeded" in second.output
    assert _counts(empty_app) == seeded


def test_seeded_users_can_sign_in_and_see_the_demo(empty_app: Flask) -> None:
    result = empty_app.test_cli_runner().invoke(args=["helpdesk", "seed", "--domain", "demo.test", "--password", "s3"])
    assert result.exit_code == 0, result.output

    client = empty_app.test_client()
    token = page_csrf(client)
    response = client.post("/login", data={"email": "tech@demo.test", "password": "s3", "csrf_token": token})
    assert response.status_code == 302
    index = client.get("/").get_data(as_text=True)
    assert "Tess Tech" in index
    assert "Replace failed RAID disk at branch office" in index

    with empty_app.app_context():
        ticket = db.session.scalars(select(Ticket).order_by(Ticket.id)).first()
        assert ticket is not None
        assert ticket.due_date is not None and ticket.due_date > date.today()
        partner = db.session.scalars(select(Partner)).one()
        assert partner.adapter == "memory"
        assert partner.config == {"autopilot": True}
        ticket_id = ticket.id
    html = ticket_page(client, str(ticket_id))
    assert "outsource-menu" in html
    assert "outsource-bar" not in html

    me = client.get("/api/me", headers={"Authorization": "Bearer tech-demo.test-token"})
    assert me.get_json()["outsource_level"] == int(Permission.OUTSOURCE)
