"""`healthscore keys create|list|revoke`: API keys for the REST service."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from healthscore.cli._common import (
    ScorecardOption,
    StoreOption,
    WarehouseOption,
    console,
    load_engine,
)
from healthscore.cli._evidence import clear_errors
from healthscore.store import Database
from healthscore.store._keys import ROLES, create_key, list_keys, revoke_key

keys_app = typer.Typer(help="API keys for the REST service, each with a role.")


@keys_app.command("create")
def create(
    scorecard: ScorecardOption,
    role: Annotated[str, typer.Option(help=f"What the key may do: {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'billing sync'.")],
    by: Annotated[
        str | None,
        typer.Option(help="Who makes it (kept in the audit log); default: your user name."),
    ] = None,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Make a key and print its token, this once: only a hash of it is stored."""
    maker = by or _user()
    with _database(scorecard, warehouse, store) as db:
        key, token = create_key(db, name, role, maker)
    console.print(
        f"API key {key.key_id} '{key.name}' ({key.role}), by {key.created_by}.", markup=False
    )
    console.print("Token:")
    console.print(token, markup=False, highlight=False, soft_wrap=True)
    console.print(
        "Copy it now: it is not shown again, and the store cannot recover it. "
        "Lost it? Revoke the key and create another.",
        style="bold yellow",
    )


@keys_app.command("list")
def list_(
    scorecard: ScorecardOption,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Every key with its role, maker, last use and whether it is revoked."""
    with _database(scorecard, warehouse, store) as db:
        frame = list_keys(db)
    if frame.empty:
        console.print("No API keys yet; make one with `healthscore keys create`.")
        return
    # Two lines a key keep the table inside 80 columns, where a key id alone takes 28.
    table = Table(
        title="API keys, oldest first (times in UTC)", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("key / name", min_width=28, overflow="fold")
    table.add_column("role", no_wrap=True)
    for column in ("created", "last used", "status"):
        table.add_column(column, min_width=10, overflow="fold")
    for row in frame.to_dict("records"):
        made_by = "" if pd.isna(row["created_by"]) else f"\nby {escape(str(row['created_by']))}"
        revoked = not pd.isna(row["revoked_at"])
        table.add_row(
            f"{row['key_id']}\n{escape(str(row['name']))}",
            str(row["role"]),
            _when(row["created_at"], "%Y-%m-%d") + made_by,
            _when(row["last_used_at"], "%Y-%m-%d\n%H:%M") or "never",
            f"revoked\n{_when(row['revoked_at'], '%Y-%m-%d')}\nby {escape(str(row['revoked_by']))}"
            if revoked
            else "active",
            end_section=True,
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, from `healthscore keys list`.")],
    scorecard: ScorecardOption,
    by: Annotated[str, typer.Option(help="Who revokes it (kept in the audit log).")],
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """End a key now: requests with its token are refused from then on."""
    with _database(scorecard, warehouse, store) as db:
        key = revoke_key(db, key_id, by)
    console.print(f"Revoked API key {key.key_id} '{key.name}' ({key.role}), by {by}.", markup=False)


@contextmanager
def _database(scorecard: Path, warehouse: str | None, store: str | None) -> Iterator[Database]:
    """The store's database, closed after the command; its known failures exit 2."""
    engine = load_engine(scorecard, warehouse, store)
    try:
        with clear_errors():
            yield engine.store.db
    finally:
        engine.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise typer.BadParameter("name who makes the key", param_hint="--by") from None


def _when(value: Any, form: str) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime(form)


def register_keys(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
