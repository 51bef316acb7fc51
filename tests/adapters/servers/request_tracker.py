"""A real Request Tracker 5 (Debian's ``request-tracker5`` + ``rt5-db-sqlite`` + ``rt5-standalone``) for the tests.

Installed when missing (debconf preseeded: SQLite through dbconfig-common, no
cron jobs), configured for loopback with all outgoing mail discarded, started
as www-data with its own Starlet server on a free port, given an auth token
for ``root`` and a queue of this session's own, and stopped at the end.

RT's configuration is global (``/etc/request-tracker5``), so only one of these
servers runs at a time: a session holds a file lock while its RT is up.
"""

from __future__ import annotations

import fcntl
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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

PACKAGES = ("request-tracker5", "rt5-db-sqlite", "rt5-standalone")
ROOT_PASSWORD = "outsource-rt-root"
DEBCONF = f"""request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/initial-root-password password {ROOT_PASSWORD}
"""
ETC = Path("/etc/request-tracker5")
SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
SITE_CONFIG = ETC / "RT_SiteConfig.d" / "99-outsource-plugin-tests.pm"
LOCK = Path("/tmp/outsource-plugin-request-tracker.lock")

#: Perl run as www-data: a new auth token for root, printed as TOKEN=...
MAKE_TOKEN = """use strict; use warnings;
use lib '/usr/local/share/request-tracker5/lib', '/usr/share/request-tracker5/lib';
use RT -init;
my $user = RT::User->new(RT->SystemUser);
$user->Load('root') or die "RT has no root user\\n";
# RT checks a request's token against every token of its user, with bcrypt: drop the ones
# earlier sessions made, or each request gets slower with every test run
my $tokens = RT::AuthTokens->new(RT->SystemUser);
$tokens->LimitOwner(VALUE => $user->Id);
while (my $old = $tokens->Next) {
    $old->Delete if ($old->Description // '') eq 'outsource-plugin tests';
}
my $token = RT::AuthToken->new(RT::CurrentUser->new($user));
my ($ok, $msg, $secret) = $token->Create(Owner => $user->Id, Description => 'outsource-plugin tests');
die "could not create an auth token: $msg\\n" unless $ok;
print "TOKEN=$secret\\n";
"""


def site_config(port: int) -> str:
    return f"""# Written by outsource-plugin's test fixtures for a loopback RT; removed when the tests end.
Set($WebPath, "");
Set($WebDomain, "127.0.0.1");
Set($WebPort, {port});
Set($WebBaseURL, "http://127.0.0.1:{port}");
Set($Timezone, "UTC");
Set($LogToSTDERR, "warning");
Set($LogToSyslog, undef);
Set($MailCommand, sub {{ 1 }});
# every REST2 request checks its auth token with bcrypt: RT's default cost (12) makes each call take
# about 0.3 s on a small VM; tokens made for this throw-away server use the cheapest cost instead
Set($BcryptCost, 4);
1;
"""


@dataclass
class RequestTrackerServer:
    folder: Path
    port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"outsource-{secrets.token_hex(4)}")
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest(self) -> str:
        return f"{self.url}/REST/2.0"

    @property
    def log_file(self) -> Path:
        return self.folder / "rt.log"

    def install(self) -> None:
        self.timings["install"] = ensure_packages(PACKAGES, debconf=DEBCONF, log=self.folder / "apt.log")
        dbconfig = ETC / "RT_SiteConfig.d" / "51-dbconfig-common.pm"
        if "DatabaseType" not in (dbconfig.read_text() if dbconfig.exists() else ""):
            raise ServerUnavailable(
                f"{dbconfig} is missing: request-tracker5 was configured without a database; "
                "run dpkg-reconfigure request-tracker5 (with rt5-db-sqlite installed)"
            )

    def acquire(self) -> None:
        """Hold the machine-wide RT lock: RT's configuration is global."""
        handle = LOCK.open("a")

        def locked() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        try:
            eventually(
                locked,
                timeout=900,
                interval=1,
                what=f"the RT lock {LOCK} (held by another test session)",
                tolerate=(),
                error=ServerUnavailable,
            )
        except ServerUnavailable:
            handle.close()
            raise
        self._lock = handle

    def configure(self) -> None:
        # the packaged RT_SiteConfig.pm is root-only, the server runs as www-data
        subprocess.run(["chgrp", "www-data", str(ETC / "RT_SiteConfig.pm")], check=True)
        (ETC / "RT_SiteConfig.pm").chmod(0o640)
        SITE_CONFIG.write_text(site_config(self.port))
        subprocess.run(["chgrp", "www-data", str(SITE_CONFIG)], check=True)
        SITE_CONFIG.chmod(0o640)

    def start(self) -> None:
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                as_www_data(str(SERVER), "--host", "127.0.0.1", "--port", str(self.port), "--max-workers", "4"),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        eventually(self._answers, timeout=120, what=f"RT to answer on {self.url}", tolerate=(), error=ServerUnavailable)
        self.timings["start"] = time.monotonic() - started

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerUnavailable(f"rt-server exited with {self.process.returncode}:\n{tail(self.log_file)}")
        try:
            requests.get(f"{self.rest}/", timeout=5)
        except requests.RequestException:
            return False
        return True

    def provision(self) -> None:
        started = time.monotonic()
        with readable_script(MAKE_TOKEN, ".pl") as script:
            done = subprocess.run(
                as_www_data("perl", str(script)), capture_output=True, text=True, timeout=300, check=False
            )
        tokens = [line[6:] for line in done.stdout.splitlines() if line.startswith("TOKEN=")]
        if done.returncode != 0 or not tokens:
            raise ServerUnavailable(f"creating an RT auth token failed:\n{done.stderr[-2000:]}")
        self.token = tokens[-1].strip()
        response = requests.post(
            f"{self.rest}/queue",
            json={"Name": self.queue, "Description": "outsource-plugin tests"},
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
        )
        if response.status_code != 201:
            raise ServerUnavailable(f"creating the RT queue failed: {response.status_code} {response.text[:300]}")
        self.timings["provision"] = time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        SITE_CONFIG.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None


def start_request_tracker(folder: Path) -> RequestTrackerServer:
    server = RequestTrackerServer(folder)
    server.install()
    server.acquire()
    try:
        server.configure()
        server.start()
        server.provision()
    except BaseException:
        server.close()
        raise
    return server
