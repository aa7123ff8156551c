"""The `playbooks:` and `hysteresis:` sections: what valid YAML resolves to, and every
bad input reported at the line of its key, all at once."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import textwrap
import time
from typing import Any

import pytest

from healthscore import ScorecardError, load_scorecard_text
from healthscore.spec import Issue, Scorecard
from healthscore.spec._playbook_types import (
    ChurnAbove,
    EnterTier,
    GateFired,
    HysteresisSpec,
    JourneyAction,
    LeaveTier,
    MeasureBad,
    PlaybookConditions,
    RenewalWithin,
    ScoreDrop,
    SlackAction,
    TaskAction,
    Trigger,
    WebhookAction,
)
from tests.conftest import EXAMPLE

ISSUE_FORMAT = re.compile(r"^[^:]+:\d+: [\w.\[\]]+: .+\. Got .+\.$")
#: Top-level keys these tests set themselves; dropped from the example if it grows them.
OWN_KEYS = ("playbooks", "hysteresis", "model", "value")


def example_without_own_keys() -> str:
    kept: list[str] = []
    skipping = False
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True):
        if line[:1].isalpha():
            skipping = line.split(":", 1)[0] in OWN_KEYS
        if not skipping:
            kept.append(line)
    return "".join(kept)


BASE = example_without_own_keys()


def card(section: str, extra: str = "") -> str:
    """The example scorecard with `extra` top-level keys and the YAML `section` added."""
    return BASE + textwrap.dedent(extra) + textwrap.dedent(section)


def playbook(
    trigger: str = "{enter_tier: red}",
    actions: str = '- task: {title: "Call {account_id}"}',
    more: str = "",
) -> str:
    """A playbook `p` with the given trigger, extra keys and actions."""
    lines = ["playbooks:", "  p:", f"    trigger: {trigger}"]
    lines += [f"    {line}" for line in textwrap.dedent(more).splitlines() if line]
    lines += ["    actions:", *(f"      {line}" for line in actions.splitlines())]
    return "\n".join(lines) + "\n"


def line_with(text: str, needle: str) -> int:
    (line,) = [n for n, row in enumerate(text.splitlines(), start=1) if needle in row]
    return line


def issues_of(text: str) -> list[Issue]:
    with pytest.raises(ScorecardError) as caught:
        load_scorecard_text(text, "saas.yaml")
    issues = list(caught.value.issues)
    for issue in issues:
        assert ISSUE_FORMAT.match(str(issue)), str(issue)
    return issues


# ---------------------------------------------------------------- valid input


def test_the_example_has_no_playbooks_and_no_hysteresis() -> None:
    resolved = load_scorecard_text(BASE)
    assert resolved.playbooks == ()
    assert resolved.hysteresis == HysteresisSpec(margin=0.0, runs=1)


TRIGGERS: list[tuple[str, Trigger]] = [
    ("{enter_tier: red}", EnterTier("red")),
    ("{leave_tier: green}", LeaveTier("green")),
    ("{drop: {points: 15, days: 30}}", ScoreDrop(15.0, 30)),
    ("{gate: payment_risk}", GateFired("payment_risk")),
    ("{churn_probability_above: 0.4}", ChurnAbove(0.4)),
    ("{renewal_within: {days: 60}}", RenewalWithin(60, "days_to_renewal")),
    ("{renewal_within: {days: 60, metric: tenure_days}}", RenewalWithin(60, "tenure_days")),
    ("{measure_bad: usage.login_recency}", MeasureBad("usage.login_recency", 0.0)),
    # A measure that only the onboarding stage has counts too.
    ("{measure_bad: {measure: usage.team_invited, at: 10}}", MeasureBad("usage.team_invited", 10)),
]


@pytest.mark.parametrize(("trigger", "expected"), TRIGGERS, ids=[t for t, _ in TRIGGERS])
def test_every_trigger_kind_resolves(trigger: str, expected: Trigger) -> None:
    resolved = load_scorecard_text(card(playbook(trigger), extra="model: {}\n"))
    (spec,) = resolved.playbooks
    assert spec.trigger == expected


def test_every_action_kind_and_condition_resolves() -> None:
    section = """
    value: arr
    hysteresis:
      margin: 5
      runs: 2
    playbooks:
      rescue_red:
        label: Rescue accounts that turn red
        trigger: {enter_tier: red}
        when: {segment: [enterprise], stage: [mature], value_tier: [high, medium], owner: [alice]}
        cooldown: 2w
        holdout: 12.5
        actions:
          - task: {title: "Call {account_id}: {reasons}", sla: 3d, owner: null}
          - task: {title: "{playbook} for {account_id} ({score:.0f})", owner: bob}
          - webhook:
              url: "http://localhost:8080/hooks/health"
              secret_env: HS_WEBHOOK_SECRET
              timeout: 5s
              attempts: 4
              backoff: 1s
          - webhook: {url: "https://crm.example.com/hook", timeout: 2.5, backoff: 250ms}
          - journey: {name: winback, url: "https://marketing.example.com/journeys"}
          - journey: {name: winback, export: journeys/winback.parquet, attempts: 1}
          - slack: {url: "https://hooks.slack.com/services/T/B/X", text: "{account_id} is {tier}"}
    """
    resolved = load_scorecard_text(card(section))
    (spec,) = resolved.playbooks
    assert (spec.name, spec.label) == ("rescue_red", "Rescue accounts that turn red")
    assert spec.trigger == EnterTier("red")
    assert spec.conditions == PlaybookConditions(
        segments=("enterprise",),
        stages=("mature",),
        value_tiers=("high", "medium"),
        owners=("alice",),
    )
    assert (spec.cooldown_days, spec.holdout_percent) == (14, 12.5)
    assert spec.actions == (
        TaskAction("Call {account_id}: {reasons}", 3, None),
        TaskAction("{playbook} for {account_id} ({score:.0f})", 3, "bob"),
        WebhookAction("http://localhost:8080/hooks/health", "HS_WEBHOOK_SECRET", 5.0, 4, 1.0),
        WebhookAction("https://crm.example.com/hook", None, 2.5, 4, 0.25),
        JourneyAction(
            "winback", "https://marketing.example.com/journeys", None, None, 10.0, 4, 1.0
        ),
        JourneyAction("winback", None, "journeys/winback.parquet", None, 10.0, 1, 1.0),
        SlackAction(
            "https://hooks.slack.com/services/T/B/X", "{account_id} is {tier}", 10.0, 4, 1.0
        ),
    )
    assert resolved.hysteresis == HysteresisSpec(margin=5.0, runs=2)


def test_defaults() -> None:
    resolved = load_scorecard_text(card(playbook(), extra="hysteresis: {margin: 3}\n"))
    (spec,) = resolved.playbooks
    assert (spec.label, spec.cooldown_days, spec.holdout_percent) == ("p", 7, 0.0)
    assert spec.conditions == PlaybookConditions()
    assert resolved.hysteresis == HysteresisSpec(margin=3.0, runs=1)


def test_a_card_without_segments_has_the_default_one() -> None:
    plain = re.sub(r"\nsegments:\n(  .*\n|\n)*", "\n", BASE)
    assert "enterprise:" not in plain
    ok = playbook(more="when: {segment: [default], stage: [onboarding]}")
    (spec,) = load_scorecard_text(plain + ok).playbooks
    assert spec.conditions.segments == ("default",)
    (issue,) = issues_of(plain + playbook(more="when: {segment: [enterprise]}"))
    assert issue.object == "playbooks.p.when.segment"
    assert (issue.expected, issue.found) == ("segments among default", "'enterprise'")


def test_a_segment_model_gives_churn_probabilities() -> None:
    text = card(playbook("{churn_probability_above: 0.3}")).replace(
        "  self_serve:\n", "  self_serve:\n    model: models/self_serve\n", 1
    )
    (spec,) = load_scorecard_text(text).playbooks
    assert spec.trigger == ChurnAbove(0.3)


# ---------------------------------------------------------------- one problem each

BAD: list[tuple[dict[str, str], str, str, str, str]] = [
    # (playbook parts, extra top-level keys, the key's line text, object, expected start)
    (
        {"trigger": "{enter_tier: bluee}"},
        "",
        "trigger:",
        "playbooks.p.trigger.enter_tier",
        "a tier of this scorecard (green, yellow, red)",
    ),
    (
        {"trigger": "{leave_tier: gren}"},
        "",
        "trigger:",
        "playbooks.p.trigger.leave_tier",
        "a tier of this scorecard",
    ),
    (
        {"trigger": "{gate: no_recent_logins}"},
        "",
        "trigger:",
        "playbooks.p.trigger.gate",
        "a gate of this scorecard (payment_risk)",
    ),
    (
        {"trigger": "{measure_bad: usage.logins}"},
        "",
        "trigger:",
        "playbooks.p.trigger.measure_bad",
        "a measure code 'group.measure' of this scorecard (",
    ),
    (
        {"trigger": "\n      measure_bad:\n        measure: usage.logins"},
        "",
        "measure: usage.logins",
        "playbooks.p.trigger.measure_bad.measure",
        "a measure code 'group.measure'",
    ),
    (
        {"trigger": "\n      measure_bad:\n        measure: usage.login_recency\n        at: 100"},
        "",
        "at: 100",
        "playbooks.p.trigger.measure_bad.at",
        "a sub-score >= 0 and < 100",
    ),
    (
        {"trigger": "\n      renewal_within:\n        days: 60\n        metric: renewal_days"},
        "",
        "metric: renewal_days",
        "playbooks.p.trigger.renewal_within.metric",
        "a metric of this scorecard (active_subscriptions,",
    ),
    (
        {"trigger": "\n      renewal_within:\n        days: 0"},
        "",
        "days: 0",
        "playbooks.p.trigger.renewal_within.days",
        "a whole number of days >= 1",
    ),
    (
        {"trigger": "{churn_probability_above: 0.4}"},
        "",
        "trigger:",
        "playbooks.p.trigger.churn_probability_above",
        "a 'model:' section",
    ),
    (
        {"trigger": "\n      churn_probability_above: 1"},
        "model: {}\n",
        "churn_probability_above: 1",
        "playbooks.p.trigger.churn_probability_above",
        "a probability > 0 and < 1",
    ),
    (
        {"trigger": "\n      drop:\n        points: 0\n        days: 30"},
        "",
        "points: 0",
        "playbooks.p.trigger.drop.points",
        "a number of points > 0 and <= 100",
    ),
    (
        {"trigger": "{enter_tier: red, gate: payment_risk}"},
        "",
        "trigger:",
        "playbooks.p.trigger",
        "exactly one of enter_tier, leave_tier, drop, gate, churn_probability_above, "
        "renewal_within, measure_bad",
    ),
    (
        {"more": "when:\n  value_tier: [high]"},
        "",
        "value_tier: [high]",
        "playbooks.p.when.value_tier",
        "a 'value:' in the scorecard",
    ),
    (
        {"more": "when:\n  value_tier: [top]"},
        "value: arr\n",
        "value_tier: [top]",
        "playbooks.p.when.value_tier",
        "value tiers among high, medium, low, unknown",
    ),
    (
        {"more": "when:\n  segment: [smb]"},
        "",
        "segment: [smb]",
        "playbooks.p.when.segment",
        "segments among enterprise, self_serve",
    ),
    (
        {"more": "when:\n  stage: [churned]"},
        "",
        "stage: [churned]",
        "playbooks.p.when.stage",
        "stages among onboarding, mature",
    ),
    (
        {"more": "holdout: 100"},
        "",
        "holdout: 100",
        "playbooks.p.holdout",
        "a percent >= 0 and < 100",
    ),
    (
        {"more": "holdout: -1"},
        "",
        "holdout: -1",
        "playbooks.p.holdout",
        "a percent >= 0 and < 100",
    ),
    (
        {"more": "cooldown: 0d"},
        "",
        "cooldown: 0d",
        "playbooks.p.cooldown",
        "a duration of at least one day",
    ),
    (
        {"actions": "- task:\n    title: Call\n    sla: 0w"},
        "",
        "sla: 0w",
        "playbooks.p.actions.0.task.sla",
        "a duration of at least one day",
    ),
    (
        {"actions": "- webhook:\n    url: ftp://example.com/hook"},
        "",
        "url: ftp://",
        "playbooks.p.actions.0.webhook.url",
        "an http:// or https:// URL with a host",
    ),
    (
        {"actions": "- webhook:\n    url: https:///no-host"},
        "",
        "url: https:///",
        "playbooks.p.actions.0.webhook.url",
        "an http:// or https:// URL with a host",
    ),
    (
        {"actions": "- slack:\n    url: hooks.slack.com/x\n    text: hi"},
        "",
        "url: hooks",
        "playbooks.p.actions.0.slack.url",
        "an http:// or https:// URL with a host",
    ),
    (
        {"actions": "- webhook:\n    url: http://localhost/h\n    timeout: 0s"},
        "",
        "timeout: 0s",
        "playbooks.p.actions.0.webhook.timeout",
        "a duration > 0 in seconds",
    ),
    (
        {"actions": "- webhook:\n    url: http://localhost/h\n    backoff: soon"},
        "",
        "backoff: soon",
        "playbooks.p.actions.0.webhook.backoff",
        "a duration >= 0 in seconds",
    ),
    (
        {"actions": "- webhook:\n    url: http://localhost/h\n    attempts: 0"},
        "",
        "attempts: 0",
        "playbooks.p.actions.0.webhook.attempts",
        "a whole number of tries from 1 to 10",
    ),
    (
        {"actions": "- webhook:\n    url: http://localhost/h\n    secret_env: my-secret"},
        "",
        "secret_env: my-secret",
        "playbooks.p.actions.0.webhook.secret_env",
        "the name of an environment variable",
    ),
    (
        {"actions": "- journey:\n    name: winback"},
        "",
        "- journey:",
        "playbooks.p.actions.0.journey",
        "exactly one of 'url' or 'export'",
    ),
    (
        {"actions": "- journey:\n    name: winback\n    url: http://x.io\n    export: w.csv"},
        "",
        "- journey:",
        "playbooks.p.actions.0.journey",
        "exactly one of 'url' or 'export'",
    ),
    (
        {"actions": "- journey:\n    name: winback\n    export: journeys/winback.xlsx"},
        "",
        "export: journeys",
        "playbooks.p.actions.0.journey.export",
        "a .csv or .parquet file",
    ),
    (
        {"actions": "- {}"},
        "",
        "- {}",
        "playbooks.p.actions.0",
        "exactly one of task, webhook, journey, slack",
    ),
    (
        {"actions": "- slack:\n    url: https://hooks.slack.com/x\n    text: '{acount_id}'"},
        "",
        "text: '{acount_id}'",
        "playbooks.p.actions.0.slack.text",
        "a template using only {placeholder}s among account_id, as_of, churn_probability,",
    ),
    (
        {"actions": "- task:\n    title: 'Call {account_id'"},
        "",
        "title: 'Call",
        "playbooks.p.actions.0.task.title",
        "a template using only {placeholder}s",
    ),
    (
        {},
        "hysteresis:\n  margin: -1\n",
        "margin: -1",
        "hysteresis.margin",
        "a number of points from 0 to 100",
    ),
    (
        {},
        "hysteresis:\n  runs: 0\n",
        "runs: 0",
        "hysteresis.runs",
        "a whole number of runs >= 1",
    ),
    # Schema errors: the same format, reported before the rules run.
    (
        {"trigger": "\n      entr_tier: red"},
        "",
        "entr_tier: red",
        "playbooks.p.trigger.entr_tier",
        "a known key",
    ),
    (
        {"actions": "- task:\n    title: Call\n    sla: 3"},
        "",
        "sla: 3",
        "playbooks.p.actions.0.task.sla",
        "a duration such as '3d' or '2w'",
    ),
    (
        {"actions": "- webhook:\n    url: http://localhost/h\n    timeout: true"},
        "",
        "timeout: true",
        "playbooks.p.actions.0.webhook.timeout",
        "a number of seconds or text",
    ),
]


@pytest.mark.parametrize(
    ("parts", "extra", "needle", "object_", "expected"), BAD, ids=[case[3] for case in BAD]
)
def test_one_problem(
    parts: dict[str, str], extra: str, needle: str, object_: str, expected: str
) -> None:
    text = card(playbook(**parts), extra=extra)
    (issue,) = issues_of(text)
    assert (issue.object, issue.line) == (object_, line_with(text, needle))
    assert issue.expected.startswith(expected), issue.expected


def test_an_unknown_placeholder_names_the_allowed_ones() -> None:
    text = card(playbook(actions='- task: {title: "{acount} at {score:.0f}, {tier.upper}"}'))
    (issue,) = issues_of(text)
    assert str(issue) == (
        f"saas.yaml:{line_with(text, 'title:')}: playbooks.p.actions.0.task.title: a template "
        "using only {placeholder}s among account_id, as_of, churn_probability, owner, playbook, "
        "previous_tier, reasons, score, segment, stage, tier, trigger. "
        "Got unknown placeholder(s) {acount}, {tier.upper}."
    )


def test_every_problem_is_reported_at_once() -> None:
    section = """
    hysteresis: {margin: -5, runs: 0}
    playbooks:
      rescue:
        trigger: {enter_tier: crimson}
        when: {segment: [smb], value_tier: [high]}
        cooldown: 0d
        holdout: 150
        actions:
          - task: {title: "{who}", sla: 0d}
          - webhook: {url: "ftp://example.com", attempts: 0}
          - journey: {name: winback, export: winback.json}
          - slack: {url: "https://hooks.slack.com/x", text: "{account_id} {when}"}
      churn:
        trigger: {churn_probability_above: 2}
        actions:
          - journey: {name: winback}
      falling:
        trigger: {measure_bad: {measure: usage.logins, at: -1}}
        actions:
          - task: {title: ok}
    """
    text = card(section)
    issues = issues_of(text)
    found = {(issue.line, issue.object) for issue in issues}
    expected = {
        ("margin: -5", "hysteresis.margin"),
        ("margin: -5", "hysteresis.runs"),
        ("enter_tier: crimson", "playbooks.rescue.trigger.enter_tier"),
        ("segment: [smb]", "playbooks.rescue.when.segment"),
        ("segment: [smb]", "playbooks.rescue.when.value_tier"),
        ("cooldown: 0d", "playbooks.rescue.cooldown"),
        ("holdout: 150", "playbooks.rescue.holdout"),
        ('"{who}"', "playbooks.rescue.actions.0.task.title"),
        ('"{who}"', "playbooks.rescue.actions.0.task.sla"),
        ("ftp://", "playbooks.rescue.actions.1.webhook.url"),
        ("ftp://", "playbooks.rescue.actions.1.webhook.attempts"),
        ("winback.json", "playbooks.rescue.actions.2.journey.export"),
        ("{when}", "playbooks.rescue.actions.3.slack.text"),
        ("churn_probability_above: 2", "playbooks.churn.trigger.churn_probability_above"),
        ("- journey: {name: winback}\n", "playbooks.churn.actions.0.journey"),
        ("usage.logins, at: -1", "playbooks.falling.trigger.measure_bad.measure"),
        ("usage.logins, at: -1", "playbooks.falling.trigger.measure_bad.at"),
    }
    # churn: a probability out of range and no model, two issues on one key
    assert len(issues) == len(expected) + 1
    assert found == {(line_with(text, needle.rstrip("\n")), obj) for needle, obj in expected}
    lines = [issue.line for issue in issues]
    assert lines == sorted(lines)


# ---------------------------------------------------------------- hash and schema


def test_the_content_hash_covers_playbooks_and_hysteresis() -> None:
    plain = load_scorecard_text(BASE).hash
    with_playbook = card(playbook())
    first = load_scorecard_text(with_playbook).hash
    assert first != plain
    reformatted = with_playbook.replace("{enter_tier: red}", "\n      enter_tier: 'red'  # hi")
    assert load_scorecard_text(reformatted).hash == first
    for old, new in (
        ("{enter_tier: red}", "{enter_tier: yellow}"),
        ("Call {account_id}", "Ring {account_id}"),
    ):
        assert load_scorecard_text(with_playbook.replace(old, new)).hash != first
    explicit = card(playbook(more="cooldown: 7d\nholdout: 0"))
    assert load_scorecard_text(explicit).hash == first  # defaults written out
    assert load_scorecard_text(card(playbook(more="holdout: 5"))).hash != first
    hashes = {
        load_scorecard_text(card("hysteresis: " + section + "\n")).hash
        for section in ("{margin: 5}", "{margin: 5, runs: 1}", "{runs: 2}")
    }
    assert len(hashes) == 2 and plain not in hashes


def test_json_schema_has_the_sections() -> None:
    schema = Scorecard.model_json_schema()
    assert {"playbooks", "hysteresis"} <= set(schema["properties"])
    text = json.dumps(schema)
    for name in ("PlaybookTrigger", "PlaybookAction", "Webhook", "Journey", "Slack", "Task"):
        assert name in schema["$defs"], name
    assert schema["$defs"]["PlaybookTrigger"]["maxProperties"] == 1
    assert "X-Healthscore" not in text  # descriptions stay short; the docs explain signing


# ---------------------------------------------------------------- the documented signature


def test_the_documented_signature_check_works() -> None:
    doc = (EXAMPLE.parents[3] / "docs" / "scorecard.md").read_text(encoding="utf-8")
    (code,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", doc, re.DOTALL | re.MULTILINE)
        if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    verify = namespace["verify"]
    secret, body, now = b"s3cret", b'{"account_id": "acme"}', int(time.time())
    digest = hmac.new(secret, f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    header = f"t={now},v1={digest}"
    assert verify(secret, header, body)
    assert not verify(secret, header, body + b" ")
    assert not verify(b"other", header, body)
    old = now - 3600
    stale = hmac.new(secret, f"{old}.".encode() + body, hashlib.sha256).hexdigest()
    assert not verify(secret, f"t={old},v1={stale}", body)
