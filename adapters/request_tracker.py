"""Request Tracker 5 as a service partner's system, through REST2 (``Authorization: token ...``).

The offer becomes a ticket in the partner's queue; lead actions set the
ticket's status after a comment that says why; notes and attachments travel
as comments, time as a comment's ``TimeTaken``, charges as a structured
comment. Reading, each open engagement's ticket history is walked: comments
and correspondence become notes, time taken becomes time entries, files
become attachments, and status and owner changes become outsource actions.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from decimal import Decimal
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

#: RT's default lifecycle, and what each status means for the outsource workflow
DEFAULT_STATUS_MAP = {
    "open": Action.ACCEPT.value,
    "rejected": Action.DECLINE.value,
    "resolved": Action.SUBMIT.value,
}
PRIORITIES = {"low": 25, "medium": 50, "normal": 50, "high": 75, "critical": 100, "urgent": 100}
#: our own status change, announced in the comment written just before it
OWN_STATUS = re.compile(r"\[outsource:action:[a-z_]+:(\S+) ")
PAGE = 100


class RequestTrackerConfig(ForeignConfig):
    token = fields.String(required=True, validate=validate.Length(min=8, max=200))
    queue = fields.String(required=True, validate=validate.Length(min=1, max=200))
    #: requestor e-mail set on new tickets (none by default: RT would mail it)
    requestor = fields.Email(load_default=None, allow_none=True)
    status_map = status_map_field(DEFAULT_STATUS_MAP)
    cancel_status = fields.String(load_default="rejected")
    reopen_status = fields.String(load_default="open")
    close_status = fields.String(load_default="resolved")


class RequestTrackerAdapter(ForeignTicketAdapter):
    name = "request_tracker"
    label = "Request Tracker (REST2)"
    config_schema = RequestTrackerConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token"})
    ticket_noun = "RT ticket"

    def __init__(self, partner_id: int, config: Any, *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, config, timeout=timeout)
        self._nobody: str | None = None

    # ------------------------------------------------------------------ HTTP
    def _url(self, path: str) -> str:
        return f"{str(self.config['base_url']).rstrip('/')}/REST/2.0{path}"

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {"Authorization": f"token {self.config['token']}"}
        response = self.http(method, self._url(path), json=body, params=params or None, headers=headers)
        return json_body(response) if response.content.strip() else None

    def _pages(self, path: str, query: list[dict[str, str]] | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every item of a REST2 collection, page after page; ``query`` (JSON search conditions) is POSTed."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self._call("POST" if query else "GET", path, query, page=page, per_page=PAGE, **params)
            items += answer.get("items") or []
            if page >= int(answer.get("pages") or 1):
                return items
            page += 1

    def _contents(self, ticket: str) -> list[dict[str, Any]]:
        return self._pages(f"/ticket/{ticket}/attachments", fields="Filename,ContentType,TransactionId,Content")

    def _marked(self, ticket: str, text: str) -> list[str]:
        """The ticket's message bodies that contain ``text`` (a marker, or its entry's part of one).

        RT searches them (``Content LIKE``), so a delivery reads only the few
        bodies it wrote before, not every body of a long ticket. RT's ``LIKE``
        ignores case and treats ``_`` as a wildcard: what it finds is checked here.
        """
        condition = {"field": "Content", "operator": "LIKE", "value": text}
        found = self._pages(f"/ticket/{ticket}/attachments", [condition], fields="Filename,ContentType,Content")
        return [str(a["Content"]) for a in found if _is_body(a) and text in str(a.get("Content") or "")]

    def _comment(self, ticket: str, text: str, **extra: Any) -> None:
        self._call("POST", f"/ticket/{ticket}/comment", {"Content": text, "ContentType": "text/plain", **extra})

    # ------------------------------------------------------------------ deliver
    def create_ticket(self, sent: OfferMessage, key: str) -> str:
        found = self._call(
            "POST", "/attachments", [{"field": "Content", "operator": "LIKE", "value": key}], fields="TransactionId"
        )
        for item in found.get("items") or []:
            transaction = self._call("GET", f"/transaction/{transaction_id(item)}")
            ticket = str((transaction.get("Object") or {}).get("id") or "")
            if ticket:
                return ticket
        offer = sent.offer
        body: dict[str, Any] = {
            "Queue": self.config["queue"],
            "Subject": str(offer.get("title") or "Outsourced ticket")[:200],
            "Content": offer_text(sent, key),
            "ContentType": "text/plain",
        }
        priority = PRIORITIES.get(str(offer.get("priority") or "").lower())
        if priority is not None:
            body["Priority"] = priority
        due = offer_due(sent)
        if due:
            body["Due"] = f"{due} 12:00:00"
        if self.config.get("requestor"):
            body["Requestor"] = self.config["requestor"]
        return str(self._call("POST", "/ticket", body)["id"])

    def relay_action(self, ticket: str, message_id: str, sent: ActionMessage, status: str) -> None:
        action = sent.action
        key = marker(f"action:{action.value}:{status}", message_id)
        current = str(self._call("GET", f"/ticket/{ticket}")["Status"])
        if not self._marked(ticket, key):
            reason = sent.reason
            actor = sent.actor or "The lead partner"
            text = f"{actor}: {action.value.replace('_', ' ')}." + (f"\nReason: {reason}" if reason else "")
            self._comment(ticket, f"{text}\n\n{key}")
        if current != status:
            self._call("PUT", f"/ticket/{ticket}", {"Status": status})
            now = str(self._call("GET", f"/ticket/{ticket}")["Status"])
            if now != status:
                raise PermanentAdapterError(
                    f"RT refused status {status!r} for ticket {ticket} (it stays {now!r}): fix the partner's settings"
                )

    def push_entry(self, ticket: str, key: str, entry: EntryMessage) -> None:
        kind, entry_key = entry.entry_kind, entry.entry_key
        earlier = self._marked(ticket, f"[outsource:{entry_key} ")
        if any(key in body for body in earlier):
            return
        data = entry.data
        if entry.op is WireOp.DELETE:
            self._comment(ticket, f"The lead partner removed its {kind.value} (it was sent earlier).\n\n{key}")
            return
        edited = bool(earlier)
        extra: dict[str, Any] = {}
        if kind is EntryKind.TIME and not edited:
            extra["TimeTaken"] = str(int(Decimal(str(data.get("hours") or 0)) * 60))
        if kind is EntryKind.ATTACHMENT:
            extra["Attachments"] = [
                {
                    "FileName": str(data.get("filename") or "attachment"),
                    "FileType": str(data.get("media_type") or "application/octet-stream"),
                    "FileContent": str(data.get("data") or ""),
                }
            ]
            text = f"Attachment {data.get('filename')} from {entry.origin.org or 'the lead partner'}."
        else:
            text = entry_text(entry, edited=edited)
        self._comment(ticket, f"{text}\n\n{key}", **extra)

    # ------------------------------------------------------------------ poll
    def ticket_events(self, ref: EngagementRef, position: Cursor) -> list[Event]:
        ticket, uid, org = str(ref.remote_ref), ref.uid, self.label
        number = f"#{ticket}"
        history = self._pages(
            f"/ticket/{ticket}/history", fields="Type,Created,Creator,Field,OldValue,NewValue,TimeTaken"
        )
        parts: dict[str, list[dict[str, Any]]] = {}
        for part in self._contents(ticket):
            parts.setdefault(transaction_id(part), []).append(part)
        events: list[Event] = []

        def act(key: str, order: int, action: Action, user: str, at: datetime, reason: str | None = None) -> None:
            change = action_change(uid, key, action, actor=user, reason=reason, number=number)
            events.append(Event(at, order, key, change))

        def entry(key: str, order: int, kind: str, data: dict[str, Any], user: str, at: datetime) -> None:
            events.append(Event(at, order, key, entry_change(uid, key, kind, data, org=org, user=user, at=at)))

        own_status: str | None = None
        for txn in sorted(history, key=lambda t: int(t["id"])):
            kind, txn_id = str(txn.get("Type")), str(txn["id"])
            at, user = parse_time(str(txn["Created"])), str((txn.get("Creator") or {}).get("id") or "partner")
            texts = [str(p.get("Content") or "") for p in parts.get(txn_id, []) if _is_body(p)]
            if any(has_marker(t) for t in texts):
                found = OWN_STATUS.search(" ".join(texts))
                own_status = found.group(1) if found else own_status
                continue
            order = int(txn_id) * 10
            if kind == "Status":
                if txn.get("NewValue") == own_status:
                    own_status = None
                    continue
                action = self.mapped(str(txn.get("NewValue") or ""))
                if action is not None:
                    reason = f"set to {txn.get('NewValue')} in RT by {user}" if action is Action.DECLINE else None
                    act(f"rt:{ticket}:status:{txn_id}", order + 5, action, user, at, reason)
            elif kind in ("Set", "Give", "Take", "Steal") and txn.get("Field") == "Owner":
                if self.config["accept_on_assign"] and str(txn.get("NewValue")) != self._nobody_id():
                    act(f"rt:{ticket}:owner:{txn_id}", order, Action.ACCEPT, user, at)
            if kind in ("Comment", "Correspond") and any(t.strip() for t in texts):
                text = "\n".join(t.strip() for t in texts if t.strip())
                entry(f"rt:note:{txn_id}", order + 2, "note", {"text": text, "internal": kind == "Comment"}, user, at)
            minutes = int(str(txn.get("TimeTaken") or "0") or 0)
            if minutes and kind != "Create":
                data = {
                    "work_date": at.date().isoformat(),
                    "hours": str((Decimal(minutes) / 60).quantize(Decimal("0.01"))),
                    "resource": user,
                    "summary": " ".join(" ".join(texts).split())[:500] or f"{kind} in RT ticket {number}",
                    "billable": True,
                }
                entry(f"rt:time:{txn_id}", order + 3, "time", data, user, at)
            for part in parts.get(txn_id, []):
                if part.get("Filename") and kind != "Create" and position.may_be_new(at, f"rt:attachment:{part['id']}"):
                    events.append(self._attachment_event(uid, org, user, at, order + 4, part))
        return events

    def _attachment_event(self, uid: str, org: str, user: str, at: datetime, order: int, part: dict[str, Any]) -> Event:
        full = self._call("GET", f"/attachment/{part['id']}")
        content = base64.b64decode(str(full.get("Content") or ""))
        key = f"rt:attachment:{part['id']}"
        data = attachment_data(str(part["Filename"]), part.get("ContentType"), content)
        return Event(at, order, key, entry_change(uid, key, "attachment", data, org=org, user=user, at=at))

    def _nobody_id(self) -> str:
        if self._nobody is None:
            self._nobody = str(self._call("GET", "/user/Nobody")["id"])
        return self._nobody

    def test_connection(self) -> str:
        queue = self._call("GET", f"/queue/{self.config['queue']}")
        return f"RT answered; queue {queue.get('Name')!r} is reachable"


def _is_body(part: dict[str, Any]) -> bool:
    """A message body part: plain text, not a file."""
    return not part.get("Filename") and str(part.get("ContentType") or "").startswith("text/plain")


def transaction_id(part: dict[str, Any]) -> str:
    """An attachment's transaction: a plain id in lists, an object on the record itself."""
    value = part.get("TransactionId")
    return str(value.get("id") if isinstance(value, dict) else value)
