"""Serving attachments that came from partners (or users) without running them as pages.

A partner chooses an attachment's bytes and its media type. Opened inline from
the help desk's own origin, a ``text/html`` or ``image/svg+xml`` file would run
its scripts with the signed-in user's session: stored XSS through a file. The
stored values stay exactly as the partner sent them (reconciliation compares
them with the partner's side); a host serves them through ``download_headers``.
"""

from __future__ import annotations

import re

#: what a file is served as when its declared type is malformed or one a browser runs
SAFE_TYPE = "application/octet-stream"

_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")

#: types a browser renders as a document that can run script when opened inline
_ACTIVE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
    }
)


def safe_media_type(declared: str | None) -> str:
    """The type to serve a stored file as: the declared one without parameters, unless it is
    malformed (a header injection attempt included) or a type a browser would run."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    if not _TYPE.match(value) or value in _ACTIVE or value.endswith(("+xml", "/xml")):
        return SAFE_TYPE
    return value


def download_headers() -> dict[str, str]:
    """Headers for any response that serves a stored file: no type sniffing, and a
    sandbox so that even a file a browser decides to render runs no script of ours."""
    return {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
