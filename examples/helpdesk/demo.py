"""``python -m examples.helpdesk.demo``: two demo help desks outsourcing to each other.

Northwind IT (the lead) and Contoso Field Services (the service partner)
each get their own database (a SQLite file under ``var/demo``, or with
``--postgres URL`` a PostgreSQL database of their own, created if missing),
their own random session key kept under ``var/demo``, demo users, tickets,
and each other as a peer partner with a shared secret. Both are served by
waitress on the ports given (``make demo DEMO_PORTS=8000,8001``) and run
until interrupted, with the outsourcing jobs in-process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = "northwind-contoso"

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


def start(
    base: Path, ports: tuple[int, int], postgres: str | None, prefix: str = "outsource_demo_"
) -> list[subprocess.Popen[bytes]]:
    for port in ports:
        check_free(port)
    base.mkdir(parents=True, exist_ok=True)
    secret = kept_secret(base / "shared-secret", 24)
    processes = []
    for (name, domain), port, other_port in zip(HOSTS, ports, reversed(ports), strict=True):
        other = next(n for n, _ in HOSTS if n != name)
        folder = base / domain
        folder.mkdir(exist_ok=True)
        database = (
            postgres_database(postgres, prefix + domain.split(".")[0])
            if postgres
            else f"sqlite:///{folder / 'helpdesk.db'}"
        )
        env = host_env(name, folder, database)
        peer = f"{other}|http://127.0.0.1:{other_port}/outsource|{LINK}|{secret}"
        seed = [sys.executable, "-m", "flask", "helpdesk", "seed", "--domain", domain, "--peer", peer]
        subprocess.run(seed, env=env, cwd=folder, check=True)
        serve = [sys.executable, "-m", "examples.helpdesk.serve", "--host", "127.0.0.1", "--port", str(port)]
        processes.append(subprocess.Popen(serve, env=env, cwd=folder))
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
