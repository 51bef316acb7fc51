"""Redmine 5 as a service partner's system, through its REST API (``X-Redmine-API-Key``).

The offer becomes an issue in the partner's project; lead actions set the
issue's status with a note; notes, time entries and attachments cross both
ways, and charges arrive as a structured note. Redmine's journals, time
entries and attachments are read for each open engagement: time entries do
not move an issue's ``updated_on``, so the issue list alone would miss them.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any, ClassVar

from marshmallow import fields, validate

from outsource_plugin.adapters.base import EngagementRef, json_body
from outsource_plugin.adapters.foreign import (
    Cursor,
    Event,
    ForeignConfig,
    ForeignTicketAdapter,
    action_change,
    attachment_data,
    entry_change,
    entry_text,
    has_marker,
    marker,
    offer_due,
    offer_text,
    parse_time,
    status_map_field,
)
from outsource_plugin.errors import PermanentAdapterError
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import ActionMessage, EntryMessage, OfferMessage, WireOp
from outsource_plugin.workflow import Action

#: Redmine's default statuses, and what each means for the outsource workflow
DEFAULT_STATUS_MAP = {
    "In Progress": Action.ACCEPT.value,
    "Rejected": Action.DECLINE.value,
    "Resolved": Action.SUBMIT.value,
    "Closed": Action.TICKET_COMPLETE.value,
}
#: the most Redmine's REST API answers in one request (its ``limit`` is capped at 100)
PAGE = 100


class RedmineConfig(ForeignConfig):
    api_key = fields.String(required=True, validate=validate.Length(min=8, max=200))
    #: the project identifier (or id) that service tickets are created in
    project = fields.String(required=True, validate=validate.Length(min=1, max=100))
    tracker_id = fields.Integer(load_default=None, allow_none=True)
    #: the time-entry activity name used for time entries we write (else Redmine's default, else the first)
    time_activity = fields.String(load_default=None, allow_none=True)
    status_map = status_map_field(DEFAULT_STATUS_MAP)
    cancel_status = fields.String(load_default="Rejected")
    reopen_status = fields.String(load_default="In Progress")
    close_status = fields.String(load_default="Closed")


class RedmineAdapter(ForeignTicketAdapter):
    name = "redmine"
    label = "Redmine (REST API)"
    config_schema = RedmineConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"api_key"})
    ticket_noun = "Redmine issue"

    def __init__(self, partner_id: int, config: Any, *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, config, timeout=timeout)
        self._lookups: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ HTTP
    def _url(self, path: str) -> str:
        return f"{str(self.config['base_url']).rstrip('/')}{path}"

    def _headers(self, content_type: str = "application/json") -> dict[str, str]:
        return {"X-Redmine-API-Key": str(self.config["api_key"]), "Content-Type": content_type}

    def _get(self, path: str, **params: Any) -> Any:
        return json_body(self.http("GET", self._url(path), params=params, headers=self._headers()))

    def _send(self, method: str, path: str, body: Any) -> Any:
        response = self.http(method, self._url(path), json=body, headers=self._headers())
        return json_body(response) if response.content.strip() else None

    def _lookup(self, what: str) -> dict[str, int]:
        """Name -> id of statuses, priorities or activities (read once per adapter)."""
        if what not in self._lookups:
            path, key = {
                "status": ("/issue_statuses.json", "issue_statuses"),
                "priority": ("/enumerations/issue_priorities.json", "issue_priorities"),
                "activity": ("/enumerations/time_entry_activities.json", "time_entry_activities"),
            }[what]
            items = self._get(path)[key]
            found = {str(i["name"]).lower(): int(i["id"]) for i in items}
            defaults = [int(i["id"]) for i in items if i.get("is_default")]
            found[""] = defaults[0] if defaults else int(items[0]["id"]) if items else 0
            self._lookups[what] = found
        return self._lookups[what]

    def _status_id(self, name: str) -> int:
        found = self._lookup("status").get(name.lower())
        if found is None:
            raise PermanentAdapterError(f"Redmine has no issue status named {name!r}: fix the partner's settings")
        return found

    def _status_name(self, status_id: str | int | None) -> str | None:
        names = {v: k for k, v in self._lookup("status").items() if k}
        return names.get(int(status_id)) if status_id not in (None, "") else None

    # ------------------------------------------------------------------ deliver
    def create_ticket(self, sent: OfferMessage, key: str) -> str:
        found = self._get(
            "/issues.json", project_id=self.config["project"], status_id="*", description=f"~{key[1:-1]}"
        )["issues"]
        if found:
            return str(found[0]["id"])
        offer = sent.offer
        issue: dict[str, Any] = {
            "project_id": self.config["project"],
            "subject": str(offer.get("title") or "Outsourced ticket")[:255],
            "description": offer_text(sent, key),
            "priority_id": self._lookup("priority").get(str(offer.get("priority") or "").lower())
            or self._lookup("priority")[""],
        }
        due = offer_due(sent)
        if due:
            issue["due_date"] = due
        if self.config.get("tracker_id"):
            issue["tracker_id"] = self.config["tracker_id"]
        return str(self._send("POST", "/issues.json", {"issue": issue})["issue"]["id"])

    def _journals(self, issue_id: str) -> list[dict[str, Any]]:
        issue = self._get(f"/issues/{issue_id}.json", include="journals,attachments")["issue"]
        return list(issue.get("journals") or [])

    def _written(self, issue_id: str, key: str) -> bool:
        return any(key in str(j.get("notes") or "") for j in self._journals(issue_id))

    def relay_action(self, issue_id: str, message_id: str, sent: ActionMessage, status: str) -> None:
        action, reason = sent.action, sent.reason
        key = marker(f"action:{action.value}", message_id)
        if self._written(issue_id, key):
            return
        what = {
            Action.CANCEL: "canceled the outsourcing",
            Action.AUTO_DECLINE: "withdrew the offer: it was not accepted in time",
            Action.REJECT: "rejected the submitted work",
            Action.APPROVE: "approved the work",
            Action.COMPLETE: "set the ticket Complete",
            Action.TICKET_COMPLETE: "set the ticket Complete",
        }[action]
        actor = sent.actor or "The lead partner"
        text = f"{actor} {what}." + (f"\nReason: {reason}" if reason else "")
        status_id = self._status_id(status)
        self._send("PUT", f"/issues/{issue_id}.json", {"issue": {"notes": f"{text}\n\n{key}", "status_id": status_id}})
        now = self._get(f"/issues/{issue_id}.json")["issue"]["status"]
        if int(now["id"]) != status_id:
            raise PermanentAdapterError(
                f"Redmine refused status {status!r} for issue {issue_id} (it stays {now['name']!r}): "
                "check the partner's workflow for its API user"
            )

    def push_entry(self, issue_id: str, key: str, entry: EntryMessage) -> None:
        kind, entry_key = entry.entry_kind, entry.entry_key
        if kind is EntryKind.TIME:
            self._push_time(issue_id, key, entry)
            return
        if kind is EntryKind.ATTACHMENT and entry.op is WireOp.UPSERT:
            self._push_attachment(issue_id, key, entry)
            return
        if self._written(issue_id, key):
            return
        earlier = any(f"[outsource:{entry_key} " in str(j.get("notes") or "") for j in self._journals(issue_id))
        if entry.op is WireOp.DELETE:
            text = f"The lead partner removed its {kind.value} (it was sent earlier)."
        else:
            text = entry_text(entry, edited=earlier)
        self._send("PUT", f"/issues/{issue_id}.json", {"issue": {"notes": f"{text}\n\n{key}", "private_notes": False}})

    def _time_entries(self, issue_id: str) -> list[dict[str, Any]]:
        """Every time entry of the issue: Redmine answers at most ``PAGE`` a request, so read page after page."""
        entries: list[dict[str, Any]] = []
        while True:
            answer = self._get("/time_entries.json", issue_id=issue_id, limit=PAGE, offset=len(entries))
            page = list(answer.get("time_entries") or [])
            entries += page
            if not page or len(entries) >= int(answer.get("total_count") or 0):
                return entries

    def _push_time(self, issue_id: str, key: str, entry: EntryMessage) -> None:
        entries = self._time_entries(issue_id)
        if any(key in str(e.get("comments") or "") for e in entries):
            return
        ours = [e for e in entries if f"[outsource:{entry.entry_key} " in str(e.get("comments") or "")]
        data = entry.data
        if entry.op is WireOp.DELETE:
            for found in ours:
                self.http("DELETE", self._url(f"/time_entries/{found['id']}.json"), headers=self._headers())
            return
        activity = self._lookup("activity")
        body = {
            "issue_id": int(issue_id),
            "hours": float(data.get("hours") or 0),
            "spent_on": data.get("work_date") or date.today().isoformat(),
            "activity_id": activity.get(str(self.config.get("time_activity") or "").lower()) or activity[""],
            "comments": f"{data.get('summary') or ''} {key}".strip()[:1024],
        }
        if ours:
            self._send("PUT", f"/time_entries/{ours[0]['id']}.json", {"time_entry": body})
        else:
            self._send("POST", "/time_entries.json", {"time_entry": body})

    def _push_attachment(self, issue_id: str, key: str, entry: EntryMessage) -> None:
        data = entry.data
        issue = self._get(f"/issues/{issue_id}.json", include="attachments")["issue"]
        if any(key in str(a.get("description") or "") for a in issue.get("attachments") or []):
            return
        filename = str(data.get("filename") or "attachment")
        content = base64.b64decode(str(data.get("data") or ""))
        uploaded = self.http(
            "POST",
            self._url("/uploads.json"),
            params={"filename": filename},
            data=content,
            headers=self._headers("application/octet-stream"),
        )
        token = json_body(uploaded)["upload"]["token"]
        upload = {
            "token": token,
            "filename": filename,
            "content_type": data.get("media_type") or "application/octet-stream",
            "description": key,
        }
        who = entry.origin.org or "the lead partner"
        note = f"Attachment {filename} from {who}.\n\n{key}"
        self._send("PUT", f"/issues/{issue_id}.json", {"issue": {"notes": note, "uploads": [upload]}})

    # ------------------------------------------------------------------ poll
    def ticket_events(self, ref: EngagementRef, position: Cursor) -> list[Event]:
        issue_id, uid, org = str(ref.remote_ref), ref.uid, self.label
        issue = self._get(f"/issues/{issue_id}.json", include="journals,attachments")["issue"]
        number = f"#{issue_id}"
        events: list[Event] = []
        for journal in issue.get("journals") or []:
            if has_marker(journal.get("notes")):
                continue
            at, user = parse_time(journal["created_on"]), str((journal.get("user") or {}).get("name") or "partner")
            notes = str(journal.get("notes") or "").strip()
            order = int(journal["id"]) * 10
            for detail in journal.get("details") or []:
                action, reason = self._mapped(detail, notes, user)
                if action is None:
                    continue
                late = action not in (Action.ACCEPT, Action.START_WORK)
                key = f"redmine:{issue_id}:journal:{journal['id']}:{detail.get('name')}"
                change = action_change(uid, key, action, actor=user, reason=reason, number=number)
                events.append(Event(at, order + (5 if late else 0), key, change))
            if notes:
                key = f"redmine:note:{journal['id']}"
                data = {"text": notes, "internal": bool(journal.get("private_notes"))}
                change = entry_change(uid, key, "note", data, org=org, user=user, at=at)
                events.append(Event(at, order + 2, key, change))
        for attachment in issue.get("attachments") or []:
            if has_marker(attachment.get("description")):
                continue
            at = parse_time(attachment["created_on"])
            key = f"redmine:attachment:{attachment['id']}"
            if not position.may_be_new(at, key):
                continue  # delivered by an earlier poll: do not download it again
            content = self.http("GET", str(attachment["content_url"]), headers=self._headers()).content
            data = attachment_data(str(attachment["filename"]), attachment.get("content_type"), content)
            user = str((attachment.get("author") or {}).get("name") or "partner")
            change = entry_change(uid, key, "attachment", data, org=org, user=user, at=at)
            events.append(Event(at, int(attachment["id"]) * 10 + 3, key, change))
        for entry in self._time_entries(issue_id):
            if has_marker(entry.get("comments")):
                continue
            at = parse_time(entry.get("updated_on") or entry["created_on"])
            key = f"redmine:time:{entry['id']}"
            data = {
                "work_date": entry["spent_on"],
                "hours": str(entry["hours"]),
                "resource": (entry.get("user") or {}).get("name"),
                "work_type": (entry.get("activity") or {}).get("name"),
                "summary": entry.get("comments") or "",
                "billable": True,
            }
            user = str(data["resource"] or "partner")
            change = entry_change(uid, key, "time", data, org=org, user=user, at=at)
            # the key carries updated_on, so an edited time entry is delivered again (same entry_key: an update)
            events.append(Event(at, int(entry["id"]) * 10 + 4, f"{key}@{at.isoformat()}", change))
        return events

    def _mapped(self, detail: dict[str, Any], notes: str, user: str) -> tuple[Action | None, str | None]:
        if detail.get("property") != "attr":
            return None, None
        if detail.get("name") == "assigned_to_id" and detail.get("new_value") and self.config["accept_on_assign"]:
            return Action.ACCEPT, None
        if detail.get("name") != "status_id":
            return None, None
        status = self._status_name(detail.get("new_value"))
        action = None if status is None else self.mapped(status)
        if status is None or action is None:
            return None, None
        reason = notes or (f"set to {status.title()} in Redmine by {user}" if action is Action.DECLINE else None)
        return action, reason

    def test_connection(self) -> str:
        user = self._get("/users/current.json")["user"]
        project = self._get(f"/projects/{self.config['project']}.json")["project"]
        return f"Redmine answered as {user.get('login')}; project {project.get('name')!r} is reachable"
