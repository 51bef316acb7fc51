"""In-process helpers for the CLI, backfill and reconciliation tests: an engagement with the
memory partner taken to Accepted, entries added through the demo host's API, and CLI runs."""

from __future__ import annotations

import io
from typing import Any

from click.testing import Result
from flask import Flask

from outsource_plugin.db.models import AuditEvent, Engagement, OutboxMessage
from outsource_plugin.jobs.scheduler import run_once
from outsource_plugin.state import current_outsource
from tests.conftest import Api, memory_partner


def cli(app: Flask, *args: str) -> Result:
    """``flask outsource ...`` in this process, against the test app."""
    return app.test_cli_runner().invoke(args=["outsource", *args])


def sync(app: Flask) -> None:
    with app.app_context():
        run_once(current_outsource())


def note(api: Api, ticket_id: str, text: str, *, internal: bool = False) -> int:
    response = api.post(f"/api/tickets/{ticket_id}/notes", json={"body": text, "internal": internal})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def upload(api: Api, ticket_id: str, name: str, data: bytes, *, internal: bool = False) -> int:
    form: dict[str, Any] = {"file": (io.BytesIO(data), name), "internal": "true" if internal else "false"}
    response = api.call("POST", f"/api/tickets/{ticket_id}/attachments", data=form, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def act(api: Api, ticket_id: str, action: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/tickets/{ticket_id}/outsource/actions", json={"action": action, **body})
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def accepted(app: Flask, api: Api, ticket_id: str, partner_id: int) -> str:
    """Outsource the ticket to the memory partner, which accepts; returns the engagement uid."""
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert created.status_code == 201, created.get_json()
    uid = str(act(api, ticket_id, "send")["engagement"]["uid"])
    sync(app)
    memory_partner(app, partner_id).accept(uid)
    sync(app)
    assert status(app, uid) == "accepted"
    return uid


def status(app: Flask, uid: str) -> str:
    with app.app_context():
        return str(current_outsource().session.query(Engagement).filter_by(uid=uid).one().status.value)


def engagement_id(app: Flask, uid: str) -> int:
    with app.app_context():
        return int(current_outsource().session.query(Engagement).filter_by(uid=uid).one().id)


def entry_texts(app: Flask, partner_id: int, uid: str) -> list[str]:
    """The note texts and attachment names the memory partner received for the engagement, in order."""
    out = []
    for message in memory_partner(app, partner_id).received:
        if message.kind == "entry" and message.engagement_uid == uid and message.payload["op"] == "upsert":
            data = message.payload["data"]
            out.append(str(data.get("text") or data.get("filename")))
    return out


def audit(app: Flask, uid: str, action: str) -> list[str]:
    """The reasons of the engagement's audit events of one action."""
    with app.app_context():
        events = current_outsource().session.query(AuditEvent).filter_by(engagement_uid=uid).all()
        return [str(e.reason) for e in events if e.action.value == action]


def outbox_count(app: Flask) -> int:
    with app.app_context():
        return int(current_outsource().session.query(OutboxMessage).count())
