"""``make demo`` for real: two help desks under waitress on the ports asked for, each with its own database and key.

The launcher runs as ``make demo`` runs it (``python -m examples.helpdesk.demo``),
on free loopback ports, and is stopped with Ctrl-C (SIGINT) as a user would.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.cross_host.hosts import ROOT, free_port
from tests.polling import eventually

LEAD, SERVICE = "northwind.example", "contoso.example"


@contextmanager
def demo(folder: Path, ports: tuple[int, int], *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """The demo launcher, up until both help desks answer; stopped with Ctrl-C afterwards."""
    command = [
        sys.executable,
        "-m",
        "examples.helpdesk.demo",
        "--dir",
        str(folder),
        "--ports",
        f"{ports[0]},{ports[1]}",
    ]
    path = folder / "demo.log"
    before = path.stat().st_size if path.exists() else 0
    log = path.open("a")
    launcher = subprocess.Popen([*command, *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        for port in ports:
            eventually(lambda port=port: requests.get(f"http://127.0.0.1:{port}/login", timeout=2).ok, timeout=60)
        # the desks are named once the two have become partners (by invitation on the first run)
        eventually(lambda: "Contoso Field Services: http://" in path.read_text()[before:], timeout=60)
        yield launcher
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=30)
        log.close()


def _partner_url(port: int, domain: str) -> str:
    token = {"Authorization": f"Bearer admin-{domain}-token"}
    partners = requests.get(f"http://127.0.0.1:{port}/outsource/api/v1/partners", headers=token, timeout=5).json()
    return next(p["config"]["base_url"] for p in partners["partners"] if p["adapter"] == "peer")


def _peer_secret(folder: Path, domain: str) -> str:
    """The secret the desk's handshake left it, read through its own app (the database keeps it sealed)."""
    from examples.helpdesk.demo import HOSTS, host_env

    name = next(n for n, d in HOSTS if d == domain)
    env = {
        **host_env(name, folder / domain, f"sqlite:///{folder / domain / 'helpdesk.db'}"),
        "OUTSOURCE_SCHEDULER": "0",
    }
    script = (
        "from examples.helpdesk import create_app\n"
        "from outsource_plugin.db.models import Partner\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    print(app.extensions['outsource'].session.query(Partner).filter_by(adapter='peer').one().config['secret'])"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_desks_become_partners_by_invitation_with_no_shared_secret_on_disk(tmp_path: Path) -> None:
    ports = (free_port(), free_port())
    with demo(tmp_path, ports):
        for port, domain in zip(ports, (LEAD, SERVICE), strict=True):
            token = {"Authorization": f"Bearer admin-{domain}-token"}
            listed = requests.get(f"http://127.0.0.1:{port}/outsource/api/v1/partners", headers=token, timeout=5)
            peer = next(p for p in listed.json()["partners"] if p["adapter"] == "peer")
            assert peer["active"] and peer["secrets_set"] == ["secret"]
    secret = _peer_secret(tmp_path, LEAD)
    assert len(secret) >= 32 and secret == _peer_secret(tmp_path, SERVICE)  # agreed, never sent
    on_disk = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert not any(path.name == "shared-secret" for path in on_disk)
    assert not [path for path in on_disk if secret.encode() in path.read_bytes()]


def test_demo_serves_both_desks_with_a_production_server_and_kept_keys(tmp_path: Path) -> None:
    ports = (free_port(), free_port())
    with demo(tmp_path, ports):
        login = requests.get(f"http://127.0.0.1:{ports[0]}/login", timeout=5)
        assert "Server" not in login.headers, login.headers  # neither Werkzeug nor its version
        assert login.headers["X-Frame-Options"] == "DENY"
        assert _partner_url(ports[0], LEAD) == f"http://127.0.0.1:{ports[1]}/outsource"
    keys = {domain: tmp_path / domain / "session-key" for domain in (LEAD, SERVICE)}
    for key in keys.values():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert len(key.read_text()) == 64
    assert keys[LEAD].read_text() != keys[SERVICE].read_text()
    kept = {domain: key.read_text() for domain, key in keys.items()}
    moved = (free_port(), free_port())
    with demo(tmp_path, moved):
        assert _partner_url(moved[1], SERVICE) == f"http://127.0.0.1:{moved[0]}/outsource"
    assert {domain: key.read_text() for domain, key in keys.items()} == kept


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "examples.helpdesk.demo",
            "--dir",
            str(tmp_path),
            "--ports",
            f"{free_port()},{port}",
        ]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is busy" in result.stderr
    assert "DEMO_PORTS" in result.stderr


@pytest.mark.parametrize("ports", ["5000", "5000,5000", "5000,http", "0,1", "5000,70000"])
def test_bad_ports_are_explained(tmp_path: Path, ports: str) -> None:
    command = [sys.executable, "-m", "examples.helpdesk.demo", "--dir", str(tmp_path), "--ports", ports]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "DEMO_PORTS must be two" in result.stderr


def test_an_exported_database_url_does_not_put_both_desks_in_one_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.helpdesk.demo import host_env

    monkeypatch.setenv("HELPDESK_DATABASE_URL", "sqlite:////tmp/shared.db")
    urls = set()
    for name in "ab":
        (tmp_path / name).mkdir()
        urls.add(host_env(name, tmp_path / name, f"sqlite:///{tmp_path / name}.db")["HELPDESK_DATABASE_URL"])
    assert urls == {f"sqlite:///{tmp_path / 'a'}.db", f"sqlite:///{tmp_path / 'b'}.db"}


@pytest.mark.postgresql
def test_demo_on_postgres_gives_each_desk_its_own_database(tmp_path: Path) -> None:
    server = os.environ["OUTSOURCE_TEST_DATABASE_URL"]
    prefix = f"outsource_demo_test_{uuid.uuid4().hex[:8]}_"
    names = [prefix + domain.split(".")[0] for domain in (LEAD, SERVICE)]
    admin = create_engine(f"{server.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    try:
        ports = (free_port(), free_port())
        with demo(tmp_path, ports, "--postgres", server, "--postgres-prefix", prefix):
            assert _partner_url(ports[1], SERVICE) == f"http://127.0.0.1:{ports[0]}/outsource"
        for name, domain in zip(names, (LEAD, SERVICE), strict=True):
            engine = create_engine(f"{server.rstrip('/')}/{name}")
            with engine.connect() as conn:
                emails = {row[0].split("@")[1] for row in conn.execute(text("SELECT email FROM hd_user"))}
            engine.dispose()
            assert emails == {domain}
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
