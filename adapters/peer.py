"""The peer adapter: the partner is another help desk running this plugin.

Messages are pushed to the partner's signed federation API as soon as the
delivery job runs, and pulled from its feed by the poller from a stored
cursor; a lost push (a lost "nudge") is therefore caught by the next poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests
from marshmallow import Schema, fields, validate

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    DeliveryResult,
    EngagementRef,
    EntryFacts,
    Outbound,
    PartnerAdapter,
    RemoteState,
    json_body,
)
from outsource_plugin.errors import InvalidPartnerMessage, PermanentAdapterError
from outsource_plugin.federation.feed import change_from_message
from outsource_plugin.federation.signing import sign

FEED_PAGE = 200


class PeerConfig(Schema):
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    link_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$"))
    secret = fields.String(required=True, validate=validate.Length(min=16, max=256))
    previous_secret = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=16, max=256))


class PeerAdapter(PartnerAdapter):
    name = "peer"
    label = "Another help desk running outsource-plugin"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    config_schema = PeerConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret", "previous_secret", "next_secret", "rotation"})
    announces_leave = True
    holds_feed: ClassVar[bool] = True
    #: a key rotation's record and the partner's announced secret (``partnership.rotation``)
    state_fields: ClassVar[frozenset[str]] = frozenset({"next_secret", "rotation"})

    @classmethod
    def verifying_secrets(cls, config: Mapping[str, Any]) -> list[str]:
        """The current secret, the one a rotation announced, and the one it replaced, during the overlap."""
        return [str(config[k]) for k in ("secret", "next_secret", "previous_secret") if config.get(k)]

    @classmethod
    def link_id(cls, config: dict[str, Any]) -> str | None:
        return str(config["link_id"])

    def _call(self, method: str, path: str, payload: Any = None, *, hold: float = 0.0) -> Any:
        base = str(self.config["base_url"]).rstrip("/")
        url = f"{base}/federation/v1{path}"
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        split = urlsplit(url)
        signed_path = split.path + (f"?{split.query}" if split.query else "")
        headers = sign(str(self.config["link_id"]), str(self.config["secret"]), method, signed_path, body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        return json_body(self.http(method, url, data=body, headers=headers, timeout=self.timeout + hold))

    def retryable(self, response: requests.Response) -> bool:
        """Also a 409 "out_of_order": an earlier message of our feed has not arrived yet; retrying will do."""
        return super().retryable(response) or _out_of_order(response)

    def deliver(self, message: Outbound) -> DeliveryResult:
        answer = self._call(
            "POST",
            "/messages",
            {
                "id": message.message_id,
                "seq": message.seq,
                "kind": message.kind,
                "engagement_uid": message.engagement_uid,
                "payload": message.payload,
            },
        )
        return DeliveryResult(remote_ref=message.engagement_uid, extra={"status": answer.get("status")})

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        return self.hold_changes(cursor, 0.0)

    def hold_changes(self, cursor: str | None, wait: float) -> ChangeBatch:
        held = f"&wait={wait:.3f}" if wait > 0 else ""
        answer = self._call("GET", f"/changes?after={int(cursor or 0)}&limit={FEED_PAGE}{held}", hold=wait)
        try:
            changes = tuple(change_from_message(item) for item in answer["changes"])
        except InvalidPartnerMessage as err:
            # without a readable number the message cannot even be skipped: the feed itself is broken
            raise PermanentAdapterError(f"the partner's feed is malformed: {err.message}") from err
        return ChangeBatch(changes=changes, cursor=None)

    def leave(self, reason: str) -> None:
        self._call("POST", "/leave", {"reason": reason})

    def test_connection(self) -> str:
        answer = self._call("GET", "/ping")
        if not isinstance(answer, dict):
            raise PermanentAdapterError("the ping answer is not a JSON object", http_status=200)
        return f"{answer.get('org', 'the partner')} answered a signed request"

    def list_entries(self, ref: EngagementRef) -> RemoteState:
        """The partner's own account of the engagement, from its signed federation API."""
        answer = self._call("GET", f"/engagements/{quote(ref.uid, safe='')}")
        try:
            entries = tuple(EntryFacts.from_json(item) for item in answer["entries"])
        except (KeyError, TypeError, ValueError) as err:
            raise PermanentAdapterError(f"the partner's engagement state is malformed: {err!r}") from err
        status = answer.get("status")
        return RemoteState(status=None if status is None else str(status), entries=entries)


def _out_of_order(response: requests.Response) -> bool:
    if response.status_code != 409:
        return False
    try:
        return bool(response.json().get("error") == "out_of_order")
    except ValueError:
        return False
