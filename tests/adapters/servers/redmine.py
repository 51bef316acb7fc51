"""A real Redmine 5 (Debian's ``redmine`` + ``redmine-sqlite``, served by thin) for the tests.

Installed when missing, provisioned with ``rails runner`` (REST API on, login
required, no mail, a private project of this session's own and a time-entry
activity), started as www-data on a free loopback port, stopped at the end.
"""

from __future__ import annotations

import fcntl
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.adapters.servers.system import (
    ServerUnavailable,
    as_www_data,
    ensure_packages,
    free_port,
    readable_script,
    stop_process,
    tail,
)
from tests.polling import eventually

PACKAGES = ("redmine", "redmine-sqlite", "thin")
APP_DIR = Path("/usr/share/redmine")
INSTANCE = "default"
PROVISION_LOCK = Path("/tmp/outsource-redmine-provision.lock")

#: Ruby run by ``rails runner``: idempotent, prints KEY=VALUE lines
PROVISION = """
Setting.rest_api_enabled = '1'
Setting.login_required = '1'
Setting.notified_events = []
admin = User.find_by_login('admin')
admin.must_change_passwd = false
admin.mail_notification = 'none'
admin.save!(validate: false)
identifier = ENV.fetch('OUTSOURCE_PROJECT')
project = Project.find_by_identifier(identifier) ||
          Project.new(name: identifier, identifier: identifier, is_public: false)
project.enabled_module_names = %w(issue_tracking time_tracking files)
project.trackers = Tracker.all.to_a
project.save!
activity = TimeEntryActivity.where(name: 'Outsourced work', project_id: nil).first ||
           TimeEntryActivity.create!(name: 'Outsourced work', active: true)
puts "PROJECT=#{project.identifier}"
puts "ACTIVITY=#{activity.id}"
puts "API_KEY=#{admin.api_key}"
"""


@dataclass
class RedmineServer:
    folder: Path
    port: int = field(default_factory=free_port)
    project: str = field(default_factory=lambda: f"outsource-{secrets.token_hex(4)}")
    api_key: str = ""
    activity_id: int = 0
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.folder / "redmine.log"

    def install(self) -> None:
        self.timings["install"] = ensure_packages(PACKAGES, log=self.folder / "apt.log")
        if not Path(f"/etc/redmine/{INSTANCE}/database.yml").exists():
            raise ServerUnavailable(
                f"/etc/redmine/{INSTANCE}/database.yml is missing: redmine was configured without a database; "
                "run dpkg-reconfigure redmine (with redmine-sqlite installed)"
            )

    def provision(self) -> None:
        started = time.monotonic()
        # one Redmine database serves the machine: two test sessions provisioning at once
        # (make test runs two passes side by side) would race on its rows
        with PROVISION_LOCK.open("a") as lock, readable_script(PROVISION, ".rb") as script:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = self._provision(script)
        values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        if done.returncode != 0 or "API_KEY" not in values:
            raise ServerUnavailable(f"provisioning Redmine (rails runner) failed:\n{done.stderr[-2000:]}")
        self.api_key = values["API_KEY"].strip()
        self.activity_id = int(values["ACTIVITY"])
        self.timings["provision"] = time.monotonic() - started

    def _provision(self, script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            as_www_data(
                "bin/rails",
                "runner",
                str(script),
                REDMINE_INSTANCE=INSTANCE,
                RAILS_ENV="production",
                OUTSOURCE_PROJECT=self.project,
            ),
            cwd=APP_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def start(self) -> None:
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                as_www_data(
                    "rackup",
                    "-E",
                    "production",
                    "-s",
                    "thin",
                    "-o",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    REDMINE_INSTANCE=INSTANCE,
                    RAILS_ENV="production",
                ),
                cwd=APP_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        eventually(
            self._answers, timeout=120, what=f"Redmine to answer on {self.url}", tolerate=(), error=ServerUnavailable
        )
        self.timings["start"] = time.monotonic() - started

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerUnavailable(f"Redmine exited with {self.process.returncode}:\n{tail(self.log_file)}")
        try:
            response = requests.get(
                f"{self.url}/users/current.json", headers={"X-Redmine-API-Key": self.api_key}, timeout=5
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def config(self) -> dict[str, object]:
        """The partner settings an adapter needs to reach this server."""
        return {"base_url": self.url, "api_key": self.api_key, "project": self.project}


def start_redmine(folder: Path) -> RedmineServer:
    server = RedmineServer(folder)
    server.install()
    server.provision()
    server.start()
    return server
