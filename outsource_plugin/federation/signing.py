"""Signed partner requests: HMAC-SHA256 over method, path, timestamp, request id and body.

Pure functions, so the rules (clock tolerance, two secrets during a
rotation, constant-time comparison) are tested without a server.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable, Mapping

from outsource_plugin.errors import NotAuthenticated

LINK = "X-Outsource-Link"
TIMESTAMP = "X-Outsource-Timestamp"
REQUEST_ID = "X-Outsource-Message-Id"
SIGNATURE = "X-Outsource-Signature"


def canonical(method: str, path: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, request_id, hashlib.sha256(body).hexdigest()]).encode()


def signature(secret: str, method: str, path: str, timestamp: str, request_id: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), canonical(method, path, timestamp, request_id, body), hashlib.sha256)
    return "v1=" + digest.hexdigest()


def sign(link_id: str, secret: str, method: str, path: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers of one signed request; every request gets a fresh id."""
    timestamp = str(int(now if now is not None else time.time()))
    request_id = uuid.uuid4().hex
    return {
        LINK: link_id,
        TIMESTAMP: timestamp,
        REQUEST_ID: request_id,
        SIGNATURE: signature(secret, method, path, timestamp, request_id, body),
    }


def verify(
    headers: Mapping[str, str],
    secrets: Iterable[str],
    method: str,
    path: str,
    body: bytes,
    *,
    tolerance: float,
    now: float | None = None,
) -> str:
    """Check a request's signature and clock; return its request id.

    Any of ``secrets`` may have signed it, so a secret can be rotated
    without downtime. Raises ``NotAuthenticated`` (401) otherwise.
    """
    timestamp = headers.get(TIMESTAMP, "")
    request_id = headers.get(REQUEST_ID, "")
    sent = headers.get(SIGNATURE, "")
    if not (timestamp and request_id and sent):
        raise NotAuthenticated("unsigned partner request")
    if len(request_id) > 64:
        raise NotAuthenticated("malformed request id")
    try:
        skew = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError as err:
        raise NotAuthenticated("malformed timestamp") from err
    if skew > tolerance:
        raise NotAuthenticated("stale request: the timestamp is outside the allowed clock difference")
    for secret in secrets:
        if secret and hmac.compare_digest(sent, signature(secret, method, path, timestamp, request_id, body)):
            return request_id
    raise NotAuthenticated("bad signature")
