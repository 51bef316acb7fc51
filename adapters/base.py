"""The one base class every partner adapter subclasses, and its value objects.

Adapters speak in neutral, frozen value objects so that the sync engine never
learns a partner system's vocabulary; anything system-specific rides in
``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from marshmallow import Schema

from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.wire import WireMessage
from outsource_plugin.workflow import Action


class Capability(str, Enum):
    """What a partner system can carry; pages and the sync engine read these."""

    NOTES = "notes"
    #: the partner keeps internal notes and attachments internal: without it, a service side's
    #: internal entries stay on the service side (a lead's never leave the lead in any case)
    PRIVATE_NOTES = "private_notes"
    TIME_ENTRIES = "time_entries"
    CHARGES = "charges"
    ATTACHMENTS = "attachments"
    #: the partner says what changed itself (a feed), so a poll does not read the open engagements
    #: and a round with no changes costs the same at any number of tickets
    FEED = "feed"
    #: ``list_entries``: the partner can say what it holds for an engagement (reconciliation)
    LIST_ENTRIES = "list_entries"
    #: the partner can be told that one of its entries could not sync here (``op: refused``)
    REFUSALS = "refusals"


class ChangeKind(str, Enum):
    OFFER = "offer"
    ACTION = "action"
    ENTRY = "entry"


@dataclass(frozen=True)
class Outbound:
    """One outbox message as an adapter sees it: ``message`` typed, whatever its kind."""

    message_id: str
    engagement_uid: str
    remote_ref: str | None
    message: WireMessage
    #: the message's place in this partner's feed
    seq: int = 0

    @property
    def kind(self) -> str:
        return self.message.kind.value

    @property
    def payload(self) -> dict[str, Any]:
        """The message as it travels and as the outbox stores it (a peer sends exactly this)."""
        return self.message.to_wire()


@dataclass(frozen=True)
class DeliveryResult:
    remote_ref: str | None = None
    remote_ticket_number: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: what became of one message of a batch (``PartnerAdapter.deliver_batch``)
Delivered = DeliveryResult | Exception | None


@dataclass(frozen=True)
class RemoteChange:
    """Something the partner did, in neutral terms.

    ``engagement_uid`` names the engagement the change is about; ``data`` holds
    the offer (OFFER) or the entry change (ENTRY), and ``action``/``reason``
    the outsource action (ACTION).
    """

    kind: ChangeKind
    engagement_uid: str
    change_id: str
    action: Action | None = None
    reason: str | None = None
    actor: str | None = None
    ticket_number: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the change's place in a partner feed that numbers its changes (the peer's)
    sequence: int | None = None


@dataclass(frozen=True)
class ChangeBatch:
    """A page of changes. ``cursor`` is where the next poll resumes; None when the
    changes are numbered (``sequence``) and applying each one moves the cursor."""

    changes: tuple[RemoteChange, ...]
    cursor: str | None


@dataclass(frozen=True)
class EngagementRef:
    """An open engagement with this partner, as the poller hands it to ``fetch_changes``.

    Adapters of systems that cannot list "what changed for us" (Redmine, RT)
    use these to know which remote tickets to read; ``status`` is the
    engagement's outsource status value, so partner actions can be filtered.
    """

    uid: str
    remote_ref: str | None
    status: str


@dataclass(frozen=True)
class EntryFacts:
    """One synced entry as one side holds it, for reconciliation.

    ``digest`` sums up the content that crosses (None: the entry is gone from
    that side's ticket), so two sides compare entries without shipping them.
    """

    entry_key: str
    kind: str
    owner: str
    digest: str | None
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_key": self.entry_key,
            "kind": self.kind,
            "owner": self.owner,
            "digest": self.digest,
            "deleted": self.deleted,
        }

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> EntryFacts:
        """Raises KeyError or ValueError on a malformed item."""
        digest = item.get("digest")
        return cls(
            entry_key=str(item["entry_key"]),
            kind=str(item["kind"]),
            owner=str(item["owner"]),
            digest=None if digest is None else str(digest),
            deleted=bool(item.get("deleted", False)),
        )


@dataclass(frozen=True)
class RemoteState:
    """What the partner holds for one engagement: its status there and its synced entries."""

    status: str | None
    entries: tuple[EntryFacts, ...]


class EmptyConfig(Schema):
    pass


class PartnerAdapter:
    """Base class: subclasses set the class attributes and implement the three calls."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    config_schema: ClassVar[type[Schema]] = EmptyConfig
    #: config keys that are write-only: stored, never returned or logged
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    #: config keys the plugin keeps for itself (a key rotation under way): never typed, kept across edits
    state_fields: ClassVar[frozenset[str]] = frozenset()
    #: ``leave`` tells the partner the partnership ended: only a partner with a partnership of its own
    announces_leave: ClassVar[bool] = False
    #: the partner holds a poll of its feed open until a change comes: ``hold_changes`` works
    holds_feed: ClassVar[bool] = False
    #: ``deliver_batch`` hands the partner many messages in one call
    delivers_batches: ClassVar[bool] = False

    def __init__(self, partner_id: int, config: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        self.partner_id = partner_id
        self.config = dict(config)
        self.timeout = timeout
        self._session: requests.Session | None = None

    @classmethod
    def link_id(cls, config: dict[str, Any]) -> str | None:
        """The partnership's name in signed requests, for adapters that take them."""
        return None

    @classmethod
    def verifying_secrets(cls, config: Mapping[str, Any]) -> list[str]:
        """The secrets a signed request from this partner may carry: every one set."""
        return [str(config[k]) for k in sorted(cls.secret_fields) if config.get(k)]

    def http(self, method: str, url: str, **kw: Any) -> requests.Response:
        """One HTTP call with the adapter's timeout, its failure sorted into transient or permanent.

        Connection errors, timeouts and what ``retryable`` names are transient (429 and 503
        carry the partner's Retry-After); any other 4xx is permanent. The
        message never includes request headers, so credentials stay out of logs.
        """
        if self._session is None:
            self._session = requests.Session()
        try:
            response = self._session.request(method, url, **{"timeout": self.timeout, **kw})
        except (requests.ConnectionError, requests.Timeout) as err:
            raise TransientAdapterError(f"{method} {_safe(url)}: {type(err).__name__}") from err
        if self.retryable(response):
            raise TransientAdapterError(
                f"{method} {_safe(url)} answered {response.status_code}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
                http_status=response.status_code,
            )
        if response.status_code >= 400:
            raise PermanentAdapterError(
                f"{method} {_safe(url)} answered {response.status_code}: {_reason(response)}",
                http_status=response.status_code,
                answer=_json_object(response),
            )
        return response

    def retryable(self, response: requests.Response) -> bool:
        """Whether a failed answer is worth retrying: 429 and 5xx; a partner whose protocol says
        more (the peer's "out of order") overrides this, and every other 4xx stays permanent."""
        return response.status_code == 429 or response.status_code >= 500

    def deliver(self, message: Outbound) -> DeliveryResult:
        """Hand one outbox message to the partner; raise an AdapterError subclass on failure."""
        raise NotImplementedError

    def deliver_batch(self, messages: Sequence[Outbound], max_bytes: int) -> list[Delivered]:
        """Hand the partner ``messages`` (one partner's, in feed order) in as few calls as
        ``max_bytes`` a request allows; called only when ``delivers_batches`` says it can.

        One outcome per message, in order: its result, the AdapterError (or any other
        error) that ended its delivery, or None when it was not tried (another message
        spoiled the call) and is due again at once.
        """
        raise NotImplementedError

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        """Everything the partner did since ``cursor``, and the cursor to resume from.

        ``engagements`` are this partner's open engagements (Assigned, Accepted,
        In Progress, Waiting Approval); adapters with a feed of their own may ignore them.
        """
        raise NotImplementedError

    def hold_changes(self, cursor: str | None, wait: float) -> ChangeBatch:
        """``fetch_changes`` from a partner that holds the request open (a long poll) until it has a
        change or ``wait`` seconds pass; called only when ``holds_feed`` says it can."""
        raise NotImplementedError

    def test_connection(self) -> str:
        """A one-line description of a successful round trip; raise on failure."""
        raise NotImplementedError

    def leave(self, reason: str) -> None:
        """Tell the partner we ended the partnership, and why.

        Only adapters that declare ``announces_leave`` implement it. A ticket system
        (Redmine, RT) has no partnership to end: its API key is revoked on its side by
        hand, so there is nobody to tell.
        """
        raise NotImplementedError

    def list_entries(self, ref: EngagementRef) -> RemoteState:
        """The partner's side of one engagement, for reconciliation.

        Only adapters that declare ``Capability.LIST_ENTRIES`` implement it;
        reconciliation reports the others as not supported.
        """
        raise NotImplementedError


def json_body(response: requests.Response) -> Any:
    """The answer's JSON; an answer that is not JSON is a PermanentAdapterError that says so.

    A wrong partner URL (a web site, a login page, a proxy's error page) often answers
    200 with HTML: the error must name that, not surface as a JSONDecodeError.
    """
    try:
        return response.json()
    except ValueError as err:
        media = (response.headers.get("Content-Type") or "no content type").split(";")[0].strip()
        raise PermanentAdapterError(
            f"{response.request.method} {_safe(response.url)} answered {response.status_code} with {media}, "
            "not JSON: check the partner's URL",
            http_status=response.status_code,
        ) from err


def _safe(url: str) -> str:
    """The URL without user info or query string, fit for a log line."""
    split = urlsplit(url)
    return f"{split.scheme}://{split.hostname}{f':{split.port}' if split.port else ''}{split.path}"


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds()) if when else None


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error"
    return str(body.get("message") or body.get("error") or body)[:300] if isinstance(body, dict) else str(body)[:300]
