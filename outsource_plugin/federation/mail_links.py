"""What an e-mail partner holds instead of a signed API: links and a reply address only this host can make.

A link names the engagement, the action and its expiry, with an HMAC under a
key derived from the app's ``SECRET_KEY``; it is refused when forged, altered
or expired. It works once: its use is recorded with the action it performs
(``db.link_uses``). And it works only while its action can happen: Accept and
Decline while the engagement is Assigned, Work is done and Log time while the
work is open (Accepted, In Progress), so a link of a canceled offer is refused
too. The e-mail that reopens the work (a reject) carries new links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from outsource_plugin.errors import ConfigurationError, MailLinkRefused

SEPARATOR = "."


class LinkAction(str, Enum):
    ACCEPT = "accept"
    DECLINE = "decline"
    #: in the acceptance confirmation: the partner submits the work for approval
    DONE = "done"
    #: in the acceptance confirmation: a form that logs the partner's time
    TIME = "time"


@dataclass(frozen=True)
class MailLink:
    engagement_uid: str
    action: LinkAction
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


def app_key(config: Mapping[str, Any]) -> bytes:
    """The app's ``SECRET_KEY``, which every link and reply token is made under."""
    key = config.get("SECRET_KEY")
    if not key:
        raise ConfigurationError("the e-mail partner needs the app's SECRET_KEY to sign its links and reply addresses")
    return key.encode() if isinstance(key, str) else bytes(key)


def _mac(secret_key: bytes, purpose: str, text: str) -> bytes:
    key = hmac.new(secret_key, b"outsource-email-partner", hashlib.sha256).digest()
    return hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).digest()


def reply_token(secret_key: bytes, uid: str) -> str:
    """The engagement's unguessable reply token (lower-case base32, 24 characters)."""
    return base64.b32encode(_mac(secret_key, "reply", uid)[:15]).decode().lower()


def sign_link(secret_key: bytes, link: MailLink) -> str:
    body = SEPARATOR.join([link.engagement_uid, link.action.value, str(int(link.expires.timestamp()))])
    signature = base64.urlsafe_b64encode(_mac(secret_key, "link", body)).decode().rstrip("=")
    return f"{body}{SEPARATOR}{signature}"


def read_link(secret_key: bytes, token: str, now: datetime) -> MailLink:
    """The link ``token`` names; MailLinkRefused when it is malformed, forged or expired."""
    parts = token.split(SEPARATOR)
    if len(parts) != 4 or not parts[2].isdigit() or parts[1] not in {a.value for a in LinkAction}:
        raise MailLinkRefused("This link is not one of ours: check that it was copied whole.")
    body = SEPARATOR.join(parts[:3])
    expected = base64.urlsafe_b64encode(_mac(secret_key, "link", body)).decode().rstrip("=")
    if not hmac.compare_digest(expected, parts[3]):
        raise MailLinkRefused("This link is not one of ours: check that it was copied whole.")
    link = MailLink(parts[0], LinkAction(parts[1]), datetime.fromtimestamp(int(parts[2]), tz=timezone.utc))
    if link.expired(now):
        raise MailLinkRefused("This link has expired: the time to answer the offer is over.", status_code=410)
    return link
