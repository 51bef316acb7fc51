"""The OpenAPI description: public, valid OpenAPI 3, and complete against the app's URL map."""

from __future__ import annotations

from typing import Any

from flask import Flask
from openapi_spec_validator import validate

from outsource_plugin.blueprints.openapi import OPERATIONS, documented_rules, openapi_path
from tests.conftest import make_app

DOCUMENT = "/outsource/api/v1/openapi.json"


def _document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get(DOCUMENT)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_json
    body: dict[str, Any] = response.get_json()
    return body


def test_the_description_is_public_and_valid_openapi_3(app: Flask) -> None:
    document = _document(app)
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_api_route_and_method_is_described(app: Flask) -> None:
    """Derived from the URL map: an endpoint added without a row in OPERATIONS fails here."""
    paths = _document(app)["paths"]
    served = {
        (openapi_path(rule), method.lower())
        for rule in documented_rules(app)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, operations in paths.items() for method in operations}
    assert len(served) >= 20
    assert served == described
    assert {rule.endpoint for rule in documented_rules(app)} == set(OPERATIONS)


def test_security_errors_and_bodies_are_described(app: Flask) -> None:
    document = _document(app)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    signed = {s["name"] for s in schemes.values() if s["type"] == "apiKey"}
    assert signed == {"X-Outsource-Link", "X-Outsource-Timestamp", "X-Outsource-Message-Id", "X-Outsource-Signature"}
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "message"]
    paths = document["paths"]
    ping = paths["/outsource/federation/v1/ping"]["get"]
    assert set(ping["security"][0]) == {"partnerLink", "partnerTimestamp", "partnerRequestId", "partnerSignature"}
    assert paths[DOCUMENT]["get"]["security"] == []
    configure = paths["/outsource/api/v1/tickets/{ticket_id}/outsource"]["post"]
    assert configure["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Configure"
    }
    assert {"201", "400", "401", "403", "404", "409", "413", "415"} <= set(configure["responses"])
    edit = paths["/outsource/api/v1/partners/{partner_id}"]["patch"]
    assert edit["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PartnerPatch"}
    assert "required" not in document["components"]["schemas"]["PartnerPatch"]
    assert document["components"]["schemas"]["Partner"]["required"] == ["adapter", "name"]
    partner_id = next(p for p in edit["parameters"] if p["name"] == "partner_id")
    assert partner_id["schema"] == {"type": "integer", "minimum": 0, "maximum": 2147483647}


def test_adapter_settings_are_described(app: Flask) -> None:
    schemas = _document(app)["components"]["schemas"]
    assert schemas["PeerSettings"]["required"] == ["base_url", "link_id", "secret"]
    offered = schemas["Partner"]["properties"]["adapter"]["enum"]
    # every installed adapter; a third-party one may be installed too (tests/adapters/test_entry_points.py)
    assert {"memory", "peer", "redmine", "request_tracker"} <= set(offered) and offered == sorted(offered)


def test_the_paths_follow_the_configured_prefix(tmp_path: Any, database_url: str) -> None:
    other = make_app(database_url, tmp_path, OUTSOURCE_URL_PREFIX="/partners-desk", OUTSOURCE_CREATE_TABLES=False)
    response = other.test_client().get("/partners-desk/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert "/partners-desk/federation/v1/messages" in paths
    assert all(path.startswith("/partners-desk/") for path in paths)
