"""The scorecard format as pydantic models: what a user writes in YAML.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored
setting. Metrics, measures and variants are tagged unions on `kind`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthscore.spec._outcomes import Outcome
from healthscore.spec._playbooks import Hysteresis, Playbook

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
WINDOW_PATTERN = re.compile(r"^(\d+)\s*(d|w)$")
TableName = Literal[
    "accounts",
    "events",
    "identities",
    "subscriptions",
    "orders",
    "invoices",
    "tickets",
    "surveys",
    "outcomes",
]
Identifier = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def window_days(text: str) -> int:
    """Days in a window such as `30d` or `4w`."""
    match = WINDOW_PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"a window such as '7d', '30d' or '4w'; got '{text}'")
    amount, unit = int(match.group(1)), match.group(2)
    days = amount * (7 if unit == "w" else 1)
    if days <= 0:
        raise ValueError(f"a window of at least one day; got '{text}'")
    return days


class _Windowed(_Spec):
    window: str | None = Field(
        default=None,
        description="How far back from as_of, e.g. '30d' or '12w'; none = all history.",
    )

    @field_validator("window")
    @classmethod
    def _check_window(cls, value: str | None) -> str | None:
        if value is not None:
            window_days(value)
        return value


# ---------------------------------------------------------------- sources


class Source(_Spec):
    """Where one logical table of the data contract lives, and how its columns are named."""

    table: str | None = Field(default=None, description="A table or view in the warehouse.")
    path: str | None = Field(
        default=None, description="A CSV or Parquet file (glob allowed), relative to the scorecard."
    )
    connection: str | None = Field(
        default=None, description="An Ibis connection URL, when the table is not in the warehouse."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column -> your column, e.g. {ts: event_time, account_id: org_id}.",
    )


# ---------------------------------------------------------------- metrics

AggregateKind = Literal[
    "count", "sum", "avg", "min", "max", "distinct", "last", "days_since", "days_since_first"
]


class AggregateMetric(_Windowed):
    """An aggregate over a source table's rows stamped before as_of (and inside the window)."""

    kind: AggregateKind
    table: TableName
    column: str | None = Field(default=None, description="The column to aggregate.")
    where: str | None = Field(default=None, description="A row filter, e.g. \"type == 'login'\".")
    label: str | None = None


class ChangeMetric(_Spec):
    """The aggregate metric's current window against the window just before it."""

    kind: Literal["change"]
    metric: Identifier
    output: Literal["percent", "ratio"] = "percent"
    label: str | None = None


class RateMetric(_Spec):
    """A metric divided by another metric or an account field (per active user, per seat)."""

    kind: Literal["rate"]
    metric: Identifier
    per: Identifier
    label: str | None = None


class TenureScaledMetric(_Spec):
    """An aggregate metric scaled up when the account is younger than the metric's window."""

    kind: Literal["tenure_scaled"]
    metric: Identifier
    label: str | None = None


class ReplenishmentMetric(_Windowed):
    """Days since the last row divided by the account's median days between rows."""

    kind: Literal["replenishment"]
    table: TableName
    where: str | None = None
    label: str | None = None


class ExprMetric(_Spec):
    """An expression over other metrics and account fields, e.g. 'active_users_30d / seats'."""

    kind: Literal["expr"]
    expr: str
    label: str | None = None


Metric = Annotated[
    AggregateMetric
    | ChangeMetric
    | RateMetric
    | TenureScaledMetric
    | ReplenishmentMetric
    | ExprMetric,
    Field(discriminator="kind"),
]

# ---------------------------------------------------------------- measures

MissingPolicy = Literal["reweight", "neutral", "worst"]
Direction = Literal["higher_is_better", "lower_is_better"]


class _MeasureBase(_Spec):
    metric: Identifier
    weight: Weight = 1.0
    missing: MissingPolicy = Field(
        default="reweight",
        description="No data: drop the measure and reweight, score it neutral, or score it 0.",
    )
    neutral: Score = 50.0
    reason: str | None = Field(
        default=None,
        description="Reason text template; fields {value} {shown} {label} {previous} "
        "{numerator} {denominator} {percent} {direction} {abs_percent}.",
    )


class Band(_Spec):
    min: float = Field(allow_inf_nan=False)
    score: Score


class BandsMeasure(_MeasureBase):
    """Threshold bands: the score of the highest band whose `min` the value reaches."""

    kind: Literal["bands"]
    bands: list[Band] = Field(min_length=1)


class LinearMeasure(_MeasureBase):
    """0 at `bad`, 100 at `good`, straight line between; either direction."""

    kind: Literal["linear"]
    bad: float = Field(allow_inf_nan=False)
    good: float = Field(allow_inf_nan=False)


class PercentileMeasure(_MeasureBase):
    """The account's percentile among its peers at the same date."""

    kind: Literal["percentile"]
    direction: Direction = "higher_is_better"
    within: Literal["segment", "all"] = "segment"


class LogZMeasure(_MeasureBase):
    """log(1 + value), z-scored among peers; z of -range..+range maps to 0..100."""

    kind: Literal["log_z"]
    direction: Direction = "higher_is_better"
    within: Literal["segment", "all"] = "segment"
    z_range: float = Field(default=2.0, gt=0, allow_inf_nan=False)


class BaselineMeasure(_MeasureBase):
    """The aggregate metric against the account's own average over a trailing baseline."""

    kind: Literal["baseline"]
    baseline: str = Field(default="90d", description="The trailing window before the metric's.")
    bad: float = Field(default=0.5, allow_inf_nan=False, description="Ratio scored 0.")
    good: float = Field(default=1.0, allow_inf_nan=False, description="Ratio scored 100.")

    @field_validator("baseline")
    @classmethod
    def _check_baseline(cls, value: str) -> str:
        window_days(value)
        return value


Measure = Annotated[
    BandsMeasure | LinearMeasure | PercentileMeasure | LogZMeasure | BaselineMeasure,
    Field(discriminator="kind"),
]


class Group(_Spec):
    """A category of health (usage, support, ...) with a weight and weighted measures."""

    weight: Weight = 1.0
    label: str | None = None
    measures: dict[Identifier, Measure] = Field(min_length=1)


# ---------------------------------------------------------------- gates, tiers


class Gate(_Spec):
    """A condition that caps or floors the final score, with its own reason text."""

    when: str
    cap: Score | None = None
    floor: Score | None = None
    reason: str


class Tier(_Spec):
    name: Identifier
    min: Score
    color: str = Field(default="#888888", pattern=r"^#[0-9a-fA-F]{6}$")
    label: str | None = None


DEFAULT_TIERS = (
    Tier(name="green", min=70, color="#2e7d32"),
    Tier(name="yellow", min=40, color="#f9a825"),
    Tier(name="red", min=0, color="#c62828"),
)

# ---------------------------------------------------------------- variants


class GroupOverride(_Spec):
    """Changes to one group inside a segment or stage; `replace` swaps the whole group."""

    weight: Weight | None = None
    label: str | None = None
    replace: bool = False
    measures: dict[Identifier, dict[str, Any]] | None = None


class Variant(_Spec):
    """A segment or lifecycle stage: a condition and the groups it changes."""

    when: str | None = Field(default=None, description="Which accounts; omit for the default.")
    label: str | None = None
    groups: dict[Identifier, GroupOverride] = Field(default_factory=dict)
    model: str | None = Field(
        default=None,
        description="A trained model folder (relative to the scorecard) that scores these "
        "accounts instead of the groups: score = 100 x (1 - churn probability).",
    )


class ModelSection(_Spec):
    """The churn model: what it learns from, what it must not, and where it is kept."""

    path: str | None = Field(
        default=None,
        description="A trained model folder (relative to the scorecard) that scores every "
        "account instead of the groups; `healthscore train --out` writes one.",
    )
    features: list[str] | None = Field(
        default=None,
        description="Metrics and account columns to learn from; default: every metric plus "
        "`attributes`.",
    )
    attributes: list[str] = Field(
        default_factory=list,
        description="Account columns added as features (numbers, or text as categories).",
    )
    sensitive: list[str] = Field(
        default_factory=list,
        description="Account columns never used as features (age, gender, country...) unless "
        "listed in `allow_sensitive`; reported in the training report's bias check.",
    )
    allow_sensitive: list[str] = Field(default_factory=list)
    zero_score_at: float = Field(
        default=1.0,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="The churn probability that scores 0: score = 100 x (1 - p / this), "
        "floored at 0. With 1 (default) the score is 100 x (1 - p); with 0.2, a 20% churn "
        "risk scores 0 and 2% scores 90, which spreads low base rates over the tiers.",
    )


class ReasonOptions(_Spec):
    max_drags: int = Field(default=3, ge=0, le=20)
    max_lifts: int = Field(default=2, ge=0, le=20)


class Scorecard(_Spec):
    """One health scorecard: data sources, metrics, measures in groups, gates, tiers."""

    name: Identifier
    version: str = Field(min_length=1, max_length=64)
    description: str | None = None
    warehouse: str | None = Field(
        default=None, description="Ibis connection URL; default: duckdb file healthscore.duckdb."
    )
    sources: dict[TableName, Source]
    population: str | None = Field(
        default=None,
        description="Which accounts to score, e.g. 'active_subscriptions > 0'; default: every "
        "account created before as_of.",
    )
    metrics: dict[Identifier, Metric] = Field(min_length=1)
    groups: dict[Identifier, Group] = Field(min_length=1)
    gates: dict[Identifier, Gate] = Field(default_factory=dict)
    tiers: list[Tier] = Field(default_factory=lambda: list(DEFAULT_TIERS), min_length=1)
    segments: dict[Identifier, Variant] = Field(default_factory=dict)
    stages: dict[Identifier, Variant] = Field(default_factory=dict)
    reasons: ReasonOptions = Field(default_factory=ReasonOptions)
    outcome: Outcome | None = Field(
        default=None, description="What churn means here, for backtests and models."
    )
    model: ModelSection | None = Field(default=None, description="The churn model.")
    value: str | None = Field(
        default=None,
        description="A metric or account column worth keeping, e.g. 'arr' or an expected-spend "
        "metric; with a model, revenue_at_risk = churn probability x value.",
    )
    hysteresis: Hysteresis | None = Field(
        default=None, description="Damping of upward tier changes; default: none."
    )
    playbooks: dict[Identifier, Playbook] = Field(
        default_factory=dict,
        description="Rules that act on score changes: a trigger, conditions, actions.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # `version: 1.0` in YAML is a float; the user meant the text.
        return str(value) if isinstance(value, int | float) else value
