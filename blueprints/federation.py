"""The signed partner (federation) API that another host running the plugin calls.

Every request names its partnership (``X-Outsource-Link``), is signed with
that partnership's secret, carries a timestamp inside the configured
tolerance and a request id never used before. Anything else is a 401 and
nothing is written. A partner reaches only engagements it is party to. A
disabled partner is answered only its leave notice, repeated.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.blueprints.errors import answer_in_json
from outsource_plugin.blueprints.limits import limit_body, partner_limit
from outsource_plugin.db.models import (
    MessageKind,
    Partner,
    SeenRequest,
    utcnow,
)
from outsource_plugin.db.outbox import acknowledge, lock_feed
from outsource_plugin.errors import NotAuthenticated, NotFound
from outsource_plugin.federation.batch import OUT_OF_ORDER, batch_changes
from outsource_plugin.federation.feed import MessageSchema, change_from_message, message_json
from outsource_plugin.federation.long_poll import held_feed
from outsource_plugin.federation.rekey import ConfirmSchema, RotateSchema
from outsource_plugin.federation.signing import LINK, verify
from outsource_plugin.partnership import rotation
from outsource_plugin.partnership.leaving import partner_left
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.entry_facts import local_facts
from outsource_plugin.sync.inbound import Receipt, applied_sequence, apply_change, check_party, find_engagement
from outsource_plugin.sync.poll_backoff import ask_next_round
from outsource_plugin.sync.pushed import receive_batch
from outsource_plugin.validation.schemas import FeedSchema, LeaveSchema, load

federation = Blueprint("outsource_federation", __name__)
limit_body(federation, partner_limit)
answer_in_json(federation)


@federation.before_request
def authenticate() -> None:
    state = current_outsource()
    session = state.session
    link = request.headers.get(LINK, "")
    partner = session.scalars(select(Partner).where(Partner.link_id == link)).first()
    if not link or partner is None or not (partner.active or request.endpoint == "outsource_federation.leave"):
        raise NotAuthenticated("unknown partner link")
    request_id = _verified(adapter_class(partner.adapter).verifying_secrets(partner.config))
    if session.get(SeenRequest, request_id) is not None:
        raise NotAuthenticated("replayed request: this request id was already used")
    g.outsource_partner = partner
    g.outsource_request_id = request_id


def _verified(secrets: list[str]) -> str:
    """The request's id, when one of ``secrets`` signed it inside the clock tolerance."""
    return verify(
        dict(request.headers),
        secrets,
        request.method,
        request.full_path.rstrip("?"),
        request.get_data(cache=True),
        tolerance=float(current_outsource().config["OUTSOURCE_SIGNATURE_TOLERANCE"]),
    )


def _remember_request() -> None:
    """Taken in the same transaction as the request's effects: a replay finds it."""
    current_outsource().session.add(SeenRequest(request_id=g.outsource_request_id, partner_id=g.outsource_partner.id))


@federation.get("/ping")
def ping() -> ResponseReturnValue:
    _remember_request()
    current_outsource().session.commit()
    return jsonify({"org": current_outsource().config["OUTSOURCE_ORG_NAME"]})


@federation.post("/leave")
def leave() -> ResponseReturnValue:
    """The partner ended the partnership: disable it here and keep why. A repeat is answered as done."""
    session = current_outsource().session
    data = load(LeaveSchema(), request.get_json(silent=True))
    changed = partner_left(g.outsource_partner, data["reason"])
    _remember_request()
    session.commit()
    return jsonify({"status": "left" if changed else "duplicate"})


@federation.post("/messages")
def receive() -> ResponseReturnValue:
    """Apply a pushed message if it is the next one; a repeat is answered as done.

    An action that crossed one of ours in flight and lost is answered ``superseded``
    (200: the message is done, the feed moves on; see ``workflow.CROSSED``)."""
    state = current_outsource()
    session = state.session
    partner: Partner = g.outsource_partner
    data = load(MessageSchema(), request.get_json(silent=True))
    change = change_from_message(data)
    applied = applied_sequence(session, partner)
    if data["seq"] > applied + 1:
        # checked first: the engagement this message is about may come with an earlier one
        return _out_of_order(partner, applied)
    check_party(state, partner, data["engagement_uid"], offer=data["kind"] == MessageKind.OFFER.value)
    if data["seq"] <= applied:
        _remember_request()
        session.commit()
        return jsonify({"status": "duplicate", "applied": applied})
    _remember_request()
    receipt = apply_change(state, partner, change)
    session.commit()
    if receipt is Receipt.DUPLICATE:  # a poll applied it a moment ago
        return jsonify({"status": receipt.value, "applied": applied_sequence(session, partner)})
    return jsonify({"status": receipt.value, "applied": data["seq"]})


@federation.post("/messages/batch")
def receive_many() -> ResponseReturnValue:
    """Apply a batch of pushed messages in one transaction, answering each as ``/messages`` would.

    A bad item fails the whole batch (400, naming it) before anything is applied (one already
    applied is a duplicate, its envelope checked only, as a single push's is);
    a batch whose first message is not next is a 409, as a single push would be."""
    state = current_outsource()
    session = state.session
    partner: Partner = g.outsource_partner
    # read before the partner's row is locked, to spare the payload checks of what is applied already
    changes = batch_changes(request.get_json(silent=True), applied_sequence(session, partner))
    # the partner's row first, as a poll takes it (``outbox.lock_feed``): the cursor read next
    # then stays put, and the batch's one compare-and-set does not lose a race with the poller
    lock_feed(session, partner.id)
    applied = applied_sequence(session, partner)
    if (changes[0].sequence or 0) > applied + 1:
        return _out_of_order(partner, applied)
    _remember_request()
    results = receive_batch(state, partner, changes, applied)
    session.commit()
    if any(r.get("error") == OUT_OF_ORDER for r in results):
        _poll_now(partner)
    return jsonify({"results": results})


def _out_of_order(partner: Partner, applied: int) -> ResponseReturnValue:
    """An earlier message is missing: nothing is written, and a poll may bring it now."""
    _poll_now(partner)
    return jsonify({"error": OUT_OF_ORDER, "message": "an earlier message is missing", "expected": applied + 1}), 409


def _poll_now(partner: Partner) -> None:
    """A partner we are backing off from has just shown it is up, so the poll is not held back."""
    state = current_outsource()
    if partner.poll_due_at is not None:
        ask_next_round(partner)
        state.session.commit()
    state.poll_now()


@federation.get("/changes")
def changes() -> ResponseReturnValue:
    """Our feed for the calling partner, after its cursor. Asking from ``after=N`` also
    acknowledges 1..N, so those need no push. With ``wait`` (seconds) an empty feed is held
    open until a change comes or the time is up (see ``federation.long_poll``)."""
    state = current_outsource()
    session = state.session
    partner: Partner = g.outsource_partner
    query = load(FeedSchema(), request.args.to_dict())
    after, partner_id = query["after"], partner.id
    _remember_request()
    session.commit()  # before a hold: a replay of a held request is refused, not held beside it
    items = [message_json(m) for m in held_feed(state, partner_id, after, query["limit"], query["wait"])]
    acknowledge(session, partner_id, after)
    session.commit()
    return jsonify({"changes": items})


@federation.get("/engagements/<uid>")
def engagement_state(uid: str) -> ResponseReturnValue:
    """What we hold of one engagement with the calling partner, for its reconciliation:
    our status and a digest of each synced entry (never the entries themselves)."""
    state = current_outsource()
    engagement = find_engagement(state, g.outsource_partner, uid)
    if engagement is None:
        raise NotFound(f"no engagement {uid} with this partner")
    entries = [f.to_json() for f in local_facts(state, engagement)]
    _remember_request()
    state.session.commit()
    return jsonify({"uid": uid, "status": engagement.status.value, "entries": entries})


@federation.post("/rotate")
def rotate() -> ResponseReturnValue:
    """The partner starts a key rotation: we keep its next secret and answer our half
    (``partnership.rotation``, step 2). The same offer again gets the same answer."""
    state = current_outsource()
    partner: Partner = g.outsource_partner
    state.session.refresh(partner, with_for_update=True)
    body = load(RotateSchema(), request.get_json(silent=True))
    partner.config, answer = rotation.answer_offer(partner.config, body, str(partner.link_id))
    _remember_request()
    state.session.commit()
    return jsonify(answer)


@federation.post("/rotate/confirm")
def rotate_confirm() -> ResponseReturnValue:
    """The partner signs with the new secret: we do too, and retire the old one after the overlap
    (step 4). Only a request signed with the new secret confirms: the old one cannot end a rotation."""
    state = current_outsource()
    partner: Partner = g.outsource_partner
    state.session.refresh(partner, with_for_update=True)
    body = load(ConfirmSchema(), request.get_json(silent=True))
    _verified([rotation.confirming_secret(partner.config)])
    overlap = float(state.config["OUTSOURCE_ROTATION_OVERLAP"])
    partner.config = rotation.confirm(partner.config, body["rotation_id"], utcnow(), overlap)
    _remember_request()
    state.session.commit()
    return jsonify({"status": "rotated", "rotation_id": body["rotation_id"]})
