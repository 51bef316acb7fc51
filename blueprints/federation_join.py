"""The join endpoints of the partner API: the one place a caller has no partnership yet.

They stand beside the signed federation blueprint, whose every request must
name a partnership, and are signed instead with the proof key derived from
the invitation's token (``core.invitations``): the token itself never crosses.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.errors import answer_in_json
from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.errors import JoinProofFailed
from outsource_plugin.partnership.invitations import accept_join, open_invitation
from outsource_plugin.state import current_outsource

federation_join = Blueprint("outsource_federation_join", __name__)
answer_in_json(federation_join)
limit_body(federation_join, json_limit)


@federation_join.get("/<public_id>")
def invitation_key(public_id: str) -> ResponseReturnValue:
    """The invitation's public key, which the joining host checks against the code's fingerprint."""
    state = current_outsource()
    invitation = open_invitation(state.session, public_id)
    return jsonify({"public_key": invitation.public_key, "org": state.config["OUTSOURCE_ORG_NAME"]})


@federation_join.post("/<public_id>")
def join_request(public_id: str) -> ResponseReturnValue:
    state = current_outsource()
    try:
        _partner, answer = accept_join(
            state,
            public_id,
            dict(request.headers),
            request.path,
            request.get_data(cache=True),
            request.get_json(silent=True),
        )
    except JoinProofFailed:
        state.session.commit()  # the failed attempt counts even though the answer is a 401
        raise
    state.session.commit()
    return jsonify(answer)
