"""``python -m examples.helpdesk.demo``: two demo help desks outsourcing to each other.

Northwind IT (the lead, port 5000) and Contoso Field Services (the service
partner, port 5001) each get their own SQLite database under ``var/demo``,
demo users, tickets, and each other as a peer partner with a shared secret.
Both run until interrupted, with the outsourcing jobs in-process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = "northwind-contoso"

HOSTS = (
    ("Northwind IT", "northwind.example", 5000, "Contoso Field Services"),
    ("Contoso Field Services", "contoso.example", 5001, "Northwind IT"),
)


def host_env(name: str, folder: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLASK_APP": "examples.helpdesk:create_app",
        "HELPDESK_INSTANCE": str(folder),
        "HELPDESK_NAME": name,
        "HELPDESK_SECRET_KEY": f"demo-only-{port}",
        "OUTSOURCE_ORG_NAME": name,
        "OUTSOURCE_SCHEDULER": "1",
        "OUTSOURCE_POLL_INTERVAL": "2",
        "OUTSOURCE_DELIVERY_INTERVAL": "0.5",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="var/demo", help="where the two databases live")
    args = parser.parse_args()
    base = Path(args.dir).resolve()
    secret_file = base / "shared-secret"
    base.mkdir(parents=True, exist_ok=True)
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(24))
    secret = secret_file.read_text().strip()
    processes = []
    for name, domain, port, other in HOSTS:
        folder = base / domain
        folder.mkdir(exist_ok=True)
        env = host_env(name, folder, port)
        other_port = next(p for n, _, p, _ in HOSTS if n == other)
        peer = f"{other}|http://127.0.0.1:{other_port}/outsource|{LINK}|{secret}"
        seed = [sys.executable, "-m", "flask", "helpdesk", "seed", "--domain", domain, "--peer", peer]
        subprocess.run(seed, env=env, cwd=folder, check=True)
        run = [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"]
        processes.append(subprocess.Popen(run, env=env, cwd=folder))
        print(f"{name}: http://127.0.0.1:{port}/login  (admin@{domain} / demo)", flush=True)
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
