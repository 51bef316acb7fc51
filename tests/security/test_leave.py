"""Leaving a partnership under attack: a forged or unsigned notice, a replayed one, a disable by
someone who may not manage partners, and a reason written to run in the other side's pages."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.federation.signing import sign
from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import html, page_client, post
from tests.joining import Desks, peers
from tests.security.helpers import COUNTS

LEAVE = "/outsource/federation/v1/leave"


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


def _joined(desks: Desks) -> dict[str, Any]:
    """Contoso's settings for Northwind after a real join: what a leave from Contoso is signed with."""
    desks.join(desks.invite()["code"])
    return peers(desks.contoso)["Northwind IT"]


def _leave(app: Flask, headers: dict[str, str], body: bytes) -> Any:
    return app.test_client().post(LEAVE, headers={**headers, "Content-Type": "application/json"}, data=body)


def _partner_id(desks: Desks) -> int:
    listed = desks.northwind_api.get("/partners").get_json()["partners"]
    return int(next(p["id"] for p in listed if p["name"] == "Contoso Field Services"))


def _partner(app: Flask, name: str) -> dict[str, Any]:
    with app.app_context():
        partner = db.session.query(Partner).filter_by(name=name).one()
        seen = {
            "active": partner.active,
            "reason": partner.disabled_reason,
            "left_at": partner.disabled_by_partner_at,
            "leave_due": partner.leave_due_at is not None,
        }
        db.session.rollback()
    return seen


def test_an_unsigned_or_forged_leave_is_refused_and_disables_nothing(desks: Desks) -> None:
    own = _joined(desks)
    body = json.dumps({"reason": "forged"}).encode()
    assert _leave(desks.northwind, {"X-Outsource-Link": own["link_id"]}, body).status_code == 401
    forged = sign(own["link_id"], "not-the-agreed-secret-at-all", "POST", LEAVE, body)
    assert _leave(desks.northwind, forged, body).status_code == 401
    tampered = sign(own["link_id"], own["secret"], "POST", LEAVE, body)
    assert _leave(desks.northwind, tampered, json.dumps({"reason": "other words"}).encode()).status_code == 401
    assert _partner(desks.northwind, "Contoso Field Services")["active"] is True
    _count("leave_forged")


def test_a_replayed_leave_is_refused_and_a_repeated_one_changes_nothing(desks: Desks) -> None:
    own = _joined(desks)
    body = json.dumps({"reason": "Contract over"}).encode()
    headers = sign(own["link_id"], own["secret"], "POST", LEAVE, body)
    first = _leave(desks.northwind, headers, body)
    assert first.status_code == 200 and first.get_json() == {"status": "left"}
    left = _partner(desks.northwind, "Contoso Field Services")
    assert left["active"] is False and left["reason"] == "Contract over" and left["left_at"] is not None
    assert _leave(desks.northwind, headers, body).status_code == 401  # the same request id again
    other = json.dumps({"reason": "changed my mind about the words"}).encode()
    repeated = _leave(desks.northwind, sign(own["link_id"], own["secret"], "POST", LEAVE, other), other)
    assert repeated.status_code == 200 and repeated.get_json() == {"status": "duplicate"}
    assert _partner(desks.northwind, "Contoso Field Services") == left
    ping = "/outsource/federation/v1/ping"
    assert (
        desks.northwind.test_client()
        .get(ping, headers=sign(own["link_id"], own["secret"], "GET", ping, b""))
        .status_code
        == 401
    )  # a partner that left is answered nothing else
    _count("leave_replay")


def test_only_a_partner_manager_can_disable_a_partner(desks: Desks) -> None:
    _joined(desks)
    partner_id = _partner_id(desks)
    for level in (Permission.NONE, Permission.OUTSOURCE):
        answer = desks.northwind_api.post(f"/partners/{partner_id}/disable", {"reason": "x"}, level=level)
        assert answer.status_code == 403, answer.get_json()
        post(page_client(desks.northwind, level), f"/outsource/partners/{partner_id}/disable", {"reason": "x"}, 403)
    seen = _partner(desks.northwind, "Contoso Field Services")
    assert seen["active"] is True and seen["leave_due"] is False
    answer = desks.northwind_api.post(
        f"/partners/{partner_id}/disable", {"reason": "x"}, level=Permission.PARTNER_MANAGEMENT
    )
    assert answer.status_code == 200 and answer.get_json()["leave_notice"] == "due"
    _count("leave_permission")


def test_the_partners_reason_is_escaped_in_the_pages(desks: Desks) -> None:
    own = _joined(desks)
    reason = '<script>alert("left")</script><img src=x onerror=alert(1)>'
    body = json.dumps({"reason": reason}).encode()
    assert _leave(desks.northwind, sign(own["link_id"], own["secret"], "POST", LEAVE, body), body).status_code == 200
    client = page_client(desks.northwind, Permission.PARTNER_MANAGEMENT)
    listing = html(client, "/outsource/partners")
    partner_id = _partner_id(desks)
    page = html(client, f"/outsource/partners/{partner_id}")
    for shown in (listing, page):
        assert "Contoso Field Services ended the partnership on" in shown
        assert "&lt;script&gt;alert(&#34;left&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in shown
        assert "<script>alert" not in shown and "<img src=x" not in shown
    _count("leave_escaped")
