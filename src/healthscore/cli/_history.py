"""Commands over the stored history: history, explain, versions, runs, diff, backfill,
override, audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli._common import (
    EXIT_INVALID,
    ScorecardOption,
    StoreOption,
    WarehouseOption,
    console,
    errors,
    load_engine,
)
from healthscore.cli._evidence import clear_errors, parse_date, steps
from healthscore.cli._render_history import (
    render_audit,
    render_diff,
    render_explanation,
    render_history,
    render_runs,
    render_versions,
)
from healthscore.store import RUN_MODES, OverrideError, RunMode

AccountArgument = Annotated[str, typer.Argument(help="The account id.")]
ModeOption = Annotated[str, typer.Option(help="Which history: live, shadow or backfill.")]


def _mode(text: str) -> RunMode:
    for mode in RUN_MODES:
        if text == mode:
            return mode
    raise typer.BadParameter(f"one of {', '.join(RUN_MODES)}. Got '{text}'.", param_hint="--mode")


def register_history(app: typer.Typer) -> None:
    @app.command()
    def history(
        account: AccountArgument,
        scorecard: ScorecardOption,
        mode: ModeOption = "live",
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """An account's scores over time, with markers where the scorecard version changed."""
        engine = load_engine(scorecard, warehouse, store)
        with clear_errors():
            rows = engine.history(account, _mode(mode))
        if rows.empty:
            errors.print(f"no stored {mode} scores for account '{account}'", style="red")
            raise typer.Exit(EXIT_INVALID)
        render_history(console, engine.scorecard, account, rows)

    @app.command()
    def explain(
        account: AccountArgument,
        scorecard: ScorecardOption,
        since: Annotated[str, typer.Option(help="YYYY-MM-DD: compare with the score then.")],
        mode: ModeOption = "live",
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """What changed an account's score since a date, in points per measure."""
        engine = load_engine(scorecard, warehouse, store)
        with clear_errors():
            result = engine.explain(account, parse_date(since, "--since"), _mode(mode))
        render_explanation(console, engine.scorecard, result)

    @app.command()
    def versions(
        scorecard: ScorecardOption,
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """Every scorecard version seen in a finished run: when, how often, in which mode."""
        engine = load_engine(scorecard, warehouse, store)
        render_versions(console, engine.store.versions())

    @app.command()
    def runs(
        scorecard: ScorecardOption,
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """The latest runs with their status (running, done, failed, abandoned)."""
        engine = load_engine(scorecard, warehouse, store)
        render_runs(console, engine.store.runs(None, limit))

    @app.command()
    def diff(
        scorecards: Annotated[
            list[Path], typer.Option("--scorecard", "-c", help="Two scorecards: old, then new.")
        ],
        as_of: Annotated[str | None, typer.Option(help="Tier changes on this day.")] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """The logic changes between two scorecards and how many accounts change tier."""
        if len(scorecards) != 2:
            raise typer.BadParameter(
                f"exactly two scorecards. Got {len(scorecards)}.", param_hint="--scorecard"
            )
        old, new = (load_engine(path, warehouse) for path in scorecards)
        day = parse_date(as_of, "--as-of") if as_of else dt.date.today()
        with clear_errors(), console.status(f"Scoring both as of {day}..."):
            changes, moves = old.diff(new, day)
        render_diff(console, old.scorecard, new.scorecard, changes, moves, day)

    @app.command()
    def backfill(
        scorecard: ScorecardOption,
        start: Annotated[str, typer.Option(help="First as-of date, YYYY-MM-DD.")],
        end: Annotated[str, typer.Option(help="Last as-of date, YYYY-MM-DD.")],
        every: Annotated[str, typer.Option(help="Step: 1d, 1w, 1mo...")] = "1w",
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """Re-score past dates (e.g. with a new version), kept apart from the live history."""
        from healthscore.evaluation import observation_dates

        engine = load_engine(scorecard, warehouse, store)
        dates = observation_dates(parse_date(start, "--start"), parse_date(end, "--end"), every)
        with clear_errors(), steps(f"backfill: {len(dates)} dates", len(dates)) as advance:
            for day in dates:
                engine.run(day, mode="backfill")
                advance(str(day))
        console.print(
            f"Backfilled {len(dates)} dates of {engine.scorecard.name} "
            f"{engine.scorecard.version}; see them with --mode backfill."
        )

    @app.command()
    def override(
        account: AccountArgument,
        scorecard: ScorecardOption,
        by: Annotated[str, typer.Option(help="Who decides (kept in the audit log).")],
        score: Annotated[float | None, typer.Option(help="The final score, 0-100.")] = None,
        tier: Annotated[str | None, typer.Option(help="The final tier.")] = None,
        reason: Annotated[str, typer.Option(help="Why, shown on every row it affects.")] = "",
        until: Annotated[str | None, typer.Option(help="Last day it applies, YYYY-MM-DD.")] = None,
        revoke: Annotated[bool, typer.Option(help="End the account's override now.")] = False,
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """Set (or --revoke) a manual score or tier with reason, author and expiry."""
        engine = load_engine(scorecard, warehouse, store)
        if revoke:
            ended = engine.revoke_override(account, by)
            console.print(
                f"Revoked {len(ended)} override(s) of {account}."
                if ended
                else f"{account} had no active override."
            )
            return
        if until is None:
            raise typer.BadParameter("give the last day it applies", param_hint="--until")
        try:
            made = engine.override(
                account,
                score=score,
                tier=tier,
                reason=reason,
                by=by,
                until=parse_date(until, "--until"),
            )
        except OverrideError as error:
            errors.print(f"error: {error}", style="red", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_INVALID) from None
        console.print(
            f"Override {made}: {account} -> "
            + (f"score {score:g} " if score is not None else "")
            + (f"tier {tier} " if tier is not None else "")
            + f"until {until}, by {by}. Runs apply it from now on; the computed score is kept."
        )

    @app.command()
    def audit(
        scorecard: ScorecardOption,
        limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """Who changed what: overrides, their revocations, task updates."""
        engine = load_engine(scorecard, warehouse, store)
        render_audit(console, engine.audit_log(limit))
