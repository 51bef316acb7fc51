"""The secret a key rotation derives: the same on both sides, bound to its rotation and link."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from outsource_plugin.errors import ValidationFailed
from outsource_plugin.federation import handshake, rekey

LINK = "inv-0123456789abcdef"


def _halves() -> tuple[X25519PrivateKey, str, X25519PrivateKey, str]:
    a, b = handshake.new_private_key(), handshake.new_private_key()
    return a, handshake.public_text(a), b, handshake.public_text(b)


def test_both_sides_derive_the_same_secret_and_only_they_confirm_it() -> None:
    a, pa, b, pb = _halves()
    rid = rekey.new_rotation_id()
    mine = rekey.derive_secret(a, initiator=pa, responder=pb, link_id=LINK, rotation_id=rid)
    theirs = rekey.derive_secret(b, initiator=pa, responder=pb, link_id=LINK, rotation_id=rid)
    assert mine == theirs and len(handshake.unb64(mine)) == 32
    assert rekey.confirmed(mine, rid, rekey.confirmation(theirs, rid))
    assert not rekey.confirmed(mine, rekey.new_rotation_id(), rekey.confirmation(theirs, rid))
    assert not rekey.confirmed("another-secret-of-sixteen", rid, rekey.confirmation(theirs, rid))


def test_the_secret_is_bound_to_the_rotation_and_the_link() -> None:
    a, pa, _b, pb = _halves()
    rid = rekey.new_rotation_id()
    base = rekey.derive_secret(a, initiator=pa, responder=pb, link_id=LINK, rotation_id=rid)
    other_rotation = rekey.derive_secret(
        a,
        initiator=pa,
        responder=pb,
        link_id=LINK,
        rotation_id=rekey.new_rotation_id(),
    )
    other_link = rekey.derive_secret(a, initiator=pa, responder=pb, link_id="other", rotation_id=rid)
    assert len({base, other_rotation, other_link}) == 3


def test_a_public_key_that_is_not_x25519_is_a_400() -> None:
    a, pa, _b, _pb = _halves()
    with pytest.raises(ValidationFailed):
        rekey.derive_secret(a, initiator=pa, responder="!" * 43, link_id=LINK, rotation_id=rekey.new_rotation_id())


def test_rotation_ids_are_128_random_bits_in_hex() -> None:
    ids = {rekey.new_rotation_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
