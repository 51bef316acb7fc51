"""Request-size limits on the plugin's own endpoints, enforced before a body is read.

A body is refused with 413 by its ``Content-Length`` before anything reads or
verifies it; a streamed body without a length is cut off at the limit, so a
client cannot make the server hold more than the limit in memory. The limits
are the plugin's own (``OUTSOURCE_MAX_JSON_BYTES``, and for the partner API a
base64 attachment on top) when the host's ``MAX_CONTENT_LENGTH`` is unset or
larger; a stricter host limit holds as well. This works the same on Flask 2.3
and 3.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

from flask import Blueprint, current_app, request

from outsource_plugin.errors import PayloadTooLarge
from outsource_plugin.state import current_outsource


def json_limit(config: dict[str, Any]) -> int:
    """The largest body of the JSON API and the pages."""
    return int(config["OUTSOURCE_MAX_JSON_BYTES"])


def partner_limit(config: dict[str, Any]) -> int:
    """The largest partner message: an attachment at its limit, base64 (4/3), in a JSON envelope."""
    return json_limit(config) + int(config["OUTSOURCE_MAX_ATTACHMENT_BYTES"]) * 4 // 3


def _too_large(limit: int, length: int | None = None) -> PayloadTooLarge:
    size = f"the body is {length} bytes" if length is not None else "the body is longer"
    return PayloadTooLarge(
        f"{size}; this endpoint takes at most {limit} bytes", details={"_body": [f"larger than {limit} bytes"]}
    )


class CappedStream(io.RawIOBase):
    """The request's input, refused with the plugin's 413 as soon as it runs past ``limit``.

    (werkzeug's ``LimitedStream`` stops reading at its limit without an error
    when the whole body is read at once: a cut-off body would be parsed.)
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self.limit + 1 - self._read))
        self._read += len(data)
        if self._read > self.limit:
            raise _too_large(self.limit)
        buffer[: len(data)] = data
        return len(data)


def limit_body(blueprint: Blueprint, limit: Callable[[dict[str, Any]], int]) -> None:
    """Refuse oversized bodies on every request to ``blueprint``.

    Call it before any other ``before_request`` of the blueprint is registered
    (a form's CSRF token or a partner's signature is read from the body), so
    that it runs first.
    """

    @blueprint.before_request
    def _refuse_oversized_body() -> None:
        most = limit(current_outsource().config)
        host_most = current_app.config.get("MAX_CONTENT_LENGTH")
        length = request.content_length
        if length is not None:
            if length > most:
                raise _too_large(most, length)
            return
        # chunked: the server ends the stream; cap it before anyone reads it. Under a host limit
        # as strict, werkzeug's own cap would stop reading there without an error: ours trips first.
        if host_most is not None and int(host_most) <= most:
            most = int(host_most) - 1
        request.environ["wsgi.input"] = CappedStream(request.environ["wsgi.input"], most)
