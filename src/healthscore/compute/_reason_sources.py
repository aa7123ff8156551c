"""What each measure's reason text says by default, and the metric values it reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from healthscore.compute._reason_text import ReasonSource
from healthscore.spec._resolved import (
    AggregateSpec,
    BaselineRatioSpec,
    ChangeSpec,
    MeasureSpec,
    RateSpec,
    ResolvedScorecard,
)


def _label(scorecard: ResolvedScorecard, name: str) -> str:
    try:
        return scorecard.metric(name).label
    except KeyError:
        return name.replace("_", " ")


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def reason_source(
    scorecard: ResolvedScorecard,
    measure: MeasureSpec,
    frame: pd.DataFrame,
    rows: NDArray[np.bool_],
) -> ReasonSource:
    """The template and arrays that explain `measure` for the `rows` of `frame`."""

    def column(name: str) -> NDArray[np.float64]:
        # Only the columns a text reads are sliced: copying the whole frame costs memory.
        values: NDArray[np.float64] = frame[name].to_numpy(dtype=np.float64)[rows]
        return values

    value = column(measure.metric)
    fields: dict[str, NDArray[Any]] = {"value": value}
    spec = scorecard.metric(measure.metric)
    label = measure.label
    template = "{label}: {shown}"
    match spec:
        case ChangeSpec(previous=previous, output=output, window_days=window):
            percent = value if output == "percent" else (value - 1.0) * 100.0
            fields["previous"] = column(previous)
            fields["percent"] = percent
            fields["abs_percent"] = np.abs(percent)
            fields["direction"] = np.where(percent < 0, "down", "up")
            template = (
                f"{{label}} {{direction}} {{abs_percent:.0f}}% against the previous {window} days"
            )
        case RateSpec(numerator=numerator, denominator=denominator):
            fields["numerator"] = column(numerator)
            fields["denominator"] = column(denominator)
            fields["percent"] = value * 100.0
            template = (
                f"{{numerator:,.0f}} {_escape(_label(scorecard, numerator))} per "
                f"{{denominator:,.0f}} {_escape(_label(scorecard, denominator))} "
                f"({{value:.2f}} each)"
            )
        case BaselineRatioSpec(baseline=baseline):
            fields["percent"] = value * 100.0
            days = scorecard.metric(baseline)
            span = days.window_days if isinstance(days, AggregateSpec) else None
            template = f"{{label}} at {{percent:.0f}}% of the account's own {span}-day average"
        case AggregateSpec(kind="days_since"):
            template = "{value:,.0f} days since the last {label}"
        case AggregateSpec(kind="days_since_first"):
            template = "{value:,.0f} days since the first {label}"
        case _:
            pass
    if (
        isinstance(spec, AggregateSpec)
        and spec.kind in ("days_since", "days_since_first")
        and label.startswith("days")
    ):
        template = "{label}: {value:,.0f}"
    return ReasonSource(
        code=measure.code,
        label=label,
        template=measure.reason or template,
        fields=fields,
        observed=~np.isnan(value),
    )
