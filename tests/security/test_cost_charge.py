"""The "Outsourcing cost" charge is a financial figure: its amounts are for Allow All only,
on the demo host's ticket page and in its JSON API (issue 13, item 5)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import Charge, db
from outsource_plugin.core.costs import is_cost_charge
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Status
from tests.blueprints.api_helpers import add_engagement
from tests.blueprints.page_helpers import html, page_client
from tests.conftest import Api
from tests.security.helpers import COUNTS

#: a distinctive flat rate: the cost charge's amount, and nothing else on the page carries it
COST = "4321.98"
OWN = {"name": "Spare fuser", "quantity": "1", "unit_price": "187.65", "unit_cost": "123.45"}
CHECKED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Any:
    yield
    COUNTS.update(cost_charge_views=len(CHECKED))


@pytest.fixture
def completed(app: Flask, api: Api, ticket_id: str, partner_id: int) -> str:
    """A lead ticket with a charge of its own, whose engagement the lead set Complete."""
    assert api.post(f"/api/tickets/{ticket_id}/charges", OWN).status_code == 201
    terms = {"rate_type": "flat", "flat_rate": COST, "acceptance_hours": 24}
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id, terms=terms)
    response = api.post(f"/tickets/{ticket_id}/outsource/actions", {"action": "complete"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return ticket_id


def _charges(api: Api, ticket_id: str, level: Permission) -> dict[str, dict[str, Any]]:
    response = api.get(f"/api/tickets/{ticket_id}", level=level)
    assert response.status_code == 200
    return {c["name"]: c for c in response.get_json()["charges"]}


def test_the_helper_tells_the_cost_charge_apart(app: Flask, completed: str) -> None:
    with app.app_context():
        charges = {c.name: c for c in db.session.query(Charge).filter_by(ticket_id=int(completed))}
        state = current_outsource()
        assert is_cost_charge(state, charges["Outsourcing cost: Contoso"])
        assert is_cost_charge(state, str(charges["Outsourcing cost: Contoso"].id))
        assert not is_cost_charge(state, charges["Spare fuser"])


@pytest.mark.parametrize("level", list(Permission), ids=lambda p: p.name)
def test_cost_amounts_in_the_host_api_only_for_allow_all(api: Api, completed: str, level: Permission) -> None:
    charges = _charges(api, completed, level)
    cost, own = charges["Outsourcing cost: Contoso"], charges["Spare fuser"]
    assert (own["unit_price"], own["unit_cost"]) == ("187.65", "123.45")
    if level >= Permission.ALL:
        assert (cost["unit_price"], cost["unit_cost"]) == (COST, COST)
    else:
        assert (cost["unit_price"], cost["unit_cost"]) == (None, None)
        assert COST not in api.get(f"/api/tickets/{completed}", level=level).get_data(as_text=True)
    CHECKED.append(f"api {level.name}")


@pytest.mark.parametrize("level", list(Permission), ids=lambda p: p.name)
def test_cost_amounts_on_the_ticket_page_only_for_allow_all(app: Flask, completed: str, level: Permission) -> None:
    page = html(page_client(app, level), f"/tickets/{completed}")
    assert "Outsourcing cost: Contoso" in page and "187.65" in page and "123.45" in page
    assert (COST in page) is (level >= Permission.ALL), level
    CHECKED.append(f"page {level.name}")


def test_a_renamed_cost_charge_stays_hidden(api: Api, completed: str) -> None:
    """The helper knows the charge by its id, not by its name: renaming it reveals nothing."""
    charge_id = _charges(api, completed, Permission.ALL)["Outsourcing cost: Contoso"]["id"]
    assert api.patch(f"/api/tickets/{completed}/charges/{charge_id}", {"name": "Misc"}).status_code == 200
    renamed = _charges(api, completed, Permission.OUTSOURCE)["Misc"]
    assert (renamed["unit_price"], renamed["unit_cost"]) == (None, None)
    CHECKED.append("renamed")
