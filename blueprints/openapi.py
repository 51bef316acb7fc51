"""The OpenAPI 3 description of the JSON API and the signed partner API, served publicly.

Paths come from the app's own URL map, so the description lists each route
exactly as Flask serves it (with the configured prefix). What each endpoint
takes and answers comes from ``OPERATIONS``, one row per view, whose request
schemas are the very marshmallow schemas the views load with. An endpoint
that has no row is left out, and the tests compare the URL map with the
description, so a new undocumented endpoint fails them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from outsource_plugin.adapters.registry import adapter_class, adapter_names
from outsource_plugin.blueprints import openapi_schemas as out
from outsource_plugin.blueprints.api_admin import RotateRequestSchema
from outsource_plugin.blueprints.api_common import ID, MAX_ROW_ID, api
from outsource_plugin.blueprints.api_health import HealthOut
from outsource_plugin.blueprints.api_invitations import JoinRequestSchema
from outsource_plugin.federation.batch import BatchSchema
from outsource_plugin.federation.feed import MessageSchema
from outsource_plugin.federation.rekey import ConfirmSchema, RotateAnswerSchema, RotateSchema
from outsource_plugin.federation.signing import LINK, REQUEST_ID, SIGNATURE, TIMESTAMP
from outsource_plugin.partnership.invitations import JoinSchema
from outsource_plugin.validation.schemas import (
    ActionSchema,
    ConfigureSchema,
    EditSchema,
    InvitationSchema,
    LeaveSchema,
    PageSchema,
    PartnerSchema,
)
from outsource_plugin.workflow import Folder, Side

#: the blueprints whose routes the description covers, and the tag each gets
DOCUMENTED_BLUEPRINTS = {
    "outsource_api": "JSON API",
    "outsource_federation": "Partner API",
    "outsource_federation_join": "Partner API",
}

ERROR_TEXT = {
    400: "The input is invalid: ``details`` names each bad field.",
    401: "Not signed in (JSON API), or the partner request's signature, clock or request id failed.",
    403: "The caller's outsourcing level does not allow this.",
    404: "No such ticket, engagement, partner, folder or dead letter (or not this partner's).",
    409: "Not possible in the current state (the transition table, a Complete ticket, a taken name, "
    "an invitation used, expired or revoked).",
    413: "The request body is larger than the host allows.",
    415: "The body was not sent as application/json.",
    429: "Too many failed attempts to join with this invitation: it is locked.",
    502: "The partner's host could not be reached.",
}

#: answers every JSON API call may get
AUTH_ERRORS = (401, 403)
#: answers every call with a JSON body may get, on top of its own
BODY_ERRORS = (400, 413, 415)

BEARER = "bearerAuth"
SIGNED = ("partnerLink", "partnerTimestamp", "partnerRequestId", "partnerSignature")


@dataclass(frozen=True)
class Operation:
    """How one view is described: what it takes, what it answers on success, how it refuses."""

    summary: str
    answer: type[Schema]
    status: int = 200
    body: Schema | type[Schema] | None = None
    query: type[Schema] | None = None
    errors: tuple[int, ...] = ()
    #: path parameters that take only some values: their schema
    path_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    public: bool = False
    #: another status answered with the same body (health: 503 when unhealthy)
    alternate: int | None = None


def _enum(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


OPERATIONS: dict[str, Operation] = {
    "outsource_api.openapi_document": Operation("This OpenAPI description (public).", out.OpenApiOut, public=True),
    "outsource_api.health": Operation(
        "Sync health (public; 503 when unhealthy; per-partner figures for Partner Management).",
        HealthOut,
        public=True,
        alternate=503,
    ),
    "outsource_api.ticket_state": Operation(
        "A ticket's outsourcing: the current engagement and the actions the caller may take.",
        out.TicketStateOut,
        errors=(*AUTH_ERRORS, 404),
    ),
    "outsource_api.ticket_configure": Operation(
        "Choose the partner and terms: a new Unsent engagement.",
        out.TicketStateOut,
        status=201,
        body=ConfigureSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.ticket_edit": Operation(
        "Edit the partner or terms while the engagement is Unsent.",
        out.TicketStateOut,
        body=EditSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.ticket_action": Operation(
        "Take an action (send, cancel, approve, ...) on the ticket's current engagement.",
        out.TicketStateOut,
        body=ActionSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.ticket_history": Operation(
        "The audit trail of every engagement of the ticket.", out.HistoryOut, errors=(*AUTH_ERRORS, 404)
    ),
    "outsource_api.engagement_read": Operation("One engagement by id.", out.EngagementOut, errors=(*AUTH_ERRORS, 404)),
    "outsource_api.engagement_entries": Operation(
        "The partner's entries: who wrote each one, and those held on the plugin's side.",
        out.PartnerEntriesOut,
        errors=(*AUTH_ERRORS, 404),
    ),
    "outsource_api.engagement_action": Operation(
        "Act on an engagement by id: how a service partner accepts an offer that has no ticket yet.",
        out.EngagementOut,
        body=ActionSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.partners_list": Operation("Every partner, by name.", out.PartnersOut, errors=AUTH_ERRORS),
    "outsource_api.partners_create": Operation(
        "Register a partner; ``config`` is checked with the chosen adapter's settings schema.",
        out.PartnerOut,
        status=201,
        body=PartnerSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 409),
    ),
    "outsource_api.partners_read": Operation("One partner.", out.PartnerOut, errors=(*AUTH_ERRORS, 404)),
    "outsource_api.partners_edit": Operation(
        "Change the fields sent; a secret setting left out keeps its stored value.",
        out.PartnerOut,
        body=PartnerSchema(partial=True),
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.partners_disable": Operation(
        "Disable a partner: it keeps its history but cannot be chosen or polled; a peer is told the reason "
        "(retried until it takes it). Enabling it again here does not enable us on its side.",
        out.PartnerOut,
        body=LeaveSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404),
    ),
    "outsource_api.partners_rotate": Operation(
        "Start rotating a peer's keys over the signed channel; it goes on in the background, both keys "
        "accepted until the partner confirms. A start while one is under way changes nothing.",
        out.RotatingOut,
        status=202,
        body=RotateRequestSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    ),
    "outsource_api.invitations_list": Operation(
        "Open invitations (not joined, not revoked).", out.InvitationsOut, errors=AUTH_ERRORS
    ),
    "outsource_api.invitations_create": Operation(
        "Invite a partner: the answer carries the one-time code, which is not kept (only its hash).",
        out.InvitedOut,
        status=201,
        body=InvitationSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 409),
    ),
    "outsource_api.invitations_revoke": Operation(
        "Revoke an invitation: its code is refused from now on.",
        out.InvitationOut,
        errors=(*AUTH_ERRORS, 404, 409),
    ),
    "outsource_api.partners_join": Operation(
        "Join the partner that gave the code: both hosts register each other as an enabled peer.",
        out.PartnerOut,
        status=201,
        body=JoinRequestSchema,
        errors=(*AUTH_ERRORS, *BODY_ERRORS, 409, 502),
    ),
    "outsource_api.dashboard_counts": Operation(
        "How many engagements each dashboard folder holds.", out.DashboardOut, errors=AUTH_ERRORS
    ),
    "outsource_api.dashboard_folder": Operation(
        "One dashboard folder, a page at a time.",
        out.FolderPageOut,
        query=PageSchema,
        errors=(*AUTH_ERRORS, 400, 404),
        path_values={
            "role": _enum([Side.LEAD.value, Side.SERVICE.value]),
            "folder": _enum([f.value for f in Folder]),
        },
    ),
    "outsource_api.deadletters_list": Operation(
        "Messages a partner kept refusing.", out.DeadLettersOut, errors=AUTH_ERRORS
    ),
    "outsource_api.deadletters_retry": Operation(
        "Queue a dead letter for delivery again.", out.RetriedOut, errors=(*AUTH_ERRORS, 404)
    ),
    "outsource_api.adapters_list": Operation(
        "The partner systems this installation can register, with their settings.",
        out.AdaptersOut,
        errors=AUTH_ERRORS,
    ),
    "outsource_federation_join.invitation_key": Operation(
        "An open invitation's public key, which the joining host checks against the code's fingerprint.",
        out.InvitationKeyOut,
        errors=(404, 409, 429),
        public=True,
    ),
    "outsource_federation_join.join_request": Operation(
        "Join with an invitation: signed like partner requests, with the proof key both sides derive from "
        "the X25519 exchange and the token (link id: the invitation id); the answer carries our confirmation.",
        out.JoinedOut,
        body=JoinSchema,
        errors=(400, 401, 404, 409, 413, 429),
        public=True,
    ),
    "outsource_federation.ping": Operation("Check the partnership's link and secret.", out.PingOut, errors=(401,)),
    "outsource_federation.leave": Operation(
        "The calling partner ended the partnership: it is disabled here, its reason kept and shown; "
        "a repeat (from a partner already disabled) is answered as a duplicate.",
        out.LeftOut,
        body=LeaveSchema,
        errors=(400, 401, 413),
    ),
    "outsource_federation.receive": Operation(
        "Push the next numbered message; a repeat is answered as a duplicate, a gap with 409, "
        "an action that crossed one of ours in flight and lost as superseded.",
        out.ReceivedOut,
        body=MessageSchema,
        errors=(400, 401, 404, 409, 413),
    ),
    "outsource_federation.receive_many": Operation(
        "Push many numbered messages in one request, applied in one transaction in feed order and each "
        "answered as POST /messages would answer it; a bad item is a 400 naming it (messages.<n>) and "
        "nothing is applied, a batch whose first message is not next a 409.",
        out.BatchReceivedOut,
        body=BatchSchema,
        errors=(400, 401, 409, 413),
    ),
    "outsource_federation.engagement_state": Operation(
        "What we hold of one engagement with the calling partner: status and entry digests.",
        out.PartnerEngagementOut,
        errors=(401, 404),
    ),
    "outsource_federation.rotate": Operation(
        "A key rotation the calling partner starts: its X25519 half; the answer is ours and a MAC under the "
        "new secret, which we accept from now on (we still sign with the current one). The same rotation id "
        "again gets the same answer; two rotations started at once: the lower id goes on, the other is a 409.",
        RotateAnswerSchema,
        body=RotateSchema,
        errors=(400, 401, 409, 413),
    ),
    "outsource_federation.rotate_confirm": Operation(
        "Signed with the new secret: we sign with it too and retire the old one, which is refused from now on.",
        out.RotatedOut,
        body=ConfirmSchema,
        errors=(400, 401, 409, 413),
    ),
    "outsource_federation.changes": Operation(
        "Pull our messages for the calling partner after a cursor (which also acknowledges up to it).",
        out.ChangesOut,
        query=out.ChangesQuery,
        errors=(400, 401),
    ),
}

_PARAMETER = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def documented_rules(app: Flask) -> list[Rule]:
    """The routes the description must cover: every rule of the API blueprints."""
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in DOCUMENTED_BLUEPRINTS]


def openapi_path(rule: Rule) -> str:
    """``/x/<int(max=9):id>`` as OpenAPI writes it: ``/x/{id}``."""
    return _PARAMETER.sub(lambda m: "{" + m.group("name") + "}", rule.rule)


def _path_parameters(rule: Rule, operation: Operation) -> list[dict[str, Any]]:
    parameters = []
    for match in _PARAMETER.finditer(rule.rule):
        name, converter = match.group("name"), match.group("converter") or "default"
        schema: dict[str, Any]
        if name in operation.path_values:
            schema = operation.path_values[name]
        elif converter == ID:
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _operation(rule: Rule, operation: Operation, method: str) -> dict[str, Any]:
    blueprint = rule.endpoint.split(".")[0]
    body: dict[str, Any] = {
        "operationId": rule.endpoint.split(".", 1)[1],
        "summary": operation.summary,
        "tags": [DOCUMENTED_BLUEPRINTS[blueprint]],
        "parameters": _path_parameters(rule, operation),
        "responses": {
            str(status): {
                "description": "Done." if status < 400 else "Answered, but not healthy.",
                "content": {"application/json": {"schema": operation.answer}},
            }
            for status in (operation.status, operation.alternate)
            if status is not None
        }
        | {str(code): {"$ref": f"#/components/responses/{code}"} for code in sorted(set(operation.errors))},
    }
    if operation.query is not None:
        body["parameters"].append({"in": "query", "schema": operation.query})
    if operation.body is not None and method in ("POST", "PATCH", "PUT"):
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": operation.body}}}
    if operation.public:
        body["security"] = []
    elif blueprint == "outsource_federation":
        body["security"] = [{name: [] for name in SIGNED}]
    return body


def _security_schemes(spec: APISpec) -> None:
    spec.components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "The host signs users in; the demo host takes ``Authorization: Bearer <api token>`` "
            "(or its session cookie). What the user may do follows their outsourcing level.",
        },
    )
    described = {
        LINK: "The partnership's link id, as registered on both sides.",
        TIMESTAMP: "Unix time of the request; it must be within OUTSOURCE_SIGNATURE_TOLERANCE seconds.",
        REQUEST_ID: "A fresh id (at most 64 characters) per request: a replayed id is refused.",
        SIGNATURE: "``v1=`` + hex HMAC-SHA256 with the partnership's secret over method, path with query, "
        "timestamp, request id and the SHA-256 of the body, joined by newlines.",
    }
    for name, header in zip(SIGNED, described, strict=True):
        spec.components.security_scheme(
            name, {"type": "apiKey", "in": "header", "name": header, "description": described[header]}
        )


def _adapter_settings(spec: APISpec) -> None:
    """Each installed adapter's settings schema, and the partner body's ``config`` as one of them."""
    refs = []
    for name in adapter_names():
        component = f"{name.title().replace('_', '')}Settings"
        spec.components.schema(component, schema=adapter_class(name).config_schema)
        refs.append({"$ref": f"#/components/schemas/{component}"})
    for component in ("Partner", "PartnerPatch"):
        partner = spec.components.schemas[component]["properties"]
        partner["adapter"]["enum"] = adapter_names()
        partner["config"] = {
            "type": "object",
            "description": "The adapter's settings: see the schema named after the adapter.",
            "anyOf": refs,
        }


def _decimal_bounds(converter: Any, field: fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
    """Money and hours: a JSON number (or a decimal string); apispec writes their bounds as strings."""
    if not isinstance(field, fields.Decimal):
        return {}
    bounds: dict[str, Any] = {key: float(ret[key]) for key in ("minimum", "maximum") if key in ret}
    return {**bounds, "description": "A decimal with at most two places; a decimal string is also taken."}


def _schema_name(schema: Schema | type[Schema]) -> str:
    """Component names: the class name without ``Schema``; a partial (PATCH) body gets ``Patch``."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    return f"{name}Patch" if getattr(schema, "partial", False) else name


def build_spec(app: Flask) -> dict[str, Any]:
    """The whole description for ``app``, as a JSON-able dictionary."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="outsource-plugin API",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "The JSON API for a help desk's users and the signed API partner hosts call. "
            "Every refusal is JSON: {error, message, details}."
        },
        security=[{BEARER: []}],
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_decimal_bounds)
    _security_schemes(spec)
    spec.components.schema("Error", schema=out.ErrorOut)
    for code, text in ERROR_TEXT.items():
        spec.components.response(str(code), {"description": text, "content": {"application/json": {"schema": "Error"}}})
    spec.components.schema("Partner", schema=PartnerSchema)
    spec.components.schema("PartnerPatch", schema=PartnerSchema(partial=True))
    _adapter_settings(spec)
    paths: dict[str, dict[str, Any]] = {}
    for rule in documented_rules(app):
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation(rule, operation, method)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@api.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """Public: a client or a tool reads what the API takes before it has a token."""
    return jsonify(build_spec(current_app))
