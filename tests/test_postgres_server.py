"""The test suite's own PostgreSQL server: real, transactional, and one per session."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

SEEN: list[tuple[str, str]] = []


def test_server_answers_on_the_url(postgres_url: str) -> None:
    url = urlsplit(postgres_url)
    assert url.scheme == "postgresql" and url.hostname == "127.0.0.1" and url.path == "/healthscore"
    with psycopg.connect(postgres_url) as con:
        row = con.execute(
            "SELECT current_database(), host(inet_server_addr()), inet_server_port(), "
            "current_setting('server_version_num')::int"
        ).fetchone()
    assert row is not None
    database, host, port, version = row
    assert (database, host, port) == ("healthscore", "127.0.0.1", url.port)
    assert version >= 120000


def test_rollback_and_commit_as_seen_from_another_connection(postgres_url: str) -> None:
    table = f"t_{uuid.uuid4().hex[:12]}"
    with (
        psycopg.connect(postgres_url) as writer,
        psycopg.connect(postgres_url, autocommit=True) as reader,
    ):
        writer.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, label text NOT NULL)")
        writer.commit()
        try:

            def visible() -> list[tuple[int, str]]:
                return reader.execute(f"SELECT id, label FROM {table} ORDER BY id").fetchall()

            # Rolled back: never visible, not even while the transaction is open.
            writer.execute(f"INSERT INTO {table} VALUES (1, 'discarded')")
            assert visible() == []
            writer.rollback()
            assert visible() == []

            # Committed: invisible until the commit, visible after it.
            with writer.transaction():
                writer.execute(f"INSERT INTO {table} VALUES (2, 'kept'), (3, 'also kept')")
                assert visible() == []
            assert visible() == [(2, "kept"), (3, "also kept")]

            # A failed statement aborts its transaction and leaves the committed rows alone.
            def insert_new_and_duplicate() -> None:
                with writer.transaction():
                    writer.execute(f"INSERT INTO {table} VALUES (4, 'new')")
                    writer.execute(f"INSERT INTO {table} VALUES (2, 'duplicate')")

            with pytest.raises(psycopg.errors.UniqueViolation):
                insert_new_and_duplicate()
            assert visible() == [(2, "kept"), (3, "also kept")]
        finally:
            writer.rollback()
            writer.execute(f"DROP TABLE {table}")
            writer.commit()


@pytest.mark.parametrize("use", [1, 2])
def test_the_server_is_shared_by_the_session(postgres_url: str, use: int) -> None:
    """Every use of the fixture gets the same server: same URL, same postmaster start."""
    with psycopg.connect(postgres_url) as con:
        row = con.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    SEEN.append((postgres_url, row[0]))
    assert len(set(SEEN)) == 1, SEEN
    assert len(SEEN) >= use
