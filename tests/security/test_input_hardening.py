"""Issue 13, items 1 and 8: one ticket has one id; ids past the column and NUL characters are 4xx.

A ticket reached as ``05``, ``+5``, `` 5`` or an Arabic-Indic five is a 404, never a second
ticket id with engagements of its own, and the database itself refuses a
second open engagement on a ticket. Ids past what a column holds and NUL
characters in text are a 4xx that names what is wrong, never a database
error, and the customer's text stays out of the log.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from examples.helpdesk.models import Ticket, db
from outsource_plugin.core import engagements
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.workflow import OPEN_STATUSES, Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, assert_error, row_counts, table_rows
from tests.conftest import Api
from tests.security.helpers import COUNTS, PEER_LINK, PEER_SECRET, add_peer, signed

#: digits that str.isdigit() and int() take: Arabic-Indic and fullwidth
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
#: past a 64-bit column, past a 32-bit one (PostgreSQL's INTEGER), and far past both
HUGE_IDS = ["99999999999999999999", "2147483648", str(10**30)]
NUL_TEXT = "my password is hunter2\x00 please reset"


def spellings(ticket_id: str) -> list[str]:
    """Other ways of writing ``ticket_id`` that Python's ``int()`` would take: none of them is the ticket."""
    out = [
        f"0{ticket_id}",
        f"00{ticket_id}",
        f"+{ticket_id}",
        f"%20{ticket_id}",
        f"{ticket_id}%20",
        f"%09{ticket_id}",
        ticket_id.translate(ARABIC_INDIC),
        ticket_id.translate(FULLWIDTH),
    ]
    if len(ticket_id) > 1:
        out.append(f"{ticket_id[0]}_{ticket_id[1:]}")
    return out


def _count(name: str, n: int = 1) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n


def _open_engagements(app: Flask) -> dict[str | None, int]:
    with app.app_context():
        rows = db.session.execute(
            select(Engagement.ticket_id, func.count())
            .where(Engagement.status.in_(OPEN_STATUSES))
            .group_by(Engagement.ticket_id)
        ).all()
        return {ticket: count for ticket, count in rows}


def test_other_spellings_of_a_ticket_id_are_404_and_write_nothing(app: Flask, api: Api, partner_id: int) -> None:
    ticket = add_ticket(app, "Printer jam")
    rows = table_rows(app)
    for spelled in spellings(ticket):
        for method, path, body in [
            ("GET", f"/tickets/{spelled}/outsource", None),
            ("POST", f"/tickets/{spelled}/outsource", {"partner_id": partner_id}),
            ("PATCH", f"/tickets/{spelled}/outsource", {"terms": {}}),
            ("POST", f"/tickets/{spelled}/outsource/actions", {"action": "send"}),
            ("GET", f"/tickets/{spelled}/outsource/history", None),
        ]:
            response = api.call(method, path, json=body) if body is not None else api.call(method, path)
            assert_error(response, 404, "not_found")
            _count("ticket_id_spellings")
    page = app.test_client().get(f"/outsource/tickets/0{ticket}/outsource", headers={"Authorization": "Bearer admin"})
    assert page.status_code == 404
    assert table_rows(app) == rows
    assert _open_engagements(app) == {}


def test_the_demo_host_takes_only_its_canonical_ticket_ids(app: Flask, api: Api) -> None:
    ticket = add_ticket(app, "Printer jam")
    counts = row_counts(app)
    for spelled in [*spellings(ticket), *HUGE_IDS]:
        for method, path, body in [
            ("GET", f"/api/tickets/{spelled}", None),
            ("PATCH", f"/api/tickets/{spelled}", {"title": "renamed"}),
            ("POST", f"/api/tickets/{spelled}/notes", {"body": "hello"}),
            ("DELETE", f"/api/tickets/{spelled}", None),
        ]:
            response = api.call(method, path, json=body) if body is not None else api.call(method, path)
            assert_error(response, 404)
            _count("host_ticket_id_spellings")
    for spelled in HUGE_IDS:
        assert_error(api.call("DELETE", f"/api/tickets/{ticket}/notes/{spelled}"), 404)
        assert_error(api.get(f"/api/attachments/{spelled}"), 404)
    assert row_counts(app) == counts


def test_a_ticket_with_accepted_work_cannot_be_deleted_under_another_spelling(
    app: Flask, api: Api, partner_id: int
) -> None:
    ticket = add_ticket(app, "Server down")
    accepted = add_engagement(app, partner_id, status=Status.ACCEPTED, ticket_id=ticket)
    with app.app_context():
        db.session.get(Engagement, accepted).accepted_at = utcnow()
        db.session.commit()
    for spelled in spellings(ticket):
        assert_error(api.call("DELETE", f"/api/tickets/{spelled}"), 404)
    assert_error(api.call("DELETE", f"/api/tickets/{ticket}"), 409, "conflict")
    with app.app_context():
        assert db.session.get(Ticket, int(ticket)) is not None


@pytest.mark.parametrize("role", [Side.LEAD, Side.SERVICE])
def test_the_database_refuses_a_second_open_engagement_on_a_ticket(app: Flask, partner_id: int, role: Side) -> None:
    ticket = add_ticket(app)
    add_engagement(app, partner_id, status=Status.ACCEPTED, role=role, ticket_id=ticket)
    with pytest.raises(IntegrityError):
        add_engagement(app, partner_id, status=Status.UNSENT, role=role, ticket_id=ticket)
    with app.app_context():
        db.session.rollback()
    # history does not count: a declined and a canceled engagement stay beside the open one
    add_engagement(app, partner_id, status=Status.DECLINED, role=role, ticket_id=ticket)
    add_engagement(app, partner_id, status=Status.CANCELED, role=role, ticket_id=ticket)
    assert _open_engagements(app) == {ticket: 1}


def test_a_configure_that_lost_the_race_is_a_clean_409(
    app: Flask, api: Api, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two configures at once both find no engagement; the database lets one through."""
    ticket = add_ticket(app)
    assert api.post(f"/tickets/{ticket}/outsource", json={"partner_id": partner_id}).status_code == 201
    rows = table_rows(app)
    monkeypatch.setattr(engagements, "current_engagement", lambda session, ticket_id: None)
    response = api.post(f"/tickets/{ticket}/outsource", json={"partner_id": partner_id})
    body = assert_error(response, 409, "conflict")
    assert "already" in body["message"]
    assert table_rows(app) == rows
    assert _open_engagements(app) == {ticket: 1}


def test_two_configures_at_once_give_one_engagement_and_a_clean_409(app: Flask, partner_id: int) -> None:
    """Real concurrency: whichever way the two requests interleave, one wins and one is a 409."""
    ticket = add_ticket(app)
    start = threading.Barrier(2)
    answers: list[Any] = []

    def configure() -> None:
        client = Api(app.test_client())
        start.wait(timeout=30)
        answers.append(client.post(f"/tickets/{ticket}/outsource", json={"partner_id": partner_id}))

    threads = [threading.Thread(target=configure) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.get_json() for a in answers]
    assert_error(next(a for a in answers if a.status_code == 409), 409)
    assert _open_engagements(app) == {ticket: 1}


def test_huge_partner_id_on_the_pages_is_400(app: Flask, ticket_id: str) -> None:
    client = app.test_client()
    for huge in HUGE_IDS:
        page = client.get(
            f"/outsource/tickets/{ticket_id}/outsource?partner_id={huge}", headers={"Authorization": "Bearer admin"}
        )
        assert page.status_code == 400, page.get_data(as_text=True)[:300]
        assert "partner_id" in page.get_data(as_text=True)
        _count("huge_ids")


@pytest.mark.parametrize("after", [str(10**30), "2147483648" + "0" * 10, "-1", "x"])
def test_a_signed_changes_cursor_out_of_range_is_400(app: Flask, after: str) -> None:
    add_peer(app, "Northwind IT", PEER_LINK, PEER_SECRET)
    response = signed(app.test_client(), "GET", f"/changes?after={after}", link=PEER_LINK, secret=PEER_SECRET)
    body = assert_error(response, 400, "validation_failed")
    assert "after" in body["details"]
    _count("huge_ids")


def _nul_cases(world: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(method, path, field, body, named field) for text fields of the plugin's API and the demo host's."""
    ticket, partner = world["ticket"], world["partner_id"]
    return [
        ("POST", "/api/tickets", "title", {"title": NUL_TEXT}, "title"),
        ("POST", "/api/tickets", "description", {"title": "ok", "description": NUL_TEXT}, "description"),
        ("PATCH", f"/api/tickets/{ticket}", "title", {"title": NUL_TEXT}, "title"),
        ("POST", f"/api/tickets/{ticket}/notes", "body", {"body": NUL_TEXT}, "body"),
        ("POST", f"/api/tickets/{ticket}/charges", "name", {"name": NUL_TEXT}, "name"),
        ("POST", "/partners", "name", {"name": NUL_TEXT, "adapter": "memory"}, "name"),
        ("PATCH", f"/partners/{partner}", "name", {"name": NUL_TEXT}, "name"),
        (
            "POST",
            f"/tickets/{ticket}/outsource",
            "instructions",
            {"partner_id": partner, "terms": {"instructions": NUL_TEXT}},
            "terms",
        ),
        ("POST", "/partners", "key", {"name": "ok", "adapter": "memory", "config": {NUL_TEXT: "x"}}, "config"),
    ]


def test_nul_characters_are_400_naming_the_field_and_stay_out_of_the_log(
    app: Flask, api: Api, partner_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    world = {"ticket": add_ticket(app), "partner_id": partner_id}
    rows = table_rows(app)
    caplog.set_level(logging.DEBUG)
    for method, path, _field, body, named in _nul_cases(world):
        response = api.call(method, path, json=body)
        answer = assert_error(response, 400, "validation_failed")
        assert named in answer["details"], (path, answer)
        assert "hunter2" not in response.get_data(as_text=True)
        _count("nul_fields")
    assert table_rows(app) == rows
    assert "hunter2" not in caplog.text
