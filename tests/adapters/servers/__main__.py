"""Install the partner systems' Debian packages ahead of the tests: ``python -m tests.adapters.servers``.

``make test`` runs this first, so the time apt-get takes shows on its own
line rather than inside the first test that needs a server. The fixtures
install anything still missing themselves.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.adapters.servers import mail, redmine, request_tracker
from tests.adapters.servers.system import ServerUnavailable, ensure_packages


def main() -> int:
    log = Path(tempfile.gettempdir()) / "outsource-plugin-partner-systems-apt.log"
    try:
        spent = ensure_packages(redmine.PACKAGES, log=log)
        print(f"Redmine packages ready ({spent:.0f}s installing)")
        spent = ensure_packages(request_tracker.PACKAGES, debconf=request_tracker.DEBCONF, log=log)
        print(f"Request Tracker packages ready ({spent:.0f}s installing)")
        spent = ensure_packages(mail.PACKAGES, log=log)
        print(f"Dovecot (the e-mail partner's mailbox) ready ({spent:.0f}s installing)")
    except ServerUnavailable as err:
        print(f"partner systems: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
