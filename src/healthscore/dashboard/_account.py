"""One account's page: history, reasons, measures, events, tasks, actions, override."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from healthscore.dashboard import _charts
from healthscore.dashboard._auth import Session
from healthscore.dashboard._html import (
    Html,
    account_url,
    day,
    esc,
    fill,
    hidden_csrf,
    join,
    number,
    section,
    table,
    text,
    tier_badge,
    trend,
)
from healthscore.engine import Engine
from healthscore.spec import ResolvedScorecard
from healthscore.spec._resolved import MeasureSpec

OVERRIDE_DAYS = 30  # the form's default: an override for a month


@dataclass(frozen=True)
class OverrideForm:
    """What the override form shows: the values sent and the problems found."""

    score: str = ""
    tier: str = ""
    reason: str = ""
    until: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AccountData:
    """What the page shows, read in one go (events through the engine's lock)."""

    account_id: str
    history: pd.DataFrame
    events: pd.DataFrame | None
    tasks: pd.DataFrame
    actions: pd.DataFrame
    override: dict[str, Any]


def render(
    engine: Engine, data: AccountData, session: Session, form: OverrideForm | None = None
) -> Html:
    card = engine.scorecard
    latest = {str(k): v for k, v in data.history.iloc[-1].items()}
    colors = _charts.tier_colors(card)
    measures = _measure_rows(card, latest)
    chart = _charts.history(data.history, card)
    labels = [m[1] for m in measures]
    names = [f"{m[0]}: {m[1]}" if labels.count(m[1]) > 1 else m[1] for m in measures]
    impacts = _charts.impacts(names, [m[5] for m in measures])
    parts = [
        _summary(data, latest, colors),
        section("Score and tier over time", _charts.embed("chart-history", chart), "history"),
        section("Why: drags and lifts", _reasons(latest.get("reasons")), "reasons"),
        section("Measures", _measures(measures, latest, impacts), "measures"),
        section("Recent events", _events(data.events), "events"),
        section("Open tasks", _tasks(data.tasks), "tasks"),
        section("Playbook actions", _actions(data.actions), "actions"),
    ]
    if session.may("editor"):
        shown = form or OverrideForm(until=str(dt.date.today() + dt.timedelta(OVERRIDE_DAYS)))
        parts.append(section("Override", _override(data, card, session, shown), "override"))
    return join(parts)


def _summary(data: AccountData, row: dict[str, Any], colors: dict[str, str]) -> Html:
    facts: list[tuple[str, object]] = [
        ("tier", tier_badge(row["tier"], colors, bool(row.get("override_id")))),
        ("7 days", trend(row.get("trend_7d"))),
        ("30 days", trend(row.get("trend_30d"))),
        ("computed", f"{number(row.get('computed_score'))} ({text(row.get('computed_tier'))})"),
        ("confidence", number(row.get("confidence"), 2)),
        ("segment / stage", f"{text(row.get('segment'))} / {text(row.get('stage'))}"),
        ("owner", text(row.get("owner"))),
        ("as of", day(row.get("as_of"))),
        ("scorecard", f"{text(row.get('scorecard_version'))} ({text(row.get('scorecard_hash'))})"),
    ]
    for name, label, digits in (
        ("churn_probability", "churn probability", 3),
        ("value", "value", 0),
        ("revenue_at_risk", "revenue at risk", 0),
    ):
        if pd.notna(row.get(name)):
            facts.append((label, number(row[name], digits)))
    items = join(fill("<div><dt>{k}</dt><dd>{v}</dd></div>", k=k, v=v) for k, v in facts)
    held = data.override
    notice = Html("")
    if held:
        what = ", ".join(
            part
            for part in (
                f"score {number(held.get('score'))}" if pd.notna(held.get("score")) else "",
                f"tier {held['tier']}" if isinstance(held.get("tier"), str) else "",
            )
            if part
        )
        notice = fill(
            '<p class="notice" id="override-in-force">Override in force: {what} until {until}, '
            "by {by}: “{reason}”.</p>",
            what=what,
            until=day(held.get("until")),
            by=text(held.get("author")),
            reason=text(held.get("reason")),
        )
    return fill(
        '<div class="account-head"><h1>{id}</h1><div class="big" id="account-score">{score}'
        '</div><dl class="facts">{items}</dl></div>{notice}',
        id=data.account_id,
        score=number(row["score"]),
        items=items,
        notice=notice,
    )


def _reasons(reasons: object) -> Html:
    listed = [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
    gates = [r for r in listed if str(r.get("code", "")).startswith("gate.")]
    drags = [r for r in listed if r not in gates and (r.get("impact") or 0) < 0]
    lifts = [r for r in listed if r not in gates and (r.get("impact") or 0) > 0]

    def rows(items: list[dict[str, Any]]) -> list[tuple[object, ...]]:
        return [
            (number(r.get("impact"), 2, signed=True), r.get("text") or "", r.get("code"))
            for r in items
        ]

    headers = ["points", "reason", "code"]
    parts = [
        fill(
            "<div><h3>{title}</h3>{t}</div>",
            title=title,
            t=table(headers, rows(items), numeric=(0,), empty=empty),
        )
        for title, items, empty in (
            ("Gates that fired", gates, ""),
            ("Drags", drags, "no drag"),
            ("Lifts", lifts, "no lift"),
        )
        if items or empty
    ]
    return fill('<div class="pair reasons">{p}</div>', p=join(parts))


def _variant_measures(card: ResolvedScorecard, row: dict[str, Any]) -> dict[str, MeasureSpec]:
    found: dict[str, MeasureSpec] = {}
    variant = card.variants.get((str(row.get("segment")), str(row.get("stage"))))
    others = [v for v in card.variants.values() if v is not variant]
    for candidate in [*([variant] if variant else []), *others]:
        for measure in candidate.measures:
            found.setdefault(f"{measure.group}.{measure.name}", measure)
    return found


def _measure_rows(
    card: ResolvedScorecard, row: dict[str, Any]
) -> list[tuple[str, str, str, object, float, float]]:
    """(group, measure label, metric, metric value, sub-score, points) per measure shown."""
    specs = _variant_measures(card, row)
    out = []
    for column, value in row.items():
        if not column.startswith("measure.") or pd.isna(value):
            continue
        key = column.removeprefix("measure.")
        spec = specs.get(key)
        group, _, name = key.partition(".")
        metric = spec.metric if spec else ""
        points = row.get(f"impact.{key}")
        out.append(
            (
                group,
                spec.label if spec else name,
                metric,
                row.get(metric) if metric else None,
                float(value),
                float(points) if points is not None and pd.notna(points) else 0.0,
            )
        )
    return sorted(out, key=lambda m: (m[0], -abs(m[5])))


def _measures(
    measures: list[tuple[str, str, str, object, float, float]],
    row: dict[str, Any],
    chart: _charts.Figure,
) -> Html:
    groups = [
        (name.removeprefix("group."), number(value))
        for name, value in row.items()
        if name.startswith("group.") and pd.notna(value)
    ]
    measure_table = table(
        ["group", "measure", "metric", "value", "sub-score", "points"],
        [
            (g, label, metric, number(v, 2), number(s), number(p, 2, signed=True))
            for g, label, metric, v, s, p in measures
        ],
        numeric=(3, 4, 5),
    )
    return fill(
        '<div class="pair"><div>{chart}</div><div><h3>Groups</h3>{groups}</div></div>'
        "<h3>Every measure</h3>{measures}",
        chart=_charts.embed("chart-impacts", chart),
        groups=table(["group", "sub-score"], groups, numeric=(1,)),
        measures=measure_table,
    )


def _events(events: pd.DataFrame | None) -> Html:
    if events is None:
        return Html('<p class="empty">The scorecard maps no events table.</p>')
    columns = [c for c in events.columns if c != "account_id"]
    rows = [[_cell(r[c]) for c in columns] for r in events.to_dict("records")]
    return table(columns, rows, empty="no events for this account")


def _cell(value: object) -> str:
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return number(value, 2) if isinstance(value, float) else text(value)


def _tasks(tasks: pd.DataFrame) -> Html:
    rows = [
        (day(r["due"]), r["playbook"], r["title"], text(r.get("owner")), r["status"])
        for r in tasks.to_dict("records")
    ]
    return table(["due", "playbook", "task", "owner", "status"], rows, empty="no open task")


def _actions(actions: pd.DataFrame) -> Html:
    rows = [
        (
            day(r["as_of"]),
            r["playbook"],
            r["why"],
            r["action_type"],
            r["group_name"],
            r["status"],
            text(r.get("detail")),
        )
        for r in actions.to_dict("records")
    ]
    return table(
        ["as of", "playbook", "why", "action", "group", "status", "detail"],
        rows,
        empty="no playbook acted on this account",
    )


def _override(
    data: AccountData, card: ResolvedScorecard, session: Session, form: OverrideForm
) -> Html:
    tiers = join(
        fill(
            '<option value="{t}"{s}>{t}</option>',
            t=t.name,
            s=Html(" selected" if t.name == form.tier else ""),
        )
        for t in card.tiers
    )
    problems = Html("")
    if form.problems:
        problems = fill(
            '<div class="problems" role="alert" id="override-problems"><p>Not saved:</p>'
            "<ul>{items}</ul></div>",
            items=join(fill("<li>{p}</li>", p=p) for p in form.problems),
        )
    action = esc(account_url(data.account_id) + "/override")
    revoke = Html("")
    if data.override:
        revoke = fill(
            '<form method="post" action="{a}/revoke" class="inline" data-confirm="End the '
            'override now?">{csrf}<button type="submit" id="revoke-override">Revoke the '
            "override</button></form>",
            a=action,
            csrf=hidden_csrf(session.csrf),
        )
    return fill(
        "{problems}"
        '<form method="post" action="{a}" class="override" id="override-form">{csrf}'
        '<label>score <input type="number" name="score" min="0" max="100" step="0.1" '
        'value="{score}"></label>'
        '<label>tier <select name="tier"><option value="">(from the score)</option>{tiers}'
        "</select></label>"
        '<label class="wide">reason <input type="text" name="reason" required maxlength="2000" '
        'value="{reason}"></label>'
        '<label>until <input type="date" name="until" required value="{until}"></label>'
        '<button type="submit">Set the override</button></form>{revoke}'
        '<p class="note">Saved as <code>ui:{who}</code> in the audit log; the account is '
        "rescored right after.</p>",
        problems=problems,
        a=action,
        csrf=hidden_csrf(session.csrf),
        score=form.score,
        tiers=tiers,
        reason=form.reason,
        until=form.until,
        revoke=revoke,
        who=session.name,
    )
