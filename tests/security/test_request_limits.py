"""Issue 13, item 2: the plugin's endpoints refuse an oversized body with 413 before reading it.

The limits are the plugin's own (``OUTSOURCE_MAX_JSON_BYTES`` for the API and
the pages, the attachment limit for the partner API), whatever the host sets
in ``MAX_CONTENT_LENGTH``. A body announced too large by ``Content-Length`` is
refused without one byte read; a streamed body without a length is cut off at
the limit. The measured test with a real server is in
``tests/cross_host/test_request_size.py``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from tests.blueprints.api_helpers import assert_error, table_rows
from tests.security.helpers import COUNTS, FEDERATION, PEER_LINK, PEER_SECRET, add_peer

MB = 2**20


class Untouchable(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read before its size was checked")


class Endless(io.RawIOBase):
    """A streamed body with no length that never ends; counts what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        buffer[:size] = b"x" * size
        self.read_bytes += size
        return size


def _endpoints(app: Flask, ticket_id: str) -> list[tuple[str, str]]:
    add_peer(app, "Northwind IT", PEER_LINK, PEER_SECRET)
    return [
        ("POST", f"/outsource/api/v1/tickets/{ticket_id}/outsource"),
        ("POST", "/outsource/api/v1/partners"),
        ("POST", f"/outsource/tickets/{ticket_id}/outsource"),
        ("POST", "/outsource/partners/new"),
        ("POST", f"{FEDERATION}/messages"),
    ]


def _headers(path: str) -> dict[str, str]:
    if "/federation/" in path:
        return {"X-Outsource-Link": PEER_LINK, "Content-Type": "application/json"}
    if "/api/" in path:
        return {"Authorization": "Bearer admin", "Content-Type": "application/json"}
    return {"Authorization": "Bearer admin", "Content-Type": "application/x-www-form-urlencoded"}


def _assert_413(response: Any, path: str) -> None:
    """The API answers JSON; a page answers the plugin's error page, which says what was wrong."""
    if "/api/" in path or "/federation/" in path:
        body = assert_error(response, 413, "payload_too_large")
        assert "bytes" in body["message"], body
    else:
        assert response.status_code == 413, response.status_code
        assert "at most" in response.get_data(as_text=True)
    COUNTS["oversized_bodies"] = COUNTS.get("oversized_bodies", 0) + 1


def test_a_body_announced_too_large_is_413_before_a_byte_is_read(app: Flask, ticket_id: str) -> None:
    endpoints = _endpoints(app, ticket_id)
    rows = table_rows(app)
    client = app.test_client()
    for method, path in endpoints:
        response = client.open(
            path,
            method=method,
            headers=_headers(path),
            environ_overrides={"wsgi.input": Untouchable(), "CONTENT_LENGTH": str(300 * MB)},
        )
        _assert_413(response, path)
    assert table_rows(app) == rows


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(app: Flask, ticket_id: str) -> None:
    limit = int(app.config["OUTSOURCE_MAX_JSON_BYTES"])
    federation_limit = limit + int(app.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"]) * 4 // 3
    for method, path in _endpoints(app, ticket_id):
        stream = Endless()
        response = app.test_client().open(
            path,
            method=method,
            headers=_headers(path),
            environ_overrides={
                "wsgi.input": stream,
                "wsgi.input_terminated": True,
                "HTTP_TRANSFER_ENCODING": "chunked",
            },
        )
        _assert_413(response, path)
        allowed = federation_limit if "/federation/" in path else limit
        assert stream.read_bytes <= allowed + MB, (path, stream.read_bytes)


@pytest.mark.parametrize("host_limit", [None, 10**12])
def test_the_plugin_keeps_its_own_limit_whatever_the_host_sets(app: Flask, ticket_id: str, host_limit: Any) -> None:
    previous = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = host_limit
    try:
        too_big = int(app.config["OUTSOURCE_MAX_JSON_BYTES"]) + 1
        response = app.test_client().post(
            f"/outsource/api/v1/tickets/{ticket_id}/outsource",
            headers=_headers("/outsource/api/v1"),
            environ_overrides={"wsgi.input": Untouchable(), "CONTENT_LENGTH": str(too_big)},
        )
        assert_error(response, 413, "payload_too_large")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = previous


def test_the_demo_host_sets_a_request_size_limit(app: Flask) -> None:
    """Flask defines ``MAX_CONTENT_LENGTH`` (as None): a ``setdefault`` of it set nothing."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert isinstance(limit, int)
    assert limit >= int(app.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"]) * 4 // 3
