"""``python -m examples.helpdesk.demo``: two demo help desks outsourcing to each other.

Northwind IT (the lead) and Contoso Field Services (the service partner)
each get their own database (a SQLite file under ``var/demo``, or with
``--postgres URL`` a PostgreSQL database of their own, created if missing),
their own random session key kept under ``var/demo``, demo users and tickets.
Both are served by waitress on the ports given (``make demo DEMO_PORTS=8000,8001``)
and run until interrupted, with the outsourcing jobs in-process.

They become partners as two organisations would: on the first run Northwind
invites Contoso on its command line (``flask outsource partners invite``) and
Contoso joins with the code (``flask outsource partners join``), over real HTTP
to Northwind's running server. The keys are agreed by the handshake and kept
only in the two databases, sealed: no shared secret is written to disk or shown.
A later run finds them partnered and only points each at the other's new port.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: the default terms Northwind offers Contoso in its invitation
TERMS = ("rate_type=hourly", "outsource_rate=90.00", "acceptance_hours=48")

#: (name, domain): the first is the lead, the second the service partner
HOSTS = (
    ("Northwind IT", "northwind.example"),
    ("Contoso Field Services", "contoso.example"),
)


class DemoError(Exception):
    """A set-up problem the user can fix; the message says how."""


def parse_ports(text: str) -> tuple[int, int]:
    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise DemoError(f"DEMO_PORTS must be two port numbers, such as 5000,5001 (got {text!r})")
    first, second = int(parts[0]), int(parts[1])
    if first == second:
        raise DemoError(f"DEMO_PORTS must be two different ports (got {first} twice)")
    return first, second


def check_free(port: int) -> None:
    """Fail before anything starts, naming the busy port, rather than with a server's traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise DemoError(
                f"port {port} on 127.0.0.1 is busy ({err.strerror}): stop what uses it, "
                f"or choose two free ports with make demo DEMO_PORTS=8000,8001"
            ) from err


def kept_secret(path: Path, nbytes: int) -> str:
    """A random value made on the first run and reused after it, readable by its owner only."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(nbytes))
    return path.read_text().strip()


def postgres_database(server: str, name: str) -> str:
    """``server``/``name``, the database created if missing: each host has its own."""
    import psycopg

    plain = server.replace("+psycopg", "").rstrip("/")
    with psycopg.connect(f"{plain}/postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rstrip('/')}/{name}"


def host_env(name: str, folder: Path, database_url: str) -> dict[str, str]:
    # an exported HELPDESK_* setting would otherwise reach both hosts alike (one database for two help desks)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "OUTSOURCE_"))}
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "FLASK_APP": "examples.helpdesk:create_app",
        "HELPDESK_INSTANCE": str(folder),
        "HELPDESK_DATABASE_URL": database_url,
        "HELPDESK_NAME": name,
        "HELPDESK_SECRET_KEY": kept_secret(folder / "session-key", 32),
        "OUTSOURCE_ORG_NAME": name,
        "OUTSOURCE_SCHEDULER": "1",
        "OUTSOURCE_POLL_INTERVAL": "2",
        "OUTSOURCE_DELIVERY_INTERVAL": "0.5",
    }


def flask(env: dict[str, str], *args: str) -> str:
    """One ``flask ...`` command on a help desk; its output, or a DemoError with its own words."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", *args], env=env, cwd=env["HELPDESK_INSTANCE"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise DemoError(f"flask {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


def peer_names(env: dict[str, str]) -> list[str]:
    """The help desk's peer partners, by name: empty until the two have joined."""
    listed = json.loads(flask(env, "outsource", "partners", "list", "--json"))["partners"]
    return [p["name"] for p in listed if p["adapter"] == "peer"]


def wait_until_serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """The invitation's join call needs the inviting server up: wait for its port to answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the help desk on port {port} stopped before serving (exit {process.returncode})")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise DemoError(f"the help desk on port {port} did not answer within {timeout:.0f} s")


def invite_and_join(lead: dict[str, str], service: dict[str, str], urls: tuple[str, str]) -> None:
    """Northwind invites Contoso and Contoso joins with the code: the real handshake, on their CLIs."""
    terms = [arg for term in TERMS for arg in ("--terms", term)]
    invited = flask(
        lead, "outsource", "partners", "invite", "--name", service["HELPDESK_NAME"], "--url", urls[0], *terms
    )
    code = invited.strip().splitlines()[-1]
    flask(service, "outsource", "partners", "join", code, "--url", urls[1])


def start(
    base: Path, ports: tuple[int, int], postgres: str | None, prefix: str = "outsource_demo_"
) -> list[subprocess.Popen[bytes]]:
    for port in ports:
        check_free(port)
    base.mkdir(parents=True, exist_ok=True)
    urls = (f"http://127.0.0.1:{ports[0]}/outsource", f"http://127.0.0.1:{ports[1]}/outsource")
    envs = []
    for (name, domain), url, other_url in zip(HOSTS, urls, reversed(urls), strict=True):
        folder = base / domain
        folder.mkdir(exist_ok=True)
        database = (
            postgres_database(postgres, prefix + domain.split(".")[0])
            if postgres
            else f"sqlite:///{folder / 'helpdesk.db'}"
        )
        env = {**host_env(name, folder, database), "OUTSOURCE_PUBLIC_URL": url}
        flask(env, "helpdesk", "seed", "--domain", domain)
        for peer in peer_names(env):  # partnered on an earlier run: the other desk may have moved
            flask(env, "outsource", "partners", "edit", peer, "--config", f"base_url={other_url}")
        envs.append(env)
    processes = []
    for env, port in zip(envs, ports, strict=True):
        serve = [sys.executable, "-m", "examples.helpdesk.serve", "--host", "127.0.0.1", "--port", str(port)]
        processes.append(subprocess.Popen(serve, env=env, cwd=env["HELPDESK_INSTANCE"]))
    try:
        if not peer_names(envs[0]):
            wait_until_serving(ports[0], processes[0])
            invite_and_join(envs[0], envs[1], urls)
    except DemoError:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
        raise
    for (name, domain), port in zip(HOSTS, ports, strict=True):
        print(f"{name}: http://127.0.0.1:{port}/login  (admin@{domain} / demo)", flush=True)
    return processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="var/demo", help="where the databases and keys live")
    parser.add_argument("--ports", default="5000,5001", help="the lead's and the partner's port, e.g. 8000,8001")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL: one database per host on it")
    parser.add_argument("--postgres-prefix", default="outsource_demo_", help="the two databases' names start so")
    args = parser.parse_args()
    try:
        processes = start(Path(args.dir).resolve(), parse_ports(args.ports), args.postgres, args.postgres_prefix)
    except DemoError as err:
        sys.exit(f"make demo: {err}")
    try:
        for process in processes:
            process.wait()
    except KeyboardInterrupt:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
