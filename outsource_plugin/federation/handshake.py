"""The invitation handshake: codes, fingerprints and the keys two hosts agree on.

We chose an X25519 key exchange with HKDF over Ed25519 signatures: the exchange
ends in the same shared HMAC secret that ``signing`` already uses, so request
signing, the peer adapter, replay protection and the encrypted partner settings
stay as they are, and a later rotation is another exchange over the existing
channel whose result goes in ``secret`` while the old one stays in
``previous_secret`` during the overlap.

The inviting host keeps one X25519 key per invitation; the code carries the
SHA-256 fingerprint of its public half, so the joining host refuses any other
key (a man in the middle) before it sends anything. The one-time token never
crosses the wire: HKDF is salted with its SHA-256 (the only form the inviting
host stores), so a join request signed with the derived proof key shows the
caller holds the token, and the inviting host's confirmation shows it holds
the private key. Pure functions, so each rule is tested without a server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from outsource_plugin.errors import ValidationFailed

PREFIX = "osinv1."
TOKEN_BYTES = 32
_INFO = b"outsource-plugin join v1"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token() -> str:
    """256 random bits: far past guessing, whatever the rate limit lets through."""
    return b64(secrets.token_bytes(TOKEN_BYTES))


def new_invitation_id() -> str:
    """The invitation's public name, and the link id of the partnership it becomes."""
    return "inv-" + secrets.token_hex(8)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_private_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def private_from_text(text: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(unb64(text))


def private_text(key: X25519PrivateKey) -> str:
    return b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def public_text(key: X25519PrivateKey) -> str:
    return b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def fingerprint(public_key: str) -> str:
    return "SHA256:" + b64(hashlib.sha256(unb64(public_key)).digest())


@dataclass(frozen=True)
class InvitationCode:
    """What one pasteable code carries."""

    url: str
    invitation_id: str
    token: str
    expires_at: datetime
    fingerprint: str

    def encode(self) -> str:
        fields = {
            "u": self.url,
            "i": self.invitation_id,
            "t": self.token,
            "e": int(self.expires_at.timestamp()),
            "f": self.fingerprint,
        }
        return PREFIX + b64(json.dumps(fields, separators=(",", ":")).encode())

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(timezone.utc)


def parse_code(code: str) -> InvitationCode:
    """Read a pasted code; a cut or altered one is a 400 that never echoes it back."""
    text = "".join(code.split())
    try:
        if not text.startswith(PREFIX):
            raise ValueError("prefix")
        fields = json.loads(unb64(text[len(PREFIX) :]))
        return InvitationCode(
            url=str(fields["u"]),
            invitation_id=str(fields["i"]),
            token=str(fields["t"]),
            expires_at=datetime.fromtimestamp(int(fields["e"]), timezone.utc),
            fingerprint=str(fields["f"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise ValidationFailed(
            "this is not an invitation code: paste the whole code, it starts with " + PREFIX,
            details={"code": ["not an invitation code"]},
        ) from err


@dataclass(frozen=True)
class JoinKeys:
    """Three keys from one exchange: each has one use."""

    #: signs the join request: proves the caller holds the token
    proof: str
    #: signs the inviting host's answer: proves it holds the invitation's private key
    confirm: str
    #: the partnership's shared HMAC secret (the peer adapter's ``secret``)
    secret: str


def derive_keys(own: X25519PrivateKey, *, inviter: str, joiner: str, hashed_token: str, invitation_id: str) -> JoinKeys:
    """The same keys on both sides: ``own`` is either side's private key, ``inviter`` and
    ``joiner`` the two public keys, bound into the derivation with the invitation id."""
    info = b"|".join([_INFO, invitation_id.encode(), inviter.encode(), joiner.encode()])
    okm = agree(own, inviter, joiner, salt=bytes.fromhex(hashed_token), info=info, length=96)
    return JoinKeys(proof=b64(okm[:32]), confirm=b64(okm[32:64]), secret=b64(okm[64:]))


def agree(own: X25519PrivateKey, first: str, second: str, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF over the X25519 exchange of ``own`` with whichever of the two public keys is not its
    own: the one derivation the join and a key rotation share."""
    other = second if public_text(own) == first else first
    try:
        peer = X25519PublicKey.from_public_bytes(unb64(other))
    except (ValueError, binascii.Error) as err:
        raise ValidationFailed("the public key is not an X25519 key", details={"public_key": ["invalid"]}) from err
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(own.exchange(peer))


def confirmation(keys: JoinKeys, link_id: str, org: str) -> str:
    return hmac.new(unb64(keys.confirm), f"confirm|{link_id}|{org}".encode(), hashlib.sha256).hexdigest()


def confirmed(keys: JoinKeys, link_id: str, org: str, sent: str) -> bool:
    return hmac.compare_digest(confirmation(keys, link_id, org), sent)
