"""Response headers that keep the plugin's pages out of other sites' frames and guesses.

A signed-in page framed by another site can be clicked through
(clickjacking); a body sniffed as another type can run as script; a full
URL in the Referer header tells the next site which ticket was open. The
plugin sets these on its own blueprints whatever the host does, and a host
reuses :func:`add_security_headers` for its own pages (the demo does).
Headers a view already set (an attachment's own sandbox policy) are kept.
"""

from __future__ import annotations

from flask import Flask, Response, request

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def secure_headers(app: Flask, blueprints: tuple[str, ...]) -> None:
    """Add the headers to every answer of the plugin's ``blueprints``, and of no other page of the host."""

    @app.after_request
    def _plugin_headers(response: Response) -> Response:
        return add_security_headers(response) if request.blueprint in blueprints else response
