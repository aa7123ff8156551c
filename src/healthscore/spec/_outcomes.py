"""Outcomes: what "churned" means for this business, declared in the scorecard.

Backtests label each (account, observation date) by whether the outcome happened within
a horizon after the date. Four kinds cover the usual businesses:

- `subscription_end`: a subscription ends and nothing restarts within `grace` (the
  fight-churn definition); accounts are observed while a subscription runs.
- `inactivity`: no rows of the given table (and `where`) for `days` days; accounts are
  observed while they are active.
- `non_repurchase`: no order within `multiple` x the customer's own median interval
  between orders, or with no `multiple`, no order within the horizon (a fixed holdout).
- `table`: explicit rows in the outcomes table whose `kind` is one of `kinds`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthscore.spec._expr import Expr

OutcomeKind = Literal["subscription_end", "inactivity", "non_repurchase", "table"]
_TableName = Literal["events", "orders", "invoices", "tickets", "surveys", "subscriptions"]


def _days(text: str) -> int:
    # Imported late: _models imports this module for the Scorecard field.
    from healthscore.spec._models import window_days

    return window_days(text)


class _OutcomeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon: str = Field(
        default="30d", description="Churn within this long after the observation date."
    )
    data_end: dt.date | None = Field(
        default=None,
        description="The last day the data covers; default: the latest stamp in any source. "
        "Observations whose horizon reaches past it are censored (excluded and counted).",
    )

    @field_validator("horizon")
    @classmethod
    def _check_horizon(cls, value: str) -> str:
        _days(value)
        return value


class SubscriptionEndOutcome(_OutcomeBase):
    """A subscription ends with no subscription running again within `grace`."""

    kind: Literal["subscription_end"]
    grace: str = Field(default="7d", description="A restart within this long is not churn.")

    @field_validator("grace")
    @classmethod
    def _check_grace(cls, value: str) -> str:
        if value.strip() not in {"0d", "0w"}:
            _days(value)
        return value


class InactivityOutcome(_OutcomeBase):
    """No rows of `table` (matching `where`) for `days` days."""

    kind: Literal["inactivity"]
    table: _TableName = "events"
    where: str | None = Field(default=None, description="Which rows count as activity.")
    days: int = Field(gt=0, le=3650, description="Days without activity that mean churn.")


class NonRepurchaseOutcome(_OutcomeBase):
    """No new order in time: within `multiple` x own cadence, or within the horizon."""

    kind: Literal["non_repurchase"]
    table: _TableName = "orders"
    where: str | None = Field(default=None, description="Which rows count as purchases.")
    multiple: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Churn when the gap since the last order exceeds this multiple of the "
        "customer's median gap; omit for a fixed holdout (no order within the horizon).",
    )
    fallback: str | None = Field(
        default=None,
        description="With `multiple`: the allowed gap for customers with a single order; "
        "omit to leave them out of the backtest.",
    )

    @field_validator("fallback")
    @classmethod
    def _check_fallback(cls, value: str | None) -> str | None:
        if value is not None:
            _days(value)
        return value


class TableOutcome(_OutcomeBase):
    """Rows in the outcomes table whose kind is one of `kinds`."""

    kind: Literal["table"]
    kinds: list[str] = Field(default_factory=lambda: ["churned"], min_length=1)
    once: bool = Field(
        default=True,
        description="The outcome ends the customer (churn): accounts with an earlier one "
        "are not observed again. False for repeatable outcomes such as 'expanded'.",
    )


Outcome = Annotated[
    SubscriptionEndOutcome | InactivityOutcome | NonRepurchaseOutcome | TableOutcome,
    Field(discriminator="kind"),
]


@dataclass(frozen=True)
class OutcomeSpec:
    """The resolved outcome; one class for every kind, unused fields None."""

    kind: OutcomeKind
    horizon_days: int
    table: str
    where: Expr | None = None
    grace_days: int = 0
    inactive_days: int | None = None
    multiple: float | None = None
    fallback_days: int | None = None
    kinds: tuple[str, ...] = ()
    once: bool = True
    data_end: dt.date | None = None

    def with_horizon(self, days: int) -> OutcomeSpec:
        return replace(self, horizon_days=days)


def outcome_table(outcome: Outcome) -> str:
    match outcome:
        case SubscriptionEndOutcome():
            return "subscriptions"
        case TableOutcome():
            return "outcomes"
        case _:
            return outcome.table


def resolve_outcome(outcome: Outcome, where: Expr | None) -> OutcomeSpec:
    spec = OutcomeSpec(
        kind=outcome.kind,
        horizon_days=_days(outcome.horizon),
        table=outcome_table(outcome),
        where=where,
        data_end=outcome.data_end,
    )
    match outcome:
        case SubscriptionEndOutcome(grace=grace):
            return replace(spec, grace_days=0 if grace.strip() in {"0d", "0w"} else _days(grace))
        case InactivityOutcome(days=days):
            return replace(spec, inactive_days=days)
        case NonRepurchaseOutcome(multiple=multiple, fallback=fallback):
            fallback_days = None if fallback is None else _days(fallback)
            return replace(spec, multiple=multiple, fallback_days=fallback_days)
        case TableOutcome(kinds=kinds, once=once):
            return replace(spec, kinds=tuple(kinds), once=once)
    raise ValueError(outcome)
