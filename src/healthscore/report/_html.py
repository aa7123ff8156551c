"""The page: sections in reading order, one inline copy of plotly.js, no network needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from healthscore import __version__
from healthscore.evaluation import BacktestResult
from healthscore.report import _charts as charts
from healthscore.report import _curves as curves
from healthscore.report import _sections as sections
from healthscore.report._changes import check_columns, tier_changes_section
from healthscore.report._embed import Figures, plotly_script
from healthscore.report._format import labels, text

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1f2933; background: #f7f8fa; line-height: 1.45; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 0; } h3 { margin: 0; font-size: 1em; }
nav a { margin-right: 12px; color: #2563eb; text-decoration: none; }
section { background: #fff; border: 1px solid #e2e5ea; border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
.note, .subtitle { color: #52606d; margin: 4px 0 12px; }
.subtitle { font-size: 0.9em; margin: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e2e5ea; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f0f2f5; }
ul.warnings { background: #fff7e0; border: 1px solid #f0b429; border-radius: 6px;
  padding: 10px 10px 10px 32px; margin: 0; }
ul.warnings li { margin: 4px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 12px; }
figure.cohort { margin: 0; border: 1px solid #e2e5ea; border-radius: 6px; padding: 8px; }
footer { color: #7b8794; font-size: 0.85em; padding-bottom: 24px; }
"""

NAV = [
    ("warnings", "Warnings"),
    ("headline", "Headline"),
    ("distribution", "Scores over time"),
    ("tiers", "Churn by tier"),
    ("lift", "Gains and lift"),
    ("calibration", "Calibration"),
    ("lead-time", "Lead time"),
    ("measures", "Measures"),
    ("slices", "Segments and stages"),
    ("tier-changes", "Tier changes"),
]


def render_report(
    results: Sequence[BacktestResult],
    tier_changes: pd.DataFrame | None = None,
    title: str | None = None,
) -> str:
    """One self-contained HTML page: a backtest's report, or two versions compared.

    >>> page = render_report([run_backtest(scorecard, sources, dates)])  # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    if not results:
        raise ValueError("render_report needs one or more BacktestResults. Got none.")
    if tier_changes is not None:
        check_columns(tier_changes)
    names = labels(results)
    figures = Figures()
    body = [
        sections.warnings(results, names),
        sections.headline(results, names),
        *_chart_sections(results, names, figures),
        sections.lead_time(results, names, figures),
        sections.measures(results, names, figures),
        sections.slices(results, names),
    ]
    if tier_changes is not None:
        body.append(tier_changes_section(tier_changes, results))
    heading = title or _default_title(results, names)
    links = "".join(
        f'<a href="#{anchor}">{name}</a>'
        for anchor, name in NAV
        if anchor != "tier-changes" or tier_changes is not None
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(heading)}</title><style>{CSS}</style>{plotly_script()}</head>"
        f'<body data-figures="{figures.count}"><header><h1>{text(heading)}</h1>'
        f'<p class="subtitle">{_subtitle(results)}</p><nav>{links}</nav></header>'
        f"<main>{''.join(body)}</main>"
        f"<footer>Made by healthscore {text(__version__)}; works offline.</footer>"
        "</body></html>\n"
    )


def write_report(
    path: Path,
    results: Sequence[BacktestResult],
    tier_changes: pd.DataFrame | None = None,
    title: str | None = None,
) -> Path:
    """Render the report and write it to `path` (UTF-8); returns the path."""
    page = render_report(results, tier_changes, title)
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target


def _default_title(results: Sequence[BacktestResult], names: Sequence[str]) -> str:
    if len(results) == 1:
        return f"Backtest report: {names[0]}"
    return "Scorecard comparison: " + " vs ".join(names)


def _subtitle(results: Sequence[BacktestResult]) -> str:
    first = min((d for r in results for d in r.dates), default=None)
    last = max((d for r in results for d in r.dates), default=None)
    span = f"{first} to {last}" if first and last else "no dates"
    outcomes = ", ".join(
        dict.fromkeys(f"{text(r.outcome)} within {r.horizon_days} days" for r in results)
    )
    return f"Observations {span}; churn: {outcomes}."


def _chart_sections(
    results: Sequence[BacktestResult], names: Sequence[str], figures: Figures
) -> list[str]:
    undefined = [text(n) for n, r in zip(names, results, strict=True) if not r.lift_curve]
    missing = f" Undefined for {', '.join(undefined)}: no churners." if undefined else ""
    build = sections.charts_section
    return [
        build(
            "distribution",
            "Scores over time",
            "Accounts per tier at each date, and the share of them in each 10-point score band.",
            figures,
            [charts.tiers_over_time(results, names), charts.score_bands(results, names)],
        ),
        build(
            "tiers",
            "Churn by tier",
            "Share of each tier's observations that churned within the horizon; it should "
            "fall from the worst tier to the best.",
            figures,
            [charts.churn_by_tier(results, names)],
        ),
        build(
            "lift",
            "ROC, gains and lift",
            "ROC: the share of churners against the share of non-churners below each score "
            "threshold (the area under it is the AUC). Gains and lift: accounts sorted riskiest "
            "(lowest score) first, the share of all churners among them, and how many times "
            "the average churn rate they have." + missing,
            figures,
            [
                curves.roc(results, names),
                curves.gains(results, names),
                curves.lift_curve(results, names),
            ],
        ),
        build(
            "calibration",
            "Calibration",
            "Observed churn per score band (bars) and the fitted monotone map from score to "
            "churn probability (line).",
            figures,
            [curves.calibration(results, names)],
        ),
    ]
