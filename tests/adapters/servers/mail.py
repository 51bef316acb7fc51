"""Real mail servers for the e-mail partner's tests: Dovecot for IMAP and an SMTP server that delivers to it.

Dovecot (Debian's ``dovecot-imapd``) runs from a configuration of its own in a
temporary folder, not as the system service: a passwd-file of test users,
Maildir storage, a free loopback port, ``dovecot -F`` in the background. The
SMTP server is aiosmtpd in this process; it writes each message into the
recipient's Maildir, which Dovecot reads. Plus-addressing is honoured
(``desk+o-<token>@example.test`` lands in ``desk``'s inbox); a recipient who
is not a user is refused with 550, as a real server refuses it.
"""

from __future__ import annotations

import mailbox
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.adapters.servers.system import ServerUnavailable, ensure_packages, free_port, stop_process, tail

PACKAGES = ("dovecot-imapd",)
DOMAIN = "example.test"
DOVECOT = "/usr/sbin/dovecot"
MAIL_USER = "mail"
#: the lead's reply mailbox, the e-mail partner's two people, and someone the partner never registered
USERS = ("desk", "partner", "crew", "stranger")
START_TIMEOUT = 20.0


def local_part(address: str) -> str:
    """The mailbox an address delivers to: ``desk+o-abc@example.test`` -> ``desk``."""
    return address.rpartition("@")[0].partition("+")[0].lower()


@dataclass
class MailUser:
    name: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def address(self) -> str:
        return f"{self.name}@{DOMAIN}"


class MaildirDelivery:
    """The aiosmtpd handler: refuses unknown recipients, writes each accepted message into their Maildirs."""

    def __init__(self, server: MailServers) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if local_part(address) not in self.server.users:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for name in {local_part(a) for a in envelope.rcpt_tos}:
            self.server.deliver(name, bytes(envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class MailServers:
    """Dovecot on ``imap_port`` and the delivering SMTP server on ``smtp_port``; users by name."""

    folder: Path
    users: dict[str, MailUser] = field(default_factory=dict)
    imap_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    _dovecot: subprocess.Popen[bytes] | None = None
    _smtp: Controller | None = None

    @property
    def config_file(self) -> Path:
        return self.folder / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.folder / "dovecot.log"

    def maildir(self, name: str) -> mailbox.Maildir:
        home = self.folder / "home" / name
        if not home.exists():
            home.mkdir(parents=True)
            mailbox.Maildir(home / "Maildir", create=True)
            for path in (self.folder / "home", home, *home.rglob("*")):
                _own(path)
        return mailbox.Maildir(home / "Maildir", create=False)

    def empty(self, name: str) -> None:
        """The servers last the session: a test that reads a whole mailbox starts it empty."""
        self.maildir(name).clear()

    def deliver(self, name: str, content: bytes) -> None:
        """Write one message into a user's inbox, owned by the mail user as Dovecot needs."""
        box = self.maildir(name)
        key = box.add(content)
        _own(Path(box._path) / "new" / key)

    def add_users(self, names: Iterable[str]) -> None:
        for name in names:
            self.users.setdefault(name, MailUser(name))
            self.maildir(name)
        lines = [f"{u.name}:{{PLAIN}}{u.password}::::::" for u in self.users.values()]
        (self.folder / "passwd").write_text("\n".join(lines) + "\n")

    def write_config(self) -> None:
        for sub in ("run", "state"):
            (self.folder / sub).mkdir(exist_ok=True)
        me = pwd.getpwuid(os.getuid()).pw_name
        internal, login = ("dovecot", "dovenull") if os.getuid() == 0 else (me, me)
        uid, gid = _mail_owner()
        self.config_file.write_text(
            CONFIG.format(
                folder=self.folder,
                port=self.imap_port,
                uid=uid,
                gid=gid,
                internal=internal,
                login=login,
                auth_user=me,
            )
        )

    def start(self) -> None:
        """Start both servers (again, after ``stop``, on the same ports); raise ServerUnavailable if one cannot."""
        self.start_imap()
        self.start_smtp()

    def start_imap(self) -> None:
        if not Path(DOVECOT).exists():
            raise ServerUnavailable(f"{DOVECOT} is missing: apt-get install {' '.join(PACKAGES)}")
        with self.log_file.open("ab") as out:
            self._dovecot = subprocess.Popen(
                [DOVECOT, "-c", str(self.config_file), "-F"], stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._dovecot.poll() is not None:
                raise ServerUnavailable(f"dovecot exited with {self._dovecot.returncode}:\n{tail(self.log_file)}")
            if _answers(self.imap_port, b"* OK"):
                return
            time.sleep(0.1)
        raise ServerUnavailable(f"dovecot did not answer on port {self.imap_port}:\n{tail(self.log_file)}")

    def stop_imap(self) -> None:
        """Stop Dovecot (an IMAP outage): the mail stays in the Maildirs."""
        if self._dovecot is not None:
            stop_process(self._dovecot)
            self._dovecot = None

    def renumber(self, name: str) -> None:
        """Rebuild ``name``'s inbox as a restored server would: a new UIDVALIDITY, the same messages."""
        self.stop_imap()
        for path in (self.folder / "home" / name / "Maildir").glob("dovecot*"):
            path.unlink()
        self.start_imap()

    def start_smtp(self) -> None:
        self._smtp = Controller(
            MaildirDelivery(self),
            hostname="127.0.0.1",
            port=self.smtp_port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        try:
            self._smtp.start()
        except (OSError, RuntimeError) as err:
            raise ServerUnavailable(f"the SMTP server could not start on port {self.smtp_port}: {err}") from err

    def stop_smtp(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def stop(self) -> None:
        self.stop_smtp()
        self.stop_imap()

    def close(self) -> None:
        """Stop both servers and remove their folder (the mail with it)."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = self.users.get(data.login.decode())
        success = bool(user and secrets.compare_digest(user.password.encode(), data.password))
        return AuthResult(success=success, handled=False)  # not handled: aiosmtpd answers 235 or 535 itself


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail: Dovecot refuses root, so a root test run keeps it as Debian's ``mail`` user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    user = pwd.getpwnam(MAIL_USER)
    return user.pw_uid, user.pw_gid


def _own(path: Path) -> None:
    uid, gid = _mail_owner()
    if os.getuid() == 0:
        os.chown(path, uid, gid)


def _answers(port: int, greeting: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(greeting)
    except OSError:
        return False


def start_mail_servers(logs: Path, users: Iterable[str] = USERS) -> MailServers:
    """Install Dovecot when missing (apt-get's log in ``logs``), then start both servers for ``users``.

    Raises ServerUnavailable saying what failed. The servers' folder is made in the system's temporary
    folder, not pytest's private one: Dovecot's own users must reach it.
    """
    ensure_packages(PACKAGES, log=logs / "apt.log")
    folder = Path(tempfile.mkdtemp(prefix="outsource-mail-"))
    folder.chmod(0o711)
    servers = MailServers(folder)
    try:
        servers.add_users(users)
        servers.write_config()
        servers.start()
    except BaseException:
        servers.close()
        raise
    return servers


CONFIG = """\
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = outsource-test-{port}
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {folder}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {folder}/passwd
  default_fields = uid={uid} gid={gid} home={folder}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  user = {auth_user}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
