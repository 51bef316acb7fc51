"""Re-encrypting every partner's stored secrets, and every invitation's private key, under the
first key (``flask outsource secrets rotate``).

Apart from ``secretbox``, which ``models`` reads and writes through, so that the box
needs no model and the two do not import each other.
"""

from __future__ import annotations

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Invitation, Partner
from outsource_plugin.db.secretbox import box, reseal, reseal_text


def rotate_all(session: Session, fernet: MultiFernet | None = None) -> int:
    """Re-encrypt every partner's secrets and every invitation's key with the first key; the caller
    commits. Returns partners changed."""
    fernet = fernet or box()
    changed = 0
    for partner in session.scalars(select(Partner).order_by(Partner.id)):
        resealed = reseal(partner.stored_config, fernet)
        if resealed != partner.stored_config:
            partner.stored_config = resealed
            changed += 1
    for invitation in session.scalars(select(Invitation).order_by(Invitation.id)):
        invitation.sealed_key = reseal_text(invitation.sealed_key, fernet)
    return changed
