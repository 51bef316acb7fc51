"""The leave-notice job between two joined help desks in process: a notice taken once, and one refused for good.

A partner that is down (the notice retried until it returns) is in
``tests/cross_host/test_leave.py``, with two real host processes.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.jobs.leave import send_leave_notices
from outsource_plugin.state import current_outsource
from tests.joining import NORTHWIND_URL, Desks


def _leave(desks: Desks, reason: str) -> int:
    """Join, then Contoso's manager disables Northwind with ``reason``; Contoso's partner id."""
    desks.join(desks.invite()["code"])
    partner_id = next(
        p["id"] for p in desks.contoso_api.get("/partners").get_json()["partners"] if p["adapter"] == "peer"
    )
    answer = desks.contoso_api.post(f"/partners/{partner_id}/disable", {"reason": reason})
    assert answer.status_code == 200 and answer.get_json()["leave_notice"] == "due"
    return int(partner_id)


def _send(desks: Desks, partner_id: int) -> tuple[int, dict[str, Any]]:
    """One round of Contoso's job, its partner API calls to Northwind through the test transport."""
    with desks.contoso.app_context():
        state = current_outsource()
        session = requests.Session()
        session.mount(NORTHWIND_URL, desks.to_northwind)
        state.adapter_for(state.session.get(Partner, partner_id))._session = session
        taken = send_leave_notices(state)
        partner = state.session.get(Partner, partner_id)
        seen = {"due": partner.leave_due_at, "attempts": partner.leave_attempts, "error": partner.leave_error}
        state.session.rollback()
    return taken, seen


def _northwind_side(app: Flask) -> Partner:
    with app.app_context():
        partner = db.session.query(Partner).filter_by(name="Contoso Field Services").one()
        db.session.expunge(partner)
        return partner


def test_the_notice_is_taken_once_and_the_partner_shows_why(desks: Desks) -> None:
    partner_id = _leave(desks, "We close the field office")
    assert _northwind_side(desks.northwind).active is True  # nothing crossed before the job ran
    assert _send(desks, partner_id) == (1, {"due": None, "attempts": 1, "error": None})
    told = _northwind_side(desks.northwind)
    assert told.active is False and told.disabled_reason == "We close the field office"
    assert told.disabled_by_partner_at is not None
    assert _send(desks, partner_id) == (0, {"due": None, "attempts": 1, "error": None})
    leaves = [e for e in desks.to_northwind.exchanges if e.sent.path.endswith("/leave")]
    assert [e.status for e in leaves] == [200]


def test_a_notice_the_partner_refuses_for_good_is_not_retried_and_says_why(desks: Desks) -> None:
    partner_id = _leave(desks, "Contract over")
    with desks.northwind.app_context():  # Northwind removed the partnership already: the link is unknown there
        db.session.query(Partner).filter_by(name="Contoso Field Services").one().link_id = "gone"
        db.session.commit()
    taken, seen = _send(desks, partner_id)
    assert taken == 0 and seen["due"] is None and seen["attempts"] == 1
    assert "401" in seen["error"]
    assert _send(desks, partner_id)[0] == 0
    assert len([e for e in desks.to_northwind.exchanges if e.sent.path.endswith("/leave")]) == 1
