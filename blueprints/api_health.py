"""``GET <prefix>/api/v1/health``: is sync healthy? For load balancers and monitoring.

It answers 200 when the database answers and every partner's lag is within
its bound, else 503; the body always says ``status`` and names the failing
checks (``database``, ``partner_lag:<partner id>``).

Anonymous callers get only that summary, so a monitor needs no credentials.
The per-partner figures (names, last poll errors, queue depths) describe
partnerships, so they are added only for a caller with Partner Management,
the level that may already read partners through the API. Checks name
partners by id for the same reason.
"""

from __future__ import annotations

from flask import Response, jsonify
from marshmallow import Schema, fields

from outsource_plugin.blueprints.api_common import api, state
from outsource_plugin.ops.health import check_health
from outsource_plugin.permissions import Permission


class PartnerHealthOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    healthy = fields.Boolean(required=True)
    max_lag_seconds = fields.Float(required=True)
    last_poll_error = fields.String(allow_none=True)
    poll_failures = fields.Integer(required=True)
    next_poll_at = fields.DateTime(
        allow_none=True, metadata={"description": "while polls fail: when the poll job asks the partner next"}
    )
    last_poll_at = fields.DateTime(allow_none=True)
    last_delivery_at = fields.DateTime(allow_none=True)
    pending = fields.Integer(required=True)
    dead_letters = fields.Integer(required=True)
    oldest_pending_at = fields.DateTime(allow_none=True)
    outbox_lag_seconds = fields.Float(allow_none=True)
    poll_lag_seconds = fields.Float(allow_none=True)
    lag_seconds = fields.Float(required=True)


class HealthOut(Schema):
    """The health answer (200 healthy, 503 not); ``partners`` only for Partner Management."""

    status = fields.String(required=True, metadata={"enum": ["ok", "unhealthy"]})
    failing = fields.List(fields.String(), required=True)
    partners = fields.List(fields.Nested(PartnerHealthOut))


@api.get("/health")
def health() -> Response:
    outsource = state()
    report = check_health(outsource)
    body = report.summary()
    if report.database:
        user = outsource.host.current_user()
        if user is not None and user.permission >= Permission.PARTNER_MANAGEMENT:
            body = report.as_json()
    response = jsonify(body)
    response.status_code = 200 if report.healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
