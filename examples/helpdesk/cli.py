"""``flask helpdesk seed``: demo users, customers, tickets and a simulated partner.

Another help desk becomes a partner by invitation (``flask outsource partners
invite`` here, ``join`` there), as ``make demo`` does, never by a secret given here.
"""

from __future__ import annotations

from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from examples.helpdesk.models import Customer, Note, Ticket, User, db
from outsource_plugin.db.models import Partner
from outsource_plugin.permissions import Permission

helpdesk_cli = AppGroup("helpdesk", help="The demo help desk.")

DEMO_USERS = (
    ("admin", "Ada Admin", Permission.ALL),
    ("manager", "Max Manager", Permission.PARTNER_MANAGEMENT),
    ("tech", "Tess Tech", Permission.OUTSOURCE),
    ("viewer", "Vic Viewer", Permission.NONE),
)


@helpdesk_cli.command("seed")
@click.option("--domain", default="northwind.example", help="E-mail domain of the demo users.")
@click.option("--password", default="demo", help="Password of every demo user.")
@click.option("--simulated-partner/--no-simulated-partner", default=True, help="Add an in-memory partner on autopilot.")
def seed(domain: str, password: str, simulated_partner: bool) -> None:
    """Create the demo data once; running it again changes nothing."""
    if db.session.scalars(select(User)).first() is not None:
        click.echo("already seeded")
        return
    for key, name, level in DEMO_USERS:
        user = User(email=f"{key}@{domain}", name=name, outsource_level=int(level), api_token=f"{key}-{domain}-token")
        user.set_password(password)
        db.session.add(user)
    customers = [Customer(name=n) for n in ("Acme Corp", "Globex", "Initech")]
    db.session.add_all(customers)
    db.session.flush()
    statuses = current_app.config["HELPDESK_STATUSES"]
    for i, (title, priority) in enumerate(
        (
            ("Printer on 3rd floor jams", "Medium"),
            ("Replace failed RAID disk at branch office", "High"),
            ("New starter laptop setup", "Low"),
            ("Site survey for Wi-Fi upgrade", "Medium"),
        )
    ):
        ticket = Ticket(
            title=title,
            description=f"{title}. Reported by the customer's office manager.",
            priority=priority,
            status=statuses[0],
            due_date=date.today() + timedelta(days=7 + i),
            customer_id=customers[i % len(customers)].id,
            contact={"name": "Pat Contact", "email": "pat@customer.example", "phone": "+1 555 0100"},
        )
        db.session.add(ticket)
        db.session.flush()
        db.session.add(Note(ticket_id=ticket.id, author="Ada Admin", body="Customer called it in.", internal=True))
    if simulated_partner:
        db.session.add(
            Partner(
                name="Simulated partner (accepts everything)",
                adapter="memory",
                config={"autopilot": True},
                default_terms={"rate_type": "hourly", "outsource_rate": "85.00", "acceptance_hours": 48},
                active=True,
            )
        )
    db.session.commit()
    for key, _, level in DEMO_USERS:
        click.echo(f"{key}@{domain} / {password}  level={level.label}  token={key}-{domain}-token")
