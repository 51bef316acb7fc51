"""In-process helpers for the fast sync-rule tests: the demo help desk on one side, the memory partner on the other.

What this host captured is what the memory partner received when the outbox
was delivered; what the partner did arrives as a change shaped like the memory
adapter's own, through the poll (``inbound.apply_change``).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Customer, db
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.host.entries import EntryKind, to_wire
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import act, status, sync

PLURAL = {"note": "notes", "time": "time", "charge": "charges", "attachment": "attachments"}
LISTS = {"note": "notes", "time": "time_entries", "charge": "charges", "attachment": "attachments"}


class Link:
    """One engagement as this host and its memory partner hold it."""

    def __init__(self, app: Flask, api: Api, partner_id: int, uid: str, ticket_id: str, side: str) -> None:
        self.app, self.api, self.partner_id = app, api, partner_id
        self.uid, self.ticket_id, self.side = uid, ticket_id, side
        self.other = "service" if side == "lead" else "lead"
        self._ids = 0

    @property
    def partner(self) -> MemoryAdapter:
        return memory_partner(self.app, self.partner_id)

    def status(self) -> str:
        return status(self.app, self.uid)

    # ----------------------------------------------------------------------------- this host
    def add(self, kind: str, **body: Any) -> int:
        response = self.api.post(f"/api/tickets/{self.ticket_id}/{PLURAL[kind]}", json=body)
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    def upload(self, name: str, data: bytes, *, internal: bool = False) -> int:
        form: dict[str, Any] = {"file": (io.BytesIO(data), name), "internal": "true" if internal else "false"}
        path = f"/api/tickets/{self.ticket_id}/attachments"
        response = self.api.call("POST", path, data=form, content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    def edit(self, kind: str, entry_id: int, expect: int = 200, **body: Any) -> Any:
        response = self.api.patch(f"/api/tickets/{self.ticket_id}/{PLURAL[kind]}/{entry_id}", json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def delete(self, kind: str, entry_id: int, expect: int = 204) -> Any:
        response = self.api.call("DELETE", f"/api/tickets/{self.ticket_id}/{PLURAL[kind]}/{entry_id}")
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def entries(self, kind: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/api/tickets/{self.ticket_id}")
        assert response.status_code == 200
        return list(response.get_json()[LISTS[kind]])

    def download(self, attachment_id: int) -> bytes:
        response = self.api.get(f"/api/attachments/{attachment_id}")
        assert response.status_code == 200
        return bytes(response.data)

    def act(self, action: str, **body: Any) -> dict[str, Any]:
        return act(self.api, self.ticket_id, action, **body)

    # ----------------------------------------------------------------------------- the partner
    def sent(self) -> list[dict[str, Any]]:
        """The entry messages the partner received for this engagement (after delivering the outbox), in order."""
        sync(self.app)
        return [dict(m.payload) for m in self.partner.received if m.kind == "entry" and m.engagement_uid == self.uid]

    def arrive(self, kind: str, values: dict[str, Any], *, key: str = "", op: str = "upsert", at: str = "") -> str:
        """The partner's user made, edited (same ``key``) or deleted an entry; it arrives with the next poll."""
        if not key:
            self._ids += 1
            key = f"{self.other}:{kind}:mem-{self._ids}"
        payload = {
            "entry_key": key,
            "op": op,
            "kind": kind,
            "data": to_wire(EntryKind(kind), values),
            "origin": {"side": self.other, "org": "memory", "user": "partner user", "at": at or utcnow().isoformat()},
        }
        change_id = f"change-{key}-{len(self.partner.feed)}"
        self.partner.feed.append(
            RemoteChange(kind=ChangeKind.ENTRY, engagement_uid=self.uid, change_id=change_id, data=payload)
        )
        sync(self.app)
        return key


def lead_link(app: Flask, api: Api, ticket_id: str, partner_id: int, **terms: Any) -> Link:
    """This host is the lead: the ticket is outsourced to the memory partner, which accepts."""
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id, "terms": terms})
    assert created.status_code == 201, created.get_json()
    uid = str(act(api, ticket_id, "send")["engagement"]["uid"])
    sync(app)
    link = Link(app, api, partner_id, uid, ticket_id, "lead")
    link.partner.accept(uid)
    sync(app)
    assert link.status() == "accepted"
    return link


def service_link(app: Flask, api: Api, partner_id: int) -> Link:
    """This host is the service partner: the memory partner offers a ticket, and this host accepts it."""
    partner = memory_partner(app, partner_id)
    partner.offer("lead-eng-fast", {"title": "Install CCTV", "description": "Two cameras"}, {"outsource_rate": "60"})
    sync(app)
    with app.app_context():
        engagement_id = db.session.scalars(select(Engagement.id).where(Engagement.uid == "lead-eng-fast")).one()
        customer = str(db.session.scalars(select(Customer.id)).first())
    accepted = api.post(f"/engagements/{engagement_id}/actions", json={"action": "accept", "customer_ref": customer})
    assert accepted.status_code == 200, accepted.get_json()
    link = Link(app, api, partner_id, "lead-eng-fast", str(accepted.get_json()["ticket_id"]), "service")
    assert link.status() == "accepted"
    return link


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
