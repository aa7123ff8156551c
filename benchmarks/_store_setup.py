"""Where benchmarks/store.py's runs write: its scorecard, and fresh PostgreSQL schemas.

A URL's tables land in a schema through libpq's ``options=-csearch_path=...``, so a
database given with ``--postgres`` keeps nothing of the benchmark once it is done.
"""

from __future__ import annotations

import uuid
from pathlib import Path

OPTION = "options=-csearch_path%3D"
# Added to benchmarks/scorecard.yaml, so the second run's hysteresis reads the first's rows.
HYSTERESIS = "\nhysteresis:\n  margin: 5\n  runs: 2\n"


def store_scorecard(directory: Path) -> Path:
    """benchmarks/scorecard.yaml plus a hysteresis section, beside the data."""
    from benchmarks._data import SCORECARD

    path = directory / "scorecard-store.yaml"
    path.write_text(SCORECARD.read_text(encoding="utf-8") + HYSTERESIS, encoding="utf-8")
    return path


def fresh_schema(url: str) -> str:
    """A new, empty schema in the database at `url`, and a URL whose tables land in it."""
    import psycopg

    schema = f"healthscore_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    return f"{url}{'&' if '?' in url else '?'}{OPTION}{schema}"


def drop_schema(url: str) -> None:
    """Drop the schema a `fresh_schema` URL names, with everything in it."""
    import psycopg

    base, _, schema = url.rpartition(OPTION)
    with psycopg.connect(base.rstrip("?&"), autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as con:
        row = con.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"
