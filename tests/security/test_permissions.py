"""Every route of the plugin's blueprints against every kind of caller.

One table, ``ENDPOINTS``, says the least each route needs: a permission
level, a signed partner request (the federation API), or nothing (static
files). ``test_every_route_is_in_the_table`` reads ``app.url_map``, so a new
route without a row fails the suite instead of slipping through unchecked.

Callers: anonymous, each user level (a bearer token for the JSON API, a
signed-in browser session for the pages) and a correctly signed partner.
Below what a route needs, the answer is 401/403 (JSON under the API and
federation prefixes, an HTML error page for the pages) and not one row of
any table changes; at or above, the route gives its ordinary answer.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from outsource_plugin.blueprints.csrf import SESSION_KEY
from outsource_plugin.federation import handshake
from outsource_plugin.federation.signing import sign
from outsource_plugin.permissions import Permission
from tests.blueprints.api_helpers import (
    assert_error,
    row_counts,
    table_rows,
)
from tests.blueprints.page_helpers import TOKEN, page_client
from tests.conftest import LEVELS
from tests.security.helpers import COUNTS, PEER_LINK, PEER_SECRET, offer_message, signed

API, PAGES, FED = "/outsource/api/v1", "/outsource", "/outsource/federation/v1"
BLUEPRINTS = ("outsource_api.", "outsource_pages.", "outsource_federation.")
#: callers that are not a user level
ANONYMOUS, PARTNER = "anonymous", "partner"
CALLERS: list[Any] = [ANONYMOUS, *Permission, PARTNER]

OUT, PM, ALL, NONE = Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT, Permission.ALL, Permission.NONE


@dataclass(frozen=True)
class Endpoint:
    method: str
    #: the full rule as in ``app.url_map``, with ``<int(...):x>`` written ``<int:x>``
    rule: str
    needed: Any  # a Permission, ANONYMOUS or PARTNER
    ok: int
    body: dict[str, Any] | None = None
    #: URL variables taken from another entry of the world than their own name
    use: dict[str, str] = field(default_factory=dict)
    #: a page route that answers JSON (the ticket page's live answer) rather than HTML
    json: bool = False

    @property
    def kind(self) -> str:
        return "federation" if self.rule.startswith(FED) else "api" if self.rule.startswith(API) else "page"

    def url(self, world: dict[str, Any]) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(world[self.use.get(m.group(1), m.group(1))]), self.rule)

    def data(self, world: dict[str, Any]) -> dict[str, Any]:
        """The body, with ``"<name>"`` values replaced by the world's ``name``."""
        return {
            k: world[v[1:-1]] if isinstance(v, str) and v.startswith("<") else v for k, v in (self.body or {}).items()
        }

    def allows(self, caller: Any) -> bool:
        if self.needed == ANONYMOUS:
            return True
        if self.needed == PARTNER or caller in (ANONYMOUS, PARTNER):
            return bool(caller == self.needed)
        return bool(caller >= self.needed)

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


E = Endpoint
#: a key rotation a partner offers
ROTATION_ID, PUBLIC_KEY = "0" * 32, handshake.public_text(handshake.new_private_key())
ENGAGEMENT = "<int:engagement_id>"
#: the ticket never outsourced, and the engagement where a question can be asked
FREE, ASKING = {"ticket_id": "free"}, {"engagement_id": "asking"}
ENDPOINTS = [
    # the JSON API
    E("GET", f"{API}/health", ANONYMOUS, 200),
    E("GET", f"{API}/openapi.json", ANONYMOUS, 200),
    E("GET", f"{API}/adapters", PM, 200),
    E("GET", f"{API}/partners", PM, 200),
    E("POST", f"{API}/partners", PM, 201, {"name": "Fabrikam", "adapter": "memory"}),
    E("GET", f"{API}/partners/<int:partner_id>", PM, 200),
    E("PATCH", f"{API}/partners/<int:partner_id>", PM, 200, {"customer_ref": "42"}),
    E("POST", f"{API}/partners/<int:partner_id>/disable", PM, 200),
    E("POST", f"{API}/partners/<int:partner_id>/rotate", PM, 202, use={"partner_id": "peer_id"}),
    E("GET", f"{API}/invitations", PM, 200),
    E("POST", f"{API}/invitations", PM, 201, {"name": "Fabrikam"}),
    E("POST", f"{API}/invitations/<int:invitation_id>/revoke", PM, 200),
    E("POST", f"{API}/partners/join", PM, 400, {"code": "not-a-code"}),
    E("GET", f"{API}/tickets/<ticket_id>/outsource", NONE, 200),
    E("POST", f"{API}/tickets/<ticket_id>/outsource", OUT, 201, {"partner_id": "<partner_id>"}, FREE),
    E("PATCH", f"{API}/tickets/<ticket_id>/outsource", OUT, 200, {"terms": {"instructions": "ring first"}}),
    E("POST", f"{API}/tickets/<ticket_id>/outsource/actions", OUT, 200, {"action": "send"}),
    E("GET", f"{API}/tickets/<ticket_id>/outsource/history", OUT, 200),
    E("GET", f"{API}/engagements/{ENGAGEMENT}", OUT, 200),
    E("GET", f"{API}/engagements/{ENGAGEMENT}/entries", OUT, 200),
    E("POST", f"{API}/engagements/{ENGAGEMENT}/actions", OUT, 200, {"action": "send"}),
    E("GET", f"{API}/dashboard", PM, 200),
    E("GET", f"{API}/dashboard/<role>/<folder>", PM, 200),
    E("GET", f"{API}/deadletters", PM, 200),
    E("POST", f"{API}/deadletters/<int:message_id>/retry", PM, 200),
    # the HTML pages
    E("GET", f"{PAGES}/static/<path:filename>", ANONYMOUS, 200),
    E("GET", f"{PAGES}/tickets/<ticket_id>/outsource", OUT, 200),
    E(
        "POST",
        f"{PAGES}/tickets/<ticket_id>/outsource",
        OUT,
        302,
        {"partner_id": "<partner_id>"},
        {"ticket_id": "free"},
    ),
    E("GET", f"{PAGES}/engagements/{ENGAGEMENT}", OUT, 200),
    E("GET", f"{PAGES}/engagements/{ENGAGEMENT}/terms", OUT, 200),
    E("GET", f"{PAGES}/engagements/{ENGAGEMENT}/history", OUT, 200),
    E("GET", f"{PAGES}/engagements/{ENGAGEMENT}/actions/<action>", OUT, 200),
    E("POST", f"{PAGES}/engagements/{ENGAGEMENT}/actions/<action>", OUT, 302, use={"action": "send"}),
    E("GET", f"{PAGES}/engagements/{ENGAGEMENT}/question", OUT, 200, use=ASKING),
    E(
        "POST",
        f"{PAGES}/engagements/{ENGAGEMENT}/question",
        OUT,
        302,
        {"text": "Which floor?"},
        {"engagement_id": "asking"},
    ),
    E("GET", f"{PAGES}/tickets/<ticket_id>/live", NONE, 200, json=True),
    E("GET", f"{PAGES}/work", OUT, 200),
    E("GET", f"{PAGES}/dashboard", PM, 200),
    E("GET", f"{PAGES}/deadletters", PM, 200),
    E("POST", f"{PAGES}/deadletters/<int:message_id>/retry", PM, 302),
    E("GET", f"{PAGES}/partners", PM, 200),
    E("GET", f"{PAGES}/partners/new", PM, 200),
    E("POST", f"{PAGES}/partners/new", PM, 302, {"adapter": "memory", "name": "Fabrikam", "active": "on"}),
    E("GET", f"{PAGES}/partners/<int:partner_id>", PM, 200),
    E("POST", f"{PAGES}/partners/<int:partner_id>", PM, 302, {"name": "Contoso Two", "active": "on"}),
    E("POST", f"{PAGES}/partners/<int:partner_id>/disable", PM, 302),
    E("POST", f"{PAGES}/partners/<int:partner_id>/rotate", PM, 302, use={"partner_id": "peer_id"}),
    E("POST", f"{PAGES}/partners/<int:partner_id>/test", PM, 302),
    E("GET", f"{PAGES}/partners/invite", PM, 200),
    E("POST", f"{PAGES}/partners/invite", PM, 200, {"name": "Fabrikam"}),
    E("GET", f"{PAGES}/partners/join", PM, 200),
    E("POST", f"{PAGES}/partners/join", PM, 400, {"code": "not-a-code"}),
    E("POST", f"{PAGES}/invitations/<int:invitation_id>/revoke", PM, 302),
    # the signed partner API: no user level reaches it
    E("GET", f"{FED}/ping", PARTNER, 200),
    E("GET", f"{FED}/changes", PARTNER, 200),
    E("POST", f"{FED}/messages", PARTNER, 200),
    E("POST", f"{FED}/messages/batch", PARTNER, 200, {"messages": [offer_message(1, "permission-batch")]}),
    E("POST", f"{FED}/leave", PARTNER, 200),
    E("GET", f"{FED}/engagements/<uid>", PARTNER, 200),
    E("POST", f"{FED}/rotate", PARTNER, 200, {"rotation_id": ROTATION_ID, "public_key": PUBLIC_KEY}),
    # a confirmation of a rotation never offered: refused once the signature is accepted
    E("POST", f"{FED}/rotate/confirm", PARTNER, 409, {"rotation_id": ROTATION_ID}),
]


def bare(rule: str) -> str:
    """A rule without its converters: ``<int(max=9):x>`` and ``<x>`` name the same route."""
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"<\1>", rule)


def routed_rules(app: Flask) -> set[tuple[str, str]]:
    """(method, rule) of every route of the plugin's blueprints, HEAD and OPTIONS aside."""
    return {
        (method, bare(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(BLUEPRINTS)
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def _callers(endpoint: Endpoint, below: bool) -> list[Any]:
    return [caller for caller in CALLERS if endpoint.allows(caller) is not below]


def _name(callers: list[Any]) -> str:
    return ",".join(getattr(caller, "name", caller) for caller in callers)


#: every refused caller of an endpoint shares one world: a refusal writes nothing
BELOW = [
    pytest.param(e, _callers(e, below=True), id=f"{e} as {_name(_callers(e, below=True))}")
    for e in ENDPOINTS
    if _callers(e, below=True)
]
#: a served read shares one world too; a served write gets a fresh world per caller
AT_OR_ABOVE = [
    pytest.param(e, callers, id=f"{e} as {_name(callers)}")
    for e in ENDPOINTS
    for callers in ([_callers(e, below=False)] if e.method == "GET" else [[c] for c in _callers(e, below=False)])
]


@pytest.fixture(scope="module", autouse=True)
def summary() -> None:
    # every caller of every endpoint, refused or served
    COUNTS.update(permission_checks=len(ENDPOINTS) * len(CALLERS), permission_endpoints=len(ENDPOINTS))


def signed_out_client(app: Flask) -> FlaskClient:
    """A browser with a valid form token but nobody signed in: the form check passes, so
    what is tested is that the page itself refuses an anonymous caller."""
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = TOKEN
    return client


def call(app: Flask, endpoint: Endpoint, world: dict[str, Any], caller: Any, *, raw: bool = False) -> TestResponse:
    """``endpoint`` as ``caller`` would send it; ``raw`` sends a body that is no valid input."""
    url, data = endpoint.url(world), endpoint.data(world)
    if endpoint.kind == "federation":
        path = url.removeprefix(FED) + ("?after=0" if url.endswith("/changes") else "")
        payload = (
            {"reason": "Contract over"}
            if url.endswith("/leave")
            else (data or offer_message(1, uuid.uuid4().hex))
            if endpoint.method == "POST"
            else None
        )
        if caller == PARTNER:
            return signed(app.test_client(), endpoint.method, path, link=PEER_LINK, secret=PEER_SECRET, payload=payload)
        client = app.test_client() if caller == ANONYMOUS else page_client(app, caller)
        headers = {} if caller == ANONYMOUS else {"Authorization": f"Bearer {LEVELS[caller]}"}
        return client.open(FED + path, method=endpoint.method, json=payload, headers=headers)
    if caller == PARTNER:
        # a correctly signed request for this very path: the partner's key opens no user route
        body = json.dumps(data).encode() if data else b""
        if endpoint.kind == "page":
            form = {"csrf_token": TOKEN, **data} if endpoint.method == "POST" else None
            headers = sign(PEER_LINK, PEER_SECRET, endpoint.method, url, b"")
            return signed_out_client(app).open(url, method=endpoint.method, headers=headers, data=form)
        headers = {**sign(PEER_LINK, PEER_SECRET, endpoint.method, url, body), "Content-Type": "application/json"}
        return app.test_client().open(url, method=endpoint.method, headers=headers, data=body)
    if endpoint.kind == "api":
        headers = {} if caller == ANONYMOUS else {"Authorization": f"Bearer {LEVELS[caller]}"}
        if raw:
            return app.test_client().open(
                url, method=endpoint.method, headers=headers, data="{bad", content_type="text/plain"
            )
        body = None if endpoint.method == "GET" else data
        return app.test_client().open(url, method=endpoint.method, headers=headers, json=body)
    client = signed_out_client(app) if caller == ANONYMOUS else page_client(app, caller)
    if endpoint.method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": TOKEN, **({"partner_id": "x"} if raw else data)})


def assert_refused(endpoint: Endpoint, caller: Any, response: TestResponse) -> None:
    """401 without a user (or without a signature on the federation API), 403 for a low level."""
    status = 401 if caller in (ANONYMOUS, PARTNER) or endpoint.kind == "federation" else 403
    if endpoint.kind == "page":
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
        assert response.mimetype == "text/html"
        assert "That could not be done" in response.get_data(as_text=True)
        return
    assert_error(response, status, "not_authenticated" if status == 401 else "permission_denied")


def test_every_route_is_in_the_table(app: Flask) -> None:
    table = [(e.method, bare(e.rule)) for e in ENDPOINTS]
    assert len(table) == len(set(table)), "a route is in the table twice"
    routed = routed_rules(app)
    assert routed - set(table) == set(), "routes without a minimum level in ENDPOINTS"
    assert set(table) - routed == set(), "ENDPOINTS names routes that no longer exist"


@pytest.mark.parametrize(("endpoint", "callers"), BELOW)
def test_below_the_requirement_is_refused_and_writes_nothing(
    app: Flask, world: dict[str, Any], endpoint: Endpoint, callers: list[Any]
) -> None:
    counts, rows = row_counts(app), table_rows(app)
    for caller in callers:
        assert_refused(endpoint, caller, call(app, endpoint, world, caller))
        assert row_counts(app) == counts, caller
        assert table_rows(app) == rows, caller
        if endpoint.kind != "federation" and endpoint.method != "GET":
            # the refusal comes before the body is read: nothing about valid input leaks
            assert_refused(endpoint, caller, call(app, endpoint, world, caller, raw=True))
            assert table_rows(app) == rows, caller


@pytest.mark.parametrize(("endpoint", "callers"), AT_OR_ABOVE)
def test_at_or_above_the_requirement_is_served(
    app: Flask, world: dict[str, Any], endpoint: Endpoint, callers: list[Any]
) -> None:
    for caller in callers:
        response = call(app, endpoint, world, caller)
        assert response.status_code == endpoint.ok, (
            caller,
            response.status_code,
            response.get_data(as_text=True)[:1000],
        )
        if endpoint.kind != "page" or endpoint.json:
            assert response.is_json and isinstance(response.get_json(), dict), caller
        elif endpoint.method == "GET" and endpoint.needed != ANONYMOUS:
            assert response.mimetype == "text/html", caller
        if endpoint.kind == "federation" and endpoint.rule.endswith(("/messages", "/leave")):
            done = {"status": "left"} if endpoint.rule.endswith("/leave") else {"status": "applied", "applied": 1}
            assert response.get_json() == done
        response.close()
