"""What the plugin's HTML pages share: the blueprint, the caller, links and form parsing.

The pages are thin: they parse a form into the same shapes the JSON API
takes, call the same core functions, and render a template.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from outsource_plugin.blueprints.api_common import ID as ID
from outsource_plugin.blueprints.api_common import caller as caller
from outsource_plugin.blueprints.api_common import canonical_ticket_id, state
from outsource_plugin.blueprints.csrf import protect
from outsource_plugin.blueprints.errors import answer_in_pages
from outsource_plugin.blueprints.frame import PagesBlueprint
from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.blueprints.nav import home_url
from outsource_plugin.db.models import Engagement
from outsource_plugin.errors import Conflict, ValidationFailed
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import FINANCIAL_TERMS

pages = PagesBlueprint(
    "outsource_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
limit_body(pages, json_limit)
answer_in_pages(pages)
protect(pages)
pages.url_value_preprocessor(canonical_ticket_id)


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    user = state().host.current_user()
    level = user.permission if user else Permission.NONE
    return render_template(template, user=user, level=level, Permission=Permission, **context), status


def ticket_url(ticket_id: str | None, engagement: Engagement | None = None) -> str:
    """The host's page for a ticket when the host says where it is, else the engagement page,
    else the caller's own landing page (pages that use this need Allow Outsourcing)."""
    pattern = str(state().config["OUTSOURCE_TICKET_URL"])
    if ticket_id and pattern:
        return pattern.format(ticket_id=ticket_id)
    if engagement is not None:
        return url_for("outsource_pages.engagement_page", engagement_id=engagement.id)
    user = state().host.current_user()
    return home_url(user.permission if user else None) or "/"


def refuse_on_complete_ticket(ticket_id: str | None) -> None:
    if ticket_id is None:
        return
    ticket = state().host.get_ticket(ticket_id)
    if ticket is not None and ticket.is_complete:
        raise Conflict(f"ticket {ticket.number} is Complete: outsourcing actions are closed")


class TermField(NamedTuple):
    name: str
    label: str
    kind: str  # money, hours, date, int, text, rate_type

    @property
    def financial(self) -> bool:
        return self.name in FINANCIAL_TERMS


TERM_FIELDS = (
    TermField("rate_type", "Rate type", "rate_type"),
    TermField("outsource_rate", "Outsource rate (per hour)", "money"),
    TermField("flat_rate", "Flat rate", "money"),
    TermField("bill_rate", "Rate billed to the customer (per hour)", "money"),
    TermField("authorised_hours", "Authorised hours", "hours"),
    TermField("authorised_charges", "Authorised charges", "money"),
    TermField("total_authorised", "Total authorised", "money"),
    TermField("complete_by", "Complete by", "date"),
    TermField("acceptance_hours", "Hours to accept before auto-decline", "int"),
    TermField("instructions", "Instructions to the service partner", "text"),
)


def terms_fields(level: Permission) -> list[TermField]:
    """The terms a user may see and set: financial ones only with Allow All."""
    return [f for f in TERM_FIELDS if level >= Permission.ALL or not f.financial]


def terms_from_form(form: MultiDict[str, str], level: Permission, prefix: str = "") -> dict[str, Any]:
    """The terms a form filled in, in the JSON API's shape; an emptied field is ``None``, which
    clears its term (the form shows every term the user may set, so a blank one was emptied).

    A whole number that does not parse stays the text typed: the schema then refuses it
    together with every other bad term, so the form can mark them all at once."""
    terms: dict[str, Any] = {}
    for field in terms_fields(level):
        raw = form.get(prefix + field.name, "").strip()
        if not raw:
            terms[field.name] = None
        elif field.kind == "int" and raw.isascii() and raw.removeprefix("-").isdigit():
            terms[field.name] = int(raw)
        else:
            terms[field.name] = raw
    return terms


def form_int(form: MultiDict[str, str], name: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError as err:
        raise ValidationFailed(f"choose a {name.replace('_', ' ')}", details={name: ["required"]}) from err


#: what each menu option and action page is called
ACTION_LABELS = {
    "configure": "Outsource Ticket",
    "edit": "Edit Partner and Terms",
    "send": "View Terms and Send",
    "remove": "Remove",
    "cancel": "Cancel Outsourcing",
    "accept": "Accept",
    "decline": "Decline",
    "submit": "Submit for Approval",
    "approve": "Approve",
    "reject": "Reject",
    "complete": "Complete",
    "question": "Ask the Lead a Question",
}

#: one sentence on each action page saying what the button will do
ACTION_HELP = {
    "remove": "The unsent outsourcing configuration is deleted; the ticket can be outsourced again.",
    "cancel": "The partner is told the offer is withdrawn; the ticket can then be outsourced again.",
    "accept": "A service ticket is opened here and synchronisation starts.",
    "decline": "The lead partner sees your reason.",
    "submit": "The lead partner is asked to approve the work; synchronisation is suspended until then.",
    "approve": "The outsourcing is Complete and synchronisation ends.",
    "reject": "The partner gets your reason as a note and synchronisation resumes.",
    "complete": "Set Complete before the partner submits: synchronisation ends now.",
    "send": "The frozen terms go to the partner, who can accept or decline.",
}

#: what the page says once an action is done
ACTION_DONE = {
    "send": "Sent to the partner",
    "cancel": "Outsourcing canceled",
    "accept": "Accepted",
    "decline": "Declined",
    "submit": "Submitted for approval",
    "approve": "Approved",
    "reject": "Rejected",
    "complete": "Completed",
}
