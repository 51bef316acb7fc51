"""Real demo help-desk processes on free loopback ports, and a proxy that injects faults.

Tests talk to the hosts only over HTTP. Each host is a separate
``flask run`` process with its own database and its jobs running in-process
on short intervals.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import requests

from tests.polling import eventually

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """JSON over HTTP to one host, as one of its users."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        response = self.call("GET", path, **kw)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def post(self, path: str, json: Any = None, expect: int | tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        return self._send("POST", path, json, expect, **kw)

    def patch(self, path: str, json: Any = None, expect: int | tuple[int, ...] = 200) -> Any:
        return self._send("PATCH", path, json, expect)

    def delete(self, path: str, expect: int | tuple[int, ...] = 204) -> Any:
        return self._send("DELETE", path, None, expect)

    def _send(self, method: str, path: str, json: Any, expect: int | tuple[int, ...], **kw: Any) -> Any:
        response = self.call(method, path, json=json, **kw) if json is not None else self.call(method, path, **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


@dataclass
class Host:
    """One demo help desk process."""

    #: a page that answers 200 once the process serves requests
    ready_path: ClassVar[str] = "/login"
    name: str
    domain: str
    folder: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def plugin_url(self) -> str:
        return f"{self.base}/outsource"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FLASK_APP": "examples.helpdesk:create_app",
            "HELPDESK_DATABASE_URL": self.database_url,
            "HELPDESK_INSTANCE": str(self.folder),
            "HELPDESK_NAME": self.name,
            "HELPDESK_SECRET_KEY": f"{self.domain}-secret-key",
            "OUTSOURCE_ORG_NAME": self.name,
            "OUTSOURCE_SCHEDULER": "1",
            "OUTSOURCE_POLL_INTERVAL": "0.5",
            "OUTSOURCE_DELIVERY_INTERVAL": "0.2",
            "OUTSOURCE_DEADLINE_INTERVAL": "0.5",
            "OUTSOURCE_BACKOFF_CAP": "2",
            "OUTSOURCE_POLL_BACKOFF_MAX": "2",
            "OUTSOURCE_HTTP_TIMEOUT": "5",
            **self.extra_env,
        }

    def seed(self) -> None:
        seeded = subprocess.run(
            [sys.executable, "-m", "flask", "helpdesk", "seed", "--domain", self.domain, "--no-simulated-partner"],
            env=self.env(),
            cwd=self.folder,
            capture_output=True,
            text=True,
        )
        assert seeded.returncode == 0, f"seeding {self.name} failed:\n{seeded.stderr[-3000:]}"

    def serve_command(self) -> list[str]:
        """The web process: Werkzeug's server, which ``flask run`` starts for a developer."""
        return [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload"]

    def start(self) -> None:
        with (self.folder / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.serve_command(),
                env=self.env(),
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        eventually(lambda: requests.get(f"{self.base}{self.ready_path}", timeout=2).status_code == 200, timeout=90)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=15)
        self.process = None

    def flask(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one ``flask ...`` command against this host's database and settings."""
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            env=self.env(),
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def spawn(self, *args: str, log_name: str = "worker.log") -> subprocess.Popen[bytes]:
        """Start a long-running ``flask ...`` process (a worker) with this host's settings.

        The caller stops it (``terminate`` then ``wait``); its output goes to ``log_name``.
        """
        with (self.folder / log_name).open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "flask", *args],
                env=self.env(),
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, user: str = "admin") -> Client:
        return Client(self.base, f"{user}-{self.domain}-token")


class WaitressHost(Host):
    """A demo help desk served by waitress (``examples.helpdesk.serve``), as the README tells a host
    to serve it in production: what a page costs there is the figure to time, not the development
    server's thread per request."""

    def serve_command(self) -> list[str]:
        return [sys.executable, "-m", "examples.helpdesk.serve", "--host", "127.0.0.1", "--port", str(self.port)]


class FlaskSettingsHost(Host):
    """A host that is not the demo: ``FLASK_APP`` names its app, and its settings, the plugin's
    included, are ``FLASK_*`` variables (``app.config.from_prefixed_env()``)."""

    #: what FLASK_APP names
    flask_app: ClassVar[str]

    def env(self) -> dict[str, str]:
        demo = super().env()
        plugin = {f"FLASK_{key}": value for key, value in demo.items() if key.startswith("OUTSOURCE_")}
        return {
            **{key: value for key, value in demo.items() if not key.startswith(("OUTSOURCE_", "HELPDESK_"))},
            **plugin,
            "FLASK_APP": self.flask_app,
            "FLASK_SQLALCHEMY_DATABASE_URI": self.database_url,
            "FLASK_SECRET_KEY": f"{self.domain}-secret-key",
        }


@dataclass(frozen=True)
class Captured:
    """One request as the proxy received it, signature headers included, so it can be sent again."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FaultProxy:
    """An HTTP proxy in front of a host. By default it passes requests through;
    ``fail`` queues canned answers (503, 429 with Retry-After, ...) and ``down``
    makes it close connections, as an unreachable partner would.

    ``hang`` makes every request wait that many seconds before it is forwarded (a
    partner slower than the caller's timeout); ``intercept`` may answer a request
    in the partner's place (returning ``(status, body)``), to hold it back and
    ``forward`` it later; ``tap`` sees each request with the partner's answer
    before it is relayed and returns False to drop that answer (the connection
    is closed instead).

    With ``keep_alive`` it keeps connections open on both sides, as a load balancer in
    front of a production host does: a benchmark then times the hosts, not a TCP handshake
    and a new session per hop. The fault tests keep the default (a connection per request),
    so ``refuse`` cuts every caller at once."""

    def __init__(self, target: Callable[[], str], *, keep_alive: bool = False) -> None:
        self.target = target
        self._sessions = threading.local() if keep_alive else None
        self.faults: list[tuple[int, dict[str, str], str]] = []
        self.down = False
        self.hang = 0.0
        self.hung = 0
        self.intercept: Callable[[Captured], tuple[int, bytes] | None] | None = None
        self.tap: Callable[[Captured, requests.Response], bool] | None = None
        self.healed = threading.Event()
        self.seen: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                captured = Captured(self.command, self.path, headers, body)
                with proxy.lock:
                    fault = proxy._next_fault(self.command, self.path)
                    down, hang, intercept, tap = proxy.down, proxy.hang, proxy.intercept, proxy.tap
                if hang:
                    with proxy.lock:
                        proxy.hung += 1
                    proxy.healed.wait(hang)
                if down:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None:
                    status, headers, text = fault
                    self._answer(status, headers, text.encode())
                    return
                canned = intercept(captured) if intercept is not None else None
                if canned is not None:
                    self._answer(canned[0], {"Content-Type": "application/json"}, canned[1])
                    return
                try:
                    upstream = proxy.forward(captured)
                except requests.RequestException:
                    self._answer(502, {}, b"upstream unreachable")
                    return
                with proxy.lock:
                    cut_meanwhile = proxy.down  # a held request (a long poll) cut while upstream answered
                if cut_meanwhile or (tap is not None and not tap(captured, upstream)):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._answer(
                    upstream.status_code, {"Content-Type": upstream.headers.get("Content-Type", "")}, upstream.content
                )

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the caller timed out and left: its answer has nowhere to go

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        Handler.protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
        self.handler = Handler
        self.port = 0
        self.refusing = False
        self._listen()
        self.answered: list[tuple[float, str, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def refuse(self) -> None:
        """Stop listening: callers get "connection refused", as from a partner whose server is off."""
        self.server.shutdown()
        self.server.server_close()
        self.refusing = True

    def forward(self, request: Captured) -> requests.Response:
        """Send a request (a held-back or captured one) to the partner as it came, and note its answer."""
        upstream = self._upstream().request(
            request.method, self.target() + request.path, data=request.body, headers=request.headers, timeout=30
        )
        with self.lock:
            self.seen.append((time.monotonic(), request.method, request.path, upstream.status_code))
        return upstream

    def _upstream(self) -> Any:
        """``requests`` itself (a connection per request), or with ``keep_alive`` the handler
        thread's own session: one thread serves one caller's connection for its life."""
        if self._sessions is None:
            return requests
        if not hasattr(self._sessions, "session"):
            self._sessions.session = requests.Session()
        return self._sessions.session

    def heal(self) -> None:
        """Back to passing everything through; requests hanging now are released."""
        with self.lock:
            self.faults.clear()
            self.down = False
            self.hang = 0.0
            self.intercept = self.tap = None
        self.healed.set()
        self.healed = threading.Event()
        if self.refusing:
            self.refusing = False
            self._listen()

    def fail(self, status: int, *, path: str = "/messages", headers: dict[str, str] | None = None, times: int = 1):
        with self.lock:
            self.faults.extend([(status, headers or {}, f'{{"error": "injected {status}"}}')] * times)
        self._fault_path = path

    def _next_fault(self, method: str, path: str) -> tuple[int, dict[str, str], str] | None:
        if self.faults and getattr(self, "_fault_path", "/messages") in path:
            status, headers, text = self.faults.pop(0)
            self.answered.append((time.monotonic(), path, status))
            return status, {"Content-Type": "application/json", **headers}, text
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
