"""One harness per partner system: how the contract suite plays the service partner's user.

Each harness knows how to reach the partner system directly (not through the
adapter under test): to read what the lead pushed and to act as the partner's
staff would (add a note, log time, attach a file, change the ticket's status).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import requests

from outsource_plugin.adapters.base import ChangeKind, PartnerAdapter, RemoteChange
from outsource_plugin.adapters.foreign import MARKER
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.adapters.request_tracker import transaction_id
from outsource_plugin.workflow import Action
from tests.adapters.servers.redmine import RedmineServer
from tests.adapters.servers.request_tracker import RequestTrackerServer


@dataclass
class Pushed:
    """What the lead's deliveries left on one partner ticket."""

    notes: list[str]
    hours: list[float]
    attachments: dict[str, bytes]


class Harness:
    adapter: str = ""
    #: the partner system is a server that can go down and come back
    has_server = False
    #: the adapter needs credentials, so a wrong one must dead-letter
    has_credentials = False
    #: partner status -> outsource action, as the default settings map them
    status_map: dict[str, Action] = {}
    #: the partner ticket's status after the lead cancels, and after it approves
    canceled_status, closed_status = "", ""
    #: the partner ticket is created at send, with the terms written into its description
    offer_as_text = False
    #: what the partner system can do beyond the common cases (``assign``: a partner user takes the ticket)
    can: frozenset[str] = frozenset({"assign"})
    #: what the partner system answers a wrong credential with, as the dead letter's error shows it
    refusal = "401"

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def bad_config(self) -> dict[str, Any]:
        return self.config()

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        raise NotImplementedError

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        raise NotImplementedError

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        """Add a note as the partner's user."""
        raise NotImplementedError

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        """When the partner system recorded the notes with these texts (whole seconds, as it shows them)."""
        raise NotImplementedError

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        raise NotImplementedError

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        raise NotImplementedError

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        raise NotImplementedError

    def assign(self, adapter: PartnerAdapter, uid: str, ref: str) -> None:
        raise NotImplementedError

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        raise NotImplementedError

    def restart(self) -> None:
        """Restart the partner's server (a no-op for systems without one)."""

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    def start(self) -> None:
        pass


def strip_marker(text: str) -> str:
    return MARKER.sub("", text).strip()


class MemoryHarness(Harness):
    """The in-memory partner: its "ticket" is what it received, its user queues changes."""

    adapter = "memory"
    canceled_status, closed_status = "cancel", "approve"
    status_map = {a.value: a for a in (Action.ACCEPT, Action.DECLINE, Action.SUBMIT, Action.TICKET_COMPLETE)}

    def config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def _mem(adapter: PartnerAdapter) -> MemoryAdapter:
        assert isinstance(adapter, MemoryAdapter)
        return adapter

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        offer = next(m for m in self._mem(adapter).received if m.kind == "offer" and ref.endswith(m.engagement_uid))
        return str(offer.payload["offer"]["title"]), str(offer.payload["offer"]["description"])

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        out = Pushed([], [], {})
        seen: dict[str, dict[str, Any]] = {}
        for message in self._mem(adapter).received:
            if message.kind == "entry" and ref.endswith(message.engagement_uid):
                seen[message.payload["entry_key"]] = dict(message.payload)
            elif message.kind == "action" and ref.endswith(message.engagement_uid) and message.payload.get("reason"):
                out.notes.append(str(message.payload["reason"]))
        for payload in seen.values():
            data = payload["data"]
            if payload["kind"] == "note":
                out.notes.append(data["text"])
            elif payload["kind"] == "charge":
                out.notes.append(f"Charge: {data['name']}")
            elif payload["kind"] == "time":
                out.hours.append(float(data["hours"]))
            elif payload["kind"] == "attachment":
                out.attachments[data["filename"]] = base64.b64decode(data["data"])
        return out

    def _entry(self, adapter: PartnerAdapter, uid: str, kind: str, data: dict[str, Any]) -> None:
        memory = self._mem(adapter)
        key = f"service:{kind}:{len(memory.feed) + 1}"
        memory.feed.append(
            RemoteChange(
                kind=ChangeKind.ENTRY,
                engagement_uid=uid,
                change_id=key,
                data={
                    "entry_key": key,
                    "op": "upsert",
                    "kind": kind,
                    "data": data,
                    "origin": {"side": "service", "org": "Memory", "user": "Pat"},
                },
            )
        )

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        memory = self._mem(adapter)
        if not any(c.engagement_uid == uid and c.action is Action.START_WORK for c in memory.feed):
            memory.act(uid, Action.START_WORK)
        self._entry(adapter, uid, "note", {"text": text, "internal": False})

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        return ["2026-11-27T00:00:00Z" for _ in texts]  # the in-memory feed numbers its changes: no clock at all

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        self._entry(
            adapter,
            uid,
            "time",
            {"work_date": "2026-11-27", "hours": str(hours), "summary": summary, "resource": "Pat"},
        )

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        payload = {"filename": filename, "media_type": "text/plain", "size": len(data)}
        self._entry(adapter, uid, "attachment", {**payload, "data": base64.b64encode(data).decode()})

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        action = Action(status)
        reason = note or ("not for us" if action is Action.DECLINE else None)
        if action is Action.ACCEPT:
            self._mem(adapter).accept(uid)
        else:
            self._mem(adapter).act(uid, action, reason)

    def assign(self, adapter: PartnerAdapter, uid: str, ref: str) -> None:
        self._mem(adapter).accept(uid)

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        actions = [m.payload["action"] for m in self._mem(adapter).received if m.kind == "action"]
        return actions[-1] if actions else "offered"


class RedmineHarness(Harness):
    adapter = "redmine"
    has_server = True
    has_credentials = True
    offer_as_text = True
    canceled_status, closed_status = "Rejected", "Closed"
    status_map = {
        "In Progress": Action.ACCEPT,
        "Rejected": Action.DECLINE,
        "Resolved": Action.SUBMIT,
        "Closed": Action.TICKET_COMPLETE,
    }

    def __init__(self, server: RedmineServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update({"X-Redmine-API-Key": server.api_key, "Content-Type": "application/json"})

    def config(self) -> dict[str, Any]:
        return {"base_url": self.server.url, "api_key": self.server.api_key, "project": self.server.project}

    def bad_config(self) -> dict[str, Any]:
        return {**self.config(), "api_key": "0" * 40}

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"{self.server.url}{path}", timeout=30, **kw)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content.strip() else None

    def _issue(self, ref: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/issues/{ref}.json", params={"include": "journals,attachments"})["issue"])

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        issue = self._issue(ref)
        return str(issue["subject"]), str(issue["description"])

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        issue = self._issue(ref)
        notes = [strip_marker(j["notes"]) for j in issue["journals"] if MARKER.search(j.get("notes") or "")]
        entries = self._call("GET", "/time_entries.json", params={"issue_id": ref})["time_entries"]
        hours = [float(e["hours"]) for e in entries if MARKER.search(e.get("comments") or "")]
        files = {
            a["filename"]: self.http.get(a["content_url"], timeout=30).content
            for a in issue["attachments"]
            if MARKER.search(a.get("description") or "")
        }
        return Pushed(notes, hours, files)

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        self._call("PUT", f"/issues/{ref}.json", json={"issue": {"notes": text}})

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        journals = self._issue(ref)["journals"]
        return [next(str(j["created_on"]) for j in journals if j.get("notes") == text) for text in texts]

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        body = {"issue_id": int(ref), "hours": hours, "comments": summary, "activity_id": self.server.activity_id}
        self._call("POST", "/time_entries.json", json={"time_entry": body})

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        token = self.http.post(
            f"{self.server.url}/uploads.json",
            params={"filename": filename},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        ).json()["upload"]["token"]
        upload = {"token": token, "filename": filename, "content_type": "text/plain"}
        self._call("PUT", f"/issues/{ref}.json", json={"issue": {"uploads": [upload]}})

    def _status_id(self, name: str) -> int:
        statuses = self._call("GET", "/issue_statuses.json")["issue_statuses"]
        return int(next(s["id"] for s in statuses if s["name"] == name))

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        issue: dict[str, Any] = {"status_id": self._status_id(status)}
        if note:
            issue["notes"] = note
        self._call("PUT", f"/issues/{ref}.json", json={"issue": issue})

    def assign(self, adapter: PartnerAdapter, uid: str, ref: str) -> None:
        me = self._call("GET", "/users/current.json")["user"]["id"]
        self._call("PUT", f"/issues/{ref}.json", json={"issue": {"assigned_to_id": me}})

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        return str(self._issue(ref)["status"]["name"])

    def restart(self) -> None:
        self.server.restart()

    def close(self) -> None:
        self.http.close()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


def same_second(a: str, b: str) -> bool:
    """Two partner timestamps in the same whole second."""
    return re.sub(r"\D", "", a)[:14] == re.sub(r"\D", "", b)[:14]


class RequestTrackerHarness(Harness):
    adapter = "request_tracker"
    has_server = True
    has_credentials = True
    offer_as_text = True
    canceled_status, closed_status = "rejected", "resolved"
    status_map = {"open": Action.ACCEPT, "rejected": Action.DECLINE, "resolved": Action.SUBMIT}

    def __init__(self, server: RequestTrackerServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"token {server.token}"})

    def config(self) -> dict[str, Any]:
        return {"base_url": self.server.url, "token": self.server.token, "queue": self.server.queue}

    def bad_config(self) -> dict[str, Any]:
        return {**self.config(), "token": "1-14-" + "0" * 32}

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"{self.server.rest}{path}", timeout=30, **kw)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content.strip() else None

    def _history(self, ref: str) -> list[dict[str, Any]]:
        params = {"fields": "Type,Created,TimeTaken", "per_page": "100"}
        return list(self._call("GET", f"/ticket/{ref}/history", params=params)["items"])

    def _parts(self, ref: str) -> list[dict[str, Any]]:
        params = {"fields": "Filename,ContentType,TransactionId,Content", "per_page": "100"}
        return list(self._call("GET", f"/ticket/{ref}/attachments", params=params)["items"])

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        ticket = self._call("GET", f"/ticket/{ref}")
        first = next(p for p in self._parts(ref) if p["ContentType"] == "text/plain" and not p["Filename"])
        return str(ticket["Subject"]), str(first["Content"])

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        parts = self._parts(ref)
        ours = {
            transaction_id(p)
            for p in parts
            if not p["Filename"] and MARKER.search(str(p.get("Content") or "")) and "offer:" not in str(p["Content"])
        }
        notes = [strip_marker(p["Content"]) for p in parts if transaction_id(p) in ours and not p["Filename"]]
        notes = [n for n in notes if n]
        hours = [int(t["TimeTaken"]) / 60 for t in self._history(ref) if t["id"] in ours and int(t["TimeTaken"])]
        files = {
            p["Filename"]: base64.b64decode(self._call("GET", f"/attachment/{p['id']}")["Content"])
            for p in parts
            if p["Filename"] and transaction_id(p) in ours
        }
        return Pushed(notes, hours, files)

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        self._call("POST", f"/ticket/{ref}/correspond", json={"Content": text, "ContentType": "text/plain"})

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        created = {t["id"]: str(t["Created"]) for t in self._history(ref)}
        parts = self._parts(ref)
        return [next(created[transaction_id(p)] for p in parts if p.get("Content") == text) for text in texts]

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        body = {"Content": summary, "ContentType": "text/plain", "TimeTaken": str(int(hours * 60))}
        self._call("POST", f"/ticket/{ref}/comment", json=body)

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        files = [{"FileName": filename, "FileType": "text/plain", "FileContent": base64.b64encode(data).decode()}]
        body = {"Content": f"Attached {filename}", "ContentType": "text/plain", "Attachments": files}
        self._call("POST", f"/ticket/{ref}/comment", json=body)

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        if note:
            self._call("POST", f"/ticket/{ref}/comment", json={"Content": note, "ContentType": "text/plain"})
        self._call("PUT", f"/ticket/{ref}", json={"Status": status})
        assert self.status_of(adapter, ref) == status

    def assign(self, adapter: PartnerAdapter, uid: str, ref: str) -> None:
        self._call("PUT", f"/ticket/{ref}", json={"Owner": "root"})

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        return str(self._call("GET", f"/ticket/{ref}")["Status"])

    def restart(self) -> None:
        self.server.restart()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def close(self) -> None:
        self.http.close()
