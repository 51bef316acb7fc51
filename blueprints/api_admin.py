"""JSON API v1 for partner management, the dashboard and dead letters."""

from __future__ import annotations

import time
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class, describe_all
from outsource_plugin.blueprints.api_common import ID, api, caller, json_body, state
from outsource_plugin.core.dashboard import folder_counts, folder_page
from outsource_plugin.core.partners import create_partner, get_partner, update_partner
from outsource_plugin.core.present import engagement_json, partner_json
from outsource_plugin.db.models import Partner
from outsource_plugin.db.outbox import dead_letters, retry_dead_letter
from outsource_plugin.errors import NotFound
from outsource_plugin.partnership import rotation
from outsource_plugin.partnership.leaving import leave_partnership
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import LeaveSchema, PageSchema, StrictSchema, load
from outsource_plugin.workflow import Folder, Side, folders_for


class RotateRequestSchema(StrictSchema):
    """Starting a rotation takes no settings: the body is empty or ``{}``."""


def _partner_or_404(partner_id: int) -> Partner:
    return get_partner(state().session, partner_id)


def _json(partner: Partner, level: Permission) -> dict[str, Any]:
    return partner_json(partner, adapter_class(partner.adapter).secret_fields, level)


@api.get("/partners")
def partners_list() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partners = state().session.scalars(select(Partner).order_by(Partner.name))
    return jsonify({"partners": [_json(p, user.permission) for p in partners]})


@api.post("/partners")
def partners_create() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partner = create_partner(state(), json_body(), user.permission)
    state().session.commit()
    return jsonify(_json(partner, user.permission)), 201


@api.get(f"/partners/<{ID}:partner_id>")
def partners_read(partner_id: int) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    return jsonify(_json(_partner_or_404(partner_id), user.permission))


@api.patch(f"/partners/<{ID}:partner_id>")
def partners_edit(partner_id: int) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partner = _partner_or_404(partner_id)
    update_partner(state(), partner, json_body(), user.permission)
    state().session.commit()
    return jsonify(_json(partner, user.permission))


@api.post(f"/partners/<{ID}:partner_id>/disable")
def partners_disable(partner_id: int) -> ResponseReturnValue:
    """Disabled partners keep their history but cannot be chosen or polled; a body's ``reason``
    is told to the partner. No body is the same as no reason."""
    user = caller(Permission.PARTNER_MANAGEMENT)
    reason = load(LeaveSchema(), json_body() if request.content_length or request.is_json else {})["reason"]
    partner = leave_partnership(state().session, _partner_or_404(partner_id), reason)
    state().session.commit()
    return jsonify(_json(partner, user.permission))


@api.post(f"/partners/<{ID}:partner_id>/rotate")
def partners_rotate(partner_id: int) -> ResponseReturnValue:
    """Start a key rotation with a peer; it goes on in the background (202), and a second start
    while one is under way changes nothing."""
    user = caller(Permission.PARTNER_MANAGEMENT)
    load(RotateRequestSchema(), json_body() if request.content_length else {})
    partner = _partner_or_404(partner_id)
    started = rotation.begin(partner, time.time())
    state().session.commit()
    words = rotation.describe(partner.config, partner.name)
    return jsonify({"started": started, "rotation": words, "partner": _json(partner, user.permission)}), 202


@api.get("/dashboard")
def dashboard_counts() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify({"folders": folder_counts(state().session)})


@api.get("/dashboard/<role>/<folder>")
def dashboard_folder(role: str, folder: str) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    try:
        side = Side(role)
        chosen = Folder(folder)
    except ValueError as err:
        raise NotFound(f"no folder '{folder}' for role '{role}'") from err
    if side is Side.SYSTEM or chosen not in folders_for(side):
        raise NotFound(f"no folder '{folder}' for role '{role}'")
    page = load(PageSchema(), request.args.to_dict())
    rows, cursor = folder_page(
        state().session, side, chosen, sort=page["sort"], limit=page["limit"], after=page["after"]
    )
    return jsonify({"items": [engagement_json(e, user.permission) for e in rows], "next": cursor})


@api.get("/deadletters")
def deadletters_list() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify(
        {
            "deadletters": [
                {
                    "id": m.id,
                    "message_id": m.message_id,
                    "partner_id": m.partner_id,
                    "engagement_uid": m.engagement_uid,
                    "kind": m.kind.value,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "created_at": m.created_at.isoformat(),
                }
                for m in dead_letters(state().session)
            ]
        }
    )


@api.post(f"/deadletters/<{ID}:message_id>/retry")
def deadletters_retry(message_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    message = retry_dead_letter(state().session, message_id)
    state().session.commit()
    return jsonify({"id": message.id, "state": message.state.value})


@api.get("/adapters")
def adapters_list() -> ResponseReturnValue:
    """The partner systems this installation can register: name, label, capabilities, settings."""
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify({"adapters": describe_all()})
