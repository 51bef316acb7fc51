"""Test connection says what the partner answered in a fixed message: the status code and what
was expected, never the answer's body (issue 13, item 9).

A partner manager types the URL, so an answer's body could be an internal
service's; and a web page where the partner's API should be is a failed
test, not a server error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import html, page_client, post
from tests.conftest import Api
from tests.security.helpers import COUNTS, FEDERATION, PartnerServer

#: what an internal service might answer; none of it may reach the page
LEAK = "internal-only-7f3a"
ANSWERS: dict[str, tuple[int, Any]] = {
    "html page": (200, f"<html><body><h1>Intranet</h1><p>{LEAK}</p></body></html>"),
    "json error": (400, {"error": "bad", "message": f"db password is {LEAK}"}),
    "plain error": (403, f"forbidden: {LEAK}"),
    "not found": (404, {"error": "not_found", "message": LEAK}),
    "unauthorised": (401, {"error": "not_authenticated", "message": LEAK}),
    "server error": (500, f"Traceback ... {LEAK}"),
    "json list": (200, [LEAK]),
}
#: the status the message must name for each answer
STATUS = {name: status for name, (status, _) in ANSWERS.items()}
CHECKED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    COUNTS.update(connection_test_answers=len(CHECKED))


@pytest.fixture
def server() -> Iterator[PartnerServer]:
    with PartnerServer() as running:
        yield running


def _peer(api: Api, base: str) -> int:
    config = {"base_url": f"{base}/outsource", "link_id": "nw-conn", "secret": "connection-test-secret-01"}
    created = api.post("/partners", {"name": "Northwind", "adapter": "peer", "config": config})
    assert created.status_code == 201, created.get_data(as_text=True)
    return int(created.get_json()["id"])


def _flash(page: str) -> str:
    found = re.search(r"Connection test (?:passed|failed)[^<]*", page)
    assert found is not None, page[:3000]
    return found.group(0)


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_the_page_names_the_status_and_what_was_expected_never_the_body(
    app: Flask, api: Api, server: PartnerServer, answer: str
) -> None:
    server.answers[f"{FEDERATION}/ping"] = ANSWERS[answer]
    partner_id = _peer(api, server.base)
    pages = page_client(app, Permission.PARTNER_MANAGEMENT)
    response = post(pages, f"/outsource/partners/{partner_id}/test")
    page = html(pages, response.location)
    message = _flash(page)
    assert message.startswith("Connection test failed"), message
    assert f"HTTP {STATUS[answer]}" in message, message
    assert "expected HTTP 200 with a JSON answer" in message, message
    assert LEAK not in page
    CHECKED.append(answer)


def test_the_cli_gives_the_same_fixed_message(app: Flask, api: Api, server: PartnerServer) -> None:
    server.answers[f"{FEDERATION}/ping"] = ANSWERS["json error"]
    partner_id = _peer(api, server.base)
    result = app.test_cli_runner().invoke(args=["outsource", "partners", "test", str(partner_id)])
    assert result.exit_code == 1, result.output
    assert "HTTP 400" in result.output and "expected HTTP 200 with a JSON answer" in result.output
    assert LEAK not in result.output
    CHECKED.append("cli")


def test_an_unreachable_partner_is_a_clear_failure(app: Flask, api: Api) -> None:
    partner_id = _peer(api, "http://127.0.0.1:9")
    pages = page_client(app, Permission.PARTNER_MANAGEMENT)
    message = _flash(html(pages, post(pages, f"/outsource/partners/{partner_id}/test").location))
    assert message.startswith("Connection test failed") and "could not be reached" in message, message
    CHECKED.append("unreachable")


def test_a_good_answer_passes(app: Flask, api: Api, server: PartnerServer) -> None:
    server.answers[f"{FEDERATION}/ping"] = (200, {"org": "Northwind IT"})
    partner_id = _peer(api, server.base)
    pages = page_client(app, Permission.PARTNER_MANAGEMENT)
    message = _flash(html(pages, post(pages, f"/outsource/partners/{partner_id}/test").location))
    assert message == "Connection test passed: Northwind IT answered a signed request", message
    CHECKED.append("passed")
