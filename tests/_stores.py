"""Store targets for tests: a DuckDB file, or a fresh database on the session's PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

STORE_KINDS = ["duckdb", "postgresql"]


def fresh_store_target(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    """A store URL nobody has written to: each test sees only its own runs."""
    if kind == "duckdb":
        return str(tmp_path / "store.duckdb")
    server: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"
