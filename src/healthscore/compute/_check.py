"""Check a scorecard against the data it names: tables, columns and types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import ibis
import ibis.expr.types as ir

from healthscore.compute._compile import compile_expr
from healthscore.compute._contract import CONTRACTS
from healthscore.compute._metrics import as_timestamp
from healthscore.compute._sources import SourceError, Sources
from healthscore.spec._expr import Expr, names_in
from healthscore.spec._issues import Issue
from healthscore.spec._resolved import (
    AggregateSpec,
    ExprSpec,
    RateSpec,
    ReplenishmentSpec,
    ResolvedScorecard,
)

NUMERIC_AGGREGATES = frozenset({"sum", "avg", "min", "max", "last"})


def check_data(scorecard: ResolvedScorecard, sources: Sources) -> list[Issue]:
    """Every problem between the scorecard and the warehouse, all at once."""
    issues: list[Issue] = []

    def report(location: tuple[str | int, ...], expected: str, found: str) -> None:
        issues.append(
            Issue(
                scorecard.file,
                scorecard.line_of(*location),
                ".".join(str(p) for p in location),
                expected,
                found,
            )
        )

    tables: dict[str, ir.Table] = {}
    for name in scorecard.sources:
        try:
            table = sources.table(name)
        except SourceError as error:
            report(("sources", name), "a readable table or file", str(error))
            continue
        missing = [c for c in CONTRACTS[name].required if c not in table.columns]
        if missing:
            report(
                ("sources", name),
                f"the contract column(s) {', '.join(missing)} (map yours with 'columns:')",
                f"columns {', '.join(table.columns)}",
            )
            continue
        tables[name] = table
    accounts = tables.get("accounts")
    account_fields = set(accounts.columns) if accounts is not None else set()
    metric_names = {metric.name for metric in scorecard.metrics}
    for clash in sorted(metric_names & account_fields):
        report(
            ("metrics", clash),
            "a metric name that is not also an account column",
            f"'{clash}', a column of accounts",
        )
    for problem in _metric_problems(scorecard, tables, metric_names | account_fields):
        report(*problem)
    known = metric_names | account_fields
    for section, conditions in (("segments", scorecard.segments), ("stages", scorecard.stages)):
        for condition in conditions:
            if condition.when is not None:
                for problem in _unknown_names(
                    condition.when, known, (section, condition.name, "when")
                ):
                    report(*problem)
    if scorecard.population is not None:
        for problem in _unknown_names(scorecard.population, known, ("population",)):
            report(*problem)
    for gate in scorecard.gates:
        for problem in _unknown_names(gate.when, known, ("gates", gate.name, "when")):
            report(*problem)
    for problem in _outcome_problems(scorecard, tables):
        report(*problem)
    return issues


#: Columns an outcome reads beyond the contract's required ones.
OUTCOME_COLUMNS = {"subscription_end": ("end_date",)}


def _outcome_problems(
    scorecard: ResolvedScorecard, tables: dict[str, ir.Table]
) -> Iterator[Problem]:
    outcome = scorecard.outcome
    if outcome is None or outcome.table not in tables:
        return
    table = tables[outcome.table]
    missing = [c for c in OUTCOME_COLUMNS.get(outcome.kind, ()) if c not in table.columns]
    if missing:
        yield (
            ("outcome", "kind"),
            f"the column(s) {', '.join(missing)} in {outcome.table} for a '{outcome.kind}' "
            "outcome (map yours with 'columns:')",
            f"columns {', '.join(table.columns)}",
        )
    if outcome.where is not None:
        yield from _where_problems(outcome.where, table, ("outcome", "where"))


Problem = tuple[tuple[str | int, ...], str, str]


def _unknown_names(expr: Expr, known: set[str], where: tuple[str | int, ...]) -> Iterator[Problem]:
    for name in sorted(names_in(expr) - known):
        yield where, "a metric or an account column", f"unknown name '{name}'"


def _metric_problems(
    scorecard: ResolvedScorecard, tables: dict[str, ir.Table], known: set[str]
) -> Iterator[Problem]:
    for spec in scorecard.metrics:
        if spec.name.startswith("_"):
            continue
        where: tuple[str | int, ...] = ("metrics", spec.name)
        if isinstance(spec, AggregateSpec | ReplenishmentSpec):
            table = tables.get(spec.table)
            if table is None:
                continue
            column = spec.column if isinstance(spec, AggregateSpec) else None
            if column is not None and column not in table.columns:
                yield (
                    (*where, "column"),
                    f"a column of {spec.table} ({', '.join(table.columns)})",
                    f"'{column}'",
                )
            elif (
                isinstance(spec, AggregateSpec)
                and column is not None
                and spec.kind in NUMERIC_AGGREGATES
                and not table[column].type().is_numeric()
            ):
                yield (
                    (*where, "column"),
                    f"a numeric column to {spec.kind}",
                    f"'{column}' of type {table[column].type()}",
                )
            time = CONTRACTS[spec.table].time
            if time and time in table.columns and not table[time].type().is_temporal():
                yield (
                    (*where, "table"),
                    f"'{time}' of {spec.table} as a date or timestamp",
                    f"type {table[time].type()}",
                )
            if spec.where is not None:
                yield from _where_problems(spec.where, table, (*where, "where"))
        elif isinstance(spec, ExprSpec):
            yield from _unknown_names(spec.expr, known, (*where, "expr"))
        elif isinstance(spec, RateSpec):
            for key, name in (("metric", spec.numerator), ("per", spec.denominator)):
                if name not in known:
                    yield ((*where, key), "a metric or an account column", f"'{name}'")


def _where_problems(expr: Expr, table: ir.Table, where: tuple[str | int, ...]) -> Iterator[Problem]:
    unknown = sorted(names_in(expr) - set(table.columns))
    if unknown:
        yield (
            where,
            f"columns of the table ({', '.join(table.columns)})",
            f"unknown name(s) {', '.join(unknown)}",
        )
        return
    try:
        compiled = compile_expr(
            expr, lambda n: table[n], ibis.literal(as_timestamp(dt.date.today()))
        )
        if not compiled.type().is_boolean():
            yield where, "a condition (true or false)", f"a value of type {compiled.type()}"
    except Exception as error:  # Ibis reports type mismatches at build time
        yield where, "an expression whose types fit the columns", str(error).splitlines()[0]
