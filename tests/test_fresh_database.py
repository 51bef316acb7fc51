"""The PostgreSQL pass shares one server (100 connections by default) between every fixture of the
run and the topology tests' dozen processes, so a fixture's database must not keep a connection
of its own open while it is in use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import admin_name, fresh_database

pytestmark = pytest.mark.postgresql


def admin_connections(server: str) -> int:
    """This process's connections that create and drop test databases, open now."""
    engine = create_engine(f"{server.rstrip('/')}/postgres", pool_size=1)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
            return int(conn.execute(query, {"name": admin_name()}).scalar_one())
    finally:
        engine.dispose()


def test_a_fresh_database_holds_no_connection_to_the_server_while_it_is_in_use(tmp_path: Path) -> None:
    server = os.environ["OUTSOURCE_TEST_DATABASE_URL"]
    with fresh_database(tmp_path) as url:
        assert url.startswith(server.rstrip("/"))
        assert admin_connections(server) == 0
