"""Bad scorecards: every error at once, each with file, line, object, expected and found."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from healthscore import ScorecardError, load_scorecard, load_scorecard_text
from healthscore.spec import Issue, Scorecard

BASE = """name: card
version: "1"
sources:
  accounts: {table: accounts}
  events: {table: events}
metrics:
  logins_30d: {kind: count, table: events, where: "type == 'login'", window: 30d}
  users_30d: {kind: distinct, table: events, column: user_id, window: 30d}
groups:
  usage:
    weight: 1
    measures:
      logins: {kind: linear, metric: logins_30d, bad: 0, good: 20}
      users: {kind: linear, metric: users_30d, bad: 0, good: 5}
"""
ISSUE_FORMAT = re.compile(r"^[^:]+:\d+: [\w.\[\]]+: .+\. Got .+\.$")


def issues_of(text: str) -> list[Issue]:
    with pytest.raises(ScorecardError) as caught:
        load_scorecard_text(text, "card.yaml")
    issues = list(caught.value.issues)
    for issue in issues:
        assert ISSUE_FORMAT.match(str(issue)), str(issue)
    return issues


def test_the_base_card_is_valid() -> None:
    card = load_scorecard_text(BASE)
    assert [m.name for m in card.measures] == ["logins", "users"]


def test_every_error_is_reported_at_once_with_lines() -> None:
    text = BASE.replace("weight: 1", "weight: -5").replace("good: 20", "good: 20, wieght: 2")
    text += "tiers:\n  - {name: green, min: 40}\n  - {name: red, min: 70}\n"
    issues = issues_of(text)
    found = {(issue.line, issue.object) for issue in issues}
    assert (11, "groups.usage.weight") in found
    assert (13, "groups.usage.measures.logins.wieght") in found
    assert len(issues) == 2  # schema errors first; the tier rule runs once the schema passes
    weight = next(i for i in issues if i.object.endswith("weight"))
    assert str(weight) == "card.yaml:11: groups.usage.weight: a number >= 0. Got -5."
    typo = next(i for i in issues if i.object.endswith("wieght"))
    assert "did you mean 'weight'" in typo.found


def test_semantic_errors_are_all_reported() -> None:
    text = BASE.replace("table: events, where", "table: orders, where").replace(
        "metric: users_30d", "metric: active_30d"
    )
    text += "tiers:\n  - {name: green, min: 40}\n  - {name: red, min: 70}\n"
    issues = issues_of(text)
    objects = {issue.object for issue in issues}
    assert {
        "metrics.logins_30d.table",
        "groups.usage.measures.users.metric",
        "tiers.1.min",
    } <= objects
    tier = next(i for i in issues if i.object == "tiers.1.min")
    assert tier.line == 17
    unknown = next(i for i in issues if i.object == "groups.usage.measures.users.metric")
    assert "logins_30d" in unknown.expected and "'active_30d'" in unknown.found


@pytest.mark.parametrize(
    ("change", "object_", "expected"),
    [
        (("weight: 1", "weight: 0"), "groups", "not all zero"),
        (("good: 5}", "good: 5, weight: 0}"), "groups.usage.measures", "not all zero"),
        (
            ("bad: 0, good: 20", "bad: 5, good: 5"),
            "groups.usage.measures.logins.good",
            "different from 'bad'",
        ),
        (("window: 30d}", "window: 30 days}"), "metrics.logins_30d.window", "window"),
        (("kind: count", "kind: median"), "metrics.logins_30d", "'kind' among"),
        (
            ("where: \"type == 'login'\"", "where: \"type === 'login'\""),
            "metrics.logins_30d.where",
            "valid expression",
        ),
    ],
)
def test_named_errors(change: tuple[str, str], object_: str, expected: str) -> None:
    text = BASE.replace("good: 20}", "good: 20, weight: 0}") if "weight: 0" in change[1] else BASE
    issues = issues_of(text.replace(*change))
    assert any(i.object == object_ and expected in i.expected for i in issues), issues


def test_tiers_must_not_overlap_and_must_reach_zero() -> None:
    overlap = issues_of(
        BASE + "tiers:\n  - {name: green, min: 70}\n  - {name: yellow, min: 70}\n"
        "  - {name: red, min: 0}\n"
    )
    assert [i.object for i in overlap] == ["tiers.1.min"]
    gap = issues_of(BASE + "tiers:\n  - {name: green, min: 70}\n  - {name: red, min: 10}\n")
    assert [i.object for i in gap] == ["tiers.1.min"]
    assert "start at 0" in gap[0].expected


def test_gates_need_exactly_one_of_cap_or_floor() -> None:
    issues = issues_of(BASE + 'gates:\n  g: {when: "logins_30d > 1", reason: r}\n')
    assert [(i.object, i.found) for i in issues] == [("gates.g", "neither")]


def test_two_default_segments_are_an_error() -> None:
    issues = issues_of(BASE + "segments:\n  a: {}\n  b: {}\n")
    assert [i.object for i in issues] == ["segments.b"]


def test_reason_templates_only_use_known_fields() -> None:
    issues = issues_of(BASE.replace("good: 20}", "good: 20, reason: '{value.__class__}'}"))
    assert issues[0].object == "groups.usage.measures.logins.reason"


def test_change_needs_a_windowed_aggregate() -> None:
    text = BASE.replace(
        "metrics:\n",
        "metrics:\n  trend: {kind: change, metric: users_total}\n"
        "  users_total: {kind: distinct, table: events, column: user_id}\n",
    )
    issues = issues_of(text)
    assert [(i.object, i.found) for i in issues] == [
        ("metrics.trend.metric", "'users_total' with no window")
    ]


def test_yaml_syntax_error_has_a_line() -> None:
    issues = issues_of(BASE + "gates: [unclosed\n")
    assert issues[0].line >= 15


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match="no such file"):
        load_scorecard(tmp_path / "nope.yaml")


def test_hash_ignores_comments_and_formatting() -> None:
    first = load_scorecard_text(BASE)
    second = load_scorecard_text(
        "# a comment\n" + BASE.replace("bad: 0, good: 20", "bad: 0,  good: 20")
    )
    changed = load_scorecard_text(BASE.replace("good: 20", "good: 25"))
    assert first.hash == second.hash != changed.hash


def test_json_schema_has_every_section() -> None:
    schema = Scorecard.model_json_schema()
    assert {"sources", "metrics", "groups", "gates", "tiers", "segments", "stages"} <= set(
        schema["properties"]
    )
    assert "LinearMeasure" in json.dumps(schema)


def test_replaced_group_keeps_its_weight_and_label() -> None:
    text = BASE.replace("    weight: 1\n", "    weight: 4\n    label: Product usage\n")
    text += (
        'stages:\n  new:\n    when: "logins_30d < 1"\n    groups:\n      usage:\n'
        "        replace: true\n        measures:\n"
        "          users: {kind: linear, metric: users_30d, bad: 0, good: 2}\n  old: {}\n"
    )
    card = load_scorecard_text(text)
    (group,) = card.variants[("default", "new")].groups
    assert (group.weight, group.label, [m.name for m in group.measures]) == (
        4,
        "Product usage",
        ["users"],
    )


def test_errors_inside_a_variant_override_name_the_right_key() -> None:
    text = BASE + (
        'segments:\n  big:\n    when: "logins_30d > 1"\n    groups:\n      usage:\n'
        "        measures:\n          logins: {bda: 3}\n  rest: {}\n"
    )
    (issue,) = issues_of(text)
    assert issue.object == "segments.big.groups.usage.measures.logins.bda"
    assert issue.line == 21


def test_replenishment_filters_may_not_depend_on_as_of() -> None:
    text = BASE.replace(
        "metrics:\n",
        'metrics:\n  recency: {kind: replenishment, table: events, where: "days_since(ts) < 30"}\n',
    )
    (issue,) = issues_of(text)
    assert issue.object == "metrics.recency.where"
