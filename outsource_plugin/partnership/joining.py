"""Joining a partner with its invitation code, on the joining side.

Two calls to the inviting host: the first fetches the invitation's public key,
which must match the code's fingerprint before anything else is sent (a host
in the middle with a key of its own is refused here); the second is the join
request, signed with the proof key, whose answer must carry the inviting
host's confirmation. Only then is the inviting host registered here, as a
peer partner with the derived secret: nothing is shown, nothing typed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from outsource_plugin.core.partners import create_partner, unique_name
from outsource_plugin.db.models import Partner
from outsource_plugin.errors import InvitationRefused
from outsource_plugin.federation import handshake
from outsource_plugin.federation.calls import call_host
from outsource_plugin.federation.signing import sign

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

_MESSAGE_CHARS = 300


def join(state: OutsourceState, code: str, our_url: str, name: str | None = None) -> Partner:
    """Become partners with the host that made ``code``; the caller commits.

    ``name`` names the partner here; unset, the inviting host's organisation name."""
    invite = handshake.parse_code(code)
    if invite.expired:
        raise InvitationRefused("this invitation has expired: ask for a new one")
    path = f"/federation/v1/join/{invite.invitation_id}"
    offered = _call(state, "GET", invite.url, path)
    inviter = str(offered.get("public_key", ""))
    if handshake.fingerprint(inviter) != invite.fingerprint:
        raise InvitationRefused(
            "the host at the code's URL does not hold the key the code names (fingerprint mismatch): "
            "nothing was sent; check the URL with the inviting organisation"
        )
    partner_name = unique_name(state.session, name or str(offered.get("org", "")))
    own = handshake.new_private_key()
    joiner = handshake.public_text(own)
    keys = handshake.derive_keys(
        own,
        inviter=inviter,
        joiner=joiner,
        hashed_token=handshake.token_hash(invite.token),
        invitation_id=invite.invitation_id,
    )
    body = {"public_key": joiner, "base_url": our_url, "org": str(state.config["OUTSOURCE_ORG_NAME"])}
    answer = _call(state, "POST", invite.url, path, body, proof=keys.proof)
    link_id, org = str(answer.get("link_id", "")), str(answer.get("org", ""))
    if link_id != invite.invitation_id or not handshake.confirmed(keys, link_id, org, str(answer.get("confirmation"))):
        raise InvitationRefused("the inviting host's answer is not confirmed by the agreed key: nothing registered")
    return create_partner(
        state,
        {
            "name": partner_name,
            "adapter": "peer",
            "config": {"base_url": invite.url, "link_id": link_id, "secret": keys.secret},
        },
    )


def _call(
    state: OutsourceState, method: str, base: str, path: str, payload: Any = None, *, proof: str | None = None
) -> dict[str, Any]:
    """One call to the inviting host; its refusal is ours, in its words (never a key)."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    if proof is not None:
        headers.update(sign(path.rsplit("/", 1)[-1], proof, method, _full_path(base, path), body))
    status, answer = call_host(
        state.http,
        method,
        base.rstrip("/") + path,
        body=body,
        headers=headers,
        timeout=float(state.config["OUTSOURCE_HTTP_TIMEOUT"]),
        who="the inviting host",
    )
    if answer is None:
        raise InvitationRefused(f"the inviting host answered HTTP {status} without JSON")
    if status != 200:
        said = str(answer.get("message", ""))[:_MESSAGE_CHARS]
        raise InvitationRefused(f"the inviting host refused (HTTP {status}): {said}")
    return answer


def _full_path(base: str, path: str) -> str:
    """The path the inviting host sees, under its URL prefix: what the signature covers."""
    return urlsplit(base.rstrip("/") + path).path
