"""Shared fixtures: a small hand-made warehouse whose every number can be checked by hand."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis.backends import BaseBackend

from tests._postgres import find_pg_bin, running_postgres

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "healthscore" / "examples" / "saas.yaml"
AS_OF = dt.date(2026, 6, 1)


def toy_frames(seed: int = 1, accounts: int = 60, events: int = 6000) -> dict[str, pd.DataFrame]:
    """Random but seeded data in the shape of the data contract."""
    rng = np.random.default_rng(seed)
    ids = [f"a{i:03d}" for i in range(accounts)]
    start = pd.Timestamp("2026-01-01")
    frame = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Company {i}" for i in range(accounts)],
            "segment": rng.choice(["smb", "mid_market", "enterprise"], accounts),
            "created_at": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 500, accounts), unit="D"),
            "seats": rng.integers(3, 50, accounts).astype("int64"),
            "renewal_date": (
                pd.Timestamp("2026-09-01")
                + pd.to_timedelta(rng.integers(0, 300, accounts), unit="D")
            ).date,
        }
    )
    event_frame = pd.DataFrame(
        {
            "event_id": np.arange(events, dtype="int64"),
            "account_id": rng.choice(ids, events),
            "user_id": [f"u{x}" for x in rng.integers(0, 300, events)],
            "ts": start + pd.to_timedelta(rng.integers(0, 180 * 86400, events), unit="s"),
            "type": rng.choice(
                [
                    "login",
                    "login",
                    "feature_used",
                    "report_created",
                    "integration_connected",
                    "invite_sent",
                ],
                events,
            ),
            "value": rng.integers(1, 5, events).astype("float64"),
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": np.arange(400, dtype="int64"),
            "account_id": rng.choice(ids, 400),
            "ts": start + pd.to_timedelta(rng.integers(0, 180 * 86400, 400), unit="s"),
            "amount": rng.integers(50, 500, 400).astype("float64"),
            "status": rng.choice(["paid", "failed"], 400, p=[0.85, 0.15]),
        }
    )
    opened = start + pd.to_timedelta(rng.integers(0, 180 * 86400, 150), unit="s")
    tickets = pd.DataFrame(
        {
            "ticket_id": np.arange(150, dtype="int64"),
            "account_id": rng.choice(ids, 150),
            "opened_at": opened,
            "closed_at": [
                o + pd.Timedelta(days=3) if keep else pd.NaT
                for o, keep in zip(opened, rng.random(150) < 0.7, strict=True)
            ],
            "priority": rng.choice(["low", "normal", "high", "urgent"], 150),
            "csat": rng.choice([1.0, 3.0, 5.0, np.nan], 150),
        }
    )
    surveys = pd.DataFrame(
        {
            "survey_id": np.arange(80, dtype="int64"),
            "account_id": rng.choice(ids, 80),
            "ts": start + pd.to_timedelta(rng.integers(0, 180 * 86400, 80), unit="s"),
            "kind": "nps",
            "score": rng.integers(0, 11, 80).astype("float64"),
        }
    )
    ended = rng.random(accounts) < 0.1  # churned before the test dates: not scored
    subscriptions = pd.DataFrame(
        {
            "subscription_id": [f"s{i:03d}" for i in range(accounts)],
            "account_id": ids,
            "product": "core",
            "start_date": frame["created_at"].dt.date,
            "end_date": pd.to_datetime(
                [pd.Timestamp("2026-02-01") if end else pd.NaT for end in ended]
            ).date,
            "mrr": rng.integers(100, 1000, accounts).astype("float64"),
        }
    )
    subscriptions.loc[~ended, "end_date"] = None
    return {
        "accounts": frame,
        "events": event_frame,
        "invoices": invoices,
        "tickets": tickets,
        "surveys": surveys,
        "subscriptions": subscriptions,
    }


def duckdb_with(frames: dict[str, pd.DataFrame]) -> BaseBackend:
    con = ibis.duckdb.connect()
    for name, frame in frames.items():
        con.create_table(name, frame)
    return con


@pytest.fixture
def toy_con() -> Iterator[BaseBackend]:
    con = duckdb_with(toy_frames())
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of the test session's own: ``postgresql://postgres@127.0.0.1:PORT/healthscore``.

    Started once per session (fresh cluster, free port, trust auth on localhost), stopped
    and deleted at the end. Without PostgreSQL installed the tests that use it are skipped,
    except on CI (``CI`` set), where a missing server is a failure.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(
                "PostgreSQL is not installed, and CI must run the PostgreSQL tests: "
                "run scripts/setup.sh (as root it installs it) or apt-get install postgresql"
            )
        pytest.skip(
            "PostgreSQL is not installed: run scripts/setup.sh or apt-get install postgresql"
        )
    with running_postgres(tmp_path_factory.mktemp("postgres"), pg_bin) as url:
        yield url
