"""The peer as a contract-suite partner: a real demo help desk process (Contoso) on loopback.

The lead is the in-process help desk, which Contoso cannot call back; the
lead reads Contoso's signed change feed by polling, which is all the
contract needs (Contoso's own pushes to the lead just wait in its outbox).
Each test registers a partnership (link id and secret) of its own, so that
every lead starts from an empty feed.
"""

from __future__ import annotations

import secrets
from typing import Any

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.workflow import Action
from tests.adapters.partners import Harness, Pushed
from tests.cross_host.hosts import Client, Host
from tests.polling import eventually

API = "/outsource/api/v1"
FOLDERS = ("waiting_acceptance", "accepted_or_in_progress", "waiting_approval", "complete", "declined", "canceled")


class PeerHarness(Harness):
    adapter = "peer"
    has_server = True
    has_credentials = True
    status_map = {a.value: a for a in (Action.ACCEPT, Action.DECLINE, Action.SUBMIT, Action.TICKET_COMPLETE)}
    canceled_status, closed_status = "canceled", "complete"

    def __init__(self, host: Host) -> None:
        self.host = host
        self.api: Client = host.client()
        self.link = f"contract-{secrets.token_hex(6)}"
        self.secret = secrets.token_hex(24)
        self.api.post(
            f"{API}/partners",
            {
                "name": f"Northwind {self.link}",
                "adapter": "peer",
                # the in-process lead has no address: Contoso's pushes wait, the lead polls its feed
                "config": {"base_url": "http://127.0.0.1:9/outsource", "link_id": self.link, "secret": self.secret},
            },
        )

    def config(self) -> dict[str, Any]:
        return {"base_url": self.host.plugin_url, "link_id": self.link, "secret": self.secret}

    def bad_config(self) -> dict[str, Any]:
        return {**self.config(), "secret": "x" * 48}

    def engagement(self, uid: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for folder in FOLDERS:
                for item in self.api.get(f"{API}/dashboard/service/{folder}?limit=500")["items"]:
                    if item["uid"] == uid:
                        return dict(item)
            return None

        return eventually(find)

    def _ticket(self, uid: str) -> dict[str, Any]:
        engagement = self.engagement(uid)
        assert engagement["ticket_id"], engagement
        return dict(self.api.get(f"/api/tickets/{engagement['ticket_id']}"))

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        offer = self.api.get(f"{API}/engagements/{self.engagement(ref)['id']}")["offer"]
        return str(offer["title"]), str(offer["description"])

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        ticket = self._ticket(ref)
        notes = [str(n["body"]) for n in ticket["notes"] if "Northwind" in str(n["author"])]
        notes += [f"Charge: {c['name']}" for c in ticket["charges"]]
        files = {
            str(a["filename"]): self.api.session.get(f"{self.host.base}/api/attachments/{a['id']}", timeout=30).content
            for a in ticket["attachments"]
        }
        return Pushed(notes, [float(t["hours"]) for t in ticket["time_entries"]], files)

    def _add(self, uid: str, kind: str, body: dict[str, Any]) -> None:
        self.api.post(f"/api/tickets/{self._ticket(uid)['id']}/{kind}", body)

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        self._add(uid, "notes", {"body": text})

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        return ["2026-11-27T00:00:00Z" for _ in texts]  # the peer's feed numbers its changes: no clock involved

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        self._add(uid, "time", {"work_date": "2026-11-27", "hours": str(hours), "summary": summary})

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        ticket = self._ticket(uid)
        response = self.api.call(
            "POST", f"/api/tickets/{ticket['id']}/attachments", files={"file": (filename, data, "text/plain")}
        )
        assert response.status_code == 201, response.text

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        engagement = self.engagement(uid)
        action = Action(status)
        if action is Action.TICKET_COMPLETE:
            self.api.patch(f"/api/tickets/{engagement['ticket_id']}", {"status": "Complete"})
            return
        body: dict[str, Any] = {"action": action.value}
        if action is Action.ACCEPT:
            body["customer_ref"] = str(self.api.get("/api/customers")["customers"][0]["id"])
        if action is Action.DECLINE:
            body["reason"] = note or "not for us"
        if note and action is not Action.DECLINE:
            self._add(uid, "notes", {"body": note})
        self.api.post(f"{API}/engagements/{engagement['id']}/actions", body)

    def assign(self, adapter: PartnerAdapter, uid: str, ref: str) -> None:
        self.set_status(adapter, uid, ref, Action.ACCEPT.value)

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        return str(self.engagement(ref)["status"])

    def stop(self) -> None:
        self.host.stop()

    def start(self) -> None:
        self.host.start()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.api.session.close()
