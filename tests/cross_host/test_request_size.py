"""Issue 13, item 2, measured: a 300 MB unsigned body leaves a real server's memory flat.

One demo host runs as its own ``flask run`` process with a peer partner
registered, so a request naming that partner's link reaches the signature
check. Each request sends 300 MB that no secret signed, once with
``Content-Length`` and once chunked (no length), and must be answered 413
while the server's peak resident memory (``VmHWM``) grows by less than 30 MB.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_database
from tests.cross_host.conftest import LINK, register
from tests.cross_host.hosts import Host

MB = 2**20
BODY = 300 * MB
CHUNK = b"x" * MB
#: growth of the server's peak memory that a refused body may cause, at most
BOUND = 30 * MB


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    with fresh_database(tmp_path_factory.mktemp("size-db")) as url:
        # a 1 MB attachment limit keeps the partner API's own limit (and so a chunked body's cost) small
        started = Host(
            "Northwind IT",
            "northwind.example",
            tmp_path_factory.mktemp("size-host"),
            url,
            extra_env={"OUTSOURCE_SCHEDULER": "0", "OUTSOURCE_MAX_ATTACHMENT_BYTES": str(MB)},
        )
        started.seed()
        started.start()
        try:
            register(started.client(), "Contoso Field Services", "http://127.0.0.1:9/outsource", "s" * 32)
            yield started
        finally:
            started.stop()


def peak_memory(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (``VmHWM`` in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def post_streamed(port: int, path: str, *, chunked: bool) -> int:
    """POST 300 MB of unsigned body, generated as it is sent; the answer's status.

    The server may answer before the body is all sent: sending stops at a closed
    connection, and the answer is read all the same.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Outsource-Link: {LINK}\r\nX-Outsource-Signature: not-signed\r\n{length}\r\n\r\n"
    )
    try:
        sock.sendall(head.encode())
        for _ in range(BODY // MB):
            sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = http.client.HTTPResponse(sock)
    try:
        response.begin()
        response.read()
        return response.status
    finally:
        sock.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_unsigned_body_is_413_and_memory_stays_flat(host: Host, chunked: bool) -> None:
    assert host.process is not None
    path = "/outsource/federation/v1/messages"
    # warm up: the first request of a kind loads code and opens connections
    assert post_small(host.port, path) in (400, 401)
    before = peak_memory(host.process.pid)
    status = post_streamed(host.port, path, chunked=chunked)
    grown = peak_memory(host.process.pid) - before
    assert (status, grown < BOUND) == (413, True), f"answer {status}, peak memory grew by {grown / MB:.1f} MB"


def post_small(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", path, body=b"{}", headers={"X-Outsource-Link": LINK, "Content-Type": "application/json"}
        )
        return connection.getresponse().status
    finally:
        connection.close()
