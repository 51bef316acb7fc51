"""Fabrikam's own JSON API and case page, and the ``flask seed`` command the tests use.

``GET  /api/clients``                       clients
``POST /api/cases``                         open a case: ``{"subject", "details"}``
``GET  /api/cases/<uuid>``                  a case with its comments, expenses and files
``PATCH /api/cases/<uuid>``                 change its ``state``
``POST /api/cases/<uuid>/comments``         ``{"message", "staff_only"}``
``POST /api/cases/<uuid>/expenses``         ``{"label", "qty", "sell_each", "cost_each", "chargeable"}``
``POST /api/cases/<uuid>/files``            multipart field ``file``, form field ``staff_only``
``GET  /cases/<uuid>``                      the case page, with the Outsource menu and the blue bar
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import click
from flask import Blueprint, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from outsource_plugin.errors import OutsourceError
from tests.second_host.app import signed_in_agent
from tests.second_host.models import Agent, Case, CaseComment, CaseExpense, CaseFile, Client, db

fabrikam = Blueprint("fabrikam", __name__, template_folder="templates")


@fabrikam.errorhandler(OutsourceError)
def _outsource_error(err: OutsourceError) -> ResponseReturnValue:
    """A change the plugin refuses (a partner's read-only entry) rolls back and says why."""
    db.session.rollback()
    return jsonify(err.to_dict()), err.status_code


@fabrikam.before_request
def _signed_in() -> None:
    if signed_in_agent() is None:
        abort(401)


def _case(case_id: uuid.UUID) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        abort(404)
    return case


def case_json(case: Case) -> dict[str, Any]:
    return {
        "uuid": str(case.uuid),
        "reference": case.reference,
        "subject": case.subject,
        "details": case.details,
        "state": case.state,
        "urgency": case.urgency,
        "client_no": case.client_no,
        "comments": [
            {"no": c.comment_no, "message": c.message, "staff_only": c.staff_only, "written_by": c.written_by}
            for c in case.comments
        ],
        "expenses": [
            {
                "no": e.expense_no,
                "label": e.label,
                "qty": str(e.qty),
                "sell_each": str(e.sell_each),
                "cost_each": str(e.cost_each),
                "chargeable": e.chargeable,
            }
            for e in case.expenses
        ],
        "files": [
            {"uuid": str(f.file_uuid), "file_name": f.file_name, "byte_count": f.byte_count, "staff_only": f.staff_only}
            for f in case.files
        ],
    }


@fabrikam.get("/api/clients")
def clients() -> ResponseReturnValue:
    rows = db.session.scalars(select(Client).order_by(Client.company))
    return jsonify({"clients": [{"client_no": c.client_no, "company": c.company} for c in rows]})


@fabrikam.post("/api/cases")
def case_create() -> ResponseReturnValue:
    body = request.get_json()
    case = Case(subject=body["subject"], details=body.get("details", ""))
    db.session.add(case)
    db.session.commit()
    return jsonify(case_json(case)), 201


@fabrikam.get("/api/cases/<uuid:case_id>")
def case_read(case_id: uuid.UUID) -> ResponseReturnValue:
    return jsonify(case_json(_case(case_id)))


@fabrikam.patch("/api/cases/<uuid:case_id>")
def case_update(case_id: uuid.UUID) -> ResponseReturnValue:
    case = _case(case_id)
    case.state = request.get_json()["state"]
    db.session.commit()
    return jsonify(case_json(case))


@fabrikam.post("/api/cases/<uuid:case_id>/comments")
def comment_create(case_id: uuid.UUID) -> ResponseReturnValue:
    body = request.get_json()
    agent: Agent = signed_in_agent()  # type: ignore[assignment]
    comment = CaseComment(
        case_uuid=_case(case_id).uuid,
        message=body["message"],
        staff_only=bool(body.get("staff_only", False)),
        written_by=agent.full_name,
    )
    db.session.add(comment)
    db.session.commit()
    return jsonify({"no": comment.comment_no}), 201


@fabrikam.post("/api/cases/<uuid:case_id>/expenses")
def expense_create(case_id: uuid.UUID) -> ResponseReturnValue:
    body = request.get_json()
    expense = CaseExpense(
        case_uuid=_case(case_id).uuid,
        label=body["label"],
        qty=Decimal(body.get("qty", "1")),
        sell_each=Decimal(body.get("sell_each", "0")),
        cost_each=Decimal(body.get("cost_each", "0")),
        chargeable=bool(body.get("chargeable", True)),
    )
    db.session.add(expense)
    db.session.commit()
    return jsonify({"no": expense.expense_no}), 201


@fabrikam.post("/api/cases/<uuid:case_id>/files")
def file_create(case_id: uuid.UUID) -> ResponseReturnValue:
    upload = request.files["file"]
    content = upload.read()
    stored = CaseFile(
        case_uuid=_case(case_id).uuid,
        file_name=upload.filename or "file",
        mime=upload.mimetype or "application/octet-stream",
        byte_count=len(content),
        content=content,
        staff_only=request.form.get("staff_only") == "true",
    )
    db.session.add(stored)
    db.session.commit()
    return jsonify({"uuid": str(stored.file_uuid)}), 201


@fabrikam.get("/cases/<uuid:case_id>")
def case_page(case_id: uuid.UUID) -> ResponseReturnValue:
    return render_template("fabrikam_case.html", case=_case(case_id))


@fabrikam.cli.command("seed")
@click.option("--domain", required=True, help="The domain in each agent's API token, e.g. fabrikam.example.")
def seed(domain: str) -> None:
    """One agent per role, with the token ``<role>-<domain>-token``, and two clients."""
    for role, name in (("owner", "admin"), ("supervisor", "manager"), ("agent", "tech"), ("viewer", "viewer")):
        db.session.add(Agent(full_name=f"{name.title()} at {domain}", role=role, token=f"{name}-{domain}-token"))
    db.session.add_all([Client(company="Tailspin Toys"), Client(company="Wide World Importers")])
    db.session.commit()
