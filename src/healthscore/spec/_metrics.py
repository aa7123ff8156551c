"""Resolve the `metrics:` section: parse expressions, add hidden windows, order by dependency."""

from __future__ import annotations

from collections.abc import Callable

from healthscore.spec import _models as m
from healthscore.spec._expr import Expr, ExpressionError, names_in, parse_expression
from healthscore.spec._resolved import (
    AggregateSpec,
    BaselineRatioSpec,
    ChangeSpec,
    ExprSpec,
    MetricSpec,
    RateSpec,
    ReplenishmentSpec,
    TenureScaledSpec,
)

Report = Callable[[tuple[str | int, ...], str, str], None]
NEEDS_COLUMN = frozenset({"sum", "avg", "min", "max", "distinct", "last"})


def humanize(name: str) -> str:
    return name.replace("_", " ")


def parse_or_report(text: str | None, where: tuple[str | int, ...], report: Report) -> Expr | None:
    if text is None:
        return None
    try:
        return parse_expression(text)
    except ExpressionError as error:
        expected, _, found = str(error).partition("; found ")
        report(where, expected, found or repr(text))
        return None


def resolve_metrics(card: m.Scorecard, report: Report) -> dict[str, MetricSpec]:
    """Every metric the scorecard defines, keyed by name, with hidden helpers added."""
    specs: dict[str, MetricSpec] = {}
    for name, metric in card.metrics.items():
        where = ("metrics", name)
        label = metric.label or humanize(name)
        match metric:
            case m.AggregateMetric():
                if metric.kind in NEEDS_COLUMN and metric.column is None:
                    report((*where, "kind"), f"a 'column' to {metric.kind}", "no column")
                if metric.table not in card.sources:
                    _report_unknown_table(metric.table, (*where, "table"), card, report)
                specs[name] = AggregateSpec(
                    name=name,
                    kind=metric.kind,
                    table=metric.table,
                    column=metric.column,
                    where=parse_or_report(metric.where, (*where, "where"), report),
                    window_days=m.window_days(metric.window) if metric.window else None,
                    label=label,
                )
            case m.ReplenishmentMetric():
                if metric.table not in card.sources:
                    _report_unknown_table(metric.table, (*where, "table"), card, report)
                if metric.where and any(f in metric.where for f in ("days_since", "days_until")):
                    # The filter runs before the rows meet their as-of dates.
                    report(
                        (*where, "where"),
                        "a filter that does not depend on as_of (no days_since or days_until)",
                        repr(metric.where),
                    )
                specs[name] = ReplenishmentSpec(
                    name=name,
                    table=metric.table,
                    where=parse_or_report(metric.where, (*where, "where"), report),
                    window_days=m.window_days(metric.window) if metric.window else None,
                    label=label,
                )
            case m.ExprMetric():
                expr = parse_or_report(metric.expr, (*where, "expr"), report)
                if expr is not None:
                    specs[name] = ExprSpec(name=name, expr=expr, label=label)
            case m.RateMetric():
                specs[name] = RateSpec(name, metric.metric, metric.per, label)
            case m.ChangeMetric() | m.TenureScaledMetric():
                base = _windowed_aggregate(card, metric.metric, (*where, "metric"), report)
                if base is None:
                    continue
                if isinstance(metric, m.ChangeMetric):
                    previous = shifted(base, base.window_days or 0, base.window_days or 0)
                    specs[previous.name] = previous
                    specs[name] = ChangeSpec(
                        name,
                        base.name,
                        previous.name,
                        metric.output,
                        base.window_days or 0,
                        metric.label or humanize(metric.metric),
                    )
                else:
                    specs[name] = TenureScaledSpec(name, base.name, base.window_days or 0, label)
    return specs


def shifted(base: m.AggregateMetric | AggregateSpec, window: int, offset: int) -> AggregateSpec:
    """A hidden copy of an aggregate over `window` days ending `offset` days before as_of."""
    if isinstance(base, m.AggregateMetric):
        raise TypeError("resolve the aggregate first")
    return AggregateSpec(
        name=f"_{base.name}__{window}d_before_{offset}d",
        kind=base.kind,
        table=base.table,
        column=base.column,
        where=base.where,
        window_days=window,
        label=base.label,
        offset_days=offset,
    )


def baseline_ratio(
    base: AggregateSpec, baseline_days: int
) -> tuple[AggregateSpec, BaselineRatioSpec]:
    window = base.window_days or 0
    history = shifted(base, baseline_days, window)
    # Counts and sums grow with the window, so the baseline is scaled to the same length;
    # averages, minimums, maximums and last values are compared as they are.
    additive = base.kind in ("count", "sum")
    ratio = BaselineRatioSpec(
        name=f"_{base.name}__vs_{baseline_days}d_baseline",
        current=base.name,
        baseline=history.name,
        scale=window / baseline_days if additive else 1.0,
        label=base.label,
    )
    return history, ratio


def _windowed_aggregate(
    card: m.Scorecard, name: str, where: tuple[str | int, ...], report: Report
) -> AggregateSpec | None:
    metric = card.metrics.get(name)
    if not isinstance(metric, m.AggregateMetric) or metric.window is None:
        found = f"'{name}'" if metric is None else f"'{name}' of kind {metric.kind}"
        if metric is None:
            found = f"unknown metric '{name}'"
        elif isinstance(metric, m.AggregateMetric):
            found = f"'{name}' with no window"
        report(where, "a windowed aggregate metric (count, sum, ... with a window)", found)
        return None
    return AggregateSpec(
        name=name,
        kind=metric.kind,
        table=metric.table,
        column=metric.column,
        # The aggregate's own entry reports a bad `where`; here it would be a duplicate.
        where=parse_or_report(metric.where, ("metrics", name, "where"), lambda *_: None),
        window_days=m.window_days(metric.window),
        label=metric.label or humanize(name),
    )


def _report_unknown_table(
    table: str, where: tuple[str | int, ...], card: m.Scorecard, report: Report
) -> None:
    known = ", ".join(sorted(card.sources)) or "none"
    report(where, f"a table listed under 'sources' ({known})", f"'{table}'")


def metric_dependencies(spec: MetricSpec) -> frozenset[str]:
    match spec:
        case AggregateSpec() | ReplenishmentSpec():
            return frozenset()
        case ChangeSpec(current=current, previous=previous):
            return frozenset({current, previous})
        case RateSpec(numerator=numerator, denominator=denominator):
            return frozenset({numerator, denominator})
        case TenureScaledSpec(metric=metric):
            return frozenset({metric})
        case BaselineRatioSpec(current=current, baseline=baseline):
            return frozenset({current, baseline})
        case ExprSpec(expr=expr):
            return names_in(expr)


def order_metrics(specs: dict[str, MetricSpec], report: Report) -> tuple[MetricSpec, ...]:
    """Dependencies first; names that are not metrics are account fields, checked on data."""
    ordered: list[MetricSpec] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done" or name not in specs:
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            report(("metrics", name), "metrics that do not depend on themselves", cycle)
            return
        state[name] = "visiting"
        for dependency in sorted(metric_dependencies(specs[name])):
            visit(dependency, (*chain, name))
        state[name] = "done"
        ordered.append(specs[name])

    for name in specs:
        visit(name, ())
    return tuple(ordered)
