"""Applying the workflow to engagements: one transaction per transition.

Each function here changes the engagement, writes its audit event, queues the
outbox message the partner must hear and the signal the host may want, all in
the caller's session; the caller commits once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outsource_plugin import signals
from outsource_plugin.core.costs import add_completion_charge
from outsource_plugin.core.status_counts import count_change
from outsource_plugin.db import outbox
from outsource_plugin.db.models import (
    STATUS_TIMESTAMP,
    AuditEvent,
    Engagement,
    EntryLink,
    OutboxMessage,
    Partner,
    new_id,
    utcnow,
)
from outsource_plugin.errors import Conflict, NotFound, TicketNotDeletable, ValidationFailed
from outsource_plugin.host.entries import keep_local
from outsource_plugin.validation.schemas import merge_terms
from outsource_plugin.wire import ActionMessage, OfferMessage
from outsource_plugin.workflow import (
    ACCEPTED_WORK,
    ACTION_FACTS,
    TRANSITIONS,
    Action,
    Side,
    Status,
    SyncState,
    sync_state,
    target,
)

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

log = logging.getLogger(__name__)

#: acts after which the side that took them syncs no more (submit, approve, complete, the cascade):
#: whether an entry crosses is decided against them (``outsource_plugin.sync.capture``)
BOUNDARY_ACTIONS = frozenset(
    action
    for row in TRANSITIONS.values()
    for (action, _side), to in row.items()
    if sync_state(to) in (SyncState.SUSPENDED, SyncState.ENDED)
)


@dataclass(frozen=True)
class Actor:
    """Who performs a transition; ``remote`` when the partner did it."""

    name: str
    remote: bool = False


def ticket_engagements(session: Session, ticket_id: str) -> list[Engagement]:
    """Every engagement of a ticket, newest first."""
    query = select(Engagement).where(Engagement.ticket_id == ticket_id).order_by(Engagement.id.desc())
    return list(session.scalars(query))


def current_engagement(session: Session, ticket_id: str) -> Engagement | None:
    """The ticket's current engagement: its newest one, of either role."""
    found = ticket_engagements(session, ticket_id)
    return found[0] if found else None


def get_engagement(session: Session, engagement_id: int) -> Engagement:
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound(f"engagement {engagement_id} does not exist")
    return engagement


def configure(
    state: OutsourceState, ticket_id: str, partner_id: int, terms: dict[str, Any] | None, actor: Actor
) -> Engagement:
    """Choose a partner and terms: a new Unsent engagement.

    After a cancel or decline the new engagement starts from the previous
    one's terms, as the lead last saw them; otherwise from the partner's
    defaults. Terms given here override either.
    """
    session = state.session
    latest = current_engagement(session, ticket_id)
    target(latest.status if latest else None, Action.CONFIGURE, latest.role if latest else Side.LEAD)
    partner = _active_partner(session, partner_id)
    base = latest.effective_terms if latest is not None else partner.default_terms
    ticket = state.host.get_ticket(ticket_id)
    engagement = Engagement(
        uid=new_id(),
        role=Side.LEAD,
        ticket_id=ticket_id,
        ticket_number=ticket.number if ticket else ticket_id,
        partner_id=partner.id,
        partner=partner,
        terms=merge_terms(base, terms or {}),
    )
    session.add(engagement)
    _transition(state, engagement, Action.CONFIGURE, Side.LEAD, actor)
    try:
        session.flush()
    except IntegrityError as err:
        # another configure of this ticket committed between our look-up and this insert:
        # the database's one-open-engagement index refused the second
        session.rollback()
        raise Conflict(
            f"ticket {ticket_id} already has an open outsourcing engagement",
            details={"ticket_id": ["already outsourced: reload to see its engagement"]},
        ) from err
    return engagement


def edit(
    state: OutsourceState, engagement: Engagement, partner_id: int | None, terms: dict[str, Any] | None, actor: Actor
) -> Engagement:
    """Change the partner or terms of an Unsent engagement; what was sent stays frozen."""
    target(engagement.status, Action.EDIT, engagement.role)
    if partner_id is not None and partner_id != engagement.partner_id:
        partner = _active_partner(state.session, partner_id)
        engagement.partner_id = partner.id
        engagement.partner = partner
    if terms:
        engagement.terms = merge_terms(engagement.terms, terms)
    _transition(state, engagement, Action.EDIT, engagement.role, actor)
    return engagement


def _active_partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None or not partner.active:
        raise ValidationFailed(
            f"partner {partner_id} does not exist or is disabled", details={"partner_id": ["unknown partner"]}
        )
    return partner


def perform(
    state: OutsourceState,
    engagement: Engagement,
    action: Action,
    side: Side,
    actor: Actor,
    *,
    reason: str | None = None,
    customer_ref: str | None = None,
    ticket_number: str | None = None,
) -> Engagement:
    """Apply one action to an engagement, with its effects on this host and the partner."""
    lock_status(state.session, engagement)
    before = engagement.status
    after = target(before, action, side)
    if ACTION_FACTS[action].reason_required and not (reason and reason.strip()):
        raise ValidationFailed(f"'{action.value}' needs a reason", details={"reason": ["a reason is required"]})
    relay = _partner_must_hear(before, after, action, actor)
    if relay:
        outbox.lock_feed(state.session, engagement.partner_id)
    if action is Action.ACCEPT and not actor.remote:
        _open_service_ticket(state, engagement, customer_ref)
    _record_details(state, engagement, action, actor, reason, ticket_number)
    _transition(state, engagement, action, side, actor, reason)
    if after is Status.COMPLETE:
        add_completion_charge(state, engagement)
    if relay:
        message = _relay(state.session, engagement, action, actor, reason, before)
        if action in BOUNDARY_ACTIONS:
            engagement.boundary_seq = message.seq
    return engagement


def lock_status(session: Session, engagement: Engagement) -> None:
    """Re-read the status under lock, the partner's row first (see ``outbox.lock_feed``).

    A request reads the engagement before it acts. Had the partner's crossing act been
    applied in between, deciding on the stale status would overwrite it (PostgreSQL reads
    committed rows) and the two sides would split for good; re-read, the crossing is seen
    and settled by the workflow's ``CROSSED`` rule when each side hears of the other's act.
    A follow-up the plugin raises itself (start of work, the completion cascade) locks
    first and checks the status it is about, so that it never fails the host's own change.
    """
    outbox.lock_feed(session, engagement.partner_id)
    session.flush()
    session.refresh(engagement, ["status"], with_for_update=True)


def _partner_must_hear(before: Status | None, after: Status | None, action: Action, actor: Actor) -> bool:
    """Our own actions are relayed; not the partner's (no echo), not configuration, and
    nothing about an engagement that was never sent (the partner has never heard of it)."""
    if actor.remote or after is None or ACTION_FACTS[action].local_only:
        return False
    return action is Action.SEND or before is not Status.UNSENT


def record_event(session: Session, engagement: Engagement, actor: str, action: Action, reason: str) -> None:
    """An entry in the engagement's history that changes no status (a backfill, a repair),
    so the audit trail shows every change the plugin made on its own."""
    _audit(session, engagement, actor, engagement.role, action, engagement.status, engagement.status, reason)


def _audit(
    session: Session,
    engagement: Engagement,
    actor: str,
    side: Side,
    action: Action,
    before: Status | None,
    after: Status | None,
    reason: str | None,
    at: datetime | None = None,
) -> None:
    session.add(
        AuditEvent(
            engagement_uid=engagement.uid,
            ticket_id=engagement.ticket_id,
            deleted_ticket_id=engagement.deleted_ticket_id,
            actor=actor,
            side=side,
            action=action,
            from_status=before,
            to_status=after,
            reason=reason,
            at=at or utcnow(),
        )
    )


def _transition(
    state: OutsourceState,
    engagement: Engagement,
    action: Action,
    side: Side,
    actor: Actor,
    reason: str | None = None,
) -> None:
    before = engagement.status
    record_transition(state, engagement, action, side, actor, before, target(before, action, side), reason)


def record_transition(
    state: OutsourceState,
    engagement: Engagement,
    action: Action,
    side: Side,
    actor: Actor,
    before: Status | None,
    after: Status | None,
    reason: str | None = None,
) -> None:
    """Move the engagement to ``after``, with its audit event and its ``status_changed`` signal.

    The one path every status change takes, so that the audit history and the host's
    notifications never miss one. ``perform`` reads ``after`` from the transition table;
    a received offer passes it, since it enters this host already Assigned (its Unsent
    life was the lead's).
    """
    now = utcnow()
    session = state.session
    _audit(session, engagement, actor.name, side, action, before, after, reason, now)
    count_change(session, engagement.role, before, after)
    if after is None:
        session.delete(engagement)
    else:
        engagement.status = after
        setattr(engagement, STATUS_TIMESTAMP[after], now)
        engagement.updated_at = now
    signals.send_after_commit(
        session,
        signals.status_changed,
        state.app,
        engagement_uid=engagement.uid,
        ticket_id=engagement.ticket_id,
        action=action,
        side=side,
        from_status=before,
        to_status=after,
        actor=actor.name,
        reason=reason,
    )


def _record_details(
    state: OutsourceState,
    engagement: Engagement,
    action: Action,
    actor: Actor,
    reason: str | None,
    ticket_number: str | None,
) -> None:
    """The fields and notes an action leaves behind, whichever side performed it."""
    now = utcnow()
    if action is Action.SEND:
        engagement.frozen_terms = dict(engagement.terms)
        engagement.offer = _offer(state, engagement)
        hours = engagement.terms.get("acceptance_hours") or state.config["OUTSOURCE_DEFAULT_ACCEPTANCE_HOURS"]
        engagement.acceptance_deadline = now + timedelta(hours=float(hours))
        engagement.partner.last_used_at = now
    elif action is Action.ACCEPT:
        engagement.accepted_by = actor.name
        if ticket_number:
            engagement.remote_ticket_number = ticket_number
    facts = ACTION_FACTS[action]
    for column, value in ((facts.reason_column, reason), (facts.stamps, now), (facts.unstamps, None)):
        if column is not None:
            setattr(engagement, column, value)
    note = _note_for(engagement, action, actor, reason)
    if note and engagement.ticket_id:
        entry = state.host.add_note(engagement.ticket_id, note, author=f"Outsourcing ({engagement.partner.name})")
        if entry is not None:
            keep_local(state.session, entry)


def _note_for(engagement: Engagement, action: Action, actor: Actor, reason: str | None) -> str | None:
    """The ticket note a transition leaves, so the ticket's own history tells the story."""
    partner = engagement.partner.name
    if ACTION_FACTS[action].compensation:
        return reason
    if action is Action.CANCEL and not actor.remote:
        return f"Outsourcing to {partner} was canceled."
    if action in (Action.DECLINE, Action.AUTO_DECLINE) and engagement.role is Side.LEAD:
        how = "auto-declined" if action is Action.AUTO_DECLINE else f"declined by {partner}"
        return f"Outsourcing {how}: {reason}"
    if action is Action.REJECT and actor.remote:
        return f"{partner} rejected the submission: {reason}"
    return None


def _offer(state: OutsourceState, engagement: Engagement) -> dict[str, Any]:
    """What the service ticket is created from: the lead ticket as it stands at send."""
    ticket = state.host.get_ticket(engagement.ticket_id or "")
    if ticket is None:
        raise NotFound(f"ticket {engagement.ticket_id} does not exist")
    return {
        "title": ticket.title,
        "description": ticket.description,
        "priority": ticket.priority,
        "due": ticket.due.isoformat() if ticket.due else None,
        "contact": ticket.contact,
        "number": ticket.number,
        "lead": state.config["OUTSOURCE_ORG_NAME"],
    }


def _open_service_ticket(state: OutsourceState, engagement: Engagement, customer_ref: str | None) -> None:
    """On accept, the service partner's own ticket is opened for its lead partner's customer."""
    partner = engagement.partner
    if customer_ref:
        customers = dict(state.host.list_customers())
        if customers and customer_ref not in customers:
            raise ValidationFailed(
                f"customer '{customer_ref}' does not exist", details={"customer_ref": ["unknown customer"]}
            )
        partner.customer_ref = customer_ref
    if partner.customer_ref is None and state.host.list_customers():
        raise ValidationFailed(
            f"this is the first ticket accepted from {partner.name}: choose which of your customers it is",
            details={"customer_ref": ["required on the first acceptance from a new lead partner"]},
        )
    ticket = state.host.create_ticket(engagement.offer or {}, partner.customer_ref)
    engagement.ticket_id = ticket.id
    engagement.ticket_number = ticket.number


def _relay(
    session: Session, engagement: Engagement, action: Action, actor: Actor, reason: str | None, before: Status | None
) -> OutboxMessage:
    message: OfferMessage | ActionMessage
    if action is Action.SEND:
        message = OfferMessage(
            offer=engagement.offer or {},
            terms=engagement.frozen_terms or {},
            ticket_number=engagement.ticket_number,
            acceptance_deadline=engagement.acceptance_deadline,
        )
    else:
        message = ActionMessage(action, reason, actor.name, before, engagement.ticket_number)
    return outbox.enqueue(session, engagement, message)


def ticket_completed(state: OutsourceState, ticket_id: str) -> None:
    """The completion cascade: a Complete ticket completes its open engagement on both sides."""
    for engagement in ticket_engagements(state.session, ticket_id):
        if not engagement.is_open:
            continue  # a closed engagement never opens again
        lock_status(state.session, engagement)  # the partner's completion may have just committed
        if engagement.is_open:
            log.info(
                "ticket %s is Complete in the host: the completion cascade completes engagement %s",
                ticket_id,
                engagement.uid,
            )
            perform(state, engagement, Action.TICKET_COMPLETE, Side.SYSTEM, Actor("system"))


def ensure_deletable(session: Session, ticket_id: str) -> None:
    """Accepted work must not vanish. The plugin applies this to every delete it sees in the host's
    session (``ticket_deleted``); a host may call it first, to refuse before it changes anything."""
    _refuse_accepted_work(ticket_id, ticket_engagements(session, ticket_id))


def _refuse_accepted_work(ticket_id: str, engagements: list[Engagement]) -> None:
    accepted = [e for e in engagements if e.status in ACCEPTED_WORK]
    if accepted:
        e = accepted[0]
        raise TicketNotDeletable(
            f"ticket {e.ticket_number or ticket_id} cannot be deleted: its outsourcing with {e.partner.name} "
            f"was accepted ({e.status.label})",
            details={"ticket_id": ["outsourced work was accepted: complete or keep the ticket"]},
        )


#: what closes an engagement still open when its ticket is deleted: the partner hears of a cancel,
#: never of a removed Unsent one
CLOSED_ON_DELETE = {Status.UNSENT: Action.REMOVE, Status.ASSIGNED: Action.CANCEL}


def ticket_deleted(state: OutsourceState, ticket_id: str) -> None:
    """The host deleted a ticket, in the transaction being committed: refuse it while the ticket
    holds accepted work; else close its engagements and detach them and their history from the id.

    Hosts reuse ids (SQLite without AUTOINCREMENT, ``max(id) + 1`` numbering): an engagement left
    on the id would become the next ticket's, and that unrelated ticket's entries would reach the
    partner.
    """
    session = state.session
    engagements = ticket_engagements(session, ticket_id)
    for engagement in engagements:
        if engagement.is_open:
            lock_status(session, engagement)  # the partner's acceptance may have just committed
    _refuse_accepted_work(ticket_id, engagements)
    user = state.host.current_user()
    actor = Actor(user.name if user else "system")
    uids = [e.uid for e in engagements]
    for engagement in engagements:
        _detach(state, engagement, ticket_id, actor)
    session.flush()
    session.execute(update(EntryLink).where(EntryLink.engagement_uid.in_(uids)).values(deleted=True))
    session.execute(
        update(AuditEvent).where(AuditEvent.ticket_id == ticket_id).values(ticket_id=None, deleted_ticket_id=ticket_id)
    )


def _detach(state: OutsourceState, engagement: Engagement, ticket_id: str, actor: Actor) -> None:
    """Detached before it is closed, so that the cancel's note is not written onto the deleted
    ticket's id; the ticket's entries are gone with it, and so are the links to their copies."""
    reason = f"ticket {engagement.ticket_number or ticket_id} was deleted"
    engagement.ticket_id, engagement.deleted_ticket_id = None, ticket_id
    record_event(state.session, engagement, actor.name, Action.TICKET_DELETED, reason)
    closing = CLOSED_ON_DELETE.get(engagement.status)
    if closing is not None:
        perform(state, engagement, closing, engagement.role, actor, reason=reason)
