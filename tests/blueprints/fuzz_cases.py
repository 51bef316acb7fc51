"""Bad inputs for the fuzz suite, derived from the URL map and the input schemas, and their tally.

Every JSON endpoint (the plugin's API, its signed partner API and the demo
host's API) is found in ``app.url_map``; an endpoint that takes a body and has
no valid base body in ``BASE_BODIES`` fails the suite, so nothing is missed.
Each bad body is a valid one with one thing broken. ``form_cases`` lists the
bad form posts for the plugin's pages and the demo host's ticket page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Flask
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from examples.helpdesk.api import NoteSchema, TicketSchema
from outsource_plugin.blueprints.openapi import OPERATIONS
from outsource_plugin.federation import handshake
from outsource_plugin.federation.feed import MessageSchema

#: the blueprints whose every route answers JSON
JSON_BLUEPRINTS = ("outsource_api", "outsource_federation", "helpdesk_api")
#: endpoints that take no input at all: nothing to fuzz
NO_INPUT = {"outsource_api.openapi_document", "outsource_api.health"}

HUGE = "x" * 2**20
#: a row id no row has
UNKNOWN_ID = 2147483000
SURROGATE = "\ud800"
#: PostgreSQL stores no NUL in text: a 400 naming the field, never a database error
NUL = "\x00"
#: the partner's half of a key rotation it offers
ROTATION_KEY = handshake.public_text(handshake.new_private_key())

#: a valid body per endpoint that takes one (placeholders filled from the test's rows)
BASE_BODIES: dict[str, dict[str, Any]] = {
    "outsource_api.ticket_configure": {"partner_id": "{partner_id}"},
    "outsource_api.ticket_edit": {"terms": {"instructions": "call first"}},
    "outsource_api.ticket_action": {"action": "send"},
    "outsource_api.engagement_action": {"action": "decline", "reason": "too far"},
    "outsource_api.partners_create": {"name": "Fabrikam", "adapter": "memory"},
    "outsource_api.partners_edit": {"name": "Contoso Ltd"},
    "outsource_api.partners_disable": {"reason": "Contract over"},
    "outsource_api.invitations_create": {"name": "Fabrikam Invited", "default_terms": {"acceptance_hours": 24}},
    "outsource_api.partners_join": {"code": "osinv1.not-a-real-code", "name": "Northwind"},
    "outsource_federation.receive": {
        "id": "m-1",
        "seq": 1,
        "kind": "action",
        "engagement_uid": "{uid}",
        "payload": {"action": "accept"},
    },
    "outsource_federation.receive_many": {
        "messages": [
            {"id": "m-1", "seq": 1, "kind": "action", "engagement_uid": "{uid}", "payload": {"action": "accept"}}
        ]
    },
    "outsource_api.partners_rotate": {},
    "outsource_federation.rotate": {"rotation_id": "0" * 32, "public_key": ROTATION_KEY},
    "outsource_federation.rotate_confirm": {"rotation_id": "0" * 32},
    "outsource_federation.leave": {"reason": "Contract over"},
    "helpdesk_api.ticket_create": {"title": "Printer jam"},
    "helpdesk_api.ticket_update": {"title": "Printer jam again"},
    "helpdesk_api.entry_create": {"body": "rebooted it"},
    "helpdesk_api.entry_update": {"body": "rebooted it twice"},
}

#: the schema each body is loaded with, for the plugin's endpoints from the OpenAPI table
HOST_SCHEMAS: dict[str, Schema | type[Schema]] = {
    "outsource_federation.receive": MessageSchema,
    "helpdesk_api.ticket_create": TicketSchema,
    "helpdesk_api.ticket_update": TicketSchema(partial=True),
    "helpdesk_api.entry_create": NoteSchema,
    "helpdesk_api.entry_update": NoteSchema(partial=True),
}

#: a value of the wrong type for each kind of field
WRONG_TYPE: list[tuple[type[fields.Field], Any]] = [
    (fields.Boolean, "maybe"),
    (fields.Integer, "seven"),
    (fields.Decimal, "a lot"),
    (fields.Date, "soon"),
    (fields.String, 12345),
    (fields.Dict, "not an object"),
    (fields.Nested, ["not", "an", "object"]),
]

#: tally of the fuzz inputs sent and of the answers that were a correct refusal
TALLY: Counter[str] = Counter()


def json_rules(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the JSON blueprints, except those that take no input."""
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in JSON_BLUEPRINTS and rule.endpoint not in NO_INPUT
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def takes_body(rule: Rule, method: str) -> bool:
    return method in ("POST", "PATCH", "PUT") and rule.endpoint in BASE_BODIES


def body_schema(endpoint: str) -> Schema:
    found = HOST_SCHEMAS.get(endpoint) or OPERATIONS[endpoint].body
    assert found is not None, endpoint
    return found if isinstance(found, Schema) else found()


def bad_bodies(endpoint: str, base: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, body) pairs: a valid base body with one field broken, missing or added."""
    schema = body_schema(endpoint)
    out: list[tuple[str, Any]] = [
        ("extra field", {**base, "zz_unknown": 1}),
        ("lone surrogate key", {**base, SURROGATE: "x"}),
        ("array", [base]),
        ("null", None),
        ("number", 7),
    ]
    for name, field in schema.fields.items():
        key = field.data_key or name
        wrong = next((value for kind, value in WRONG_TYPE if isinstance(field, kind)), None)
        if wrong is not None:
            out.append((f"{key}: wrong type", {**base, key: wrong}))
        if field.required and not schema.partial:
            out.append((f"{key}: missing", {k: v for k, v in base.items() if k != key}))
        if isinstance(field, fields.Integer | fields.Decimal):
            out.append((f"{key}: too large", {**base, key: 2**63}))
        if key.endswith("_id"):
            out.append((f"{key}: unknown", {**base, key: UNKNOWN_ID}))
        if isinstance(field, fields.String):
            out.append((f"{key}: 1 MB", {**base, key: HUGE}))
            out.append((f"{key}: lone surrogate", {**base, key: f"a{SURROGATE}b"}))
            out.append((f"{key}: NUL", {**base, key: f"a{NUL}b"}))
    return out


#: a partner's valid entry payload of each kind, for the malformed shapes below
GOOD_ENTRIES: dict[str, dict[str, Any]] = {
    "note": {"text": "on site now", "internal": False},
    "time": {"work_date": "2026-12-01", "hours": "1.50", "summary": "diagnosis", "billable": True},
    "charge": {"name": "cable", "quantity": "2.00", "unit_price": "5.00", "unit_cost": "3.00", "billable": True},
    "attachment": {"filename": "log.txt", "media_type": "text/plain", "size": 2, "data": "aGk="},
}


def _entry(kind: str, **data: Any) -> dict[str, Any]:
    return {
        "entry_key": f"service:{kind}:1",
        "op": "upsert",
        "kind": kind,
        "data": {**GOOD_ENTRIES[kind], **data},
        "origin": {"side": "service", "org": "Peer", "user": "Sam", "at": "2026-12-01T10:00:00+00:00"},
    }


def _offer(**changes: Any) -> dict[str, Any]:
    offer = {"title": "Printer jam", "description": "Tray 2", "priority": "High", "due": "2026-12-24"}
    return {
        "offer": {**offer, **changes.pop("offer", {})},
        "terms": {"rate_type": "hourly", "outsource_rate": "50.00", **changes.pop("terms", {})},
        "ticket_number": "FAB-1",
        "acceptance_deadline": None,
        **changes,
    }


#: (label, kind, payload, the field the 400 must name) for a partner's message about an accepted
#: engagement (entries, actions) or a new one (offers): every kind of field broken in turn
MALFORMED_MESSAGES: list[tuple[str, str, Any, str]] = [
    ("action: unknown action", "action", {"action": "explode"}, "payload.action"),
    ("action: action missing", "action", {"reason": "no"}, "payload.action"),
    ("action: action a list", "action", {"action": ["cancel"]}, "payload.action"),
    ("action: reason a list", "action", {"action": "cancel", "reason": ["a", "b"]}, "payload.reason"),
    ("action: reason 1 MB", "action", {"action": "cancel", "reason": HUGE}, "payload.reason"),
    ("action: actor a number", "action", {"action": "cancel", "actor": 7}, "payload.actor"),
    ("action: unknown field", "action", {"action": "cancel", "zz": 1}, "payload.zz"),
    ("offer: offer missing", "offer", {"terms": {}}, "payload.offer"),
    ("offer: offer a list", "offer", _offer() | {"offer": ["x"]}, "payload.offer"),
    ("offer: title a list", "offer", _offer(offer={"title": ["Printer", "jam"]}), "payload.offer.title"),
    ("offer: title 1 MB", "offer", _offer(offer={"title": HUGE}), "payload.offer.title"),
    ("offer: bad due date", "offer", _offer(offer={"due": "31/31/2026"}), "payload.offer.due"),
    ("offer: due a number", "offer", _offer(offer={"due": 20261224}), "payload.offer.due"),
    ("offer: description 1 MB", "offer", _offer(offer={"description": HUGE}), "payload.offer.description"),
    ("offer: contact a string", "offer", _offer(offer={"contact": "Pat"}), "payload.offer.contact"),
    ("offer: negative rate", "offer", _offer(terms={"outsource_rate": "-50"}), "payload.terms.outsource_rate"),
    ("offer: hours a word", "offer", _offer(terms={"authorised_hours": "lots"}), "payload.terms.authorised_hours"),
    ("offer: instructions 1 MB", "offer", _offer(terms={"instructions": HUGE}), "payload.terms.instructions"),
    ("offer: bad deadline", "offer", _offer(acceptance_deadline="tomorrow"), "payload.acceptance_deadline"),
    ("offer: ticket number a dict", "offer", _offer(ticket_number={"n": 1}), "payload.ticket_number"),
    ("entry: unknown op", "entry", _entry("note") | {"op": "explode"}, "payload.op"),
    ("entry: unknown kind", "entry", _entry("note") | {"kind": "invoice"}, "payload.kind"),
    (
        "entry: entry key missing",
        "entry",
        {k: v for k, v in _entry("note").items() if k != "entry_key"},
        "payload.entry_key",
    ),
    ("entry: entry key 1 MB", "entry", _entry("note") | {"entry_key": HUGE}, "payload.entry_key"),
    ("entry: data a list", "entry", _entry("note") | {"data": ["x"]}, "payload.data"),
    ("entry: origin a string", "entry", _entry("note") | {"origin": "me"}, "payload.origin"),
    ("entry: origin time garbage", "entry", _entry("note") | {"origin": {"at": "noon"}}, "payload.origin.at"),
    ("note: text missing", "entry", _entry("note") | {"data": {"internal": False}}, "payload.data.text"),
    ("note: text a list", "entry", _entry("note", text=["a"]), "payload.data.text"),
    ("note: 2 MB", "entry", _entry("note", text="x" * 2 * 2**20), "payload.data.text"),
    ("note: internal maybe", "entry", _entry("note", internal="maybe"), "payload.data.internal"),
    ("note: unknown field", "entry", _entry("note", zz=1), "payload.data.zz"),
    ("time: hours -7.50", "entry", _entry("time", hours="-7.50"), "payload.data.hours"),
    ("time: hours 25", "entry", _entry("time", hours=25), "payload.data.hours"),
    ("time: hours a word", "entry", _entry("time", hours="lots"), "payload.data.hours"),
    ("time: hours NaN", "entry", _entry("time", hours="NaN"), "payload.data.hours"),
    ("time: bad date", "entry", _entry("time", work_date="31/31/2026"), "payload.data.work_date"),
    ("time: summary 1 MB", "entry", _entry("time", summary=HUGE), "payload.data.summary"),
    ("charge: quantity -3", "entry", _entry("charge", quantity="-3"), "payload.data.quantity"),
    ("charge: unit cost -99,999,999", "entry", _entry("charge", unit_cost="-99999999"), "payload.data.unit_cost"),
    ("charge: unit price 1e999", "entry", _entry("charge", unit_price="1e999"), "payload.data.unit_price"),
    ("charge: name a list", "entry", _entry("charge", name=["cable"]), "payload.data.name"),
    ("attachment: data not base64", "entry", _entry("attachment", data="not base64!"), "payload.data.data"),
    ("attachment: size negative", "entry", _entry("attachment", size=-1), "payload.data.size"),
]


#: raw bodies that are not JSON, or not UTF-8
RAW_BODIES: list[tuple[str, bytes, str | None]] = [
    ("malformed JSON", b'{"name": ', "application/json"),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xc3\x28"}', "application/json"),
    ("empty", b"", "application/json"),
    ("form encoded", b"name=x&action=send", "application/x-www-form-urlencoded"),
]


def form_cases(world: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, path, form) for every plugin form and the demo host's forms."""
    ticket, engagement, partner = world["ticket_id"], world["engagement_id"], world["partner_id"]
    outsource = f"/outsource/tickets/{ticket}/outsource"
    for label, form in [
        ("partner missing", {}),
        ("partner not a number", {"partner_id": "abc"}),
        ("unknown partner", {"partner_id": str(UNKNOWN_ID)}),
        ("partner id huge", {"partner_id": "9" * 5000}),
        ("hours not a number", {"partner_id": partner, "acceptance_hours": "abc"}),
        ("rate not a number", {"partner_id": partner, "bill_rate": "lots"}),
        ("instructions 1 MB", {"partner_id": partner, "instructions": HUGE}),
        ("date garbage", {"partner_id": partner, "complete_by": "31/31/31"}),
    ]:
        yield f"outsource ticket: {label}", outsource, form
    yield "outsource ticket: unknown ticket", f"/outsource/tickets/{UNKNOWN_ID}/outsource", {"partner_id": partner}
    for label, form in [
        ("name missing", {"adapter": "memory"}),
        ("name 1 MB", {"adapter": "memory", "name": HUGE}),
        ("name with NUL", {"adapter": "memory", "name": f"Fab{NUL}rikam"}),
        ("unknown adapter", {"adapter": "carrier-pigeon", "name": "F"}),
        ("peer without settings", {"adapter": "peer", "name": "F"}),
        ("peer bad url", {"adapter": "peer", "name": "F", "config.base_url": "nope", "config.link_id": "a b"}),
        ("default hours not a number", {"adapter": "memory", "name": "F", "terms.acceptance_hours": "x"}),
        ("duplicate name", {"adapter": "memory", "name": "Contoso"}),
    ]:
        yield f"new partner: {label}", "/outsource/partners/new", form
    yield "edit partner: name 1 MB", f"/outsource/partners/{partner}", {"name": HUGE}
    yield "edit partner: name blank", f"/outsource/partners/{partner}", {"name": "  "}
    yield "edit partner: unknown id", f"/outsource/partners/{UNKNOWN_ID}", {"name": "X"}
    yield "disable partner: unknown id", f"/outsource/partners/{UNKNOWN_ID}/disable", {}
    yield "retry: unknown dead letter", f"/outsource/deadletters/{UNKNOWN_ID}/retry", {}
    actions = f"/outsource/engagements/{engagement}/actions"
    yield "action: unknown action", f"{actions}/explode", {}
    yield "action: not allowed now", f"{actions}/approve", {}
    yield "action: decline without reason", f"{actions}/decline", {"reason": "  "}
    yield "action: reason 1 MB", f"{actions}/decline", {"reason": HUGE}
    yield "action: unknown engagement", f"/outsource/engagements/{UNKNOWN_ID}/actions/send", {}
    yield "question: not accepted", f"/outsource/engagements/{engagement}/question", {"text": "why?"}
    question = f"/outsource/engagements/{world['asking']}/question"
    yield "question: blank", question, {"text": "  "}
    yield "question: 1 MB", question, {"text": HUGE}
    yield "question: NUL", question, {"text": f"why{NUL}?"}
    yield "action: reason with NUL", f"{actions}/decline", {"reason": f"too{NUL}far"}
    yield "outsource ticket: instructions with NUL", outsource, {"partner_id": partner, "instructions": f"a{NUL}b"}
    host = f"/tickets/{ticket}"
    yield "host status: unknown", f"{host}/status", {"status": "Exploded"}
    yield "host status: 1 MB", f"{host}/status", {"status": HUGE}
    yield "host entry: unknown kind", f"{host}/entries/explode", {"body": "x"}
    yield "host note: blank", f"{host}/entries/note", {"body": "   "}
    yield "host time: hours not a number", f"{host}/entries/time", {"hours": "abc"}
    yield "host time: date garbage", f"{host}/entries/time", {"hours": "1", "work_date": "soon"}
    yield "host time: hours missing", f"{host}/entries/time", {}
    yield "host charge: name missing", f"{host}/entries/charge", {"quantity": "1"}
    yield "host charge: price garbage", f"{host}/entries/charge", {"name": "cable", "unit_price": "NaNx"}
    yield "host charge: name 1 MB", f"{host}/entries/charge", {"name": HUGE}
    yield "host charge: quantity huge", f"{host}/entries/charge", {"name": "cable", "quantity": "1e999"}
    yield "host time: hours huge", f"{host}/entries/time", {"hours": "9" * 40}
    yield "host time: summary 1 MB", f"{host}/entries/time", {"hours": "1", "summary": HUGE}
    yield "host note: 1 MB", f"{host}/entries/note", {"body": HUGE}
    yield "host note: NUL", f"{host}/entries/note", {"body": f"a{NUL}b"}
    yield "host note edit: NUL", f"{host}/notes/{world['entry_id']}", {"body": f"a{NUL}b"}
    yield "host ticket: title with NUL", "/tickets", {"title": f"a{NUL}b"}
    yield "host note edit: 1 MB", f"{host}/notes/{world['entry_id']}", {"body": HUGE}
    yield "host note edit: blank", f"{host}/notes/{world['entry_id']}", {"body": ""}
    yield "host note edit: unknown note", f"{host}/notes/{UNKNOWN_ID}", {"body": "x"}
    yield "host ticket: unknown", f"/tickets/{UNKNOWN_ID}/status", {"status": "New"}
