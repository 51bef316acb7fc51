"""What the partner-system fixtures share: Debian packages, free ports, stopping processes.

The fixtures install what is missing with apt-get (as root, without
recommends), start the server as ``www-data`` on a free loopback port and stop
it at the end of the session. When a server cannot be had, the tests fail with
a message that names what is missing: they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


class ServerUnavailable(RuntimeError):
    """A partner system could not be installed or started; the message says what is missing."""


def started(start: Callable[[Path], T], folder: Path, what: str) -> T:
    """The started server, or a failed test naming what is missing (never a skip)."""
    problem = ""
    try:
        return start(folder)
    except ServerUnavailable as err:
        problem = str(err)
    pytest.fail(f"the {what} test server is unavailable: {problem}", pytrace=False)


def running(start: Callable[[Path], T], stop: Callable[[T], None], folder: Path, what: str) -> Iterator[T]:
    """A server fixture's body: started (or a failed test), yielded, stopped."""
    server = started(start, folder, what)
    try:
        yield server
    finally:
        stop(server)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def installed(package: str) -> bool:
    found = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True, check=False
    )
    return found.returncode == 0 and found.stdout.strip() == "installed"


def ensure_packages(packages: Sequence[str], *, debconf: str = "", log: Path) -> float:
    """Install the missing ``packages`` from Debian; return the seconds it took (0.0 when none were missing)."""
    if shutil.which("dpkg-query") is None:
        raise ServerUnavailable(f"dpkg-query not found: the packages {', '.join(packages)} need Debian (or Ubuntu)")
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return 0.0
    if os.geteuid() != 0:
        raise ServerUnavailable(
            f"Debian packages {', '.join(missing)} are missing and installing them needs root: "
            f"apt-get install --no-install-recommends {' '.join(missing)}"
        )
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        if debconf:
            subprocess.run(["debconf-set-selections"], input=debconf.encode(), check=True, stdout=out, stderr=out)
        command = [
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            *missing,
        ]
        if subprocess.run(command, env=env, stdout=out, stderr=out, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=out, stderr=out, check=False)
            if subprocess.run(command, env=env, stdout=out, stderr=out, check=False).returncode != 0:
                raise ServerUnavailable(f"apt-get install {' '.join(missing)} failed; see {log}")
    return time.monotonic() - started


def as_www_data(*command: str, **env: str) -> list[str]:
    """``command`` run as www-data with a clean environment (the Debian packages' service user)."""
    prefix = [] if os.geteuid() != 0 else ["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups"]
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **env}
    return [*prefix, "env", "-i", *(f"{k}={v}" for k, v in base.items()), *command]


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    """Stop a server started in its own session: TERM to its process group, KILL at the deadline."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=timeout)
    try:
        os.killpg(process.pid, 15)  # workers left behind by a prefork server
    except ProcessLookupError:
        pass


@contextmanager
def readable_script(text: str, suffix: str) -> Iterator[Path]:
    """A script file that the service user can read (pytest's own temporary folders are private to root)."""
    with tempfile.NamedTemporaryFile("w", suffix=suffix, prefix="outsource-test-", delete=False) as handle:
        handle.write(text)
    path = Path(handle.name)
    path.chmod(0o644)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
