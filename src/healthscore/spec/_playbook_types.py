"""Playbooks and tier hysteresis after validation: the frozen specs the engine acts on.

A playbook is one trigger, optional conditions on the account, a cooldown, a control
group share and a list of actions. The YAML form lives in `_playbooks`; these are what
it resolves to, so triggers, delivery and the store never see raw user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

# ---------------------------------------------------------------- triggers


@dataclass(frozen=True)
class EnterTier:
    """The account is in `tier` now and was not at the previous run."""

    tier: str


@dataclass(frozen=True)
class LeaveTier:
    """The account was in `tier` at the previous run and is not now."""

    tier: str


@dataclass(frozen=True)
class ScoreDrop:
    """The score fell at least `points` below its highest value of the last `days` days."""

    points: float
    days: int


@dataclass(frozen=True)
class GateFired:
    """The gate fires now and did not at the previous run."""

    gate: str


@dataclass(frozen=True)
class ChurnAbove:
    """The churn probability (from a model) is above `probability` now, and was not."""

    probability: float


@dataclass(frozen=True)
class RenewalWithin:
    """The metric `metric` (days until renewal) is within [0, days] and the account is
    not in the best tier; fires when that starts to hold."""

    days: int
    metric: str


@dataclass(frozen=True)
class MeasureBad:
    """The measure's sub-score (code 'group.measure') is at or below `at` now, and was not."""

    measure: str
    at: float = 0.0


Trigger: TypeAlias = (
    EnterTier | LeaveTier | ScoreDrop | GateFired | ChurnAbove | RenewalWithin | MeasureBad
)

# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class TaskAction:
    """Create a task for the account's owner, due `sla_days` after the trigger."""

    title: str  # a template: {account_id}, {score}, {tier}, {reasons}, {trigger} ...
    sla_days: int
    owner: str | None = None  # None: the account's owner


@dataclass(frozen=True)
class WebhookAction:
    """POST the account, score and reasons as JSON, signed with HMAC-SHA256."""

    url: str
    secret_env: str | None  # the environment variable holding the signing secret
    timeout_seconds: float
    attempts: int  # tries in all, the first included
    backoff_seconds: float  # wait before the second try; doubles each time


@dataclass(frozen=True)
class JourneyAction:
    """Enroll the account in a marketing journey: a webhook call or a file export."""

    journey: str
    url: str | None  # POST like a webhook, with the journey's name in the body
    export: str | None  # a .csv or .parquet path (relative to the scorecard)
    secret_env: str | None
    timeout_seconds: float
    attempts: int
    backoff_seconds: float


@dataclass(frozen=True)
class SlackAction:
    """A Slack-compatible incoming-webhook message."""

    url: str
    text: str  # a template, like TaskAction.title
    timeout_seconds: float
    attempts: int
    backoff_seconds: float


Action: TypeAlias = TaskAction | WebhookAction | JourneyAction | SlackAction

# ---------------------------------------------------------------- playbooks


@dataclass(frozen=True)
class PlaybookConditions:
    """Which accounts a playbook applies to; an empty tuple means any value."""

    segments: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    value_tiers: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaybookSpec:
    name: str
    label: str
    trigger: Trigger
    conditions: PlaybookConditions
    cooldown_days: int  # no second action for the same account within this many days
    holdout_percent: float  # share of eligible accounts kept as a control group, 0-100
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class HysteresisSpec:
    """An account moves to a better tier only when its score clears that tier's minimum
    by `margin` points, or after `runs` consecutive runs in the better tier."""

    margin: float = 0.0
    runs: int = 1
