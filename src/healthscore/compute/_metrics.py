"""The point-in-time metric engine: metrics for accounts as of one or many dates.

Every number is computed only from rows stamped strictly before the as-of date (as of
2026-06-30 means "what was known at 00:00 on June 30"). One lazy Ibis expression per
source table aggregates all of that table's metrics at once; derived metrics, segment
and stage conditions and gates are then columns over the joined result. Nothing runs
until the caller executes the returned table.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Sequence
from functools import reduce

import ibis
import ibis.expr.types as ir
import pandas as pd

from healthscore.compute._compile import compile_expr, epoch_days
from healthscore.compute._contract import CONTRACTS
from healthscore.compute._cumulative import cumulative, cumulative_metrics
from healthscore.compute._sources import Sources
from healthscore.spec._resolved import (
    AggregateSpec,
    BaselineRatioSpec,
    ChangeSpec,
    ConditionSpec,
    ExprSpec,
    RateSpec,
    ReplenishmentSpec,
    ResolvedScorecard,
    TenureScaledSpec,
)

ZERO_WHEN_EMPTY = frozenset({"count", "sum", "distinct"})
DAYS_SINCE = frozenset({"days_since", "days_since_first"})
KEYS = ("account_id", "as_of")
# The metric frame's row order: by date, then account.
ROW_ORDER = ("as_of", "account_id")


def gate_column(name: str) -> str:
    return f"_gate__{name}"


def condition_column(section: str, name: str) -> str:
    return f"_{section}__{name}"


def as_timestamp(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


class _Frame:
    """Accounts x as-of dates, and the value that stands for as_of in expressions."""

    def __init__(self, sources: Sources, dates: Sequence[dt.date], accounts: Sequence[str] | None):
        table = sources.table("accounts")
        if accounts is not None:
            table = table.filter(table.account_id.isin(list(accounts)))
        self.single = len(dates) == 1
        if self.single:
            self.as_of: ir.TimestampValue = ibis.literal(as_timestamp(dates[0]), type="timestamp")
            base = table.mutate(as_of=self.as_of)
        else:
            self.days = [as_timestamp(day) for day in sorted(set(dates))]
            self.dates = ibis.memtable({"as_of": self.days}, schema={"as_of": "timestamp"})
            base = table.cross_join(self.dates)
            self.as_of = base.as_of
        if "created_at" in table.columns:
            base = base.filter(base.created_at.cast("timestamp") < base.as_of)
        self.table = base
        self.accounts = accounts
        # One date needs no date key: grouping by a constant only costs time.
        self.keys = ["account_id"] if self.single else list(KEYS)

    def rows_before(
        self, table: ir.Table, time: str, span_days: int | None
    ) -> tuple[ir.Table, ir.Value]:
        """The table's rows stamped before as_of (and within span), with as_of beside them."""
        if self.accounts is not None:
            table = table.filter(table.account_id.isin(list(self.accounts)))
        stamp = table[time].cast("timestamp")
        if self.single:
            keep = stamp < self.as_of
            if span_days is not None:
                keep &= stamp >= self.as_of - ibis.interval(days=span_days)
            return table.filter(keep), self.as_of
        dates = self.dates
        predicates = [stamp < dates.as_of]
        if span_days is not None:
            predicates.append(stamp >= dates.as_of - ibis.interval(days=span_days))
        # Selecting ends the join chain, so later expressions bind to one relation.
        joined = table.join(dates, predicates).select(*table.columns, "as_of")
        return joined, joined.as_of


def _aggregate(
    spec: AggregateSpec, table: ir.Table, time: str, as_of: ir.Value, span: int | None
) -> ir.Value:
    """One conditional aggregate over rows already limited to [as_of - span, as_of)."""
    stamp = table[time].cast("timestamp")
    end = as_of - ibis.interval(days=spec.offset_days) if spec.offset_days else as_of
    # Bounds the row filter already guarantees are left out: each costs a comparison per row.
    parts: list[ir.BooleanValue] = []
    if spec.offset_days:
        parts.append(stamp < end)
    reach = None if spec.window_days is None else spec.window_days + spec.offset_days
    if spec.window_days is not None and reach != span:
        parts.append(stamp >= end - ibis.interval(days=spec.window_days))
    if spec.where is not None:
        # A null condition leaves the row out, as false would.
        parts.append(compile_expr(spec.where, lambda name: table[name], as_of))
    condition = reduce(operator.and_, parts) if parts else None
    column = table[spec.column] if spec.column else None
    match spec.kind:
        case "count":
            return (column if column is not None else table[time]).count(where=condition)
        case "sum":
            return column.cast("float64").sum(where=condition)  # type: ignore[union-attr]
        case "avg":
            return column.cast("float64").mean(where=condition)  # type: ignore[union-attr]
        case "min":
            return column.min(where=condition)  # type: ignore[union-attr]
        case "max":
            return column.max(where=condition)  # type: ignore[union-attr]
        case "distinct":
            return column.nunique(where=condition)  # type: ignore[union-attr]
        case "last":
            return column.argmax(stamp, where=condition)  # type: ignore[union-attr]
        case "days_since":
            # The latest stamp here; days are counted after grouping (see _table_metrics).
            return (column if column is not None else stamp).cast("timestamp").max(where=condition)
        case "days_since_first":
            return (column if column is not None else stamp).cast("timestamp").min(where=condition)
    raise ValueError(spec.kind)


def _span(specs: Sequence[AggregateSpec]) -> int | None:
    if any(spec.window_days is None for spec in specs):
        return None
    return max((spec.window_days or 0) + spec.offset_days for spec in specs)


def _table_metrics(
    frame: _Frame, sources: Sources, name: str, specs: list[AggregateSpec]
) -> list[ir.Table]:
    """One grouped table for the specs of one source table (two with many dates, when
    some all-history aggregates can be combined per bucket instead of joined per date)."""
    time = CONTRACTS[name].time or "ts"
    pieces = []
    if not frame.single:
        combined = [spec for spec in specs if cumulative(spec, name)]
        specs = [spec for spec in specs if spec not in combined]
        if combined:
            table = sources.table(name)
            if frame.accounts is not None:
                table = table.filter(table.account_id.isin(list(frame.accounts)))
            piece = cumulative_metrics(table, time, combined, frame.days, frame.dates, frame.keys)
            pieces.append(_with_days(piece, combined, piece.as_of))
    if specs:
        span = _span(specs)
        rows, as_of = frame.rows_before(sources.table(name), time, span)
        rows = _as_known_then(rows, name, time, as_of)
        grouped = rows.group_by(frame.keys).aggregate(
            **{spec.name: _aggregate(spec, rows, time, as_of, span) for spec in specs}
        )
        pieces.append(_with_days(grouped, specs, frame.as_of if frame.single else grouped.as_of))
    return pieces


def _with_days(grouped: ir.Table, specs: Sequence[AggregateSpec], when: ir.Value) -> ir.Table:
    """Days-since metrics hold a stamp until here: days from it to as_of."""
    days = {
        spec.name: epoch_days(when) - epoch_days(grouped[spec.name])
        for spec in specs
        if spec.kind in DAYS_SINCE
    }
    return grouped.mutate(**days) if days else grouped


def _as_known_then(rows: ir.Table, name: str, time: str, as_of: ir.Value) -> ir.Table:
    """Blank the row's other dates that lie on or after as_of: they were not known yet.

    A ticket opened before as_of but closed after it was still open as of that date.
    """
    later = {
        column: ibis.ifelse(
            rows[column].cast("timestamp") < as_of, rows[column], ibis.null(rows[column].type())
        )
        for column in CONTRACTS[name].temporal
        if column != time and column in rows.columns
    }
    return rows.mutate(**later) if later else rows


def _replenishment(frame: _Frame, sources: Sources, spec: ReplenishmentSpec) -> ir.Table:
    time = CONTRACTS[spec.table].time or "ts"
    table = sources.table(spec.table)
    if spec.where is not None:
        table = table.filter(
            compile_expr(spec.where, lambda n: table[n], frame.as_of).fill_null(False)
        )
    # Distinct days: two orders on one day are one purchase occasion, not a 0-day gap
    # (the same cadence the non_repurchase outcome uses).
    days = table.select("account_id", _day=table[time].cast("timestamp").truncate("D")).distinct()
    previous = days._day.lag().over(group_by=days.account_id, order_by=days._day)
    days = days.mutate(_gap_days=epoch_days(days._day) - epoch_days(previous))
    rows, _ = frame.rows_before(days, "_day", spec.window_days)
    grouped = rows.group_by(frame.keys).aggregate(
        _last=rows._day.max(),
        # Medians skip nulls by themselves; Spark rejects the `where=` form of median.
        _typical=rows._gap_days.median(),
    )
    when = frame.as_of if frame.single else grouped.as_of
    since = epoch_days(when) - epoch_days(grouped._last)
    return grouped.select(*frame.keys, **{spec.name: since / grouped._typical.nullif(0)})


def metric_table(
    scorecard: ResolvedScorecard,
    sources: Sources,
    dates: Sequence[dt.date],
    accounts: Sequence[str] | None = None,
) -> ir.Table:
    """One row per account and as-of date with every metric, variant and gate (lazy)."""
    if not dates:
        raise ValueError("at least one as-of date is needed")
    frame = _Frame(sources, dates, accounts)
    result = frame.table
    by_table: dict[str, list[AggregateSpec]] = defaultdict(list)
    for spec in scorecard.metrics:
        if isinstance(spec, AggregateSpec):
            by_table[spec.table].append(spec)
    pieces = [
        piece
        for name, specs in by_table.items()
        for piece in _table_metrics(frame, sources, name, specs)
    ]
    pieces += [
        _replenishment(frame, sources, spec)
        for spec in scorecard.metrics
        if isinstance(spec, ReplenishmentSpec)
    ]
    for piece in pieces:
        joined = result.left_join(piece, frame.keys)
        result = joined.drop(*(f"{key}_right" for key in frame.keys))
    fills = {
        spec.name: ibis.coalesce(result[spec.name], 0)
        for specs in by_table.values()
        for spec in specs
        if spec.kind in ZERO_WHEN_EMPTY
    }
    result = result.mutate(**fills)
    for spec in scorecard.metrics:
        if not isinstance(spec, AggregateSpec | ReplenishmentSpec):
            result = result.mutate(**{spec.name: _derived(spec, result)})
    result = _add_conditions(scorecard, result)
    if scorecard.population is not None:
        keep = compile_expr(scorecard.population, lambda name: result[name], result.as_of)
        result = result.filter(keep.fill_null(False))
    metrics = [spec.name for spec in scorecard.metrics]
    # Account fields a rate divides by are kept: reason texts quote them.
    fields = sorted(
        {
            name
            for spec in scorecard.metrics
            if isinstance(spec, RateSpec)
            for name in (spec.numerator, spec.denominator)
        }
        - set(metrics)
    )
    extra = [c for c in result.columns if c.startswith("_") and c not in metrics]
    # Account columns the model learns from (or must be checked for bias on), as they are;
    # and the owner, whom tasks and work queues are for.
    carried = [
        name
        for name in dict.fromkeys([*model_columns(scorecard), *CARRIED_FIELDS])
        if name in result.columns and name not in (*metrics, *fields, *KEYS)
    ]
    return result.select(
        *KEYS,
        *(result[name].cast("float64").name(name) for name in (*metrics, *fields)),
        *carried,
        *extra,
    )


CARRIED_FIELDS = ("owner",)


def model_columns(scorecard: ResolvedScorecard) -> list[str]:
    """Account columns a model or the value of an account needs beside the metrics."""
    names = [] if scorecard.value is None else [scorecard.value]
    if scorecard.model is not None:
        names += [*scorecard.model.attributes, *scorecard.model.sensitive]
        names += list(scorecard.model.features or ())
    return names


def metric_frame(
    scorecard: ResolvedScorecard,
    sources: Sources,
    dates: Sequence[dt.date],
    accounts: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The executed metric table, ordered by as_of then account_id."""
    table = metric_table(scorecard, sources, dates, accounts)
    return normalized(table.order_by(list(ROW_ORDER)).to_pandas())


def normalized(frame: pd.DataFrame) -> pd.DataFrame:
    # Backends disagree on the resolution (DuckDB: us, Spark: ns); one dtype for all.
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    return frame


def _derived(
    spec: ChangeSpec | RateSpec | TenureScaledSpec | BaselineRatioSpec | ExprSpec, table: ir.Table
) -> ir.Value:
    def value(name: str) -> ir.NumericValue:
        return table[name].cast("float64")

    match spec:
        case ChangeSpec(current=current, previous=previous, output=output):
            ratio = value(current) / value(previous).nullif(0)
            return (ratio - 1) * 100 if output == "percent" else ratio
        case RateSpec(numerator=numerator, denominator=denominator):
            return value(numerator) / value(denominator).nullif(0)
        case TenureScaledSpec(metric=metric, window_days=window):
            tenure = epoch_days(table.as_of) - epoch_days(table.created_at)
            scale = ibis.least(ibis.greatest(tenure, 1.0), float(window))
            return value(metric) * window / scale
        case BaselineRatioSpec(current=current, baseline=baseline, scale=scale):
            return value(current) / (value(baseline) * scale).nullif(0)
        case ExprSpec(expr=expr):
            return compile_expr(expr, lambda name: table[name], table.as_of)


def _add_conditions(scorecard: ResolvedScorecard, table: ir.Table) -> ir.Table:
    def lookup(name: str) -> ir.Value:
        return table[name]

    columns: dict[str, ir.Value] = {}
    for section, conditions in (("segment", scorecard.segments), ("stage", scorecard.stages)):
        for condition in conditions:
            if condition.when is not None:
                matched = compile_expr(condition.when, lookup, table.as_of)
                columns[condition_column(section, condition.name)] = matched.fill_null(False)
    for gate in scorecard.gates:
        fired = compile_expr(gate.when, lookup, table.as_of)
        columns[gate_column(gate.name)] = fired.fill_null(False)
    return table.mutate(**columns) if columns else table


def default_condition(conditions: Sequence[ConditionSpec]) -> str | None:
    return next((c.name for c in conditions if c.when is None), None)
