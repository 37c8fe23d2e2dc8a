"""Shared fixtures: a real SQLite file and, where TEST_DATABASE_URL is set, PostgreSQL.

Every test that takes ``engine`` runs once per database. On PostgreSQL each
test run gets a database of its own, created from TEST_DATABASE_URL and
dropped at the end, so parallel runs and leftovers never meet.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from core.db import make_engine

from tests.siigo_fixtures import *  # noqa: F401,F403  (sandbox and client fixtures)

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this test run."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL no está definido")
    base = make_url(PG_URL)
    name = f"aliados_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aliados.sqlite'}"
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    if engine.dialect.name == "postgresql":
        SQLModel.metadata.drop_all(engine)
    engine.dispose()
