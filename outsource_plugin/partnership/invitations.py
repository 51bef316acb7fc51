"""Invitations, on the inviting side: made, listed, revoked, and accepted by a join request.

A join registers the other host as a peer partner only when every check holds:
the invitation is still open (not used, expired, revoked or locked) and the
request is signed with the proof key, which only the token's holder can derive
(``federation.handshake``). Failed proofs are counted, and an invitation that
collects ``MAX_FAILED_JOINS`` is locked: the token cannot be guessed by trying.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from marshmallow import fields, validate
from sqlalchemy import select

from outsource_plugin.core.partners import create_partner, unique_name
from outsource_plugin.db.models import Invitation, InvitationState, Partner, SeenRequest, utcnow
from outsource_plugin.errors import InvitationRefused, JoinProofFailed, NotAuthenticated, NotFound, TooManyAttempts
from outsource_plugin.federation import handshake
from outsource_plugin.federation.signing import verify
from outsource_plugin.permissions import Permission, refuse_financial
from outsource_plugin.validation.schemas import InvitationSchema, StrictSchema, load, terms_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from outsource_plugin.state import OutsourceState

MAX_FAILED_JOINS = 5


class JoinSchema(StrictSchema):
    """The joining host's half of the exchange and where we reach it."""

    public_key = fields.String(required=True, validate=validate.Length(equal=43))
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    org = fields.String(required=True, validate=validate.Length(min=1, max=200))


def public_url(state: OutsourceState, request_root: str | None) -> str:
    """Our plugin URL as partners reach it: ``OUTSOURCE_PUBLIC_URL``, else the request's."""
    configured = str(state.config["OUTSOURCE_PUBLIC_URL"] or "").rstrip("/")
    if configured:
        return configured
    if request_root is None:
        raise InvitationRefused(
            "this help desk's URL is unknown: set OUTSOURCE_PUBLIC_URL or give --url",
            details={"url": ["required"]},
        )
    return request_root.rstrip("/") + str(state.config["OUTSOURCE_URL_PREFIX"])


def create_invitation(
    state: OutsourceState, body: Any, url: str, level: Permission = Permission.ALL
) -> tuple[Invitation, str]:
    """A new invitation and its code; the caller commits. The code is shown once: only its
    token's hash is kept."""
    session = state.session
    data = load(InvitationSchema(), body)
    refuse_financial(data["default_terms"], level, "default_terms")
    name = unique_name(session, data["name"])
    key = handshake.new_private_key()
    token = handshake.new_token()
    invitation = Invitation(
        public_id=handshake.new_invitation_id(),
        token_hash=handshake.token_hash(token),
        name=name,
        default_terms=terms_json(data["default_terms"]),
        public_key=handshake.public_text(key),
        state=InvitationState.INVITED,
        failed_attempts=0,
        expires_at=utcnow() + timedelta(days=float(state.config["OUTSOURCE_INVITATION_DAYS"])),
    )
    invitation.private_key = handshake.private_text(key)
    session.add(invitation)
    code = handshake.InvitationCode(
        url=url,
        invitation_id=invitation.public_id,
        token=token,
        expires_at=invitation.expires_at,
        fingerprint=handshake.fingerprint(invitation.public_key),
    )
    return invitation, code.encode()


def open_invitations(session: Session) -> list[Invitation]:
    """What the partners list shows as "Invited": not joined and not revoked."""
    query = select(Invitation).where(Invitation.state.in_([InvitationState.INVITED, InvitationState.LOCKED]))
    return list(session.scalars(query.order_by(Invitation.name)))


def get_invitation(session: Session, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound(f"invitation {invitation_id} does not exist")
    return invitation


def revoke_invitation(invitation: Invitation) -> Invitation:
    if invitation.state is InvitationState.JOINED:
        raise InvitationRefused(f"the invitation of {invitation.name} was used already: disable the partner instead")
    invitation.state = InvitationState.REVOKED
    return invitation


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    """What a partner manager sees of an invitation: never its token or key."""
    expired = invitation.expires_at <= utcnow()
    return {
        "id": invitation.id,
        "name": invitation.name,
        "state": "expired" if expired and invitation.state is InvitationState.INVITED else invitation.state.value,
        "created_at": invitation.created_at.isoformat(),
        "expires_at": invitation.expires_at.isoformat(),
        "fingerprint": handshake.fingerprint(invitation.public_key),
        "partner_id": invitation.partner_id,
    }


def open_invitation(session: Session, public_id: str, *, lock: bool = False) -> Invitation:
    """The invitation a join names, if it can still be used; else why not, in words."""
    query = select(Invitation).where(Invitation.public_id == public_id)
    invitation = session.scalars(query.with_for_update() if lock else query).first()
    if invitation is None:
        raise NotFound("no such invitation: check that the whole code was pasted")
    if invitation.state is InvitationState.JOINED:
        raise InvitationRefused("this invitation was used already: ask for a new one")
    if invitation.state is InvitationState.REVOKED:
        raise InvitationRefused("this invitation was revoked: ask for a new one")
    if invitation.state is InvitationState.LOCKED:
        raise TooManyAttempts("too many failed attempts to join with this invitation: ask for a new one")
    if invitation.expires_at <= utcnow():
        raise InvitationRefused("this invitation has expired: ask for a new one")
    return invitation


def accept_join(
    state: OutsourceState, public_id: str, headers: Mapping[str, str], path: str, body: bytes, data: Any
) -> tuple[Partner, dict[str, str]]:
    """Register the joining host as a peer partner and answer with the link id and our
    confirmation; the caller commits (also when ``JoinProofFailed`` counts a failure)."""
    session = state.session
    invitation = open_invitation(session, public_id, lock=True)
    joining = load(JoinSchema(), data)
    keys = handshake.derive_keys(
        handshake.private_from_text(invitation.private_key),
        inviter=invitation.public_key,
        joiner=joining["public_key"],
        hashed_token=invitation.token_hash,
        invitation_id=invitation.public_id,
    )
    try:
        request_id = verify(
            headers, [keys.proof], "POST", path, body, tolerance=float(state.config["OUTSOURCE_SIGNATURE_TOLERANCE"])
        )
    except NotAuthenticated as err:
        invitation.failed_attempts += 1
        if invitation.failed_attempts >= MAX_FAILED_JOINS:
            invitation.state = InvitationState.LOCKED
        raise JoinProofFailed("the join request does not prove the invitation's token") from err
    partner = create_partner(
        state,
        {
            "name": invitation.name,
            "adapter": "peer",
            "config": {"base_url": joining["base_url"], "link_id": invitation.public_id, "secret": keys.secret},
            "default_terms": invitation.default_terms,
        },
    )
    session.flush()
    session.add(SeenRequest(request_id=request_id, partner_id=partner.id))
    invitation.state = InvitationState.JOINED
    invitation.joined_at = utcnow()
    invitation.partner_id = partner.id
    org = str(state.config["OUTSOURCE_ORG_NAME"])
    return partner, {
        "link_id": invitation.public_id,
        "org": org,
        "confirmation": handshake.confirmation(keys, invitation.public_id, org),
    }
