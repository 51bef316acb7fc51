"""JSON API v1 for invitations: invite a partner, list and revoke invitations, join with a code."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.blueprints.api_common import ID, api, caller, json_body, state
from outsource_plugin.core.present import partner_json
from outsource_plugin.partnership.invitations import (
    create_invitation,
    get_invitation,
    invitation_json,
    open_invitations,
    public_url,
    revoke_invitation,
)
from outsource_plugin.partnership.joining import join
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import StrictSchema, load


class JoinRequestSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))


@api.get("/invitations")
def invitations_list() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify({"invitations": [invitation_json(i) for i in open_invitations(state().session)]})


@api.post("/invitations")
def invitations_create() -> ResponseReturnValue:
    """The code is in this answer only: the invitation keeps a hash of its token."""
    user = caller(Permission.PARTNER_MANAGEMENT)
    invitation, code = create_invitation(state(), json_body(), public_url(state(), request.url_root), user.permission)
    state().session.commit()
    return jsonify({"invitation": invitation_json(invitation), "code": code}), 201


@api.post(f"/invitations/<{ID}:invitation_id>/revoke")
def invitations_revoke(invitation_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    invitation = revoke_invitation(get_invitation(state().session, invitation_id))
    state().session.commit()
    return jsonify(invitation_json(invitation))


@api.post("/partners/join")
def partners_join() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    data = load(JoinRequestSchema(), json_body())
    partner = join(state(), data["code"], public_url(state(), request.url_root), data["name"])
    state().session.commit()
    return jsonify(partner_json(partner, adapter_class(partner.adapter).secret_fields, user.permission)), 201
