"""A fresh schema of the real PostgreSQL on 127.0.0.1 for a record (skip where none runs).

``PARCELSCREEN_TEST_RECORD=postgresql`` runs the serving tests' servers (``make_settings``) on
a fresh PostgreSQL schema each instead of ``state.sqlite``: the same tests, the other driver.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

PG_URL = os.environ.get(
    "PARCELSCREEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_serial = itertools.count()


def postgres_or_skip() -> str:
    """The test server's URL, or skip the test where it does not answer."""
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    return PG_URL


def fresh_schema(upgrade: bool = True) -> dict[str, Any]:
    """Settings values of a new, empty schema (migrated unless ``upgrade`` is false)."""
    import psycopg

    from screening import PostgresDatabase
    from serving import upgrade_schema

    url = postgres_or_skip()
    name = f"t_{os.getpid()}_{next(_serial)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    if upgrade:
        db = PostgresDatabase(url, name, create_schema=True)
        upgrade_schema(db)
        db.close()
    return {"database_url": url, "database_schema": name}


def drop_schema(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def record_from_env() -> dict[str, Any]:
    """Settings values of the record the environment asks the tests for (none: SQLite)."""
    if os.environ.get("PARCELSCREEN_TEST_RECORD") == "postgresql":
        return fresh_schema()
    return {}
