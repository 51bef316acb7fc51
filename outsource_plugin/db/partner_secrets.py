"""Re-encrypting every partner's stored secrets under the first key (``flask outsource secrets rotate``).

Apart from ``secretbox``, which ``models`` reads and writes through, so that the box
needs no model and the two do not import each other.
"""

from __future__ import annotations

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Partner
from outsource_plugin.db.secretbox import box, reseal


def rotate_all(session: Session, fernet: MultiFernet | None = None) -> int:
    """Re-encrypt every partner's secrets with the first key; the caller commits. Returns partners changed."""
    fernet = fernet or box()
    changed = 0
    for partner in session.scalars(select(Partner).order_by(Partner.id)):
        resealed = reseal(partner.stored_config, fernet)
        if resealed != partner.stored_config:
            partner.stored_config = resealed
            changed += 1
    return changed
