"""The scorecard after validation: frozen dataclasses the engine works on.

User YAML is parsed into pydantic models (`_models`); once every rule passes, it is
resolved into these immutable specs, with segment and stage variants merged and hidden
helper metrics (previous windows, baselines) made explicit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from healthscore.spec._expr import Expr
from healthscore.spec._models import AggregateKind, Source
from healthscore.spec._outcomes import OutcomeSpec
from healthscore.spec._playbook_types import HysteresisSpec, PlaybookSpec


class MissingPolicy(enum.StrEnum):
    REWEIGHT = "reweight"
    NEUTRAL = "neutral"
    WORST = "worst"


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class AggregateSpec:
    name: str
    kind: AggregateKind
    table: str
    column: str | None
    where: Expr | None
    window_days: int | None
    label: str
    offset_days: int = 0  # the window ends this many days before as_of


@dataclass(frozen=True)
class ReplenishmentSpec:
    name: str
    table: str
    where: Expr | None
    window_days: int | None
    label: str


@dataclass(frozen=True)
class ChangeSpec:
    name: str
    current: str
    previous: str
    output: str  # "percent" | "ratio"
    window_days: int
    label: str


@dataclass(frozen=True)
class RateSpec:
    name: str
    numerator: str
    denominator: str
    label: str


@dataclass(frozen=True)
class TenureScaledSpec:
    name: str
    metric: str
    window_days: int
    label: str


@dataclass(frozen=True)
class BaselineRatioSpec:
    name: str
    current: str
    baseline: str
    scale: float  # current window days / baseline window days
    label: str


@dataclass(frozen=True)
class ExprSpec:
    name: str
    expr: Expr
    label: str


MetricSpec: TypeAlias = (
    AggregateSpec
    | ReplenishmentSpec
    | ChangeSpec
    | RateSpec
    | TenureScaledSpec
    | BaselineRatioSpec
    | ExprSpec
)

# ---------------------------------------------------------------- normalizers


@dataclass(frozen=True)
class BandsNormalizer:
    thresholds: tuple[float, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class LinearNormalizer:
    bad: float
    good: float


@dataclass(frozen=True)
class PercentileNormalizer:
    higher_is_better: bool
    within_segment: bool


@dataclass(frozen=True)
class LogZNormalizer:
    higher_is_better: bool
    within_segment: bool
    z_range: float


Normalizer: TypeAlias = BandsNormalizer | LinearNormalizer | PercentileNormalizer | LogZNormalizer


# ---------------------------------------------------------------- scoring structure


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    group: str
    metric: str
    weight: float
    missing: MissingPolicy
    neutral: float
    normalizer: Normalizer
    label: str
    reason: str | None

    @property
    def code(self) -> str:
        return f"{self.group}.{self.name}"


@dataclass(frozen=True)
class GroupSpec:
    name: str
    weight: float
    label: str
    measures: tuple[MeasureSpec, ...]


@dataclass(frozen=True)
class VariantSpec:
    segment: str
    stage: str
    groups: tuple[GroupSpec, ...]
    model: Path | None = None  # a trained model scores these accounts instead of the groups

    @property
    def measures(self) -> tuple[MeasureSpec, ...]:
        return tuple(measure for group in self.groups for measure in group.measures)


@dataclass(frozen=True)
class ConditionSpec:
    """A segment or stage: its name and condition (None for the default)."""

    name: str
    when: Expr | None


@dataclass(frozen=True)
class GateSpec:
    name: str
    when: Expr
    cap: float | None
    floor: float | None
    reason: str


@dataclass(frozen=True)
class TierSpec:
    name: str
    min: float
    color: str
    label: str


@dataclass(frozen=True)
class ModelSpec:
    path: Path | None
    features: tuple[str, ...] | None
    attributes: tuple[str, ...]
    sensitive: tuple[str, ...]
    allow_sensitive: tuple[str, ...]
    zero_score_at: float = 1.0


@dataclass(frozen=True)
class ResolvedScorecard:
    name: str
    version: str
    hash: str
    path: Path | None
    warehouse: str | None
    sources: dict[str, Source]
    population: Expr | None
    metrics: tuple[MetricSpec, ...]  # dependencies before dependents
    segments: tuple[ConditionSpec, ...]
    stages: tuple[ConditionSpec, ...]
    variants: dict[tuple[str, str], VariantSpec]
    gates: tuple[GateSpec, ...]
    tiers: tuple[TierSpec, ...]  # best first
    max_drags: int
    max_lifts: int
    outcome: OutcomeSpec | None = None
    model: ModelSpec | None = None
    value: str | None = None
    playbooks: tuple[PlaybookSpec, ...] = ()
    hysteresis: HysteresisSpec = field(default_factory=HysteresisSpec)
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, repr=False)
    file: str = "<scorecard>"  # as the user named it, for messages

    def line_of(self, *location: str | int) -> int:
        """The line in the scorecard file of a key path such as ('metrics', 'logins_30d')."""
        for end in range(len(location), 0, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return 1

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def metric(self, name: str) -> MetricSpec:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)

    @property
    def model_paths(self) -> tuple[Path, ...]:
        """Every model folder a variant scores with, once each, in variant order."""
        return tuple(dict.fromkeys(v.model for v in self.variants.values() if v.model))

    @property
    def measures(self) -> tuple[MeasureSpec, ...]:
        """Every distinct measure across all variants, by code."""
        seen: dict[str, MeasureSpec] = {}
        for variant in self.variants.values():
            for measure in variant.measures:
                seen.setdefault(measure.code, measure)
        return tuple(seen.values())
