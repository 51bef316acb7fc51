"""Key rotation under attack and outage: the old key refused once it completes, either side down
for several rounds, replayed requests, two rotations started at once, and keys that never show.

Two help desks joined by a real invitation reach each other through their real views
(``tests.joining``); a side is "down" when the transport to it fails, before or after the
other side has handled the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from flask import Flask
from requests.adapters import BaseAdapter

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.jobs.rotate import rotate_due
from outsource_plugin.partnership.rotation import NEXT, ROTATION, Step
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.blueprints.page_helpers import html, page_client, post
from tests.joining import CONTOSO_URL, AppTransport, Desks, peers
from tests.security.helpers import COUNTS, signed

NORTHWIND, CONTOSO = "Northwind IT", "Contoso Field Services"
ROUNDS = 4


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


@pytest.fixture
def joined(desks: Desks, monkeypatch: pytest.MonkeyPatch) -> Desks:
    """Joined by invitation; a failed rotation move is retried at once (no backoff to wait out), and
    the old key is retired as soon as the rotation completes (no overlap to wait out)."""
    desks.join(desks.invite()["code"])
    for app in (desks.northwind, desks.contoso):
        monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_BACKOFF_CAP", 0)
        monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_ROTATION_OVERLAP", 0)
    return desks


def _settings(app: Flask, name: str) -> dict[str, Any]:
    return peers(app)[name]


def _rotate(app: Flask) -> int:
    """One round of the rotation job on ``app``."""
    with app.app_context():
        return rotate_due(current_outsource())


def _start(desks: Desks) -> None:
    partner_id = _partner_id(desks.northwind_api)
    answer = desks.northwind_api.post(f"/partners/{partner_id}/rotate")
    assert answer.status_code == 202 and answer.get_json()["started"], answer.get_json()


def _partner_id(api: Any) -> int:
    return int(next(p["id"] for p in api.get("/partners").get_json()["partners"] if p["adapter"] == "peer"))


def _ping(app: Flask, link: str, secret: str) -> int:
    return int(signed(app.test_client(), "GET", "/ping", link=link, secret=secret).status_code)


class Down(BaseAdapter):
    """A host that cannot be reached; ``after`` set, the request reaches it and the answer is lost."""

    def __init__(self, after: AppTransport | None = None) -> None:
        super().__init__()
        self.after = after

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.after is not None:
            self.after.send(request, *args, **kwargs)
        raise requests.ConnectionError("connection refused")

    def close(self) -> None:
        return None


@contextmanager
def down(app: Flask, url: str, after: AppTransport | None = None) -> Iterator[None]:
    """``app`` cannot reach ``url`` (or loses the answers) until the block ends."""
    http = app.extensions["outsource"].http
    kept = http.adapters[url]
    http.mount(url, Down(after))
    try:
        yield
    finally:
        http.mount(url, kept)


def _complete(desks: Desks, rounds: int = 3) -> None:
    for _ in range(rounds):
        _rotate(desks.northwind)
        _rotate(desks.contoso)


def test_the_old_key_is_refused_once_the_rotation_completes(joined: Desks) -> None:
    old = _settings(joined.northwind, CONTOSO)["secret"]
    link = _settings(joined.northwind, CONTOSO)["link_id"]
    _start(joined)
    _complete(joined)
    lead, service = _settings(joined.northwind, CONTOSO), _settings(joined.contoso, NORTHWIND)
    assert lead["secret"] == service["secret"] != old
    assert lead["previous_secret"] is None and service["previous_secret"] is None and not service.get(NEXT)
    assert lead[ROTATION]["step"] is None and lead[ROTATION]["private_key"] is None
    for app in (joined.northwind, joined.contoso):
        assert _ping(app, link, old) == 401
        assert _ping(app, link, lead["secret"]) == 200
    _count("rotation_old_key_refused")


def test_the_old_key_works_for_the_overlap_after_completion_and_not_after_it(
    joined: Desks, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _settings(joined.northwind, CONTOSO)["secret"]
    link = _settings(joined.northwind, CONTOSO)["link_id"]
    for app in (joined.northwind, joined.contoso):
        monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_ROTATION_OVERLAP", 3600)
    _start(joined)
    _complete(joined)
    new = _settings(joined.northwind, CONTOSO)["secret"]
    for app in (joined.northwind, joined.contoso):
        assert _ping(app, link, old) == 200 and _ping(app, link, new) == 200
        with app.app_context():  # an hour later
            partner = db.session.query(Partner).filter_by(link_id=link).one()
            partner.config = {**partner.config, ROTATION: {**partner.config[ROTATION], "retire_at": 1.0}}
            db.session.commit()
        _rotate(app)
        assert _ping(app, link, old) == 401 and _ping(app, link, new) == 200
    _count("rotation_overlap_ends")


def test_both_keys_work_during_the_overlap(joined: Desks) -> None:
    old = _settings(joined.northwind, CONTOSO)["secret"]
    link = _settings(joined.northwind, CONTOSO)["link_id"]
    _start(joined)
    with down(joined.northwind, CONTOSO_URL, after=joined.to_contoso):  # Contoso keeps the next key
        _rotate(joined.northwind)
    _rotate(joined.northwind)  # the offer again: the same answer, and Northwind switches
    with down(joined.northwind, CONTOSO_URL):  # the confirmation cannot reach Contoso
        _rotate(joined.northwind)
    new = _settings(joined.northwind, CONTOSO)["secret"]
    assert new != old and _settings(joined.contoso, NORTHWIND)[NEXT] == new
    for app in (joined.northwind, joined.contoso):
        assert _ping(app, link, old) == 200 and _ping(app, link, new) == 200
    _complete(joined)
    for app in (joined.northwind, joined.contoso):
        assert _ping(app, link, old) == 401 and _ping(app, link, new) == 200
    _count("rotation_overlap")


@pytest.mark.parametrize("stage", ["offer", "answer", "confirmation"])
def test_a_rotation_interrupted_for_several_rounds_converges_when_the_partner_returns(
    joined: Desks, stage: str
) -> None:
    """``offer``: Contoso down before it hears of the rotation; ``answer``: Northwind loses every
    answer (it is down when they come back); ``confirmation``: Contoso down after the switch."""
    old = _settings(joined.northwind, CONTOSO)["secret"]
    _start(joined)
    if stage == "confirmation":
        _rotate(joined.northwind)
    after = joined.to_contoso if stage == "answer" else None
    with down(joined.northwind, CONTOSO_URL, after=after):
        for _ in range(ROUNDS):
            _rotate(joined.northwind)
            _rotate(joined.contoso)
    lead = _settings(joined.northwind, CONTOSO)
    assert lead[ROTATION]["attempts"] == ROUNDS
    waiting = html(
        page_client(joined.northwind, Permission.PARTNER_MANAGEMENT),
        f"/outsource/partners/{_partner_id(joined.northwind_api)}",
    )
    assert f"Rotating keys: waiting for {CONTOSO}" in waiting
    _complete(joined)
    lead, service = _settings(joined.northwind, CONTOSO), _settings(joined.contoso, NORTHWIND)
    assert lead["secret"] == service["secret"] != old and lead["previous_secret"] is None
    assert lead[ROTATION]["step"] is None and service[ROTATION]["step"] is None
    _count("rotation_interrupted")


def test_rotations_started_on_both_sides_at_once_converge_on_one_key(joined: Desks) -> None:
    old = _settings(joined.northwind, CONTOSO)["secret"]
    _start(joined)
    answer = joined.contoso_api.post(f"/partners/{_partner_id(joined.contoso_api)}/rotate")
    assert answer.status_code == 202 and answer.get_json()["started"]
    _complete(joined, rounds=4)
    lead, service = _settings(joined.northwind, CONTOSO), _settings(joined.contoso, NORTHWIND)
    assert lead["secret"] == service["secret"] != old
    assert lead[ROTATION]["step"] is None and service[ROTATION]["step"] is None and not service.get(NEXT)
    _count("rotation_crossed")


def _posts(transport: AppTransport, path: str) -> list[Any]:
    return [e.sent for e in transport.exchanges if e.sent.method == "POST" and e.sent.path.endswith(path)]


def test_replayed_rotate_and_confirm_requests_are_refused(joined: Desks) -> None:
    _start(joined)
    _complete(joined)
    after = (_settings(joined.northwind, CONTOSO), _settings(joined.contoso, NORTHWIND))
    for path in ("/rotate", "/rotate/confirm"):
        sent = _posts(joined.to_contoso, path)[0]
        again = joined.contoso.test_client().post(sent.path, headers=sent.headers, data=sent.body)
        assert again.status_code == 401, again.get_json()
    assert (_settings(joined.northwind, CONTOSO), _settings(joined.contoso, NORTHWIND)) == after
    _count("rotation_replay")


def test_a_confirmation_signed_with_the_old_key_does_not_end_the_rotation(joined: Desks) -> None:
    lead = _settings(joined.northwind, CONTOSO)
    _start(joined)
    with down(joined.northwind, CONTOSO_URL, after=joined.to_contoso):
        _rotate(joined.northwind)  # Contoso holds the next key
    rotation_id = _settings(joined.contoso, NORTHWIND)[ROTATION]["rotation_id"]
    forged = signed(
        joined.contoso.test_client(),
        "POST",
        "/rotate/confirm",
        link=lead["link_id"],
        secret=lead["secret"],
        payload={"rotation_id": rotation_id},
    )
    assert forged.status_code == 401
    assert _settings(joined.contoso, NORTHWIND)[ROTATION]["step"] == Step.ANSWERED.value
    _complete(joined)
    assert _settings(joined.contoso, NORTHWIND)["secret"] == _settings(joined.northwind, CONTOSO)["secret"]
    _count("rotation_old_key_confirm")


def test_the_rotate_button_needs_partner_management_and_the_form_token(joined: Desks) -> None:
    path = f"/outsource/partners/{_partner_id(joined.northwind_api)}/rotate"
    post(page_client(joined.northwind, Permission.OUTSOURCE), path, status=403)
    post(page_client(joined.northwind, Permission.PARTNER_MANAGEMENT), path, status=400, token=False)
    assert not _settings(joined.northwind, CONTOSO).get(ROTATION)
    manager = page_client(joined.northwind, Permission.PARTNER_MANAGEMENT)
    post(manager, path)
    assert _settings(joined.northwind, CONTOSO)[ROTATION]["step"] == Step.OFFERED.value
    _count("rotation_button")


def test_no_key_in_any_log_answer_page_or_error(joined: Desks, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old = _settings(joined.northwind, CONTOSO)["secret"]
    _start(joined)
    keys = [old, _settings(joined.northwind, CONTOSO)[ROTATION]["private_key"]]
    with down(joined.northwind, CONTOSO_URL, after=joined.to_contoso):
        _rotate(joined.northwind)
    keys.append(_settings(joined.contoso, NORTHWIND)[NEXT])
    pages = _pages(joined)
    _complete(joined)
    refused = signed(joined.contoso.test_client(), "GET", "/ping", link="inv-x", secret=old)
    bad = joined.northwind_api.post(f"/partners/{_partner_id(joined.northwind_api)}/rotate", {"x": old})
    seen = b"".join(
        [
            *pages,
            *_pages(joined),
            *(e.answer for t in (joined.to_northwind, joined.to_contoso) for e in t.exchanges),
            refused.data,
            bad.data,
            caplog.text.encode(),
        ]
    )
    for key in keys:
        assert key and key.encode() not in seen
    assert bad.status_code == 400
    _count("rotation_no_secrets")


def _pages(desks: Desks) -> list[bytes]:
    fetch: list[Callable[[], bytes]] = [
        lambda: html(
            page_client(desks.northwind, Permission.ALL), f"/outsource/partners/{_partner_id(desks.northwind_api)}"
        ).encode(),
        lambda: html(
            page_client(desks.contoso, Permission.ALL), f"/outsource/partners/{_partner_id(desks.contoso_api)}"
        ).encode(),
        lambda: desks.northwind_api.get("/partners").data,
        lambda: desks.contoso_api.get("/partners").data,
    ]
    return [f() for f in fetch]


def test_the_partner_page_says_when_keys_were_rotated(joined: Desks) -> None:
    _start(joined)
    _complete(joined)
    for app, api in ((joined.northwind, joined.northwind_api), (joined.contoso, joined.contoso_api)):
        page = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"/outsource/partners/{_partner_id(api)}")
        assert "Keys rotated " in page and 'id="rotate-keys"' in page
