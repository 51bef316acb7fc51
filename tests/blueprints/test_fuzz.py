"""Bad input to every JSON endpoint and every form: a clear 4xx, and nothing written.

JSON endpoints come from the URL map (see ``fuzz_cases``): each gets wrong
types, missing and extra fields, 1 MB strings, lone surrogates, malformed and
non-UTF-8 bodies, and unknown ids. Every answer must be a 4xx JSON body with
``error`` and ``message`` (and ``details`` for a 400), and every table must
keep every row. Forms get the same kinds of input and must answer a 4xx page
or the form again with the error, or (the demo host's forms) go back to the
ticket page with the error flashed. Attachments over the limit are 413, and
names with paths or control characters are made safe.
"""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.helpdesk.models import Attachment, Note, db
from outsource_plugin.db.models import Engagement, MessageState, Partner
from outsource_plugin.federation.signing import sign
from outsource_plugin.host.entries import EntryKind, from_wire
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_outbox_message, add_ticket, table_rows
from tests.blueprints.fuzz_cases import (
    BASE_BODIES,
    HUGE,
    MALFORMED_MESSAGES,
    RAW_BODIES,
    SURROGATE,
    TALLY,
    UNKNOWN_ID,
    bad_bodies,
    form_cases,
    json_rules,
    takes_body,
)
from tests.blueprints.page_helpers import TOKEN, page_client

LINK, SECRET = "contoso-northwind", "s" * 32
#: path parameters that are not row ids: an unknown value for each
UNKNOWN_TEXT = {"kind": "explode", "role": "nobody", "folder": "everything", "uid": "no-such-uid"}


@pytest.fixture
def world(app: Flask, partner_id: int) -> dict[str, Any]:
    """Rows every endpoint's path can name: a ticket with an Unsent engagement and a note,
    a service engagement, a dead letter, and a peer partner with an accepted engagement."""
    ticket = add_ticket(app)
    add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=ticket)
    service = add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    with app.app_context():
        peer = Partner(
            name="Peer",
            adapter="peer",
            link_id=LINK,
            config={"base_url": "http://peer.invalid", "link_id": LINK, "secret": SECRET},
            default_terms={},
        )
        note = Note(ticket_id=int(ticket), author="Tech", body="checked cables")
        db.session.add_all([peer, note])
        db.session.commit()
        peer_id, note_id = peer.id, note.id
    accepted = add_engagement(app, peer_id, status=Status.ACCEPTED, ticket_id=add_ticket(app, "VPN"))
    asking = add_engagement(app, partner_id, status=Status.ACCEPTED, role=Side.SERVICE, ticket_id=add_ticket(app))
    with app.app_context():
        uid = db.session.get(Engagement, accepted).uid
    return {
        "ticket_id": ticket,
        "engagement_id": service,
        "partner_id": partner_id,
        "message_id": add_outbox_message(app, partner_id, MessageState.DEAD),
        "entry_id": note_id,
        "attachment_id": UNKNOWN_ID,
        "kind": "notes",
        "role": "lead",
        "folder": "unsent",
        "uid": uid,
        "asking": asking,
    }


def _path(rule: Any, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _call(client: FlaskClient, method: str, path: str, data: bytes, content_type: str | None) -> Any:
    headers = {"Authorization": "Bearer admin"}
    if "/federation/" in path:
        headers = sign(LINK, SECRET, method, path, data)
    return client.open(path, method=method, data=data, content_type=content_type, headers=headers)


def _refused(response: Any, label: str) -> dict[str, Any]:
    """A 4xx JSON answer that says what is wrong; counted in the tally."""
    TALLY["inputs"] += 1
    text = response.get_data(as_text=True)[:300]
    assert 400 <= response.status_code < 500, (label, response.status_code, text)
    assert response.is_json, (label, text)
    body = response.get_json()
    assert isinstance(body.get("error"), str) and body["error"], (label, body)
    assert isinstance(body.get("message"), str) and body["message"].strip(), (label, body)
    if body["error"] == "validation_failed":
        assert isinstance(body.get("details"), dict) and body["details"], (label, body)
    TALLY["correct_4xx"] += 1
    return body


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def test_every_endpoint_that_takes_a_body_is_fuzzed(app: Flask) -> None:
    """From the URL map: a new endpoint that takes a JSON body needs a base body in fuzz_cases."""
    no_body = {
        "outsource_api.deadletters_retry",
        "outsource_api.invitations_revoke",
        "helpdesk_api.ticket_delete",
        "helpdesk_api.entry_delete",
    }
    writes = {rule.endpoint for rule, method in json_rules(app) if method in ("POST", "PATCH", "PUT", "DELETE")}
    assert writes - no_body == set(BASE_BODIES)


@pytest.mark.parametrize("endpoint", sorted(BASE_BODIES))
def test_bad_json_bodies_are_refused_and_write_nothing(app: Flask, world: dict[str, Any], endpoint: str) -> None:
    client = app.test_client()
    rows = table_rows(app)
    targets = [(rule, method) for rule, method in json_rules(app) if rule.endpoint == endpoint]
    assert targets
    for rule, method in targets:
        assert takes_body(rule, method)
        path = _path(rule, world)
        bodies = [
            (label, json.dumps(body).encode())
            for label, body in bad_bodies(endpoint, _fill(BASE_BODIES[endpoint], world))
        ]
        for label, raw, content_type in [*((lbl, b, "application/json") for lbl, b in bodies), *RAW_BODIES]:
            response = _call(client, method, path, raw, content_type)
            body = _refused(response, f"{method} {path} {label}")
            if SURROGATE in label or "surrogate" in label:
                assert "Unicode" in body["message"], body
            if label.endswith(": NUL"):
                assert "NUL" in body["message"], body
        assert table_rows(app) == rows, endpoint


@pytest.mark.parametrize(
    ("label", "kind", "payload", "field"), MALFORMED_MESSAGES, ids=[m[0] for m in MALFORMED_MESSAGES]
)
def test_a_partners_malformed_message_is_400_naming_the_field_and_writes_nothing(
    app: Flask, world: dict[str, Any], monkeypatch: Any, label: str, kind: str, payload: Any, field: str
) -> None:
    """Offers, actions and entries of every kind, each with one field broken: the peer gets a 400
    that names the field (its delivery job dead-letters it), and nothing is stored."""
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_MAX_ATTACHMENT_BYTES", 1000)
    uid = "fresh-offer-uid" if kind == "offer" else world["uid"]
    message = {"id": "m-1", "seq": 1, "kind": kind, "engagement_uid": uid, "payload": payload}
    rows = table_rows(app)
    path = "/outsource/federation/v1/messages"
    response = _call(app.test_client(), "POST", path, json.dumps(message).encode(), "application/json")
    body = _refused(response, f"partner message {label}")
    assert response.status_code == 400 and body["error"] == "validation_failed", body
    assert field in body["message"], body
    assert table_rows(app) == rows


def test_unknown_ids_and_names_are_404(app: Flask, world: dict[str, Any]) -> None:
    """Every route with a path parameter, with each parameter unknown in turn."""
    client = app.test_client()
    rows = table_rows(app)
    tried = 0
    for rule, method in json_rules(app):
        for name in rule.arguments:
            values = {**world, name: UNKNOWN_TEXT.get(name, UNKNOWN_ID)}
            if name == "ticket_id":
                values[name] = UNKNOWN_ID
            path = _path(rule, values)
            body = json.dumps(_fill(BASE_BODIES.get(rule.endpoint, {}), world)).encode()
            response = _call(client, method, path, body, "application/json")
            _refused(response, f"{method} {path}")
            assert response.status_code == 404, (method, path, response.get_json())
            tried += 1
    assert tried >= 25
    assert table_rows(app) == rows


def test_bad_query_parameters_are_refused(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    for path in ("/outsource/api/v1/dashboard/lead/unsent", "/outsource/federation/v1/changes"):
        for query in ("limit=ten", "after=" + "9" * 300 + "x", "limit=%ed%a0%80", "after=%ff%fe%00"):
            response = _call(client, "GET", f"{path}?{query}", b"", None)
            _refused(response, f"{path}?{query}")
            assert response.status_code == 400


def test_unsigned_or_badly_signed_partner_calls_are_401(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    rows = table_rows(app)
    body = json.dumps(_fill(BASE_BODIES["outsource_federation.receive"], world)).encode()
    path = "/outsource/federation/v1/messages"
    good = sign(LINK, SECRET, "POST", path, body)
    for label, headers in [
        ("unsigned", {}),
        ("unknown link", {**good, "X-Outsource-Link": "nobody"}),
        ("bad signature", {**good, "X-Outsource-Signature": "v1=" + "0" * 64}),
        ("signed another body", sign(LINK, SECRET, "POST", path, b"{}")),
        ("timestamp not a number", {**good, "X-Outsource-Timestamp": "soon"}),
        ("huge request id", {**good, "X-Outsource-Message-Id": HUGE[:5000]}),
    ]:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        _refused(response, label)
        assert response.status_code == 401, label
    assert table_rows(app) == rows


def _form_client(app: Flask) -> FlaskClient:
    """Signed in as Allow All, holding both form tokens: the plugin's and the demo host's."""
    client = page_client(app, Permission.ALL)
    with client.session_transaction() as session:
        session["csrf"] = TOKEN
    return client


def test_bad_forms_are_refused_with_the_error_and_write_nothing(app: Flask, world: dict[str, Any]) -> None:
    client = _form_client(app)
    rows = table_rows(app)
    tried = 0
    for label, path, form in form_cases(world):
        response = client.post(path, data={"csrf_token": TOKEN, **{k: str(v) for k, v in form.items()}})
        TALLY["inputs"] += 1
        text = response.get_data(as_text=True)
        if response.status_code == 302:
            # the demo host's forms go back to the ticket page and flash what was wrong
            assert not path.startswith("/outsource/"), (label, response.headers["Location"])
            with client.session_transaction() as session:
                flashes = session.pop("_flashes", [])
            assert any(category == "error" for category, _ in flashes), (label, flashes)
        else:
            assert 400 <= response.status_code < 500, (label, response.status_code, text[:500])
            assert "<html" in text.lower() or "<!doctype" in text.lower(), (label, text[:300])
            assert "Traceback" not in text and "security token" not in text, (label, text[:300])
        assert table_rows(app) == rows, label
        TALLY["correct_4xx"] += 1
        tried += 1
    assert tried >= 40


def test_forms_without_the_token_are_refused(app: Flask, world: dict[str, Any]) -> None:
    client = _form_client(app)
    rows = table_rows(app)
    for label, path, form in form_cases(world):
        response = client.post(path, data={k: str(v) for k, v in form.items()})
        TALLY["inputs"] += 1
        assert response.status_code == 400, (label, response.status_code)
        TALLY["correct_4xx"] += 1
    assert table_rows(app) == rows


def _upload(client: FlaskClient, ticket: str, name: str, data: bytes) -> Any:
    return client.post(
        f"/api/tickets/{ticket}/attachments",
        data={"file": (BytesIO(data), name)},
        content_type="multipart/form-data",
        headers={"Authorization": "Bearer admin"},
    )


def test_attachments_over_the_limit_are_413(app: Flask, world: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_MAX_ATTACHMENT_BYTES", 1000)
    monkeypatch.setitem(app.config, "OUTSOURCE_MAX_ATTACHMENT_BYTES", 1000)
    client = app.test_client()
    rows = table_rows(app)
    body = _refused(_upload(client, world["ticket_id"], "big.bin", b"x" * 1001), "attachment over the limit")
    assert body["error"] == "payload_too_large" and "1000 bytes" in body["message"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    response = _upload(client, world["ticket_id"], "huge.bin", b"x" * 3000)
    body = _refused(response, "body over MAX_CONTENT_LENGTH")
    assert response.status_code == 413
    path = "/outsource/federation/v1/messages"
    big = b'{"id": "' + b"x" * 3000 + b'"}'
    response = client.post(
        path, data=big, content_type="application/json", headers=sign(LINK, SECRET, "POST", path, big)
    )
    body = _refused(response, "partner message over MAX_CONTENT_LENGTH")
    assert response.status_code == 413
    pages = _form_client(app)
    response = pages.post(
        f"/tickets/{world['ticket_id']}/entries/attachment",
        data={"csrf_token": TOKEN, "file": (BytesIO(b"x" * 1001), "big.bin")},
        content_type="multipart/form-data",
    )
    TALLY["inputs"] += 1
    assert response.status_code == 302
    with pages.session_transaction() as session:
        assert ("error", "That file is larger than attachments may be.") in session["_flashes"]
    TALLY["correct_4xx"] += 1
    assert table_rows(app) == rows
    assert _upload(client, world["ticket_id"], "ok.bin", b"x" * 1000).status_code == 201


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "C:\\boot.ini", "a\x00b.txt", "a\nb.txt", "\r..\r"],
)
def test_attachment_names_are_made_safe(app: Flask, world: dict[str, Any], tmp_path: Path, name: str) -> None:
    instance = Path(app.config["HELPDESK_INSTANCE"])
    before = sorted(p.relative_to(instance) for p in instance.rglob("*") if "helpdesk.db" not in p.name)
    response = _upload(app.test_client(), world["ticket_id"], name, b"hello")
    TALLY["inputs"] += 1
    assert response.status_code in (201, 400), response.get_data(as_text=True)
    if response.status_code == 201:
        with app.app_context():
            stored = db.session.get(Attachment, response.get_json()["id"]).filename
        assert stored and not re.search(r"[/\\\x00-\x1f]", stored) and not stored.startswith("."), stored
        assert ":" not in stored[:3], stored
    after = sorted(p.relative_to(instance) for p in instance.rglob("*") if "helpdesk.db" not in p.name)
    assert after == before
    TALLY["correct_4xx"] += 1


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\boot.ini", "boot.ini"),
        ("a\x00b\n.txt", "ab.txt"),
        ("\r..\r", "attachment"),
    ],
)
def test_a_partners_attachment_name_is_made_safe(sent: str, stored: str) -> None:
    """Attachments that arrive from a partner pass ``from_wire``: the same rule as uploads."""
    values = from_wire(EntryKind.ATTACHMENT, {"filename": sent, "data": "aGk=", "size": 2})
    assert values["filename"] == stored
    assert values["data"] == b"hi"


def test_the_demo_hosts_entry_forms_still_take_good_input(app: Flask, world: dict[str, Any]) -> None:
    """The good side of the host form cases: the schema that refuses bad entries takes these."""
    client = _form_client(app)
    host = f"/tickets/{world['ticket_id']}/entries"
    for kind, form in [
        ("note", {"body": "rebooted the switch", "internal": "on"}),
        ("time", {"hours": "1.5", "summary": "on site", "billable": "on"}),
        ("charge", {"name": "cable", "quantity": "2", "unit_price": "9.50"}),
    ]:
        response = client.post(f"{host}/{kind}", data={"csrf_token": TOKEN, **form})
        assert response.status_code == 302
        with client.session_transaction() as session:
            assert not session.pop("_flashes", []), kind
    ticket = app.test_client().get(f"/api/tickets/{world['ticket_id']}", headers={"Authorization": "Bearer admin"})
    body = ticket.get_json()
    assert [n["body"] for n in body["notes"]][-1] == "rebooted the switch"
    assert [(t["hours"], t["work_type"]) for t in body["time_entries"]] == [("1.50", "Remote support")]
    assert [(c["name"], c["quantity"], c["unit_price"], c["billable"]) for c in body["charges"]] == [
        ("cable", "2.00", "9.50", False)
    ]
