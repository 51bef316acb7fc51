"""The peer adapter: the partner is another help desk running this plugin.

Messages are pushed to the partner's signed federation API as soon as the
delivery job runs, and pulled from its feed by the poller from a stored
cursor; a lost push (a lost "nudge") is therefore caught by the next poll.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests
from marshmallow import Schema, fields, validate

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    Delivered,
    DeliveryResult,
    EngagementRef,
    EntryFacts,
    Outbound,
    PartnerAdapter,
    RemoteState,
    json_body,
)
from outsource_plugin.errors import InvalidPartnerMessage, PermanentAdapterError, TransientAdapterError
from outsource_plugin.federation.batch import MOST_MESSAGES, OUT_OF_ORDER, bad_items
from outsource_plugin.federation.feed import change_from_message
from outsource_plugin.federation.signing import sign

FEED_PAGE = 200
#: seconds before a partner that lacked the batch endpoint (an older plugin) is offered a batch again
ASK_AGAIN = 600.0
#: the bytes of a batch body around its messages: ``{"messages":[`` and ``]}``
BATCH_FRAME = len(b'{"messages":[]}')


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
    delivers_batches: ClassVar[bool] = True
    #: a key rotation's record and the partner's announced secret (``partnership.rotation``)
    state_fields: ClassVar[frozenset[str]] = frozenset({"next_secret", "rotation"})

    @classmethod
    def verifying_secrets(cls, config: Mapping[str, Any]) -> list[str]:
        """The current secret, the one a rotation announced, and the one it replaced, during the overlap."""
        return [str(config[k]) for k in ("secret", "next_secret", "previous_secret") if config.get(k)]

    @classmethod
    def link_id(cls, config: dict[str, Any]) -> str | None:
        return str(config["link_id"])

    def __init__(self, partner_id: int, config: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, config, timeout=timeout)
        #: ``time.monotonic()`` before which the partner is not offered batches (it refused one)
        self._single_until = 0.0

    def _call(self, method: str, path: str, payload: Any = None, *, hold: float = 0.0) -> Any:
        body = None if payload is None else _json(payload)
        return self._send(method, path, body, hold=hold)

    def _send(self, method: str, path: str, body: bytes | None, *, hold: float = 0.0) -> Any:
        """One signed call; ``body`` is JSON already (None: no body)."""
        base = str(self.config["base_url"]).rstrip("/")
        url = f"{base}/federation/v1{path}"
        split = urlsplit(url)
        signed_path = split.path + (f"?{split.query}" if split.query else "")
        headers = sign(str(self.config["link_id"]), str(self.config["secret"]), method, signed_path, body or b"")
        if body is not None:
            headers["Content-Type"] = "application/json"
        return json_body(self.http(method, url, data=body or b"", headers=headers, timeout=self.timeout + hold))

    def retryable(self, response: requests.Response) -> bool:
        """Also a 409 "out_of_order": an earlier message of our feed has not arrived yet; retrying will do."""
        return super().retryable(response) or _out_of_order(response)

    def deliver(self, message: Outbound) -> DeliveryResult:
        answer = self._call("POST", "/messages", _envelope(message))
        return DeliveryResult(remote_ref=message.engagement_uid, extra={"status": answer.get("status")})

    def deliver_batch(self, messages: Sequence[Outbound], max_bytes: int) -> list[Delivered]:
        """Each request carries as many messages as fit in ``max_bytes`` (one at least, however large).

        Once a message failed, the requests after it are not made (their messages are not tried):
        the partner would refuse each of them as out of order, an earlier message missing.
        """
        bodies = [_json(_envelope(m)) for m in messages]
        outcomes: list[Delivered] = []
        failed = False
        for chunk in packed([len(b) for b in bodies], max_bytes, MOST_MESSAGES):
            if failed:
                outcomes.extend([None] * len(chunk))
                continue
            sent = self._deliver_chunk([messages[n] for n in chunk], [bodies[n] for n in chunk])
            failed = any(isinstance(outcome, Exception) for outcome in sent)
            outcomes.extend(sent)
        return outcomes

    def _deliver_chunk(self, messages: list[Outbound], bodies: list[bytes]) -> list[Delivered]:
        if len(messages) == 1 or time.monotonic() < self._single_until:
            return [self._deliver_one(m) for m in messages]
        try:
            answer = self._send("POST", "/messages/batch", b'{"messages":[' + b",".join(bodies) + b"]}")
        except PermanentAdapterError as err:
            if err.http_status in (404, 405):
                # an older plugin without the batch endpoint: one message per request, as it expects
                self._single_until = time.monotonic() + ASK_AGAIN
                return [self._deliver_one(m) for m in messages]
            bad = bad_items((err.answer or {}).get("details"))
            if not bad:
                # refused as a whole (too large, say): one message per request tells which ones
                return [self._deliver_one(m) for m in messages]
            return [err if place in bad else None for place in range(len(messages))]
        except TransientAdapterError as err:
            return [err] * len(messages)
        listed = answer.get("results") if isinstance(answer, dict) else None
        results = {r.get("id"): r for r in listed or [] if isinstance(r, dict)}
        return [_outcome(m, results.get(m.message_id)) for m in messages]

    def _deliver_one(self, message: Outbound) -> Delivered:
        try:
            return self.deliver(message)
        except Exception as err:  # noqa: BLE001  (settled and logged as a single delivery's error: jobs.deliver)
            return err

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


def packed(sizes: Sequence[int], max_bytes: int, most: int) -> list[range]:
    """Consecutive runs of messages (by their JSON sizes) whose batch body stays within
    ``max_bytes`` and holds at most ``most`` of them; a message larger than that alone is a run."""
    runs, start, size = [], 0, BATCH_FRAME
    for place, length in enumerate(sizes):
        if place > start and (size + length + 1 > max_bytes or place - start >= most):
            runs.append(range(start, place))
            start, size = place, BATCH_FRAME
        size += length + 1
    runs.append(range(start, len(sizes)))
    return runs


def _envelope(message: Outbound) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "seq": message.seq,
        "kind": message.kind,
        "engagement_uid": message.engagement_uid,
        "payload": message.payload,
    }


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _outcome(message: Outbound, result: dict[str, Any] | None) -> Delivered:
    """One message's line of the batch answer, as a single push's answer would have settled it."""
    if result is None:
        return TransientAdapterError(f"the partner's batch answer has no result for message {message.message_id}")
    if "status" in result:
        return DeliveryResult(remote_ref=message.engagement_uid, extra={"status": result["status"]})
    error = str(result.get("error"))
    if error == OUT_OF_ORDER:
        return TransientAdapterError(
            f"message {message.message_id} is out of order: an earlier one is missing", http_status=409
        )
    reason = str(result.get("message") or error)[:300]
    return PermanentAdapterError(
        f"the partner refused message {message.message_id}: {reason}", http_status=404 if error == "not_found" else None
    )


def _out_of_order(response: requests.Response) -> bool:
    if response.status_code != 409:
        return False
    try:
        return bool(response.json().get("error") == "out_of_order")
    except ValueError:
        return False
