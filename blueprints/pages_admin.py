"""Partner administration pages: list, register, edit, disable, test the connection,
and the dead-lettered deliveries with retry. Allow Partner Management."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class, adapter_names
from outsource_plugin.blueprints.pages_common import ID, caller, pages, render, state, terms_fields, terms_from_form
from outsource_plugin.core.partners import (
    check_connection,
    create_partner,
    get_partner,
    kept_aside_mail,
    update_partner,
)
from outsource_plugin.db.models import Partner
from outsource_plugin.db.outbox import dead_letters, retry_dead_letter
from outsource_plugin.errors import Conflict, ValidationFailed
from outsource_plugin.partnership import rotation
from outsource_plugin.partnership.invitations import invitation_json, open_invitations
from outsource_plugin.partnership.leaving import ended_notice, leave_partnership, our_leave
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import LeaveSchema, load


class SettingField(NamedTuple):
    """One input of an adapter's settings form, read off its marshmallow schema."""

    name: str
    label: str
    input_type: str  # text, url, number, checkbox, password
    required: bool
    secret: bool


def setting_fields(adapter: str) -> list[SettingField]:
    cls = adapter_class(adapter)
    schema: Schema = cls.config_schema()
    out = []
    for name, field in schema.fields.items():
        secret = name in cls.secret_fields
        if secret:
            kind = "password"
        elif isinstance(field, fields.Url):
            kind = "url"
        elif isinstance(field, fields.Integer | fields.Float | fields.Decimal):
            kind = "number"
        elif isinstance(field, fields.Boolean):
            kind = "checkbox"
        else:
            kind = "text"
        label = (field.metadata.get("label") if field.metadata else None) or name.replace("_", " ").capitalize()
        out.append(SettingField(name, str(label), kind, bool(field.required), secret))
    return out


def _body_from_form(adapter: str, level: Permission) -> dict[str, Any]:
    """The form as a ``PartnerSchema`` body. A blank secret is left out: it keeps its stored value."""
    form = request.form
    config: dict[str, Any] = {}
    for setting in setting_fields(adapter):
        if setting.input_type == "checkbox":
            config[setting.name] = setting.name in form
            continue
        raw = form.get(f"config.{setting.name}", "").strip()
        if raw:
            config[setting.name] = raw
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "adapter": adapter,
        "config": config,
        "default_terms": terms_from_form(form, level, prefix="terms."),
        "customer_ref": form.get("customer_ref") or None,
        "notify_email": form.get("notify_email", "").strip() or None,
        "active": "active" in form,
    }
    return body


def _shown(value: Any) -> Any:
    """A setting as its form field holds it: a list (an e-mail partner's addresses) as one line."""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else value


def _form(
    partner: Partner | None, adapter: str, status: int = 200, error: ValidationFailed | Conflict | None = None
) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    values: dict[str, Any]
    if error is not None:
        values = dict(request.form)
    elif partner is not None:
        secrets = adapter_class(partner.adapter).secret_fields
        values = {
            "name": partner.name,
            "customer_ref": partner.customer_ref or "",
            "notify_email": partner.notify_email or "",
            "active": partner.active,
            **{f"config.{k}": _shown(v) for k, v in partner.config.items() if k not in secrets},
            **{f"terms.{k}": v for k, v in (partner.default_terms or {}).items()},
        }
    else:
        values = {"active": True}
    return render(
        "outsource/partner_form.html",
        status,
        partner=partner,
        adapter=adapter,
        adapter_label=getattr(adapter_class(adapter), "label", adapter),
        adapters=adapter_names(),
        settings=setting_fields(adapter),
        secrets_set=[k for k in adapter_class(adapter).secret_fields if partner and partner.config.get(k)],
        rotatable=partner is not None and rotation.ROTATION in adapter_class(partner.adapter).state_fields,
        keys=rotation.describe(partner.config, partner.name) if partner is not None else None,
        terms=terms_fields(user.permission),
        customers=state().host.list_customers(),
        values=values,
        error=error,
        ended=ended_notice(partner) if partner is not None else None,
        left=our_leave(partner) if partner is not None else None,
        kept_aside=kept_aside_mail(state().session, partner.id) if partner else [],
    )


@pages.get("/partners")
def partners() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    session = state().session
    rows = list(session.scalars(select(Partner).order_by(Partner.active.desc(), Partner.name)))
    invited = [invitation_json(i) for i in open_invitations(session)]
    ended = {p.id: ended_notice(p) for p in rows}
    return render(
        "outsource/partners.html", partners=rows, ended=ended, invitations=invited, dead=len(dead_letters(session))
    )


@pages.get("/partners/new")
def partner_new() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    adapter = request.args.get("adapter") or (adapter_names() or ["memory"])[0]
    return _form(None, adapter)


@pages.post("/partners/new")
def partner_create() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    adapter = request.form.get("adapter", "")
    try:
        partner = create_partner(state(), _body_from_form(adapter, user.permission), user.permission)
        state().session.commit()
    except (ValidationFailed, Conflict) as err:
        state().session.rollback()
        if adapter not in adapter_names():
            raise
        return _form(None, adapter, err.status_code, err)
    flash(f"Partner {partner.name} registered.")
    return redirect(url_for("outsource_pages.partner_edit", partner_id=partner.id))


@pages.get(f"/partners/<{ID}:partner_id>")
def partner_edit(partner_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    partner = get_partner(state().session, partner_id)
    return _form(partner, partner.adapter)


@pages.post(f"/partners/<{ID}:partner_id>")
def partner_update(partner_id: int) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partner = get_partner(state().session, partner_id)
    try:
        update_partner(state(), partner, _body_from_form(partner.adapter, user.permission), user.permission)
        state().session.commit()
    except (ValidationFailed, Conflict) as err:
        state().session.rollback()
        return _form(get_partner(state().session, partner_id), partner.adapter, err.status_code, err)
    flash(f"Partner {partner.name} saved.")
    return redirect(url_for("outsource_pages.partner_edit", partner_id=partner.id))


@pages.post(f"/partners/<{ID}:partner_id>/disable")
def partner_disable(partner_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    reason = load(LeaveSchema(), {"reason": request.form.get("reason", "")})["reason"]
    partner = leave_partnership(state().session, get_partner(state().session, partner_id), reason)
    state().session.commit()
    told = " It is told why; enabling it here again does not enable us on its side." if partner.leave_due_at else ""
    flash(f"Partner {partner.name} disabled: it keeps its history but cannot be chosen or polled.{told}")
    return redirect(url_for("outsource_pages.partners"))


@pages.post(f"/partners/<{ID}:partner_id>/test")
def partner_test(partner_id: int) -> ResponseReturnValue:
    """Ask the adapter to reach the partner system and say what it found."""
    caller(Permission.PARTNER_MANAGEMENT)
    partner = get_partner(state().session, partner_id)
    result = check_connection(state(), partner)
    flash(f"Connection test {'passed' if result.passed else 'failed'}: {result.message}")
    return redirect(url_for("outsource_pages.partner_edit", partner_id=partner.id))


@pages.post(f"/partners/<{ID}:partner_id>/rotate")
def partner_rotate(partner_id: int) -> ResponseReturnValue:
    """Start a key rotation with a peer: it goes on in the background, and the page says how far."""
    caller(Permission.PARTNER_MANAGEMENT)
    partner = get_partner(state().session, partner_id)
    started = rotation.begin(partner, time.time())
    state().session.commit()
    flash(
        f"Key rotation with {partner.name} started: both keys are accepted until {partner.name} confirms."
        if started
        else f"A key rotation with {partner.name} is already under way."
    )
    return redirect(url_for("outsource_pages.partner_edit", partner_id=partner.id))


@pages.get("/deadletters")
def deadletters() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    session = state().session
    names = {row.id: row.name for row in session.execute(select(Partner.id, Partner.name))}
    return render("outsource/deadletters.html", messages=dead_letters(session), partner_names=names)


@pages.post(f"/deadletters/<{ID}:message_id>/retry")
def deadletter_retry(message_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    retry_dead_letter(state().session, message_id)
    state().session.commit()
    flash(f"Delivery {message_id} is queued again.")
    return redirect(url_for("outsource_pages.deadletters"))
