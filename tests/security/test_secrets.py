"""Partner secrets never show up in logs, API answers, pages or error pages.

Three partners (peer, Redmine, Request Tracker) are registered with
distinctive secrets, through the JSON API and through the pages (including
forms refused for bad input, which echo what was typed), then edited, listed,
tested against a real partner HTTP server that refuses everything, used to
sign federation requests, and made to fail delivery and polling. Every log
record (root logger at DEBUG, which includes werkzeug's request lines) and
every answer the app gave (body and headers, errors included) is searched for
each secret. The partner server also checks how each secret travelled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, request_finished
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement
from outsource_plugin.jobs.deliver import deliver_due
from outsource_plugin.jobs.poll import poll_all
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.blueprints.api_helpers import add_ticket
from tests.blueprints.page_helpers import TOKEN, html, page_client, post
from tests.conftest import Api
from tests.security.helpers import COUNTS, PartnerServer, signed

PEER_SECRET = "peer-SECRET-3f9c1a7be2d84c05"
PREVIOUS_SECRET = "prev-SECRET-8d1e55aa90c2b7f3"
PAGE_SECRET = "page-SECRET-71b0d3e6a2c95f48"
REDMINE_KEY = "redmine-KEY-c4e8a19f7b20d6e1"
RT_TOKEN = "rt-TOKEN-5a7d03e9b1f24c86"
#: typed into forms and bodies that are refused: they must not be echoed back either
REFUSED_KEY = "refused-KEY-0e6b2f9d84a1c37a"
#: one character too short for a peer secret
SHORT_SECRET = "short-SECRET-7x"
SECRETS = (PEER_SECRET, PREVIOUS_SECRET, PAGE_SECRET, REDMINE_KEY, RT_TOKEN, REFUSED_KEY, SHORT_SECRET)


class Answers:
    """Every response the app sends while connected, with its headers, as text."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.texts: list[str] = []

    def _record(self, sender: Flask, response: Response, **extra: Any) -> None:
        body = "" if response.direct_passthrough else response.get_data(as_text=True)
        self.texts.append(f"{response.status}\n{response.headers}\n{body}")

    def __enter__(self) -> Answers:
        request_finished.connect(self._record, self.app)
        return self

    def __exit__(self, *exc: object) -> None:
        request_finished.disconnect(self._record, self.app)


def log_text(records: list[logging.LogRecord]) -> str:
    """Everything a handler could write of each record: message, arguments, traceback, extras."""
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text} {r.__dict__!r}" for r in records)


@pytest.fixture
def server() -> Iterator[PartnerServer]:
    """A partner system that knows no path: every call gets a 404 JSON answer."""
    with PartnerServer() as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    COUNTS.update(secrets=len(SECRETS), secret_answers_checked=ANSWERS_CHECKED[0])


ANSWERS_CHECKED = [0]


def _register_all(api: Api, base: str) -> dict[str, int]:
    bodies = {
        "peer": {"base_url": f"{base}/outsource", "link_id": "nw-secrets", "secret": PEER_SECRET},
        "redmine": {"base_url": base, "api_key": REDMINE_KEY, "project": "ops"},
        "request_tracker": {"base_url": base, "token": RT_TOKEN, "queue": "General"},
    }
    ids = {}
    for adapter, config in bodies.items():
        created = api.post("/partners", {"name": f"Partner {adapter}", "adapter": adapter, "config": config})
        assert created.status_code == 201, created.get_data(as_text=True)
        assert created.get_json()["secrets_set"], "the secret was not stored"
        ids[adapter] = int(created.get_json()["id"])
    return ids


def _refused_inputs(app: Flask, api: Api, ids: dict[str, int]) -> None:
    """Bad input next to a secret: the 400 answers name the bad field but never echo the secret."""
    bad = {"base_url": "not a url", "api_key": REFUSED_KEY, "project": ""}
    answer = api.post("/partners", {"name": "Broken", "adapter": "redmine", "config": bad})
    assert answer.status_code == 400 and "base_url" in str(answer.get_json())
    answer = api.patch(f"/partners/{ids['request_tracker']}", {"config": {"token": REFUSED_KEY, "queue": ""}})
    assert answer.status_code == 400
    answer = api.patch(f"/partners/{ids['peer']}", {"config": {"secret": SHORT_SECRET}})
    assert answer.status_code == 400
    pages = page_client(app, Permission.ALL)
    form = {"adapter": "redmine", "name": "Broken", "config.base_url": "nope", "config.api_key": REFUSED_KEY}
    refused = post(pages, "/outsource/partners/new", form, status=400)
    assert "Broken" in refused.get_data(as_text=True), "the form was not echoed back at all"
    form = {"name": "Partner peer", "config.base_url": "nope", "config.secret": REFUSED_KEY, "active": "on"}
    post(pages, f"/outsource/partners/{ids['peer']}", form, status=400)
    # an unknown route, a wrong method and a missing partner, with the secret in the query string
    assert api.get(f"/partners/999999?key={REFUSED_KEY}").status_code == 404
    assert api.call("DELETE", f"/partners?key={REFUSED_KEY}").status_code == 405
    assert pages.get(f"/outsource/partners/999999?key={REFUSED_KEY}").status_code == 404


def test_secrets_never_leave_the_partner_settings(
    app: Flask, api: Api, server: PartnerServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    with Answers(app) as answers:
        ids = _register_all(api, server.base)
        pages = page_client(app, Permission.ALL)
        # a page edit: a new secret replaces the old, a blank one would keep it
        form = {"name": "Partner peer", "config.base_url": f"{server.base}/outsource", "config.link_id": "nw-secrets"}
        post(pages, f"/outsource/partners/{ids['peer']}", {**form, "config.secret": PAGE_SECRET, "active": "on"})
        config = api.get(f"/partners/{ids['peer']}").get_json()["config"]
        rotated = {**config, "secret": PEER_SECRET, "previous_secret": PREVIOUS_SECRET}
        assert api.patch(f"/partners/{ids['peer']}", {"config": rotated}).status_code == 200
        _refused_inputs(app, api, ids)

        # the connection tests fail against the partner server, and say so
        for partner_id in ids.values():
            html(pages, post(pages, f"/outsource/partners/{partner_id}/test").location)
        # federation requests signed with the current and the previous secret, and a forged one
        client = app.test_client()
        for secret in (PEER_SECRET, PREVIOUS_SECRET):
            assert signed(client, "GET", "/ping", link="nw-secrets", secret=secret).status_code == 200
        assert signed(client, "GET", "/ping", link="nw-secrets", secret=PAGE_SECRET).status_code == 401

        # one ticket outsourced to each partner: delivery and polling fail against the server
        for partner_id in ids.values():
            ticket = add_ticket(app, f"Ticket for {partner_id}")
            assert api.post(f"/tickets/{ticket}/outsource", {"partner_id": partner_id}).status_code == 201
            assert api.post(f"/tickets/{ticket}/outsource/actions", {"action": "send"}).status_code == 200
        with app.app_context():
            state = current_outsource()
            outcomes = deliver_due(state)
            assert sum(outcomes.values()) == 3
            poll_all(state)
            engagement_ids = list(db.session.scalars(select(Engagement.id)))

        for path in (
            "/outsource/partners",
            *(f"/outsource/partners/{i}" for i in ids.values()),
            "/outsource/deadletters",
            "/outsource/dashboard?role=lead&folder=waiting_acceptance",
            *(f"/outsource/engagements/{i}" for i in engagement_ids),
        ):
            html(pages, path)
        for path in (
            "/partners",
            *(f"/partners/{i}" for i in ids.values()),
            "/deadletters",
            "/health",
            "/adapters",
            "/openapi.json",
            *(f"/engagements/{i}" for i in engagement_ids),
        ):
            assert api.get(path, Permission.ALL).status_code in (200, 503), path
        assert pages.post("/outsource/partners/new", data={"csrf_token": TOKEN + "x"}).status_code == 400

    assert len(answers.texts) >= 40
    ANSWERS_CHECKED[0] = len(answers.texts)
    logs = log_text(caplog.records)
    assert "dead-lettered" in logs and "poll of partner" in logs, "the failures were not logged at all"
    for secret in SECRETS:
        assert secret not in logs, f"a secret is in the logs: {secret}"
        leaks = [text[:300] for text in answers.texts if secret in text]
        assert leaks == [], f"a secret is in an answer: {secret}"

    # how the secrets travelled to the partner: only in their own header, the peer's never
    sent = [(path, headers, body) for _, path, headers, body in server.requests]
    assert sent, "the partner server was never called"
    for path, headers, body in sent:
        for secret in SECRETS:
            assert secret not in path and secret.encode() not in body
        assert headers.get("X-Redmine-Api-Key") in (None, REDMINE_KEY)
        assert headers.get("Authorization") in (None, f"token {RT_TOKEN}")
        assert not any(PEER_SECRET in v or PREVIOUS_SECRET in v for v in headers.values())
    assert any(h.get("X-Redmine-Api-Key") == REDMINE_KEY for _, h, _ in sent)
    assert any(h.get("Authorization") == f"token {RT_TOKEN}" for _, h, _ in sent)
