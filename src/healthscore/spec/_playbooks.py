"""The `playbooks:` and `hysteresis:` sections as pydantic models: what a user writes.

A trigger and an action are each a mapping with exactly one key that names their kind
(`{enter_tier: red}`, `{webhook: {...}}`). The models check shapes and types only; which
key was given, and every rule about values and references, is checked when the section
is resolved (`_playbook_section`), so one load reports all of a playbook's problems.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)


class _Spec(BaseModel):
    # Not _models._Spec: _models imports this module for the Scorecard's fields.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _OneKey(_Spec):
    # Editors flag a mapping with no key or with two; the resolver says which.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})


def _code_or_mapping(value: Any) -> str:
    return "mapping" if isinstance(value, dict | BaseModel) else "code"


def _days_text(value: Any) -> Any:
    # `sla: 3` would otherwise be reported as "text", which says nothing about days.
    if not isinstance(value, str):
        raise ValueError("a duration such as '3d' or '2w'")
    return value


Days = Annotated[str, BeforeValidator(_days_text)]


# ---------------------------------------------------------------- triggers


class Drop(_Spec):
    """The score at least `points` below its highest value of the last `days` days."""

    points: float = Field(description="Points below the highest score of the last `days` days.")
    days: int = Field(description="How many days back the highest score is taken from.")


class RenewalWindow(_Spec):
    """A renewal within `days` days, read from a days-until-renewal metric."""

    days: int = Field(description="Fires when the metric is between 0 and this many days.")
    metric: str = Field(
        default="days_to_renewal",
        description="A metric of this scorecard holding the days until renewal, e.g. "
        "`days_until(renewal_date)`.",
    )


class MeasureThreshold(_Spec):
    """A measure's sub-score at or below `at`."""

    measure: str = Field(description="The measure's code, 'group.measure'.")
    at: float = Field(default=0.0, description="The sub-score (0-100) at or below which it is bad.")


MeasureBad = Annotated[
    Annotated[str, Tag("code")] | Annotated[MeasureThreshold, Tag("mapping")],
    Discriminator(_code_or_mapping),
]


class PlaybookTrigger(_OneKey):
    """What starts a playbook for an account; exactly one key."""

    enter_tier: str | None = Field(
        default=None, description="The account enters this tier (it was not in it last run)."
    )
    leave_tier: str | None = Field(
        default=None, description="The account leaves this tier (it was in it last run)."
    )
    drop: Drop | None = Field(
        default=None, description="The score falls `points` below its highest of `days` days."
    )
    gate: str | None = Field(default=None, description="This gate starts to fire.")
    churn_probability_above: float | None = Field(
        default=None,
        description="The model's churn probability rises above this (0-1); needs `model:`.",
    )
    renewal_within: RenewalWindow | None = Field(
        default=None, description="The renewal comes within `days` days while not in the best tier."
    )
    measure_bad: MeasureBad | None = Field(
        default=None,
        description="A measure's sub-score falls to `at` (default 0) or below: "
        "'group.measure' or {measure: 'group.measure', at: 10}.",
    )


# ---------------------------------------------------------------- conditions


class AccountFilter(_Spec):
    """Which accounts a playbook acts on; every key given must match, an empty one matches all."""

    segment: list[str] = Field(default_factory=list, description="Segment names.")
    stage: list[str] = Field(default_factory=list, description="Lifecycle stage names.")
    value_tier: list[str] = Field(
        default_factory=list,
        description="Value tiers (high, medium, low, unknown); needs `value:`.",
    )
    owner: list[str] = Field(default_factory=list, description="Account owners.")


# ---------------------------------------------------------------- actions

Seconds = float | str


class _Delivery(_Spec):
    timeout: Seconds = Field(
        default="10s", description="Seconds to wait for an answer: a number, '5s' or '500ms'."
    )
    attempts: int = Field(default=4, description="Tries in all, the first included (1-10).")
    backoff: Seconds = Field(
        default="1s", description="Wait before the second try, doubled before each next one."
    )

    @field_validator("timeout", "backoff", mode="before")
    @classmethod
    def _number_or_text(cls, value: Any) -> Any:
        # A bool or a mapping would otherwise pass as 1.0 or fail once per union member.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("a number of seconds or text such as '5s' or '500ms'")
        return value


class Task(_Spec):
    """A task for the account's owner (or `owner`), due `sla` after the trigger."""

    title: str = Field(description="A template: {account_id}, {tier}, {score}, {reasons}, ...")
    sla: Days = Field(default="3d", description="Due this long after the trigger, e.g. '3d'.")
    owner: str | None = Field(default=None, description="Who gets it; default the account's owner.")


class Webhook(_Delivery):
    """A signed JSON POST of the account, its score and reasons."""

    url: str = Field(description="An http(s) URL.")
    secret_env: str | None = Field(
        default=None,
        description="The environment variable holding the HMAC-SHA256 signing secret; "
        "without it the request is not signed.",
    )


class Journey(_Delivery):
    """Enrollment in a marketing journey: a POST to `url`, or a row in the file `export`."""

    name: str = Field(description="The journey's name, sent with each account.")
    url: str | None = Field(default=None, description="An http(s) URL to POST to.")
    export: str | None = Field(
        default=None, description="A .csv or .parquet file (relative to the scorecard)."
    )
    secret_env: str | None = Field(
        default=None, description="The environment variable holding the signing secret."
    )


class Slack(_Delivery):
    """A message to a Slack-compatible incoming webhook."""

    url: str = Field(description="The incoming webhook's http(s) URL.")
    text: str = Field(description="A template: {account_id}, {tier}, {score}, {reasons}, ...")


class PlaybookAction(_OneKey):
    """One action; exactly one key."""

    task: Task | None = None
    webhook: Webhook | None = None
    journey: Journey | None = None
    slack: Slack | None = None


# ---------------------------------------------------------------- sections


class Playbook(_Spec):
    """A trigger, the accounts it applies to, and the actions it takes, at most once per
    account within `cooldown`."""

    label: str | None = Field(default=None, description="Display name; default: the name.")
    trigger: PlaybookTrigger
    when: AccountFilter = Field(default_factory=AccountFilter)
    cooldown: Days = Field(
        default="7d",
        description="No second run of this playbook for an account within this long, "
        "e.g. '14d' or '2w'.",
    )
    holdout: float = Field(
        default=0.0,
        description="Percent of triggered accounts (0 to under 100) kept as a control group: "
        "no action, only logged, to measure the playbook's effect.",
    )
    actions: list[PlaybookAction] = Field(min_length=1)


class Hysteresis(_Spec):
    """Damping of tier changes upward, so an account near a boundary does not flap."""

    margin: float = Field(
        default=0.0, description="Points above a better tier's `min` needed to move up (0: off)."
    )
    runs: int = Field(
        default=1, description="Consecutive runs in a better tier needed to move up (1: off)."
    )
