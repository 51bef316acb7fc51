"""Key rotation on the wire: the two messages, the answer, and the secret both sides derive.

A rotation is another X25519 exchange (``handshake.agree``), sent over the
partnership's signed channel, so only the holder of the current secret can
start one. The initiator's rotation id and both public keys are bound into the
HKDF info, so an answer cannot be moved to another rotation or partnership;
the responder proves it derived the same secret with a MAC under it, which the
initiator checks before it signs anything with the new secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from marshmallow import fields, validate

from outsource_plugin.federation import handshake
from outsource_plugin.validation.schemas import StrictSchema

_INFO = b"outsource-plugin rotate v1"
_ROTATION_ID = validate.Regexp(r"^[0-9a-f]{32}$", error="a rotation id is 32 lowercase hex digits")
_PUBLIC_KEY = validate.Length(equal=43)


class RotateSchema(StrictSchema):
    """POST /rotate: the initiator's half of the exchange."""

    rotation_id = fields.String(required=True, validate=_ROTATION_ID)
    public_key = fields.String(required=True, validate=_PUBLIC_KEY)


class RotateAnswerSchema(RotateSchema):
    """The responder's half, and its proof that it holds the new secret."""

    confirmation = fields.String(required=True, validate=validate.Length(equal=64))


class ConfirmSchema(StrictSchema):
    """POST /rotate/confirm, signed with the new secret: the responder may drop the old one."""

    rotation_id = fields.String(required=True, validate=_ROTATION_ID)


def new_rotation_id() -> str:
    """128 random bits: unique, and the order two crossed rotations are settled by."""
    return secrets.token_hex(16)


def derive_secret(own: X25519PrivateKey, *, initiator: str, responder: str, link_id: str, rotation_id: str) -> str:
    """The partnership's next HMAC secret; the same on both sides, whichever private key ``own`` is."""
    info = b"|".join([_INFO, link_id.encode(), rotation_id.encode(), initiator.encode(), responder.encode()])
    return handshake.b64(handshake.agree(own, initiator, responder, salt=None, info=info, length=32))


def confirmation(secret: str, rotation_id: str) -> str:
    return hmac.new(secret.encode(), f"rotated|{rotation_id}".encode(), hashlib.sha256).hexdigest()


def confirmed(secret: str, rotation_id: str, sent: str) -> bool:
    return hmac.compare_digest(confirmation(secret, rotation_id), sent)
