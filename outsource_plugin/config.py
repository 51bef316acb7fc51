"""Every ``OUTSOURCE_*`` setting, its default and what it is for.

The README's configuration table is this list; ``init_app`` reads each key
once with ``setdefault``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

#: what Jinja takes as a block name; the plugin's own block inside it may not be reused
_BLOCK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PAGE_BLOCK = "outsource_content"


class Setting(NamedTuple):
    key: str
    default: Any
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("OUTSOURCE_URL_PREFIX", "/outsource", "Where the plugin's pages and APIs are mounted."),
    Setting("OUTSOURCE_ORG_NAME", "This help desk", "The name partners see for this organisation."),
    Setting(
        "OUTSOURCE_BASE_TEMPLATE",
        "outsource/base.html",
        "The template the plugin's pages extend: the host's base template, to show them in the host's layout.",
    ),
    Setting(
        "OUTSOURCE_CONTENT_BLOCK",
        "content",
        "The block of OUTSOURCE_BASE_TEMPLATE the plugin's pages fill (any Jinja block name).",
    ),
    Setting("OUTSOURCE_SCHEDULER", False, "Run the jobs in the web process (APScheduler)."),
    Setting("OUTSOURCE_POLL_INTERVAL", 5.0, "Seconds between polls of each partner's change feed."),
    Setting(
        "OUTSOURCE_POLL_BACKOFF_MAX",
        300.0,
        "Longest wait, in seconds, between the poll job's attempts at a partner whose polls fail: the wait "
        "doubles from OUTSOURCE_POLL_INTERVAL at each failure up to this, and the first good poll ends it.",
    ),
    Setting("OUTSOURCE_DELIVERY_INTERVAL", 1.0, "Seconds between outbox delivery rounds."),
    Setting(
        "OUTSOURCE_POLL_HOLD",
        False,
        "Long-poll peer partners: the poll job asks them to hold GET /changes open until a change comes (for up to "
        "OUTSOURCE_POLL_INTERVAL, at most 25 s), one held poll after another, so a change arrives as it commits even "
        "when pushes fail. Off: one plain poll per OUTSOURCE_POLL_INTERVAL.",
    ),
    Setting(
        "OUTSOURCE_FEED_MAX_HELD",
        8,
        "Partners' long polls of our feed one web process holds at once (each ties up a thread); more are "
        "answered at once, as plain polls. 0: none held.",
    ),
    Setting("OUTSOURCE_DEADLINE_INTERVAL", 60.0, "Seconds between checks for expired offers."),
    Setting(
        "OUTSOURCE_COUNTS_INTERVAL",
        60.0,
        "Seconds between foldings of the dashboard's status counts into one row each.",
    ),
    Setting(
        "OUTSOURCE_RECONCILE_INTERVAL",
        86400.0,
        "Seconds between reconciliation runs, which compare and repair both sides of syncing engagements.",
    ),
    Setting(
        "OUTSOURCE_DELIVERY_BATCH",
        500,
        "Outbox messages one worker claims per round; a peer partner gets all of its claimed messages in one "
        "signed request (POST /messages/batch), within OUTSOURCE_DELIVERY_BATCH_BYTES.",
    ),
    Setting(
        "OUTSOURCE_DELIVERY_BATCH_BYTES",
        1024 * 1024,
        "Largest body of one batch request to a peer partner; more messages go in further requests, and a "
        "message larger than this alone goes in a request of its own.",
    ),
    Setting("OUTSOURCE_DELIVERY_LEASE", 60.0, "Seconds a claimed message stays with its worker."),
    Setting(
        "OUTSOURCE_EMAIL_WORK_LINK_DAYS",
        60.0,
        "Days the Log time and Work is done links in an e-mail partner's acceptance confirmation "
        "(and a reject's e-mail) work; each works once.",
    ),
    Setting("OUTSOURCE_MAX_ATTEMPTS", 12, "Transient failures before a message is dead-lettered."),
    Setting("OUTSOURCE_BACKOFF_CAP", 300.0, "Longest wait, in seconds, between two delivery attempts."),
    Setting(
        "OUTSOURCE_MAX_ATTACHMENT_BYTES",
        25 * 1024 * 1024,
        "Largest attachment that is synced; the demo host refuses a larger upload with 413.",
    ),
    Setting(
        "OUTSOURCE_MAX_JSON_BYTES",
        2 * 1024 * 1024,
        "Largest request body the plugin's API and pages take (413 beyond, before it is read); the partner API "
        "takes this plus a base64 attachment at OUTSOURCE_MAX_ATTACHMENT_BYTES. Holds whatever MAX_CONTENT_LENGTH is.",
    ),
    Setting("OUTSOURCE_SIGNATURE_TOLERANCE", 300, "Seconds a signed partner request's clock may differ."),
    Setting(
        "OUTSOURCE_ROTATION_OVERLAP",
        300.0,
        "Seconds both peers still accept the old key after a key rotation completes "
        "(requests signed just before it may still be on their way); at least the signature tolerance.",
    ),
    Setting("OUTSOURCE_HTTP_TIMEOUT", 10.0, "Seconds before a call to a partner system times out."),
    Setting(
        "OUTSOURCE_DEFAULT_ACCEPTANCE_HOURS",
        72.0,
        "Hours (a fraction is allowed) to accept an offer when the terms set none.",
    ),
    Setting("OUTSOURCE_PAGE_SIZE", 50, "Rows per page on dashboard lists."),
    Setting(
        "OUTSOURCE_TICKET_URL",
        "",
        "The host's ticket page, e.g. '/tickets/{ticket_id}'; empty: pages link to the plugin's engagement page.",
    ),
    Setting(
        "OUTSOURCE_CREATE_TABLES",
        True,
        "Create or upgrade the plugin's tables at start-up: its own Alembic migrations, to head.",
    ),
    Setting(
        "OUTSOURCE_SECRET_KEYS",
        "",
        "Fernet keys for partner secrets at rest, a list or comma separated: the first encrypts, all decrypt; "
        "empty: one derived from SECRET_KEY (set your own in production).",
    ),
    Setting(
        "OUTSOURCE_SQLITE_SERIALISE_WRITERS",
        True,
        "On a SQLite file, begin every transaction with BEGIN IMMEDIATE (WAL mode) so that writers wait "
        "instead of failing with 'database is locked'; False: leave the engine alone (a warning is logged).",
    ),
    Setting(
        "OUTSOURCE_WORKER_SQLITE_MEMORY",
        2 * 1024 * 1024,
        "Bytes of SQLite memory a flask outsource worker keeps to, all its connections' page caches together "
        "(SQLite's soft heap limit, which binds the whole process): without it each pooled connection's cache "
        "fills to 2 MiB in a burst. 0: SQLite's own limits. Web processes and PostgreSQL are left alone.",
    ),
    Setting("OUTSOURCE_INVITATION_DAYS", 7.0, "Days an invitation code can be used to join (a fraction is allowed)."),
    Setting(
        "OUTSOURCE_PUBLIC_URL",
        "",
        "This help desk's plugin URL as partners reach it, e.g. 'https://desk.example/outsource'; carried in "
        "invitation codes and sent when joining. Empty: taken from the request (the CLI then needs --url).",
    ),
    Setting("OUTSOURCE_MAX_LAG", 900.0, "Seconds a partner's sync may lag before health reports it unhealthy."),
    Setting(
        "OUTSOURCE_PARTNER_MAX_LAG",
        None,
        "Per-partner lag bounds in seconds, e.g. {'Contoso': 3600}; others use OUTSOURCE_MAX_LAG.",
    ),
    Setting(
        "OUTSOURCE_BASE_URL",
        "",
        "This help desk's address as users reach it, e.g. 'https://help.example.com': the start of the links "
        "in e-mails (needed when OUTSOURCE_MAIL_ENABLED is on, and by an e-mail partner's offer links).",
    ),
    Setting(
        "OUTSOURCE_MAIL_ENABLED",
        False,
        "E-mail people about offers and actions (outsource_plugin.notify): queued with the change, sent after "
        "the commit by the jobs, retried while the mail server is away.",
    ),
    Setting("OUTSOURCE_MAIL_SERVER", "localhost", "The SMTP server e-mails are sent through."),
    Setting(
        "OUTSOURCE_MAIL_PORT", 25, "Its port: 25, 587 with OUTSOURCE_MAIL_STARTTLS, 465 with OUTSOURCE_MAIL_USE_TLS."
    ),
    Setting("OUTSOURCE_MAIL_USE_TLS", False, "Connect over TLS from the start (SMTPS, usually port 465)."),
    Setting("OUTSOURCE_MAIL_STARTTLS", False, "Upgrade the connection with STARTTLS before sending (port 587)."),
    Setting("OUTSOURCE_MAIL_USERNAME", "", "SMTP login; empty: send without logging in."),
    Setting("OUTSOURCE_MAIL_PASSWORD", "", "SMTP password, with OUTSOURCE_MAIL_USERNAME."),
    Setting("OUTSOURCE_MAIL_FROM", "outsourcing@localhost", "The From address of the e-mails."),
    Setting("OUTSOURCE_MAIL_TIMEOUT", 10.0, "Seconds before a call to the SMTP server times out."),
    Setting(
        "OUTSOURCE_MAIL_INTERVAL", 5.0, "Seconds between rounds of the mail job (a commit that queues mail nudges it)."
    ),
    Setting(
        "OUTSOURCE_LIVE_INTERVAL",
        4.0,
        "Seconds between an open ticket page's checks for a change to its bar and synced entries; 0: off.",
    ),
    Setting(
        "OUTSOURCE_METRICS_PATH",
        None,
        "Path on the app serving Prometheus metrics, e.g. '/metrics' (needs the 'metrics' extra); None: off.",
    ),
)


def apply_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Fill in defaults and return the plugin's view of its settings."""
    for setting in SETTINGS:
        config.setdefault(setting.key, setting.default)
    prefix = str(config["OUTSOURCE_URL_PREFIX"]).rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError("OUTSOURCE_URL_PREFIX must start with '/'")
    config["OUTSOURCE_URL_PREFIX"] = prefix
    if not is_block_name(config["OUTSOURCE_CONTENT_BLOCK"]):
        raise ValueError(
            f"OUTSOURCE_CONTENT_BLOCK must be a Jinja block name (letters, digits, '_') other than {PAGE_BLOCK!r}"
        )
    if config["OUTSOURCE_MAIL_ENABLED"] and not config["OUTSOURCE_BASE_URL"]:
        raise ValueError("OUTSOURCE_MAIL_ENABLED needs OUTSOURCE_BASE_URL: e-mails link to this help desk")
    return {s.key: config[s.key] for s in SETTINGS}


def is_block_name(name: object) -> bool:
    """Whether the pages' frame can fill a block of this name."""
    return isinstance(name, str) and bool(_BLOCK_NAME.fullmatch(name)) and name != PAGE_BLOCK
