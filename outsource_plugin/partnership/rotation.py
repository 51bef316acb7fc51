"""Rotating a peer partnership's HMAC secret over its own signed channel, with no meeting.

The state machine, as pure functions from a peer partner's settings to new
settings. Its state lives in the partner's encrypted settings (``rotation``,
``next_secret``): it commits with whatever step wrote it, and a restarted host
resumes where it stopped. The initiator (A) and the responder (B):

1. A starts: an ephemeral X25519 key and a rotation id, ``OFFERED``.
2. A's job sends them, signed with the current secret. B derives the new secret
   and keeps it as ``next_secret`` (it verifies with it, still signs with the
   old one), ``ANSWERED``, and answers its public key and a MAC under the new
   secret. Asked again with the same rotation id, B gives the same answer.
3. A checks the MAC, signs with the new secret from then on and keeps the old
   as ``previous_secret`` (the overlap: B's requests still come signed with it),
   ``SWITCHED``, and sends the confirmation signed with the new secret.
4. B, seeing it signed so, promotes ``next_secret`` and retires the old secret.
5. A, seeing that acknowledged, is done too. Both sides still accept the old secret for
   ``OUTSOURCE_ROTATION_OVERLAP`` seconds (requests signed with it just before the switch
   may still be on their way); then the job retires it, and it is refused from then on.

Two rotations started at once converge: the lower rotation id goes on and
the other side drops its own (``RotationCrossed``).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db.models import Partner
from outsource_plugin.errors import Conflict, RotationCrossed, RotationPending, ValidationFailed
from outsource_plugin.federation import handshake, rekey

#: the settings a rotation keeps in a peer partner's encrypted config
ROTATION = "rotation"
NEXT = "next_secret"


class Step(enum.Enum):
    #: we started; our offer has not been answered yet
    OFFERED = "offered"
    #: the partner answered our offer: we sign with the new secret; our confirmation is not acknowledged
    SWITCHED = "switched"
    #: the partner started; we hold its next secret until its confirmation
    ANSWERED = "answered"


#: the steps whose next move is ours, made by the rotation job
OURS = frozenset({Step.OFFERED, Step.SWITCHED})


@dataclass(frozen=True)
class Rotation:
    """One partnership's rotation record; ``step`` is None between rotations."""

    step: Step | None = None
    rotation_id: str | None = None
    #: ours while OFFERED (the initiator's ephemeral private key); dropped once used
    private_key: str | None = None
    #: our half of the exchange: resent as it was, so a retry is the same request
    public_key: str | None = None
    attempts: int = 0
    #: when the job may try our next move again (epoch seconds)
    due: float = 0.0
    #: when the last rotation completed here (ISO 8601)
    rotated_at: str | None = None
    #: the last completed rotation, so its repeated confirmation is answered, not refused
    done_id: str | None = None
    #: when the old secret, kept after the rotation completed, is dropped (epoch seconds; 0: none kept)
    retire_at: float = 0.0

    @classmethod
    def of(cls, config: dict[str, Any]) -> Rotation:
        stored = dict(config.get(ROTATION) or {})
        step = stored.pop("step", None)
        return cls(step=None if step is None else Step(step), **stored)

    def into(self, config: dict[str, Any]) -> dict[str, Any]:
        stored = asdict(self)
        stored["step"] = None if self.step is None else self.step.value
        return {**config, ROTATION: stored}


def begin(partner: Partner, now: float) -> bool:
    """Start rotating ``partner``'s keys, for the page, the API and the CLI; the caller commits and
    the rotation job does the rest. False: a rotation (ours or the partner's) is under way already."""
    if ROTATION not in adapter_class(partner.adapter).state_fields:
        raise Conflict(
            f"{partner.name} does not sign with keys this plugin agrees on: rotate its credentials by editing it",
            details={"partner": ["no key rotation for this partner system"]},
        )
    if not partner.active:
        raise Conflict(f"{partner.name} is disabled: enable it before rotating its keys")
    partner.config, started = start(partner.config, now)
    return started


def start(config: dict[str, Any], now: float) -> tuple[dict[str, Any], bool]:
    """Begin a rotation; one already under way (either side's) is left as it is (False)."""
    current = Rotation.of(config)
    if current.step is not None:
        return config, False
    key = handshake.new_private_key()
    started = replace(
        current,
        step=Step.OFFERED,
        rotation_id=rekey.new_rotation_id(),
        private_key=handshake.private_text(key),
        public_key=handshake.public_text(key),
        attempts=0,
        due=now,
    )
    return started.into(config), True


def offer(config: dict[str, Any]) -> dict[str, str]:
    """The body of our POST /rotate."""
    current = Rotation.of(config)
    return {"rotation_id": str(current.rotation_id), "public_key": str(current.public_key)}


def answer_offer(config: dict[str, Any], body: dict[str, str], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The responder's step 2: the new settings and the answer. The same offer twice gets the same
    answer; an offer that crosses ours is settled by the lower rotation id."""
    current = Rotation.of(config)
    rotation_id = body["rotation_id"]
    if current.step is Step.ANSWERED and current.rotation_id == rotation_id:
        return config, _answer(config[NEXT], current)
    if current.done_id == rotation_id:
        raise RotationPending("this key rotation is complete already: start a new one")
    if current.step is Step.SWITCHED:
        raise RotationPending("our own key rotation is being confirmed: offer yours again shortly")
    if current.step is Step.OFFERED and str(current.rotation_id) < rotation_id:
        raise RotationCrossed("our key rotation crossed yours and goes on (its id is lower): drop yours")
    own = handshake.new_private_key()
    public = handshake.public_text(own)
    secret = rekey.derive_secret(
        own, initiator=body["public_key"], responder=public, link_id=link_id, rotation_id=rotation_id
    )
    answered = replace(
        current, step=Step.ANSWERED, rotation_id=rotation_id, private_key=None, public_key=public, attempts=0
    )
    return {**answered.into(config), NEXT: secret}, _answer(secret, answered)


def _answer(secret: str, answered: Rotation) -> dict[str, str]:
    rotation_id = str(answered.rotation_id)
    return {
        "rotation_id": rotation_id,
        "public_key": str(answered.public_key),
        "confirmation": rekey.confirmation(secret, rotation_id),
    }


def take_answer(config: dict[str, Any], answer: dict[str, str], link_id: str, now: float) -> dict[str, Any]:
    """The initiator's step 3: sign with the new secret, keep the old one for the overlap."""
    current = Rotation.of(config)
    if current.step is not Step.OFFERED or answer["rotation_id"] != current.rotation_id:
        raise ValidationFailed("the partner answered another key rotation than ours")
    own = handshake.private_from_text(str(current.private_key))
    secret = rekey.derive_secret(
        own,
        initiator=str(current.public_key),
        responder=answer["public_key"],
        link_id=link_id,
        rotation_id=answer["rotation_id"],
    )
    if not rekey.confirmed(secret, answer["rotation_id"], answer["confirmation"]):
        raise ValidationFailed("the partner's answer is not confirmed by the new key: the old key stays")
    switched = replace(current, step=Step.SWITCHED, private_key=None, attempts=0, due=now, retire_at=0.0)
    return {**switched.into(config), "previous_secret": config["secret"], "secret": secret}


def dropped(config: dict[str, Any], rotation_id: str) -> dict[str, Any]:
    """Our offer lost to the partner's crossing one: forget it (if it is still ours)."""
    current = Rotation.of(config)
    if current.step is not Step.OFFERED or current.rotation_id != rotation_id:
        return config
    return _idle(current).into(config)


def confirm(config: dict[str, Any], rotation_id: str, now: datetime, overlap: float) -> dict[str, Any]:
    """The responder's step 4, once the confirmation came signed with ``next_secret``: it signs with
    the new secret, and accepts the old one for ``overlap`` seconds more (requests on their way)."""
    current = Rotation.of(config)
    if current.done_id == rotation_id and current.step is None:
        return config
    if current.step is not Step.ANSWERED or current.rotation_id != rotation_id:
        raise RotationPending("this key rotation is not known here: offer it first")
    done = _done(current, rotation_id, now, overlap)
    promoted = {**done.into(config), "secret": config[NEXT], "previous_secret": config["secret"]}
    promoted.pop(NEXT, None)
    return promoted


def _done(current: Rotation, rotation_id: str, now: datetime, overlap: float) -> Rotation:
    return replace(_idle(current), rotated_at=now.isoformat(), done_id=rotation_id, retire_at=now.timestamp() + overlap)


def confirming_secret(config: dict[str, Any]) -> str:
    """The secret a confirmation must be signed with: the one the rotation leads to (already
    promoted, when the confirmation is a repeat)."""
    return str(config.get(NEXT) or config["secret"])


def acknowledged(config: dict[str, Any], rotation_id: str, now: datetime, overlap: float) -> dict[str, Any]:
    """The initiator's step 5: the partner signs with the new secret only, so the old one goes once
    what it signed before can no longer be on its way (``overlap`` seconds)."""
    current = Rotation.of(config)
    if current.step is not Step.SWITCHED or current.rotation_id != rotation_id:
        return config
    return _done(current, rotation_id, now, overlap).into(config)


def retired(config: dict[str, Any], now: float) -> dict[str, Any]:
    """The old secret dropped once its overlap is over: from then on it is refused."""
    current = Rotation.of(config)
    if not current.retire_at or current.retire_at > now:
        return config
    return {**replace(current, retire_at=0.0).into(config), "previous_secret": None}


def failed(config: dict[str, Any], rotation_id: str, wait: float, now: float) -> dict[str, Any]:
    """Our move did not reach the partner: count it, and try again after ``wait`` seconds."""
    current = Rotation.of(config)
    if current.step not in OURS or current.rotation_id != rotation_id:
        return config
    return replace(current, attempts=current.attempts + 1, due=now + wait).into(config)


def our_move(config: dict[str, Any], now: float) -> Step | None:
    """The step the rotation job should take now, if any."""
    current = Rotation.of(config)
    return current.step if current.step in OURS and current.due <= now else None


def _idle(current: Rotation) -> Rotation:
    return replace(current, step=None, rotation_id=None, private_key=None, public_key=None, attempts=0, due=0.0)


def describe(config: dict[str, Any], partner_name: str) -> str | None:
    """What the partner page says about the keys: never a key."""
    current = Rotation.of(config)
    if current.step in OURS:
        return f"Rotating keys: waiting for {partner_name}"
    if current.step is Step.ANSWERED:
        return f"Rotating keys: {partner_name} started a rotation; waiting for its confirmation"
    if current.rotated_at is not None:
        return f"Keys rotated {current.rotated_at[:16].replace('T', ' ')} UTC"
    return None
