"""Bad input to the JSON API: each is a 4xx JSON answer that says what is wrong, and writes nothing.

Validation errors (400) carry ``details`` naming each bad field; every
other refusal still has ``error`` and ``message``. Nothing is written: every
table keeps its rows, and every engagement keeps its status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import MessageState, Partner
from outsource_plugin.validation.schemas import PageSchema
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import (
    add_engagement,
    add_outbox_message,
    add_ticket,
    assert_error,
    engagement_status,
    row_counts,
    table_rows,
)
from tests.conftest import Api

Body = Callable[[dict[str, Any]], Any]

#: the JSON body is left out entirely
NO_JSON = object()


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    error: str
    #: dotted path of the field ``details`` must name (validation errors only)
    field: str | None = None
    json: Any = NO_JSON
    data: str | None = None
    content_type: str | None = None

    def body(self, world: dict[str, Any]) -> Any:
        return self.json(world) if callable(self.json) else self.json


def bad(id: str, method: str, path: str, json: Any, field: str) -> Any:
    """A body that fails validation: 400 that names ``field``."""
    return pytest.param(Case(id, method, path, 400, "validation_failed", field, json=json), id=id)


def refused(id: str, method: str, path: str, status: int, error: str, json: Any = NO_JSON) -> Any:
    return pytest.param(Case(id, method, path, status, error, json=json), id=id)


def raw(id: str, method: str, path: str, data: str, content_type: str | None, status: int, field: str | None) -> Any:
    error = "validation_failed" if status == 400 else "unsupported_media_type"
    return pytest.param(Case(id, method, path, status, error, field, data=data, content_type=content_type), id=id)


CONFIGURE = "/tickets/{fresh}/outsource"
EDIT = "/tickets/{unsent_ticket}/outsource"
TICKET_ACTION = "/tickets/{waiting_ticket}/outsource/actions"
SERVICE_ACTION = "/engagements/{service}/actions"
PARTNER = "/partners/{partner_id}"
FOLDER = "/dashboard/lead/unsent"


def lookalike(name: str) -> dict[str, str]:
    """A partner body whose name only looks like an existing partner's."""
    return {"name": name, "adapter": "memory"}


def configure(**terms: Any) -> Body:
    return lambda w: {"partner_id": w["partner_id"], "terms": terms}


def act(action: str, **extra: Any) -> dict[str, Any]:
    return {"action": action, **extra}


#: where a body is sent: a malformed body is refused the same way at each
BODY_ENDPOINTS = [
    ("POST", CONFIGURE),
    ("PATCH", EDIT),
    ("POST", TICKET_ACTION),
    ("POST", SERVICE_ACTION),
    ("POST", "/partners"),
    ("PATCH", PARTNER),
]

MALFORMED = [
    case
    for method, path in BODY_ENDPOINTS
    for case in (
        raw(f"{method} {path}: malformed JSON", method, path, "{bad", "application/json", 400, "_body"),
        raw(f"{method} {path}: empty JSON body", method, path, "", "application/json", 400, "_body"),
        raw(f"{method} {path}: JSON array", method, path, '[{"action": "send"}]', "application/json", 400, "_schema"),
        raw(f"{method} {path}: JSON string", method, path, '"send"', "application/json", 400, "_schema"),
        raw(f"{method} {path}: text/plain", method, path, '{"action": "send"}', "text/plain", 415, None),
        raw(
            f"{method} {path}: form", method, path, "action=send&name=x", "application/x-www-form-urlencoded", 415, None
        ),
        raw(f"{method} {path}: no content type", method, path, '{"action": "send"}', None, 415, None),
    )
]

CONFIGURE_CASES = [
    bad(
        "configure: partner_id as a string",
        "POST",
        CONFIGURE,
        lambda w: {"partner_id": str(w["partner_id"])},
        "partner_id",
    ),
    bad("configure: partner_id as a boolean", "POST", CONFIGURE, {"partner_id": True}, "partner_id"),
    bad("configure: partner_id as a float", "POST", CONFIGURE, {"partner_id": 1.5}, "partner_id"),
    bad("configure: partner_id null", "POST", CONFIGURE, {"partner_id": None}, "partner_id"),
    bad("configure: partner_id missing", "POST", CONFIGURE, {"terms": {}}, "partner_id"),
    bad("configure: unknown partner", "POST", CONFIGURE, lambda w: {"partner_id": w["missing_partner"]}, "partner_id"),
    bad(
        "configure: disabled partner", "POST", CONFIGURE, lambda w: {"partner_id": w["disabled_partner"]}, "partner_id"
    ),
    bad("configure: rate not a number", "POST", CONFIGURE, configure(outsource_rate="abc"), "terms.outsource_rate"),
    bad("configure: negative rate", "POST", CONFIGURE, configure(outsource_rate="-5.00"), "terms.outsource_rate"),
    bad("configure: rate rounding to -0.00", "POST", CONFIGURE, configure(flat_rate=-6e-08), "terms.flat_rate"),
    bad(
        "configure: hours rounding to -0.00",
        "POST",
        CONFIGURE,
        configure(authorised_hours="-0.001"),
        "terms.authorised_hours",
    ),
    bad("configure: rate NaN", "POST", CONFIGURE, configure(bill_rate="NaN"), "terms.bill_rate"),
    bad("configure: hours negative", "POST", CONFIGURE, configure(acceptance_hours=-1), "terms.acceptance_hours"),
    bad("configure: hours zero", "POST", CONFIGURE, configure(acceptance_hours=0), "terms.acceptance_hours"),
    bad("configure: hours as a string", "POST", CONFIGURE, configure(acceptance_hours="24"), "terms.acceptance_hours"),
    bad("configure: hours fractional", "POST", CONFIGURE, configure(acceptance_hours=1.5), "terms.acceptance_hours"),
    bad("configure: rate type unknown", "POST", CONFIGURE, configure(rate_type="daily"), "terms.rate_type"),
    bad("configure: complete_by not a date", "POST", CONFIGURE, configure(complete_by="soon"), "terms.complete_by"),
    bad("configure: instructions a number", "POST", CONFIGURE, configure(instructions=5), "terms.instructions"),
    bad("configure: unknown term", "POST", CONFIGURE, configure(discount="5.00"), "terms.discount"),
    bad(
        "configure: terms not an object",
        "POST",
        CONFIGURE,
        lambda w: {"partner_id": w["partner_id"], "terms": "cheap"},
        "terms",
    ),
    bad("configure: terms null", "POST", CONFIGURE, lambda w: {"partner_id": w["partner_id"], "terms": None}, "terms"),
    bad(
        "configure: unknown field",
        "POST",
        CONFIGURE,
        lambda w: {"partner_id": w["partner_id"], "colour": "red"},
        "colour",
    ),
    refused("configure: unknown ticket", "POST", "/tickets/{missing_ticket}/outsource", 404, "not_found", configure()),
    refused("configure: ticket id not a number", "POST", "/tickets/abc/outsource", 404, "not_found", configure()),
    refused(
        "configure: already outsourced",
        "POST",
        "/tickets/{waiting_ticket}/outsource",
        409,
        "transition_refused",
        configure(),
    ),
]

EDIT_CASES = [
    bad("edit: partner_id as a string", "PATCH", EDIT, lambda w: {"partner_id": str(w["partner_id"])}, "partner_id"),
    bad("edit: unknown partner", "PATCH", EDIT, lambda w: {"partner_id": w["missing_partner"]}, "partner_id"),
    bad("edit: disabled partner", "PATCH", EDIT, lambda w: {"partner_id": w["disabled_partner"]}, "partner_id"),
    bad("edit: rate not a number", "PATCH", EDIT, {"terms": {"flat_rate": "abc"}}, "terms.flat_rate"),
    bad("edit: hours negative", "PATCH", EDIT, {"terms": {"acceptance_hours": -1}}, "terms.acceptance_hours"),
    bad("edit: unknown field", "PATCH", EDIT, {"status": "accepted"}, "status"),
    refused("edit: unknown ticket", "PATCH", "/tickets/{missing_ticket}/outsource", 404, "not_found", {"terms": {}}),
    refused("edit: not outsourced", "PATCH", "/tickets/{fresh}/outsource", 409, "transition_refused", {"terms": {}}),
    refused(
        "edit: no longer unsent",
        "PATCH",
        "/tickets/{waiting_ticket}/outsource",
        409,
        "transition_refused",
        {"terms": {}},
    ),
]

ACTION_CASES = [
    bad("reject: no reason", "POST", TICKET_ACTION, act("reject"), "reason"),
    bad("reject: reason null", "POST", TICKET_ACTION, act("reject", reason=None), "reason"),
    bad("reject: reason blank", "POST", TICKET_ACTION, act("reject", reason="   "), "reason"),
    bad("reject: reason a number", "POST", TICKET_ACTION, act("reject", reason=5), "reason"),
    bad("reject: reason too long", "POST", TICKET_ACTION, act("reject", reason="x" * 5001), "reason"),
    bad("action: unknown name", "POST", TICKET_ACTION, act("explode"), "action"),
    bad("action: not a user action", "POST", TICKET_ACTION, act("auto_decline", reason="late"), "action"),
    bad("action: name a number", "POST", TICKET_ACTION, act(5), "action"),  # type: ignore[arg-type]
    bad("action: missing", "POST", TICKET_ACTION, {"reason": "no"}, "action"),
    bad("action: customer_ref empty", "POST", TICKET_ACTION, act("approve", customer_ref=""), "customer_ref"),
    bad("action: unknown field", "POST", TICKET_ACTION, act("approve", force=True), "force"),
    refused("action: not allowed now", "POST", TICKET_ACTION, 409, "transition_refused", act("send")),
    refused("action: other side's action", "POST", TICKET_ACTION, 409, "transition_refused", act("submit")),
    refused(
        "action: not outsourced", "POST", "/tickets/{fresh}/outsource/actions", 409, "transition_refused", act("send")
    ),
    refused(
        "action: unknown ticket", "POST", "/tickets/{missing_ticket}/outsource/actions", 404, "not_found", act("send")
    ),
    bad("decline: no reason", "POST", SERVICE_ACTION, act("decline"), "reason"),
    bad("decline: reason empty", "POST", SERVICE_ACTION, act("decline", reason=""), "reason"),
    bad("decline: reason a number", "POST", SERVICE_ACTION, act("decline", reason=5), "reason"),
    bad(
        "accept: unknown customer",
        "POST",
        SERVICE_ACTION,
        act("accept", customer_ref="no-such-customer"),
        "customer_ref",
    ),
    bad("accept: first offer needs a customer", "POST", SERVICE_ACTION, act("accept"), "customer_ref"),
    bad("engagement action: unknown name", "POST", SERVICE_ACTION, act("explode"), "action"),
    refused("engagement action: lead's action", "POST", SERVICE_ACTION, 409, "transition_refused", act("cancel")),
    refused(
        "engagement action: unknown id",
        "POST",
        "/engagements/{missing_engagement}/actions",
        404,
        "not_found",
        act("send"),
    ),
    refused("engagement action: id not a number", "POST", "/engagements/abc/actions", 404, "not_found", act("send")),
]

PARTNER_CASES = [
    bad("partner: unknown adapter", "POST", "/partners", {"name": "Fabrikam", "adapter": "carrier-pigeon"}, "adapter"),
    bad("partner: adapter missing", "POST", "/partners", {"name": "Fabrikam"}, "adapter"),
    bad("partner: name missing", "POST", "/partners", {"adapter": "memory"}, "name"),
    bad("partner: name blank", "POST", "/partners", {"name": "   ", "adapter": "memory"}, "name"),
    bad("partner: name a number", "POST", "/partners", {"name": 5, "adapter": "memory"}, "name"),
    bad("partner: name too long", "POST", "/partners", {"name": "x" * 201, "adapter": "memory"}, "name"),
    bad(
        "partner: config unknown setting",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "config": {"url": "x"}},
        "config.url",
    ),
    bad(
        "partner: config bad value",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "config": {"autopilot": "maybe"}},
        "config.autopilot",
    ),
    bad(
        "partner: config not an object",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "config": "x"},
        "config",
    ),
    bad(
        "partner: default rate not a number",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "default_terms": {"bill_rate": "abc"}},
        "default_terms.bill_rate",
    ),
    bad(
        "partner: active not a boolean",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "active": "maybe"},
        "active",
    ),
    bad("partner: unknown field", "POST", "/partners", {"name": "F", "adapter": "memory", "colour": "red"}, "colour"),
    refused("partner: duplicate name", "POST", "/partners", 409, "conflict", {"name": "Contoso", "adapter": "memory"}),
    refused(
        "partner: duplicate name padded",
        "POST",
        "/partners",
        409,
        "conflict",
        {"name": "  Contoso ", "adapter": "memory"},
    ),
    refused("partner: look-alike (zero-width)", "POST", "/partners", 409, "conflict", lookalike("Con\u200btoso")),
    refused("partner: look-alike (full-width)", "POST", "/partners", 409, "conflict", lookalike("\uff23ontoso")),
    bad("partner: name of invisible controls", "POST", "/partners", {"name": "\u200b\u202e", "adapter": "m"}, "name"),
    refused("partner edit: look-alike name", "PATCH", PARTNER, 409, "conflict", {"name": "OLD\u202e\u00a0CO"}),
    bad("partner edit: unknown adapter", "PATCH", PARTNER, {"adapter": "carrier-pigeon"}, "adapter"),
    bad("partner edit: name null", "PATCH", PARTNER, {"name": None}, "name"),
    bad("partner edit: config unknown setting", "PATCH", PARTNER, {"config": {"url": "x"}}, "config.url"),
    bad("partner edit: unknown field", "PATCH", PARTNER, {"id": 7}, "id"),
    refused("partner edit: duplicate name", "PATCH", PARTNER, 409, "conflict", {"name": "Old Co"}),
    refused("partner edit: duplicate name padded", "PATCH", PARTNER, 409, "conflict", {"name": " Old Co  "}),
    refused("partner edit: unknown id", "PATCH", "/partners/{missing_partner}", 404, "not_found", {"active": False}),
    refused("partner read: unknown id", "GET", "/partners/{missing_partner}", 404, "not_found"),
    refused("partner disable: unknown id", "POST", "/partners/{missing_partner}/disable", 404, "not_found", {}),
]

READ_CASES = [
    refused("ticket state: unknown ticket", "GET", "/tickets/{missing_ticket}/outsource", 404, "not_found"),
    refused("ticket state: id not a number", "GET", "/tickets/abc/outsource", 404, "not_found"),
    refused("history: unknown ticket", "GET", "/tickets/{missing_ticket}/outsource/history", 404, "not_found"),
    refused("engagement: unknown id", "GET", "/engagements/{missing_engagement}", 404, "not_found"),
    refused("dashboard: unknown role", "GET", "/dashboard/nobody/unsent", 404, "not_found"),
    refused("dashboard: unknown folder", "GET", "/dashboard/lead/everything", 404, "not_found"),
    refused("dashboard: no unsent folder for service", "GET", "/dashboard/service/unsent", 404, "not_found"),
    refused("dashboard: no folders for system", "GET", "/dashboard/system/complete", 404, "not_found"),
    bad("dashboard: cursor garbage", "GET", FOLDER + "?after=garbage", NO_JSON, "after"),
    bad("dashboard: cursor bad date", "GET", FOLDER + "?after=2024-13-45T00:00:00~1", NO_JSON, "after"),
    bad("dashboard: cursor bad id", "GET", FOLDER + "?after=2024-01-01T00:00:00~x", NO_JSON, "after"),
    bad("dashboard: cursor too long", "GET", FOLDER + "?after=" + "9" * 201, NO_JSON, "after"),
    bad("dashboard: limit zero", "GET", FOLDER + "?limit=0", NO_JSON, "limit"),
    bad("dashboard: limit too big", "GET", FOLDER + "?limit=501", NO_JSON, "limit"),
    bad("dashboard: limit not a number", "GET", FOLDER + "?limit=ten", NO_JSON, "limit"),
    bad("dashboard: unknown sort", "GET", FOLDER + "?sort=price", NO_JSON, "sort"),
    bad("dashboard: unknown parameter", "GET", FOLDER + "?colour=red", NO_JSON, "colour"),
    refused("dead letter: unknown id", "POST", "/deadletters/{missing_message}/retry", 404, "not_found", {}),
    refused("dead letter: not dead", "POST", "/deadletters/{pending_message}/retry", 404, "not_found", {}),
]

#: issue 13: a ticket has one id (other spellings are 404), ids past the column are 404, NUL is a 400
HARDENING_CASES = [
    *(
        refused(
            f"configure: ticket id spelled {spelled}",
            "POST",
            f"/tickets/{spelled}/outsource",
            404,
            "not_found",
            configure(),
        )
        for spelled in ("0{fresh}", "+{fresh}", "%20{fresh}", "{fresh}%20", "{fresh}.0", "\u0665", "\uff19")
    ),
    refused("ticket state: id past any column", "GET", "/tickets/99999999999999999999/outsource", 404, "not_found"),
    refused("ticket state: id past a 32-bit column", "GET", "/tickets/2147483648/outsource", 404, "not_found"),
    refused("engagement: id past a 32-bit column", "GET", "/engagements/2147483648", 404, "not_found"),
    refused("engagement: id with a leading zero", "GET", "/engagements/0{unsent}", 404, "not_found"),
    bad("configure: instructions with NUL", "POST", CONFIGURE, configure(instructions="a\x00b"), "terms.instructions"),
    bad("action: reason with NUL", "POST", SERVICE_ACTION, act("decline", reason="far\x00away"), "reason"),
    bad("partner: name with NUL", "POST", "/partners", {"name": "Fab\x00rikam", "adapter": "memory"}, "name"),
    bad(
        "partner: config key with NUL",
        "POST",
        "/partners",
        {"name": "F", "adapter": "memory", "config": {"a\x00": 1}},
        "config",
    ),
]

CASES = [*MALFORMED, *CONFIGURE_CASES, *EDIT_CASES, *ACTION_CASES, *PARTNER_CASES, *READ_CASES, *HARDENING_CASES]


@pytest.fixture
def world(app: Flask, ticket_id: str, partner_id: int) -> dict[str, Any]:
    """Engagements in each state the cases need, a disabled partner and two outbox messages."""
    with app.app_context():
        disabled = Partner(name="Old Co", adapter="memory", config={}, default_terms={}, active=False)
        db.session.add(disabled)
        db.session.commit()
        disabled_partner = disabled.id
    fresh, unsent_ticket = add_ticket(app, "Mail bounces"), add_ticket(app, "Laptop stolen")
    engagements = {
        "waiting": add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=ticket_id),
        "unsent": add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=unsent_ticket),
        "service": add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE),
    }
    return {
        **engagements,
        "partner_id": partner_id,
        "disabled_partner": disabled_partner,
        "missing_partner": disabled_partner + 1000,
        "waiting_ticket": ticket_id,
        "unsent_ticket": unsent_ticket,
        "fresh": fresh,
        "missing_ticket": int(fresh) + 1000,
        "missing_engagement": max(engagements.values()) + 1000,
        "dead_message": add_outbox_message(app, partner_id),
        "pending_message": add_outbox_message(app, partner_id, MessageState.PENDING),
        "missing_message": add_outbox_message(app, partner_id) + 1000,
    }


def _named(details: dict[str, Any], field: str) -> Any:
    """The messages ``details`` holds for a dotted field path."""
    node: Any = details
    for part in field.split("."):
        assert isinstance(node, dict) and part in node, f"{field} is not named in {details}"
        node = node[part]
    return node


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_and_writes_nothing(app: Flask, api: Api, world: dict[str, Any], case: Case) -> None:
    statuses = {key: engagement_status(app, world[key]) for key in ("waiting", "unsent", "service")}
    counts, rows = row_counts(app), table_rows(app)
    kwargs: dict[str, Any] = {}
    if case.data is not None:
        kwargs = {"data": case.data, "content_type": case.content_type}
    elif case.json is not NO_JSON:
        kwargs = {"json": case.body(world)}
    response = api.call(case.method, case.path.format(**world), **kwargs)

    body = assert_error(response, case.status, case.error)
    if case.status == 400:
        assert case.field is not None
        assert isinstance(body.get("details"), dict), body
        messages = _named(body["details"], case.field)
        assert messages and all(isinstance(m, str) and m for m in _leaves(messages)), body
    assert row_counts(app) == counts
    assert table_rows(app) == rows
    assert {key: engagement_status(app, world[key]) for key in statuses} == statuses


def _leaves(messages: Any) -> list[Any]:
    if isinstance(messages, dict):
        return [leaf for value in messages.values() for leaf in _leaves(value)]
    if isinstance(messages, list):
        return [leaf for value in messages for leaf in _leaves(value)]
    return [messages]


def test_every_case_has_a_unique_id() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids))


SORTS = list(PageSchema().fields["sort"].validate.choices)  # type: ignore[union-attr]


@pytest.mark.parametrize("sort", SORTS)
def test_every_accepted_sort_pages_through_a_folder(app: Flask, api: Api, partner_id: int, sort: str) -> None:
    """The good side of the cursor cases above: every sort the API accepts is served, and the
    cursor each page returns is accepted on the next, until every engagement was listed once."""
    made = {add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=add_ticket(app)) for _ in range(5)}
    seen: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 2, "sort": sort}
    for _ in range(10):
        response = api.get(FOLDER, query_string=query)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        seen.extend(page["items"])
        if page["next"] is None:
            break
        query["after"] = page["next"]
    assert {item["id"] for item in seen} == made
    assert len(seen) == len(made)
    column = {"updated": "updated_at", "created": "created_at"}[sort.lstrip("-")]
    keys = [(item[column], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
