"""A folder of two statuses (Accepted or In Progress) is read one status at a time and merged:
its pages must still come in one order, every engagement once, across page boundaries."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from outsource_plugin.validation.schemas import PageSchema
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.conftest import Api

SORTS = list(PageSchema().fields["sort"].validate.choices)  # type: ignore[union-attr]


@pytest.mark.parametrize("sort", SORTS)
def test_a_two_status_folder_pages_in_one_order(app: Flask, api: Api, partner_id: int, sort: str) -> None:
    statuses = [Status.ACCEPTED, Status.IN_PROGRESS, Status.IN_PROGRESS, Status.ACCEPTED, Status.IN_PROGRESS]
    made = {add_engagement(app, partner_id, status=s, ticket_id=add_ticket(app)) for s in statuses}
    add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=add_ticket(app))
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE)
    seen: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 2, "sort": sort}
    for _ in range(10):
        response = api.get("/dashboard/lead/accepted_or_in_progress", query_string=query)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        seen.extend(page["items"])
        if page["next"] is None:
            break
        query["after"] = page["next"]
    assert sorted(item["id"] for item in seen) == sorted(made)
    column = {"updated": "updated_at", "created": "created_at"}[sort.lstrip("-")]
    keys = [(item[column], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
