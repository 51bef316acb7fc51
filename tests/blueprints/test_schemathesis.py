"""Schemathesis against the served OpenAPI description: generated requests to every JSON API operation.

Each generated request (valid and invalid against the description) must get
no 5xx, a documented status code and content type, and a body that matches
the documented schema; a request the description calls invalid must be
refused. Bounded and derandomised so CI runs are reproducible.

The partner (federation) operations are left out here: their signature covers
the exact body bytes and a one-time request id, which the generated requests
cannot carry. ``test_fuzz`` sends them signed bad input instead.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from outsource_plugin.blueprints.openapi import OPERATIONS
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket

DOCUMENT = "/outsource/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


#: every JSON API operation, by the endpoint its row in the description documents
OPERATION_IDS = sorted(endpoint.split(".", 1)[1] for endpoint in OPERATIONS if endpoint.startswith("outsource_api."))


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_api_conforms_to_its_description(app: Flask, partner_id: int, operation_id: str) -> None:
    """A bounded, derandomised run per operation, with a few rows so that some generated ids exist."""
    add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=add_ticket(app))
    add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    operation = schemathesis.openapi.from_wsgi(DOCUMENT, app).find_operation_by_id(operation_id)

    @given(case=st.one_of(operation.as_strategy(POSITIVE), operation.as_strategy(NEGATIVE)))
    @settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def conforms(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": "Bearer admin"}, checks=CHECKS)

    conforms()


def test_every_json_api_operation_is_exercised() -> None:
    """The list above comes from the description's table, which ``test_openapi`` ties to the URL map."""
    assert len(OPERATION_IDS) >= 18
