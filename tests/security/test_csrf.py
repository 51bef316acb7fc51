"""Every form POST of the plugin's pages is refused without the session's form token.

The routes come from ``app.url_map`` (every ``outsource_pages`` rule that
takes POST); their bodies and URL values come from the permissions table, so
a new form is checked as soon as it is routed. The caller is signed in with
Allow All, so the only thing missing is the token, and each refusal must be
the 400 "security token" page with no row of any table changed.

The JSON API has no form token; what a cross-site form can send it (the
session cookie, a form or text body, no custom header) must not write
through any of its state-changing routes either, even those that read no body.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from outsource_plugin.blueprints.csrf import SESSION_KEY
from outsource_plugin.permissions import Permission
from tests.blueprints.api_helpers import table_rows
from tests.blueprints.page_helpers import TOKEN, page_client
from tests.security.helpers import COUNTS
from tests.security.test_permissions import ENDPOINTS, Endpoint, bare, routed_rules

#: each way a forged or stale form can arrive
FORGERIES = {
    "no token": lambda data: data,
    "empty token": lambda data: {**data, "csrf_token": ""},
    "wrong token": lambda data: {**data, "csrf_token": "forged-" + TOKEN},
    "token of another session": lambda data: {**data, "csrf_token": "another-sessions-token-0123456789"},
    "token with a suffix": lambda data: {**data, "csrf_token": TOKEN + "x"},
}
FORMS = [e for e in ENDPOINTS if e.kind == "page" and e.method == "POST"]


@pytest.fixture(scope="module", autouse=True)
def summary() -> None:
    COUNTS.update(csrf_forms=len(FORMS), csrf_checks=len(FORMS) * (len(FORGERIES) + 3))


def test_every_page_form_is_checked(app: Flask) -> None:
    posted = {rule for method, rule in routed_rules(app) if method == "POST" and not rule.startswith("/outsource/api/")}
    posted = {rule for rule in posted if not rule.startswith("/outsource/federation/")}
    assert posted == {bare(e.rule) for e in FORMS}
    assert len(FORMS) >= 8


def _refused(response: TestResponse) -> None:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:500])
    assert "security token is missing or out of date" in response.get_data(as_text=True)


@pytest.mark.parametrize("form", FORMS, ids=str)
def test_a_form_without_the_right_token_is_refused(app: Flask, world: dict[str, Any], form: Endpoint) -> None:
    client: FlaskClient = page_client(app, Permission.ALL)
    url, data = form.url(world), form.data(world)
    before = table_rows(app)
    for name, forge in FORGERIES.items():
        response = client.post(url, data=forge(dict(data)))
        _refused(response)
        assert table_rows(app) == before, name
    # the right token in the query string, or a JSON body, is not a form carrying it
    _refused(client.post(f"{url}?csrf_token={TOKEN}", data=data))
    _refused(client.post(url, json={**data, "csrf_token": TOKEN}))
    assert table_rows(app) == before
    # a session that never had a token refuses even a token-shaped value
    fresh = page_client(app, Permission.ALL)
    with fresh.session_transaction() as session:
        session.pop(SESSION_KEY)
    _refused(fresh.post(url, data={**data, "csrf_token": TOKEN}))
    assert table_rows(app) == before


API_WRITES = [e for e in ENDPOINTS if e.kind == "api" and e.method not in ("GET", "HEAD", "OPTIONS")]


def test_every_api_write_is_checked(app: Flask) -> None:
    routed = {rule for method, rule in routed_rules(app) if method != "GET" and rule.startswith("/outsource/api/")}
    assert routed == {bare(e.rule) for e in API_WRITES}
    COUNTS["api_cross_site_writes"] = len(API_WRITES)


@pytest.mark.parametrize("endpoint", API_WRITES, ids=str)
def test_a_cross_site_form_cannot_write_through_the_api_with_the_session_cookie(
    app: Flask, world: dict[str, Any], endpoint: Endpoint
) -> None:
    """What a form on another site can send: the user's cookie, a form or plain-text body,
    no custom header. Even endpoints that read no body must refuse it."""
    client = page_client(app, Permission.ALL)
    url, data = endpoint.url(world), endpoint.data(world)
    before = table_rows(app)
    for body in ({"data": {k: str(v) for k, v in data.items()}}, {"data": "{}", "content_type": "text/plain"}, {}):
        response = client.open(url, method=endpoint.method, **body)
        assert response.status_code == 415, (body, response.status_code, response.get_data(as_text=True)[:300])
        assert response.get_json()["error"] == "unsupported_media_type"
        assert table_rows(app) == before
    # the same user's own JSON request (which a cross-site form cannot make) is served
    served = client.open(url, method=endpoint.method, json=data)
    assert served.status_code == endpoint.ok, served.get_data(as_text=True)[:300]
