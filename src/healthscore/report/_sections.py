"""The report's sections as HTML: headline, warnings, tables and the charts between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from healthscore.evaluation import BacktestResult
from healthscore.evaluation._result import ComponentEvidence, SliceEvidence
from healthscore.report import _curves as curves
from healthscore.report._embed import Figures
from healthscore.report._format import (
    UNDEFINED,
    auc_with_interval,
    count,
    days,
    lift,
    number,
    percent,
    table,
    text,
)


def section(anchor: str, title: str, intro: str, body: str) -> str:
    note = f'<p class="note">{intro}</p>' if intro else ""
    return f'<section id="{anchor}"><h2>{title}</h2>{note}{body}</section>'


def _dates(result: BacktestResult) -> str:
    if not result.dates:
        return UNDEFINED
    first, last = result.dates[0].isoformat(), result.dates[-1].isoformat()
    return f"{first} to {last} ({len(result.dates)} dates)"


def _lead(result: BacktestResult) -> str:
    lead = result.lead_time
    if lead is None:
        return UNDEFINED
    return f"{lead.flagged} of {lead.churners} flagged, median {days(lead.median_days)}"


HEADLINE: list[tuple[str, Callable[[BacktestResult], str]]] = [
    ("Scorecard", lambda r: text(r.scorecard_name)),
    ("Version", lambda r: text(r.scorecard_version)),
    ("Hash", lambda r: text(r.scorecard_hash)),
    ("Outcome", lambda r: text(r.outcome)),
    ("Horizon", lambda r: f"{r.horizon_days} days"),
    ("Observation dates", _dates),
    ("Data until", lambda r: r.data_until.isoformat()),
    ("Observations", lambda r: count(r.observations)),
    ("Churned", lambda r: count(r.churned)),
    ("Censored", lambda r: count(r.censored)),
    ("Ineligible", lambda r: count(r.ineligible)),
    ("Churn rate", lambda r: percent(r.churn_rate, 2)),
    ("AUC (95% interval)", auc_with_interval),
    ("Top-decile lift", lambda r: lift(r.top_decile_lift)),
    ("Tiers, worst first", lambda r: ", ".join(text(row.tier) for row in r.tiers) or UNDEFINED),
    ("Tier order failures", lambda r: count(r.tier_order_failures)),
    ("Lead time", _lead),
    ("Warnings", lambda r: count(len(r.warnings))),
]


def headline(results: Sequence[BacktestResult], names: Sequence[str]) -> str:
    headers = ["", *(text(name) for name in names)] if len(results) > 1 else ["", "Value"]
    rows = [[label, *(value(r) for r in results)] for label, value in HEADLINE]
    intro = "AUC: the chance a churner scores below a non-churner (0.5 is a coin toss)."
    return section("headline", "Headline", intro, table(headers, rows, "headline"))


def warnings(results: Sequence[BacktestResult], names: Sequence[str]) -> str:
    items = [
        f"<li>{f'<b>{text(name)}</b>: ' if len(results) > 1 else ''}{text(note)}</li>"
        for name, result in zip(names, results, strict=True)
        for note in result.warnings
    ]
    body = f'<ul class="warnings">{"".join(items)}</ul>' if items else ""
    return section("warnings", "Warnings", "" if items else "No warnings.", body)


def charts_section(
    anchor: str, title: str, intro: str, figures: Figures, drawn: Sequence[object]
) -> str:
    return section(anchor, title, intro, "".join(figures.html(figure) for figure in drawn))


def lead_time_note(result: BacktestResult) -> str:
    lead = result.lead_time
    worst = text(result.tiers[0].tier) if result.tiers else "worst"
    if lead is None:
        return (
            f"undefined: the outcome '{text(result.outcome)}' gives no churn date (a "
            "non-repurchase with a fixed holdout), so there is no lead time."
        )
    if lead.churners == 0:
        return "undefined: no account churned inside the backtest."
    if not lead.days:
        return (
            f"undefined: none of the {count(lead.churners)} churners was in the worst tier "
            f"('{worst}') right before churning."
        )
    return (
        f"{count(lead.flagged)} of {count(lead.churners)} churners were in the worst tier "
        f"('{worst}') before churning, a median of {days(lead.median_days)} ahead; never "
        f"flagged: {percent(lead.never_flagged_share)}."
    )


def lead_time(results: Sequence[BacktestResult], names: Sequence[str], figures: Figures) -> str:
    several = len(results) > 1
    notes = "".join(
        f"<li>{f'<b>{text(name)}</b>: ' if several else ''}{lead_time_note(result)}</li>"
        for name, result in zip(names, results, strict=True)
    )
    figure = curves.lead_times(results, names)
    chart = figures.html(figure) if figure is not None else ""
    intro = "How long before churning an account entered (and stayed in) the worst tier."
    return section("lead-time", "Lead time", intro, f'<ul class="notes">{notes}</ul>{chart}')


def _by_name(result: BacktestResult) -> dict[tuple[str, str], ComponentEvidence]:
    return {(c.kind, c.name): c for c in [*result.measures, *result.groups]}


def measures(results: Sequence[BacktestResult], names: Sequence[str], figures: Figures) -> str:
    lookups = [_by_name(result) for result in results]
    keys = list(dict.fromkeys(key for lookup in lookups for key in lookup))

    def rank(key: tuple[str, str]) -> tuple[bool, float]:
        value = lookups[-1].get(key)
        auc = value.auc if value is not None else None
        return (auc is None, auc if auc is not None else 0.0)

    rows = []
    for key in sorted(keys, key=rank):
        found = [lookup.get(key) for lookup in lookups]
        metric = next((c.metric for c in found if c is not None and c.metric), None)
        rows.append(
            [
                key[0],
                text(key[1]),
                text(metric) if metric else "",
                *(number(c.auc if c else None) for c in found),
                *(count(c.observations if c else None) for c in found),
            ]
        )
    several = len(results) > 1
    aucs = [f"AUC {text(n)}" if several else "AUC" for n in names]
    seen = [f"Observations {text(n)}" if several else "Observations" for n in names]
    headers = ["Kind", "Name", "Metric", *aucs, *seen]
    body = table(headers, rows, "components", numeric_from=3) if rows else "<p>No measures.</p>"
    body += _cohort_grid(results, names, figures, lookups)
    intro = (
        "Each measure's and group's sub-score alone, ranked by AUC (weakest first); below 0.5 "
        "it ranks backwards. Charts: churn rate by decile of the measure's metric."
    )
    return section("measures", "Measures and groups", intro, body)


def _cohort_grid(
    results: Sequence[BacktestResult],
    names: Sequence[str],
    figures: Figures,
    lookups: Sequence[dict[tuple[str, str], ComponentEvidence]],
) -> str:
    codes = list(dict.fromkeys(m.name for result in results for m in result.measures))
    cells, without = [], []
    for code in codes:
        found = [lookup.get(("measure", code)) for lookup in lookups]
        if not any(c is not None and c.cohorts for c in found):
            without.append(text(code))
            continue
        metric = next((c.metric for c in found if c is not None and c.metric), None)
        aucs = " / ".join(number(c.auc if c else None) for c in found)
        subtitle = f"metric {text(metric)} · AUC {aucs}" if metric else f"AUC {aucs}"
        overall = results[0].churn_rate if len(results) == 1 else None
        chart = figures.html(curves.cohorts(found, names, overall), "chart small")
        cells.append(
            f'<figure class="cohort"><figcaption><h3>{text(code)}</h3>'
            f'<p class="subtitle">{subtitle}</p></figcaption>{chart}</figure>'
        )
    note = f'<p class="note">No cohorts (no metric values): {", ".join(without)}.</p>'
    return f'<div class="grid">{"".join(cells)}</div>' + (note if without else "")


def slices(results: Sequence[BacktestResult], names: Sequence[str]) -> str:
    several = len(results) > 1
    rows = []
    for kind in ("segment", "stage"):
        found: dict[str, list[tuple[str, SliceEvidence]]] = {}
        for name, result in zip(names, results, strict=True):
            for part in result.segments if kind == "segment" else result.stages:
                found.setdefault(part.name, []).append((name, part))
        for slice_name in sorted(found):
            for version, part in found[slice_name]:
                rows.append(
                    [
                        kind,
                        text(slice_name),
                        *([text(version)] if several else []),
                        count(part.observations),
                        count(part.churned),
                        percent(part.churn_rate, 2),
                        number(part.auc),
                        lift(part.top_decile_lift),
                        count(part.tier_order_failures),
                    ]
                )
    headers = ["Kind", "Name", *(["Version"] if several else [])]
    headers += ["Observations", "Churners", "Churn rate", "AUC", "Top-decile lift"]
    headers += ["Tier order failures"]
    body = (
        table(headers, rows, "slices", numeric_from=3 if several else 2)
        if rows
        else "<p>No segments or stages.</p>"
    )
    intro = "The headline numbers inside each scorecard segment and lifecycle stage."
    return section("slices", "Segments and stages", intro, body)
