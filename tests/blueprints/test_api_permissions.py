"""Every JSON API endpoint against every permission level.

A level below what the endpoint needs gets a 403 JSON answer and writes
nothing; no credentials at all get a 401; a level at or above the
requirement gets the endpoint's ordinary answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import (
    add_engagement,
    add_invitation,
    add_outbox_message,
    add_ticket,
    assert_error,
    row_counts,
    table_rows,
)
from tests.conftest import Api

PREFIX = "/outsource/api/v1"


@dataclass(frozen=True)
class Endpoint:
    method: str
    rule: str
    needed: Permission
    ok: int
    body: Any = None
    #: URL variables taken from another entry of the world than their own name
    use: dict[str, str] = field(default_factory=dict)

    def url(self, world: dict[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(world[self.use.get(name, name)])

        return re.sub(r"<(?:\w+:)?(\w+)>", value, self.rule)

    def json(self, world: dict[str, Any]) -> Any:
        """The body, with ``"<name>"`` values replaced by the world's ``name``."""
        if self.body is None:
            return None if self.method == "GET" else {}
        return {k: world[v[1:-1]] if isinstance(v, str) and v.startswith("<") else v for k, v in self.body.items()}

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


OUT, PM = Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT

ENDPOINTS = [
    Endpoint("GET", "/adapters", PM, 200),
    Endpoint("GET", "/partners", PM, 200),
    Endpoint("POST", "/partners", PM, 201, {"name": "Fabrikam", "adapter": "memory"}),
    Endpoint("GET", "/partners/<int:partner_id>", PM, 200),
    Endpoint("PATCH", "/partners/<int:partner_id>", PM, 200, {"customer_ref": "42"}),
    Endpoint("POST", "/partners/<int:partner_id>/disable", PM, 200),
    # the world's partner is not a peer: nothing to rotate, once the caller may ask
    Endpoint("POST", "/partners/<int:partner_id>/rotate", PM, 409),
    Endpoint("GET", "/invitations", PM, 200),
    Endpoint("POST", "/invitations", PM, 201, {"name": "Fabrikam"}),
    Endpoint("POST", "/invitations/<int:invitation_id>/revoke", PM, 200),
    Endpoint("POST", "/partners/join", PM, 400, {"code": "not-a-code"}),
    Endpoint("GET", "/tickets/<ticket_id>/outsource", Permission.NONE, 200),
    Endpoint("POST", "/tickets/<ticket_id>/outsource", OUT, 201, {"partner_id": "<partner_id>"}, {"ticket_id": "free"}),
    Endpoint("PATCH", "/tickets/<ticket_id>/outsource", OUT, 200, {"terms": {"instructions": "ring first"}}),
    Endpoint("POST", "/tickets/<ticket_id>/outsource/actions", OUT, 200, {"action": "send"}),
    Endpoint("GET", "/tickets/<ticket_id>/outsource/history", OUT, 200),
    Endpoint("GET", "/engagements/<int:engagement_id>", OUT, 200),
    Endpoint("GET", "/engagements/<int:engagement_id>/entries", OUT, 200),
    Endpoint("POST", "/engagements/<int:engagement_id>/actions", OUT, 200, {"action": "send"}),
    Endpoint("GET", "/dashboard", PM, 200),
    Endpoint("GET", "/dashboard/<role>/<folder>", PM, 200),
    Endpoint("GET", "/deadletters", PM, 200),
    Endpoint("POST", "/deadletters/<int:message_id>/retry", PM, 200),
    Endpoint("GET", "/health", Permission.NONE, 200),
    Endpoint("GET", "/openapi.json", Permission.NONE, 200),
]

#: answered without a signed-in user, by design (monitoring, and the API's description for clients);
#: tests/outsource_plugin/ops/test_health.py and tests/blueprints/test_openapi.py cover them
PUBLIC = {"/health", "/openapi.json"}


def _cases(below: bool) -> list[Any]:
    return [
        pytest.param(endpoint, level, id=f"{endpoint} as {level.name}")
        for endpoint in ENDPOINTS
        for level in Permission
        if (level < endpoint.needed) is below
    ]


BELOW, AT_OR_ABOVE = _cases(below=True), _cases(below=False)


@pytest.fixture
def world(app: Flask, ticket_id: str, partner_id: int) -> dict[str, Any]:
    """A ticket with an Unsent engagement, a ticket never outsourced, a dead letter and an invitation."""
    return {
        "ticket_id": ticket_id,
        "free": add_ticket(app),
        "partner_id": partner_id,
        "engagement_id": add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=ticket_id),
        "message_id": add_outbox_message(app, partner_id),
        "role": "lead",
        "folder": "unsent",
        "invitation_id": add_invitation(app),
    }


def _call(api: Api, endpoint: Endpoint, world: dict[str, Any], level: Permission) -> Any:
    return api.call(endpoint.method, endpoint.url(world), level, json=endpoint.json(world))


def test_every_api_endpoint_is_covered(app: Flask) -> None:
    routed = {
        (method, re.sub(r"<(?:int\([^)]*\)|rowid):", "<int:", rule.rule.removeprefix(PREFIX)))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("outsource_api.")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routed == {(e.method, e.rule) for e in ENDPOINTS}


@pytest.mark.parametrize(("endpoint", "level"), BELOW)
def test_level_below_requirement_is_refused_and_writes_nothing(
    app: Flask, api: Api, world: dict[str, Any], endpoint: Endpoint, level: Permission
) -> None:
    counts, rows = row_counts(app), table_rows(app)
    response = _call(api, endpoint, world, level)
    body = assert_error(response, 403, "permission_denied")
    assert endpoint.needed.label in body["message"]
    assert row_counts(app) == counts
    assert table_rows(app) == rows
    # the refusal comes before the body is read: a caller without the permission
    # learns nothing about what a valid body looks like
    response = api.call(endpoint.method, endpoint.url(world), level, data="{bad", content_type="text/plain")
    assert_error(response, 403, "permission_denied")
    assert row_counts(app) == counts
    assert table_rows(app) == rows


@pytest.mark.parametrize(("endpoint", "level"), AT_OR_ABOVE)
def test_level_at_or_above_requirement_is_served(
    app: Flask, api: Api, world: dict[str, Any], endpoint: Endpoint, level: Permission
) -> None:
    response = _call(api, endpoint, world, level)
    assert response.status_code == endpoint.ok, response.get_data(as_text=True)
    assert response.is_json
    assert isinstance(response.get_json(), dict)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.rule not in PUBLIC], ids=str)
def test_without_a_signed_in_user_the_answer_is_401(
    app: Flask, api: Api, world: dict[str, Any], endpoint: Endpoint
) -> None:
    counts, rows = row_counts(app), table_rows(app)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRtaW46cHc="}):
        response = api.client.open(
            PREFIX + endpoint.url(world), method=endpoint.method, headers=headers, json=endpoint.json(world)
        )
        assert_error(response, 401, "not_authenticated")
    assert row_counts(app) == counts
    assert table_rows(app) == rows
