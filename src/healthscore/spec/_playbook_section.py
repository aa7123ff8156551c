"""The scorecard's `playbooks:` and `hysteresis:` sections, checked and resolved.

The models (`_playbooks`) check shapes and types; every rule on values and references
runs here, against the tiers, gates, metrics, measures, segments and stages the rest of
the scorecard resolved to, and each problem is reported at the line of its key.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from healthscore.spec import _models as m
from healthscore.spec import _playbooks as p
from healthscore.spec._loader import Location
from healthscore.spec._metrics import Report, humanize
from healthscore.spec._playbook_types import (
    Action,
    ChurnAbove,
    EnterTier,
    GateFired,
    HysteresisSpec,
    JourneyAction,
    LeaveTier,
    MeasureBad,
    PlaybookConditions,
    PlaybookSpec,
    RenewalWithin,
    ScoreDrop,
    SlackAction,
    TaskAction,
    Trigger,
    WebhookAction,
)
from healthscore.spec._resolved import ConditionSpec, VariantSpec

#: The fields a task title or Slack text may use.
PLACEHOLDERS = frozenset(
    {
        "account_id",
        "score",
        "tier",
        "previous_tier",
        "segment",
        "stage",
        "owner",
        "reasons",
        "trigger",
        "playbook",
        "churn_probability",
        "as_of",
    }
)
VALUE_TIERS = ("high", "medium", "low", "unknown")  # compute/_model_reasons.py names them
EXPORT_SUFFIXES = (".csv", ".parquet")
MAX_ATTEMPTS = 10  # the wait doubles before each try: 10 tries already wait 2^8 x backoff
_SECONDS = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def resolve_hysteresis(card: m.Scorecard, report: Report) -> HysteresisSpec:
    section = card.hysteresis
    if section is None:
        return HysteresisSpec()
    if not 0 <= section.margin <= 100:
        report(("hysteresis", "margin"), "a number of points from 0 to 100", f"{section.margin:g}")
    if section.runs < 1:
        report(("hysteresis", "runs"), "a whole number of runs >= 1", str(section.runs))
    return HysteresisSpec(margin=section.margin, runs=section.runs)


def resolve_playbooks(
    card: m.Scorecard,
    segments: tuple[ConditionSpec, ...],
    stages: tuple[ConditionSpec, ...],
    variants: Iterable[VariantSpec],
    report: Report,
) -> tuple[PlaybookSpec, ...]:
    """Every playbook whose trigger names one kind; the rest only leave issues."""
    resolver = _Playbooks(card, segments, stages, variants, report)
    specs = (
        resolver.playbook(name, playbook, ("playbooks", name))
        for name, playbook in card.playbooks.items()
    )
    return tuple(spec for spec in specs if spec is not None)


class _Playbooks:
    def __init__(
        self,
        card: m.Scorecard,
        segments: tuple[ConditionSpec, ...],
        stages: tuple[ConditionSpec, ...],
        variants: Iterable[VariantSpec],
        report: Report,
    ) -> None:
        self.card = card
        self.report = report
        self.segments = tuple(condition.name for condition in segments)
        self.stages = tuple(condition.name for condition in stages)
        self.measures = tuple(
            sorted({measure.code for variant in variants for measure in variant.measures})
        )
        self.has_model = card.model is not None or any(
            variant.model
            for section in (card.segments, card.stages)
            for variant in section.values()
        )

    def playbook(self, name: str, playbook: p.Playbook, where: Location) -> PlaybookSpec | None:
        trigger = self.trigger(playbook.trigger, (*where, "trigger"))
        conditions = self.conditions(playbook.when, (*where, "when"))
        cooldown = self.days(playbook.cooldown, (*where, "cooldown"))
        if not 0 <= playbook.holdout < 100:
            self.report((*where, "holdout"), "a percent >= 0 and < 100", f"{playbook.holdout:g}")
        actions = [
            self.action(action, (*where, "actions", index))
            for index, action in enumerate(playbook.actions)
        ]
        if trigger is None:
            return None
        return PlaybookSpec(
            name=name,
            label=playbook.label or humanize(name),
            trigger=trigger,
            conditions=conditions,
            cooldown_days=cooldown,
            holdout_percent=playbook.holdout,
            actions=tuple(action for action in actions if action is not None),
        )

    # ------------------------------------------------------------ triggers

    def trigger(self, trigger: p.PlaybookTrigger, where: Location) -> Trigger | None:
        given = [key for key in p.PlaybookTrigger.model_fields if getattr(trigger, key) is not None]
        if len(given) != 1:
            self.report(
                where,
                f"exactly one of {', '.join(p.PlaybookTrigger.model_fields)}",
                " and ".join(given) or "none",
            )
            return None
        here = (*where, given[0])
        tiers = [tier.name for tier in self.card.tiers]
        if trigger.enter_tier is not None:
            self.known(trigger.enter_tier, tiers, "a tier", here)
            return EnterTier(trigger.enter_tier)
        if trigger.leave_tier is not None:
            self.known(trigger.leave_tier, tiers, "a tier", here)
            return LeaveTier(trigger.leave_tier)
        if trigger.drop is not None:
            drop = trigger.drop
            if not 0 < drop.points <= 100:
                self.report(
                    (*here, "points"), "a number of points > 0 and <= 100", f"{drop.points:g}"
                )
            if drop.days < 1:
                self.report((*here, "days"), "a whole number of days >= 1", str(drop.days))
            return ScoreDrop(drop.points, drop.days)
        if trigger.gate is not None:
            self.known(trigger.gate, list(self.card.gates), "a gate", here)
            return GateFired(trigger.gate)
        if trigger.churn_probability_above is not None:
            probability = trigger.churn_probability_above
            if not 0 < probability < 1:
                self.report(here, "a probability > 0 and < 1", f"{probability:g}")
            if not self.has_model:
                self.report(
                    here,
                    "a 'model:' section (or a segment or stage with 'model:'), since only a "
                    "model gives churn probabilities",
                    "none",
                )
            return ChurnAbove(probability)
        if trigger.renewal_within is not None:
            renewal = trigger.renewal_within
            if renewal.days < 1:
                self.report((*here, "days"), "a whole number of days >= 1", str(renewal.days))
            self.known(renewal.metric, list(self.card.metrics), "a metric", (*here, "metric"))
            return RenewalWithin(renewal.days, renewal.metric)
        if trigger.measure_bad is not None:
            bad = trigger.measure_bad
            threshold = p.MeasureThreshold(measure=bad) if isinstance(bad, str) else bad
            inner = here if isinstance(bad, str) else (*here, "measure")
            self.known(threshold.measure, self.measures, "a measure code 'group.measure'", inner)
            if not 0 <= threshold.at < 100:
                self.report((*here, "at"), "a sub-score >= 0 and < 100", f"{threshold.at:g}")
            return MeasureBad(threshold.measure, threshold.at)
        raise AssertionError(given)  # one key was given, and each is handled above

    # ------------------------------------------------------------ conditions

    def conditions(self, when: p.AccountFilter, where: Location) -> PlaybookConditions:
        for key, names, known in (
            ("segment", when.segment, self.segments),
            ("stage", when.stage, self.stages),
            ("value_tier", when.value_tier, VALUE_TIERS),
        ):
            unknown = [name for name in names if name not in known]
            if unknown:
                self.report(
                    (*where, key),
                    f"{key.replace('_', ' ')}s among {', '.join(known)}",
                    ", ".join(f"'{name}'" for name in unknown),
                )
        if when.value_tier and self.card.value is None:
            self.report(
                (*where, "value_tier"),
                "a 'value:' in the scorecard, which value tiers rank accounts by",
                "none",
            )
        return PlaybookConditions(
            segments=tuple(when.segment),
            stages=tuple(when.stage),
            value_tiers=tuple(when.value_tier),
            owners=tuple(when.owner),
        )

    # ------------------------------------------------------------ actions

    def action(self, item: p.PlaybookAction, where: Location) -> Action | None:
        given = [key for key in p.PlaybookAction.model_fields if getattr(item, key) is not None]
        if len(given) != 1:
            self.report(
                where,
                f"exactly one of {', '.join(p.PlaybookAction.model_fields)}",
                " and ".join(given) or "none",
            )
            return None
        here = (*where, given[0])
        if item.task is not None:
            task = item.task
            self.template(task.title, (*here, "title"))
            return TaskAction(task.title, self.days(task.sla, (*here, "sla")), task.owner)
        if item.webhook is not None:
            hook = item.webhook
            self.url(hook.url, (*here, "url"))
            self.secret(hook.secret_env, (*here, "secret_env"))
            return WebhookAction(hook.url, hook.secret_env, *self.delivery(hook, here))
        if item.journey is not None:
            journey = item.journey
            if not journey.name.strip():
                self.report((*here, "name"), "the journey's name", "empty text")
            if (journey.url is None) == (journey.export is None):
                self.report(
                    here,
                    "exactly one of 'url' or 'export'",
                    "both" if journey.url is not None else "neither",
                )
            if journey.url is not None:
                self.url(journey.url, (*here, "url"))
            if journey.export is not None:
                suffix = PurePosixPath(journey.export).suffix.lower()
                if suffix not in EXPORT_SUFFIXES:
                    self.report((*here, "export"), "a .csv or .parquet file", f"'{journey.export}'")
            self.secret(journey.secret_env, (*here, "secret_env"))
            return JourneyAction(
                journey.name,
                journey.url,
                journey.export,
                journey.secret_env,
                *self.delivery(journey, here),
            )
        if item.slack is not None:
            slack = item.slack
            self.url(slack.url, (*here, "url"))
            self.template(slack.text, (*here, "text"))
            return SlackAction(slack.url, slack.text, *self.delivery(slack, here))
        raise AssertionError(given)

    def delivery(
        self, action: p.Webhook | p.Journey | p.Slack, where: Location
    ) -> tuple[float, int, float]:
        """Timeout, attempts and backoff of an action that makes HTTP calls."""
        timeout = seconds(action.timeout)
        if timeout is None or timeout <= 0:
            self.report(
                (*where, "timeout"),
                "a duration > 0 in seconds, such as 5, '5s' or '500ms'",
                _shown(action.timeout),
            )
        if not 1 <= action.attempts <= MAX_ATTEMPTS:
            self.report(
                (*where, "attempts"),
                f"a whole number of tries from 1 to {MAX_ATTEMPTS}",
                str(action.attempts),
            )
        backoff = seconds(action.backoff)
        if backoff is None:
            self.report(
                (*where, "backoff"),
                "a duration >= 0 in seconds, such as 1, '1s' or '500ms'",
                _shown(action.backoff),
            )
        return timeout or 0.0, action.attempts, backoff or 0.0

    # ------------------------------------------------------------ single values

    def known(self, name: str, names: Iterable[str], what: str, where: Location) -> None:
        choices = list(names)
        if name not in choices:
            listed = ", ".join(choices) if choices else "none defined"
            self.report(where, f"{what} of this scorecard ({listed})", f"'{name}'")

    def days(self, text: str, where: Location) -> int:
        match = m.WINDOW_PATTERN.match(text.strip())
        days = 0 if match is None else int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        if days <= 0:
            self.report(where, "a duration of at least one day, such as '3d' or '2w'", f"'{text}'")
        return days

    def url(self, url: str, where: Location) -> None:
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            self.report(where, "an http:// or https:// URL with a host", f"'{url}'")

    def secret(self, name: str | None, where: Location) -> None:
        if name is not None and not _ENV_NAME.match(name):
            self.report(
                where,
                "the name of an environment variable (letters, digits and _)",
                f"'{name}'",
            )

    def template(self, text: str, where: Location) -> None:
        allowed = ", ".join(sorted(PLACEHOLDERS))
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as error:
            self.report(
                where,
                f"a template using only {{placeholder}}s among {allowed}",
                f"a format error ({error})",
            )
            return
        unknown = sorted(fields - PLACEHOLDERS)
        if unknown:
            shown = ", ".join("{" + name + "}" for name in unknown)
            self.report(
                where,
                f"a template using only {{placeholder}}s among {allowed}",
                f"unknown placeholder(s) {shown}",
            )


def seconds(value: float | str) -> float | None:
    """Seconds in a duration such as 5, '5s' or '500ms'; None when it is not one."""
    if isinstance(value, str):
        match = _SECONDS.match(value.strip())
        if match is None:
            return None
        amount = float(match.group(1))
        value = amount / 1000 if match.group(2) == "ms" else amount
    return value if math.isfinite(value) and value >= 0 else None


def _shown(value: float | str) -> str:
    return f"'{value}'" if isinstance(value, str) else f"{value:g}"
