"""The plugin's Alembic migrations, each test on a database of its own (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import Engine, create_engine, inspect, text

from examples.helpdesk.models import User, db
from outsource_plugin.db import migrate
from outsource_plugin.db.models import Base
from outsource_plugin.errors import MigrationFailed
from outsource_plugin.permissions import Permission
from tests.conftest import fresh_database, make_app

PLUGIN_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(tmp_path) as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The demo help desk on a database of its own: start-up runs ``upgrade head``."""
    with fresh_database(tmp_path) as url:
        app = make_app(url, tmp_path / "instance")
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return migrate.current_revision(connection)


def test_upgrade_from_empty_creates_every_table(engine: Engine) -> None:
    assert _tables(engine) == set()
    migrate.upgrade(engine)
    assert _tables(engine) == PLUGIN_TABLES | {migrate.VERSION_TABLE}
    assert _revision(engine) == migrate.head_revision() is not None


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert _tables(engine) & PLUGIN_TABLES == set()
    assert _revision(engine) is None
    migrate.upgrade(engine)
    assert _tables(engine) >= PLUGIN_TABLES
    assert migrate.schema_differences(engine) == []


def test_models_and_migrations_agree(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_outsource_outbox_feed"))
    drift = migrate.schema_differences(engine)
    assert [(d[0], d[1].name) for d in drift] == [("add_index", "ix_outsource_outbox_feed")]


def test_version_table_is_the_plugins_own(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('host_rev_42')"))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM outsource_alembic_version")).scalars().all() == [
            migrate.head_revision()
        ]
    migrate.downgrade(engine, "base")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["host_rev_42"]
    assert "alembic_version" in _tables(engine)


def _old_partner(connection: Any) -> None:
    """A partner row written before the revision under test, as SQL of its time."""
    connection.execute(
        text(
            "INSERT INTO outsource_partner (name, adapter, config, default_terms, active, created_at, "
            "updated_at, outbound_seq) VALUES ('Old', 'memory', '{}', '{}', true, :now, :now, 0)"
        ),
        {"now": "2026-01-01 00:00:00"},
    )


def test_tables_made_by_create_all_are_adopted_with_their_data(engine: Engine) -> None:
    # the tables as ``create_all`` made them before migrations existed: the baseline's, unstamped
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
        _old_partner(connection)
    migrate.upgrade(engine)
    # stamped at the baseline, then upgraded past it to the head
    assert _revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM outsource_partner")).scalars().all() == ["Old"]


def test_two_open_engagements_of_one_ticket_stop_the_upgrade_with_their_tickets_named(engine: Engine) -> None:
    migrate.upgrade(engine, "0004_causal")
    with engine.begin() as connection:
        _old_partner(connection)
        for uid, status in (("a" * 32, "assigned"), ("b" * 32, "in_progress"), ("c" * 32, "canceled")):
            connection.execute(
                text(
                    "INSERT INTO outsource_engagement (uid, role, ticket_id, partner_id, status, terms, "
                    "created_at, updated_at) SELECT :uid, 'lead', '7', id, :status, '{}', :now, :now "
                    "FROM outsource_partner"
                ),
                {"uid": uid, "status": status, "now": "2026-01-01 00:00:00"},
            )
    with pytest.raises(MigrationFailed, match=r"ticket 7 \(2 open as lead\); cancel or complete all but one"):
        migrate.upgrade(engine)
    assert _revision(engine) == "0004_causal"


def _host_autogenerate(engine: Engine, **options: Any) -> list[Any]:
    """What the host's own ``flask db migrate`` would write: its metadata against the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, db.metadata))


def test_the_hosts_autogenerate_with_the_filter_leaves_the_plugins_tables_alone(engine: Engine) -> None:
    db.metadata.create_all(engine)
    migrate.upgrade(engine)
    assert _host_autogenerate(engine, include_object=migrate.include_object) == []
    # without it, the host's next migration would drop every plugin table (what the filter is for)
    dropped = {diff[1].name for diff in _host_autogenerate(engine) if diff[0] == "remove_table"}
    assert dropped == PLUGIN_TABLES | {migrate.VERSION_TABLE}


def test_unknown_revision_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(MigrationFailed, match="Can't locate revision identified by 'nope'"):
        migrate.upgrade(engine, "nope")
    assert _tables(engine) & PLUGIN_TABLES == set()


def test_start_up_migrates_and_a_data_free_app_works(app: Flask) -> None:
    with app.app_context():
        assert _revision(db.engine) == migrate.head_revision()
        user = User(email="a@t.example", name="A", outsource_level=int(Permission.ALL), api_token="adm")
        user.set_password("pw")
        db.session.add(user)
        db.session.commit()
    client = app.test_client()
    answer = client.get("/outsource/api/v1/partners", headers={"Authorization": "Bearer adm"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"partners": []}
    assert client.get("/outsource/api/v1/dashboard", headers={"Authorization": "Bearer adm"}).status_code == 200


def test_cli_downgrade_upgrade_and_current(app: Flask) -> None:
    runner = app.test_cli_runner()
    head = migrate.head_revision()
    result = runner.invoke(args=["outsource", "db", "current"])
    assert result.exit_code == 0, result.output
    assert f"outsource schema: {head} (head: {head})" in result.output

    result = runner.invoke(args=["outsource", "db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "outsource schema: base (no tables)" in result.output
    with app.app_context():
        assert _tables(db.engine) & PLUGIN_TABLES == set()
        assert "hd_ticket" in _tables(db.engine)  # the host's tables stay

    result = runner.invoke(args=["outsource", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _tables(db.engine) >= PLUGIN_TABLES


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_cli_bad_revision_exits_non_zero(app: Flask, command: str) -> None:
    result = app.test_cli_runner().invoke(args=["outsource", "db", command, "no-such-rev"])
    assert result.exit_code == 1
    assert f"Error: cannot {command} the outsource tables to 'no-such-rev'" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert _revision(db.engine) == migrate.head_revision()


def test_cli_downgrade_needs_a_revision(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["outsource", "db", "downgrade"])
    assert result.exit_code == 2
    assert "Missing argument 'REVISION'" in result.output


def test_the_counters_revision_counts_the_engagements_there_are(engine: Engine) -> None:
    migrate.upgrade(engine, "0011_invitations")
    with engine.begin() as connection:
        _old_partner(connection)
        for n, (role, status) in enumerate(
            [("lead", "accepted"), ("lead", "accepted"), ("lead", "complete"), ("service", "assigned")]
        ):
            connection.execute(
                text(
                    "INSERT INTO outsource_engagement (uid, role, ticket_id, partner_id, status, terms, created_at, "
                    "updated_at) VALUES (:uid, :role, :ticket, 1, :status, '{}', :now, :now)"
                ),
                {"uid": f"u{n}", "role": role, "ticket": str(n), "status": status, "now": "2026-01-01 00:00:00"},
            )
    migrate.upgrade(engine, "0015_counters")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT role, status, amount FROM outsource_status_count")).all()
    assert sorted(tuple(r) for r in rows) == [
        ("lead", "accepted", 2),
        ("lead", "complete", 1),
        ("service", "assigned", 1),
    ]
    assert "ix_outsource_engagement_folder_created" in {
        i["name"] for i in inspect(engine).get_indexes("outsource_engagement")
    }
