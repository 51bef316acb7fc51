"""The outsource workflow: eight statuses and the one transition table.

Everything that decides whether an outsource action may happen lives here, as
plain data, so that the API's ``allowed_actions``, the Outsource menu and the
documentation are all read off the same table. A (status, action, side) that
is not in the table is refused and leaves the engagement untouched.

Crossing actions. Each side applies its own action at once and relays it, so
two actions can cross in flight: the lead cancels while the service accepts.
``CROSSED`` settles every such pair as data, and both hosts read the same
rule, so they end in the same status (docs/races.md tells the story):

======================  ===============================  ==================================
From                    Pair                             Winner
======================  ===============================  ==================================
Assigned                cancel / accept, decline         the lead's record: cancel
Assigned                auto-decline / accept, decline   the lead's record: auto-decline
Assigned                cancel / auto-decline            one host: the first to commit
Assigned                accept / decline                 one host: the first to commit
Accepted, In Progress   complete / submit                Complete
Accepted, In Progress   ticket complete / submit         Complete
Accepted, In Progress   complete / ticket complete       Complete (both lead there)
Waiting Approval        reject / ticket complete         Complete
Waiting Approval        approve / ticket complete        Complete (both lead there)
Waiting Approval        reject / approve                 one host: the first to commit
======================  ===============================  ==================================

The side whose act lost learns it when the winner's act reaches it: it applies
a compensating system action (``WITHDRAW``, ``LAPSE``, ``OVERRULE``) with a
note on its ticket. The side whose act won answers the loser's relayed act as
superseded and keeps its status; entries the loser made after its losing act
stay on the loser's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    UNSENT = "unsent"
    ASSIGNED = "assigned"
    CANCELED = "canceled"
    DECLINED = "declined"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETE = "complete"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class Action(str, Enum):
    CONFIGURE = "configure"
    EDIT = "edit"
    REMOVE = "remove"
    SEND = "send"
    CANCEL = "cancel"
    DECLINE = "decline"
    AUTO_DECLINE = "auto_decline"
    ACCEPT = "accept"
    START_WORK = "start_work"
    SUBMIT = "submit"
    REJECT = "reject"
    APPROVE = "approve"
    COMPLETE = "complete"
    TICKET_COMPLETE = "ticket_complete"
    #: compensations (system): the lead's cancel, auto-decline or completion crossed the
    #: service's own act in flight, and the service side follows the lead's record
    WITHDRAW = "withdraw"
    LAPSE = "lapse"
    OVERRULE = "overrule"
    #: not transitions: audit-history records of entries sent by ``flask outsource backfill``
    #: and of reconciliation's repairs (the status stays as it was)
    BACKFILL = "backfill"
    REPAIR = "repair"
    #: not a transition either: the host deleted the engagement's ticket, and the engagement was
    #: detached from the ticket's id (``core.engagements.ticket_deleted``)
    TICKET_DELETED = "ticket_deleted"


class Side(str, Enum):
    LEAD = "lead"
    SERVICE = "service"
    SYSTEM = "system"

    @property
    def other(self) -> Side:
        return {Side.LEAD: Side.SERVICE, Side.SERVICE: Side.LEAD}[self]


class SyncState(str, Enum):
    NONE = "none"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


L, S, SYS = Side.LEAD, Side.SERVICE, Side.SYSTEM

OPEN_STATUSES = frozenset(
    {Status.UNSENT, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_APPROVAL}
)

#: where an acceptance that lost the race may have got to before the lead's act reached it
_LAPSABLE = (Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_APPROVAL)
#: the partner's acceptance stands: the ticket holds accepted work, which a delete must not make vanish
#: (an acceptance that lost the race to the lead's cancel or auto-decline is not among them)
ACCEPTED_WORK = frozenset({*_LAPSABLE, Status.COMPLETE})
#: what the service may relay on an acceptance that lost the race
_OFFER_BRANCH = (Action.ACCEPT, Action.SUBMIT, Action.TICKET_COMPLETE)

_CASCADE = {(Action.TICKET_COMPLETE, SYS): Status.COMPLETE}
#: the service's acceptance (or decline) lost to the lead's cancel: the service ticket is withdrawn
_WITHDRAWN = {(Action.WITHDRAW, SYS): Status.CANCELED}
#: the service's acceptance lost to the lead's auto-decline
_LAPSED = {(Action.LAPSE, SYS): Status.DECLINED}

#: status (None: the ticket has no open engagement) -> (action, side) -> new status
#: (None: the engagement is deleted). Final statuses have explicit empty rows.
TRANSITIONS: dict[Status | None, dict[tuple[Action, Side], Status | None]] = {
    None: {(Action.CONFIGURE, L): Status.UNSENT},
    Status.UNSENT: {
        (Action.EDIT, L): Status.UNSENT,
        (Action.REMOVE, L): None,
        (Action.SEND, L): Status.ASSIGNED,
        **_CASCADE,
    },
    Status.ASSIGNED: {
        (Action.CANCEL, L): Status.CANCELED,
        (Action.DECLINE, S): Status.DECLINED,
        (Action.AUTO_DECLINE, SYS): Status.DECLINED,
        (Action.ACCEPT, S): Status.ACCEPTED,
        **_CASCADE,
    },
    Status.CANCELED: {(Action.CONFIGURE, L): Status.UNSENT},
    Status.DECLINED: {(Action.CONFIGURE, L): Status.UNSENT, **_WITHDRAWN},
    Status.ACCEPTED: {
        (Action.START_WORK, S): Status.IN_PROGRESS,
        (Action.SUBMIT, S): Status.WAITING_APPROVAL,
        (Action.COMPLETE, L): Status.COMPLETE,
        **_CASCADE,
        **_WITHDRAWN,
        **_LAPSED,
    },
    Status.IN_PROGRESS: {
        (Action.SUBMIT, S): Status.WAITING_APPROVAL,
        (Action.COMPLETE, L): Status.COMPLETE,
        **_CASCADE,
        **_WITHDRAWN,
        **_LAPSED,
    },
    Status.WAITING_APPROVAL: {
        (Action.REJECT, L): Status.IN_PROGRESS,
        (Action.APPROVE, L): Status.COMPLETE,
        (Action.OVERRULE, SYS): Status.COMPLETE,
        **_CASCADE,
        **_WITHDRAWN,
        **_LAPSED,
    },
    Status.COMPLETE: {},
}

#: How a partner's relayed action that our status refuses is settled, when that is because
#: one of our own acts crossed it in flight: (our status, the partner's action) -> the
#: compensating system action we apply (our act lost), or None (the partner's act lost: it is
#: superseded, changes nothing here, and the partner's entries after it stay on its side).
#: The lead's record decides the offer's fate; Complete beats every other open-status act.
CROSSED: dict[tuple[Status, Action], Action | None] = {
    # on the service side: our acceptance, decline or submission lost
    **{(s, Action.CANCEL): Action.WITHDRAW for s in _LAPSABLE},
    (Status.DECLINED, Action.CANCEL): Action.WITHDRAW,
    **{(s, Action.AUTO_DECLINE): Action.LAPSE for s in _LAPSABLE},
    (Status.WAITING_APPROVAL, Action.COMPLETE): Action.OVERRULE,
    # on the lead side: the service's act on the offer lost to our cancel or auto-decline
    **{(s, a): None for s in (Status.CANCELED, Status.DECLINED) for a in _OFFER_BRANCH},
    (Status.CANCELED, Action.DECLINE): None,
    # either side: completion (ours, or our ticket's cascade) beat the partner's submit or reject
    (Status.COMPLETE, Action.SUBMIT): None,
    (Status.COMPLETE, Action.REJECT): None,
}


@dataclass(frozen=True)
class ActionFacts:
    """What the code asks about an action besides where it leads, kept beside ``TRANSITIONS``
    so that no module keeps a set of its own that could drift from the table."""

    #: the side that takes it in ``TRANSITIONS`` (None: not a transition, an audit-history record)
    side: Side | None
    #: refused without a non-empty reason
    reason_required: bool = False
    #: a user asks for it by name (``POST .../actions`` and the menu); the rest the plugin raises itself
    user_action: bool = False
    #: stays on this host: the partner never hears of it
    local_only: bool = False
    #: raised by the plugin for both sides, so a relayed one is taken by the system, not the partner
    system: bool = False
    #: a side's own act lost a crossing (``CROSSED``); its reason is the note that says why
    compensation: bool = False
    #: the engagement column the action's reason is kept in
    reason_column: str | None = None
    #: the engagement column the action sets to its time
    stamps: str | None = None
    #: the engagement column the action clears (a reject lifts the submission's suspension)
    unstamps: str | None = None


_ENDED = "sync_ended_at"

#: Every action's facts. The user actions come in menu order.
ACTION_FACTS: dict[Action, ActionFacts] = {
    Action.CONFIGURE: ActionFacts(L, local_only=True),
    Action.EDIT: ActionFacts(L, local_only=True),
    Action.SEND: ActionFacts(L, user_action=True),
    Action.REMOVE: ActionFacts(L, user_action=True, local_only=True),
    Action.CANCEL: ActionFacts(L, user_action=True, reason_column="cancel_reason"),
    Action.ACCEPT: ActionFacts(S, user_action=True),
    Action.DECLINE: ActionFacts(S, user_action=True, reason_required=True, reason_column="decline_reason"),
    Action.SUBMIT: ActionFacts(S, user_action=True, stamps="suspended_at"),
    Action.APPROVE: ActionFacts(L, user_action=True, stamps=_ENDED),
    Action.REJECT: ActionFacts(
        L, user_action=True, reason_required=True, reason_column="reject_reason", unstamps="suspended_at"
    ),
    Action.COMPLETE: ActionFacts(L, user_action=True, stamps=_ENDED),
    Action.AUTO_DECLINE: ActionFacts(SYS, system=True, reason_required=True, reason_column="decline_reason"),
    Action.START_WORK: ActionFacts(S),
    Action.TICKET_COMPLETE: ActionFacts(SYS, system=True, stamps=_ENDED),
    Action.WITHDRAW: ActionFacts(SYS, compensation=True, reason_column="cancel_reason"),
    Action.LAPSE: ActionFacts(SYS, compensation=True, reason_column="decline_reason"),
    Action.OVERRULE: ActionFacts(SYS, compensation=True, stamps=_ENDED),
    Action.BACKFILL: ActionFacts(None),
    Action.REPAIR: ActionFacts(None),
    Action.TICKET_DELETED: ActionFacts(None),
}

#: Actions a user asks for by name through ``POST .../actions`` and the menu, in menu order.
USER_ACTIONS = tuple(action for action, facts in ACTION_FACTS.items() if facts.user_action)


def acting_side(action: Action, partner: Side) -> Side:
    """The side a partner's relayed ``action`` is taken by here: the system's for what the
    plugin raises for both sides (an auto-decline, the completion cascade), else the partner's."""
    return Side.SYSTEM if ACTION_FACTS[action].system else partner


def permits(status: Status | None, action: Action, side: Side | None = None) -> bool:
    """Whether the table holds ``action`` in ``status``, taken by ``side`` (default: its own side)."""
    side = side or ACTION_FACTS[action].side
    return side is not None and (action, side) in TRANSITIONS[status]


def reached_by(action: Action, side: Side) -> frozenset[Status | None]:
    """Every status that ``action`` taken by ``side`` can lead to, from wherever it applies."""
    return frozenset(row[(action, side)] for row in TRANSITIONS.values() if (action, side) in row)


def crossed(status: Status, action: Action, side: Side) -> tuple[bool, Action | None]:
    """Whether the partner's ``action`` crossed one of ours, and how it is settled (see ``CROSSED``).

    Only an action the table refuses in ``status`` can have crossed: one it allows simply applies.
    """
    if (action, side) in TRANSITIONS[status] or (status, action) not in CROSSED:
        return False, None
    return True, CROSSED[(status, action)]


def target(status: Status | None, action: Action, side: Side) -> Status | None:
    """The status that (status, action, side) leads to.

    Raises ``TransitionRefused`` for a combination the table does not hold.
    """
    from outsource_plugin.errors import TransitionRefused

    row = TRANSITIONS[status]
    if (action, side) not in row:
        shown = status.label if status else "not outsourced"
        raise TransitionRefused(
            f"'{action.value}' by the {side.value} side is not allowed while the ticket is {shown}",
            details={"status": status.value if status else None, "action": action.value, "side": side.value},
        )
    return row[(action, side)]


#: What a user can be offered, in menu order: configuring plus the named actions.
MENU_ACTIONS = (Action.CONFIGURE, Action.EDIT, *USER_ACTIONS)


def allowed(status: Status | None, side: Side) -> list[Action]:
    """The actions a user of ``side`` may take in ``status``, in menu order."""
    row = TRANSITIONS[status]
    return [a for a in MENU_ACTIONS if (a, side) in row]


def sync_state(status: Status | None) -> SyncState:
    if status in (Status.ACCEPTED, Status.IN_PROGRESS):
        return SyncState.ACTIVE
    if status is Status.WAITING_APPROVAL:
        return SyncState.SUSPENDED
    if status is Status.COMPLETE:
        return SyncState.ENDED
    return SyncState.NONE


class Folder(str, Enum):
    """The Outsource Dashboard's folders."""

    UNSENT = "unsent"
    WAITING_ACCEPTANCE = "waiting_acceptance"
    DECLINED = "declined"
    ACCEPTED_OR_IN_PROGRESS = "accepted_or_in_progress"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETE = "complete"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return {"accepted_or_in_progress": "Accepted or In Progress"}.get(
            self.value, self.value.replace("_", " ").title()
        )


FOLDER_STATUSES: dict[Folder, tuple[Status, ...]] = {
    Folder.UNSENT: (Status.UNSENT,),
    Folder.WAITING_ACCEPTANCE: (Status.ASSIGNED,),
    Folder.DECLINED: (Status.DECLINED,),
    Folder.ACCEPTED_OR_IN_PROGRESS: (Status.ACCEPTED, Status.IN_PROGRESS),
    Folder.WAITING_APPROVAL: (Status.WAITING_APPROVAL,),
    Folder.COMPLETE: (Status.COMPLETE,),
    Folder.CANCELED: (Status.CANCELED,),
}


def folders_for(side: Side) -> list[Folder]:
    """Unsent exists only for the lead: a service partner never sees an unsent offer."""
    return [f for f in Folder if not (f is Folder.UNSENT and side is Side.SERVICE)]
