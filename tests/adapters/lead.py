"""The lead side of the contract suite: the demo help desk in-process, outsourcing to one partner."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Ticket, db
from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.db.models import Engagement, MessageKind, MessageState, OutboxMessage, Partner
from outsource_plugin.jobs.poll import poll_partner
from outsource_plugin.jobs.scheduler import run_once
from outsource_plugin.state import current_outsource
from tests.adapters.partners import Harness
from tests.conftest import Api


class Lead:
    """Northwind's help desk with ``harness``'s system registered as a partner."""

    def __init__(self, app: Flask, api: Api, harness: Harness, *, config: dict[str, Any] | None = None) -> None:
        self.app, self.api, self.harness = app, api, harness
        with app.app_context():
            partner = Partner(
                name=f"{harness.adapter} partner",
                adapter=harness.adapter,
                config=harness.config() if config is None else config,
                default_terms={"acceptance_hours": 24, "instructions": "Replace the disk", "outsource_rate": "80"},
            )
            db.session.add(partner)
            db.session.commit()
            self.partner_id = partner.id

    def adapter(self) -> PartnerAdapter:
        with self.app.app_context():
            state = current_outsource()
            return state.adapter_for(state.session.get(Partner, self.partner_id))

    def sync(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            with self.app.app_context():
                run_once(current_outsource())

    def poll(self) -> None:
        """Only the poll of this partner (no deliveries): the quickest way to read its changes."""
        with self.app.app_context():
            state = current_outsource()
            partner = state.session.get(Partner, self.partner_id)
            assert partner is not None
            poll_partner(state, partner)

    def ticket(self, title: str = "Server down") -> str:
        with self.app.app_context():
            ticket = Ticket(title=title, description="The file server in rack 2 is down", status="New", priority="High")
            db.session.add(ticket)
            db.session.commit()
            return str(ticket.id)

    def outsource(self, title: str = "Server down") -> tuple[str, str, str]:
        """A new ticket, outsourced and delivered: (ticket id, engagement uid, partner's ticket ref)."""
        ticket_id = self.ticket(title)
        created = self.api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": self.partner_id})
        assert created.status_code == 201, created.get_json()
        uid = self.act(ticket_id, "send")["engagement"]["uid"]
        self.sync()
        engagement = self.engagement(ticket_id)
        assert engagement["remote_ref"], engagement
        return ticket_id, uid, str(engagement["remote_ref"])

    def act(self, ticket_id: str, action: str, **body: Any) -> dict[str, Any]:
        response = self.api.post(f"/tickets/{ticket_id}/outsource/actions", json={"action": action, **body})
        assert response.status_code == 200, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def engagement(self, ticket_id: str) -> dict[str, Any]:
        with self.app.app_context():
            found = db.session.scalars(
                select(Engagement).where(Engagement.ticket_id == ticket_id).order_by(Engagement.id.desc())
            ).first()
            assert found is not None
            return {
                "status": found.status.value,
                "remote_ref": found.remote_ref,
                "remote_ticket_number": found.remote_ticket_number,
                "last_sync_error": found.last_sync_error,
                "uid": found.uid,
            }

    def status(self, ticket_id: str) -> str:
        return str(self.engagement(ticket_id)["status"])

    def entries(self, ticket_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/tickets/{ticket_id}")
        assert response.status_code == 200
        result: dict[str, Any] = response.get_json()
        return result

    def add(self, ticket_id: str, kind: str, **body: Any) -> None:
        response = self.api.post(f"/api/tickets/{ticket_id}/{kind}", json=body)
        assert response.status_code == 201, response.get_json()

    def attach(self, ticket_id: str, filename: str, data: bytes) -> None:
        response = self.api.client.post(
            f"/api/tickets/{ticket_id}/attachments",
            data={"file": (io.BytesIO(data), filename, "text/plain")},
            headers={"Authorization": "Bearer admin"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()

    def messages(self, uid: str, kind: MessageKind | None = None) -> list[dict[str, Any]]:
        with self.app.app_context():
            query = select(OutboxMessage).where(OutboxMessage.engagement_uid == uid).order_by(OutboxMessage.id)
            return [
                {"id": m.id, "kind": m.kind, "state": m.state, "last_error": m.last_error, "payload": m.payload}
                for m in db.session.scalars(query)
                if kind is None or m.kind is kind
            ]

    def lose_answer(self, message_id: int) -> None:
        """As if the partner applied a delivery but its answer never came back: the message is due again."""
        with self.app.app_context():
            message = db.session.get(OutboxMessage, message_id)
            assert message is not None and message.state is MessageState.DELIVERED
            message.state = MessageState.PENDING
            message.delivered_at = None
            db.session.commit()

    def attachment_bytes(self, attachment: dict[str, Any]) -> bytes:
        """An attachment's bytes as the lead's help desk serves them."""
        response = self.api.client.get(
            f"/api/attachments/{attachment['id']}", headers={"Authorization": "Bearer admin"}
        )
        assert response.status_code == 200
        return bytes(response.data)

    def reset_cursor(self) -> None:
        """Forget where polling got to, as after a restore: the partner's changes are read again."""
        with self.app.app_context():
            partner = db.session.get(Partner, self.partner_id)
            assert partner is not None
            partner.poll_cursor = None
            db.session.commit()

    def poll_error(self) -> str | None:
        with self.app.app_context():
            partner = db.session.get(Partner, self.partner_id)
            assert partner is not None
            return partner.last_poll_error
