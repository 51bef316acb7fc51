"""The public pages behind an e-mail partner's links: Accept, Decline with a reason, and Work is done.

No login: the signed link is the partner's only credential (``federation.mail_links``).
The page shows the offer and a form carrying the plugin's CSRF token; the POST
checks the link again, records its use (``db.link_uses``: each link works once),
applies the partner's action as any partner's action is applied (``sync.inbound``)
and commits both together. An accept also queues the confirmation
e-mail (the adapter sends it with the Work is done link), so it is retried like
every delivery.
"""

from __future__ import annotations

from decimal import Decimal
from secrets import token_hex
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.blueprints.csrf import protect
from outsource_plugin.blueprints.errors import answer_in_pages
from outsource_plugin.blueprints.frame import PagesBlueprint
from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.db.link_uses import record_use, refuse_used
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.db.outbox import enqueue
from outsource_plugin.errors import MailLinkRefused, ValidationFailed
from outsource_plugin.federation.mail_links import LinkAction, MailLink, app_key, read_link
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.inbound import apply_change
from outsource_plugin.wire import ActionMessage, EntryMessage, Origin, WireOp
from outsource_plugin.workflow import Action, Side, Status

mail_links = PagesBlueprint("outsource_mail_links", __name__, template_folder="templates")
limit_body(mail_links, json_limit)
answer_in_pages(mail_links, public=True)
protect(mail_links)

ACTIONS = {LinkAction.ACCEPT: Action.ACCEPT, LinkAction.DECLINE: Action.DECLINE, LinkAction.DONE: Action.SUBMIT}
#: the statuses in which each (unused) link works: a link of a withdrawn offer or of submitted work is refused
OPEN = {
    LinkAction.ACCEPT: {Status.ASSIGNED},
    LinkAction.DECLINE: {Status.ASSIGNED},
    LinkAction.DONE: {Status.ACCEPTED, Status.IN_PROGRESS},
    LinkAction.TIME: {Status.ACCEPTED, Status.IN_PROGRESS},
}


class TimeForm(Schema):
    """Time the partner logs through the Log time link; ``entry``, the form's own key, names the time entry.
    The link works once, so a form sent twice (a double click, a replay) is one entry."""

    hours = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=Decimal("0.01"), max=Decimal("24"))
    )
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))
    entry = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$"))
    csrf_token = fields.String(load_default="")


class AnswerForm(Schema):
    """The partner's answer: a reason is required to decline, and kept short enough to read."""

    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    csrf_token = fields.String(load_default="")


def _open_engagement(link: MailLink, token: str) -> Engagement:
    """The link's engagement while its action can happen (``OPEN``) and the link is unused; a used link,
    or one of a withdrawn offer, is refused."""
    refuse_used(current_outsource().session, token)
    engagement = (
        current_outsource().session.scalars(select(Engagement).where(Engagement.uid == link.engagement_uid)).first()
    )
    if engagement is None or engagement.partner.adapter != "email":
        raise MailLinkRefused("This link is not one of ours: check that it was copied whole.")
    if engagement.status not in OPEN[link.action]:
        what = "offer" if link.action in (LinkAction.ACCEPT, LinkAction.DECLINE) else "work"
        now = engagement.status.value.replace("_", " ")
        raise MailLinkRefused(f"This {what} is closed ({now}): the link can no longer be used.")
    return engagement


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, user=None, level=Permission.NONE, Permission=Permission, **context), status


def _form(link: MailLink, engagement: Engagement, status: int = 200, error: Exception | None = None) -> tuple[str, int]:
    """The link's page with its form; a Log time form gets a new key of its own."""
    return _page(
        "outsource/mail_link.html",
        status,
        link=link,
        engagement=engagement,
        error=error,
        reason="",
        entry=token_hex(16),
    )


@mail_links.get("/<token>")
def link_page(token: str) -> ResponseReturnValue:
    link = read_link(app_key(current_app.config), token, utcnow())
    engagement = _open_engagement(link, token)
    return _form(link, engagement)


@mail_links.post("/<token>")
def link_answer(token: str) -> ResponseReturnValue:
    link = read_link(app_key(current_app.config), token, utcnow())
    engagement = _open_engagement(link, token)
    if link.action is LinkAction.TIME:
        return _log_time(link, token, engagement)
    try:
        reason = str(AnswerForm().load(request.form.to_dict())["reason"]).strip()
    except ValidationError as err:
        raise ValidationFailed("The answer is not valid.", details=err.normalized_messages()) from err
    if link.action is LinkAction.DECLINE and not reason:
        error = ValidationFailed("Say why you decline: the reason is required.", details={"reason": ["required"]})
        return _form(link, engagement, 400, error)
    state = current_outsource()
    record_use(state.session, token, link.engagement_uid, link.action.value)
    change = RemoteChange(
        ChangeKind.ACTION,
        engagement.uid,
        f"email-link:{link.action.value}:{engagement.uid}",
        action=ACTIONS[link.action],
        reason=reason or None,
        actor=engagement.partner.name,
    )
    apply_change(state, engagement.partner, change)
    if link.action is LinkAction.ACCEPT:
        enqueue(state.session, engagement, ActionMessage(Action.ACCEPT, actor=engagement.partner.name))
    state.session.commit()
    return _page("outsource/mail_link_done.html", link=link, engagement=engagement)


def _log_time(link: MailLink, token: str, engagement: Engagement) -> ResponseReturnValue:
    """The Log time form: one time entry of the partner's, dated today, applied as any partner entry is."""
    try:
        form = TimeForm().load(request.form.to_dict())
    except ValidationError as err:
        error = ValidationFailed("The time is not valid.", details=err.normalized_messages())
        return _form(link, engagement, 400, error)
    state = current_outsource()
    record_use(state.session, token, link.engagement_uid, link.action.value)
    partner = engagement.partner
    now = utcnow()
    data = {
        "work_date": now.date().isoformat(),
        "hours": str(form["hours"]),
        "summary": str(form["note"]).strip(),
        "resource": partner.name,
    }
    key = f"service:time:mail-link-{form['entry']}"
    entry = EntryMessage(
        key, WireOp.UPSERT, EntryKind.TIME, data, Origin(Side.SERVICE, partner.name, partner.name, now.isoformat())
    )
    apply_change(state, partner, RemoteChange(ChangeKind.ENTRY, engagement.uid, key, data=entry.to_wire()))
    state.session.commit()
    return _page("outsource/mail_link_done.html", link=link, engagement=engagement)
