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
from outsource_plugin.federation import MessageSchema

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

#: a valid body per endpoint that takes one (placeholders filled from the test's rows)
BASE_BODIES: dict[str, dict[str, Any]] = {
    "outsource_api.ticket_configure": {"partner_id": "{partner_id}"},
    "outsource_api.ticket_edit": {"terms": {"instructions": "call first"}},
    "outsource_api.ticket_action": {"action": "send"},
    "outsource_api.engagement_action": {"action": "decline", "reason": "too far"},
    "outsource_api.partners_create": {"name": "Fabrikam", "adapter": "memory"},
    "outsource_api.partners_edit": {"name": "Contoso Ltd"},
    "outsource_federation.receive": {
        "id": "m-1",
        "seq": 1,
        "kind": "action",
        "engagement_uid": "{uid}",
        "payload": {"action": "accept"},
    },
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
