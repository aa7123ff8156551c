"""The HTML backtest report: self-contained, escaped, and every chart drawn in real Chromium.

The browser test opens the page with the network off and fails on any request that is not
the file itself. It needs Debian's Chromium (`apt-get install chromium`); set
HEALTHSCORE_SKIP_BROWSER=1 to skip it where Chromium cannot be installed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from healthscore import Engine
from healthscore.cli.main import app
from healthscore.evaluation import BacktestResult, observation_dates, run_backtest
from healthscore.report import render_report, write_report

SECTIONS = [
    "warnings",
    "headline",
    "distribution",
    "tiers",
    "lift",
    "calibration",
    "lead-time",
    "measures",
    "slices",
]
SCRIPT = re.compile(r"(<script\b[^>]*>)(.*?)(</script>)", re.DOTALL | re.IGNORECASE)
EXTERNAL = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
RAW_MISSING = re.compile(r"\b(?:None|nan|NaN)\b")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> BacktestResult:
    directory = tmp_path_factory.mktemp("report-demo")
    outcome = CliRunner().invoke(app, ["demo", "--directory", str(directory), "--accounts", "300"])
    assert outcome.exit_code == 0, outcome.output
    engine = Engine(directory / "scorecard.yaml")
    dates = observation_dates(dt.date(2025, 7, 1), dt.date(2026, 6, 1), "1mo")
    return run_backtest(engine.scorecard, engine.sources, dates)


@pytest.fixture(scope="module")
def undefined(result: BacktestResult) -> BacktestResult:
    """The same scorecard as version 2.0.0, with every optional number missing."""
    tiers = [row.model_copy(update={"churn_rate": None}) for row in result.tiers]
    return result.model_copy(
        update={
            "scorecard_version": "2.0.0",
            "churn_rate": None,
            "auc": None,
            "auc_interval": None,
            "top_decile_lift": None,
            "lift_curve": [],
            "tiers": tiers,
            "lead_time": None,
            "measures": [m.model_copy(update={"auc": None}) for m in result.measures],
            "warnings": ["no churn among 10 observations: AUC, lift and lead time are undefined"],
        }
    )


@pytest.fixture(scope="module")
def single(result: BacktestResult) -> str:
    return render_report([result])


def tier_changes(rows: int) -> pd.DataFrame:
    tiers = ["red", "yellow", "green", None]
    return pd.DataFrame(
        {
            "account_id": [f"acc{i:04d}" for i in range(rows)],
            "from_tier": [tiers[i % 4] for i in range(rows)],
            "to_tier": [tiers[(i + 1) % 3] for i in range(rows)],
            "from_score": [float("nan") if i % 4 == 3 else 20.0 + i % 80 for i in range(rows)],
            "to_score": [25.0 + i % 70 for i in range(rows)],
        }
    )


class _Text(HTMLParser):
    """The text a reader sees: everything outside scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in {"script", "style"}

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in {"script", "style"}

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def without_script_bodies(page: str) -> str:
    return SCRIPT.sub(lambda m: m.group(1) + m.group(3), page)


def figure_scripts(page: str) -> list[str]:
    return [m.group(2) for m in SCRIPT.finditer(page) if "Plotly.newPlot(" in m.group(2)]


def test_page_is_self_contained(single: str) -> None:
    page = single
    markup = without_script_bodies(page)
    assert EXTERNAL.findall(markup) == []
    assert re.findall(r"<script\b[^>]*\bsrc\s*=", page, re.IGNORECASE) == []
    assert re.findall(r"<link\b|@import|url\(", markup, re.IGNORECASE) == []
    assert "MathJax" not in markup
    libraries = [m for m in SCRIPT.finditer(page) if len(m.group(2)) > 1_000_000]
    assert len(libraries) == 1, "plotly.js is inlined exactly once"


def test_sections_and_figure_count(result: BacktestResult, single: str) -> None:
    page = single
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page, anchor
    assert 'id="tier-changes"' not in page
    count = int(re.findall(r'<body data-figures="(\d+)"', page)[0])
    assert count == len(figure_scripts(page)) == page.count('class="plotly-graph-div"')
    cohort_charts = sum(1 for m in result.measures if m.cohorts)
    assert count == 7 + (1 if result.lead_time and result.lead_time.days else 0) + cohort_charts
    assert render_report([result]) == page, "the page is deterministic"


def test_warnings_one_item_each(result: BacktestResult, single: str) -> None:
    assert result.warnings
    page = single
    listing = re.findall(r'<ul class="warnings">(.*?)</ul>', page, re.DOTALL)
    assert len(listing) == 1
    assert listing[0].count("<li>") == len(result.warnings)
    quiet = render_report([result.model_copy(update={"warnings": []})])
    assert 'class="warnings"' not in quiet and "No warnings." in quiet


def test_missing_numbers_read_undefined(undefined: BacktestResult) -> None:
    page = render_report([undefined])
    text = visible_text(page)
    assert RAW_MISSING.findall(text) == []
    for script in figure_scripts(page):
        assert RAW_MISSING.findall(script) == []
    assert re.search(r"<td>AUC \(95% interval\)</td><td[^>]*>undefined</td>", page)
    assert re.search(r"<td>Top-decile lift</td><td[^>]*>undefined</td>", page)
    assert re.search(r"<td>Churn rate</td><td[^>]*>undefined</td>", page)
    assert "undefined: the outcome" in text  # lead time
    assert f"Undefined for {undefined.scorecard_name} 2.0.0: no churners." in text


def test_user_text_is_escaped(result: BacktestResult) -> None:
    hostile = "<script>alert(1)</script>"
    measure = result.measures[0].model_copy(update={"name": "<img src=x onerror=alert(2)>"})
    evil = result.model_copy(
        update={
            "scorecard_name": hostile,
            "warnings": ["<b>bold</b> & more"],
            "measures": [measure, *result.measures[1:]],
        }
    )
    page = render_report([evil], title="Q3 <review>")
    assert hostile not in page and "<img src=x" not in page and "<review>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<li>&lt;b&gt;bold&lt;/b&gt; &amp; more</li>" in page
    assert "<title>Q3 &lt;review&gt;</title>" in page


def test_comparison_shows_both_versions(result: BacktestResult, undefined: BacktestResult) -> None:
    renamed = undefined.model_copy(update={"scorecard_name": "saas_health_next"})
    page = render_report([result, renamed], tier_changes(250))
    base = f"{result.scorecard_name} {result.scorecard_version}"
    assert f"<h1>Scorecard comparison: {base} vs saas_health_next 2.0.0</h1>" in page
    headline = re.findall(r'<table class="headline">(.*?)</table>', page, re.DOTALL)[0]
    assert f"<th>{base}</th><th>saas_health_next 2.0.0</th>" in headline
    assert f">{result.scorecard_version}</td>" in headline and ">2.0.0</td>" in headline
    assert f"{result.auc:.3f}" in headline and "undefined" in headline
    assert RAW_MISSING.findall(visible_text(page)) == []
    changes = re.findall(r'<section id="tier-changes">(.*?)</section>', page, re.DOTALL)[0]
    listed = re.findall(r'<table class="changes">(.*?)</table>', changes, re.DOTALL)[0]
    assert listed.count("<tr>") == 1 + 200
    assert "the first 200 of 250" in changes
    matrix = re.findall(r'<table class="matrix">(.*?)</table>', changes, re.DOTALL)[0]
    assert "<th>from \\ to</th><th>red</th><th>yellow</th><th>green</th>" in matrix
    assert "(none)" in matrix


def test_same_names_are_told_apart(result: BacktestResult) -> None:
    other = result.model_copy(update={"scorecard_hash": "ffffffffffffffff"})
    page = render_report([result, other])
    base = f"{result.scorecard_name} {result.scorecard_version}"
    assert f"{base} ({result.scorecard_hash[:8]})" in page and f"{base} (ffffffff)" in page


def test_bad_input_is_refused(result: BacktestResult) -> None:
    with pytest.raises(ValueError, match="one or more BacktestResults"):
        render_report([])
    frame = tier_changes(3).drop(columns=["to_score"])
    with pytest.raises(
        ValueError, match=re.escape("Missing: to_score. Columns in the frame: account_id")
    ):
        render_report([result, result], frame)


def test_write_report(result: BacktestResult, tmp_path: Path) -> None:
    path = write_report(tmp_path / "report.html", [result], title="Backtest")
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def chromium() -> str:
    if os.environ.get("HEALTHSCORE_SKIP_BROWSER") == "1":
        pytest.skip("HEALTHSCORE_SKIP_BROWSER=1: the Chromium test is skipped")
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Chromium is missing: run `apt-get install chromium` (scripts/setup.sh does), "
            "or set HEALTHSCORE_SKIP_BROWSER=1 to skip this test"
        )
    return path


def test_every_chart_draws_offline_in_chromium(
    result: BacktestResult, undefined: BacktestResult, tmp_path: Path
) -> None:
    executable = chromium()
    from playwright.sync_api import Request, Route, sync_playwright

    pages = {
        "single": write_report(tmp_path / "single.html", [result]),
        # Fewer cohort charts than the single report (same code), to keep the test fast.
        "comparison": write_report(
            tmp_path / "comparison.html",
            [
                result.model_copy(update={"measures": result.measures[:3]}),
                undefined.model_copy(update={"measures": undefined.measures[:3]}),
            ],
            tier_changes(30),
        ),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True)
            requests: list[str] = []

            def refuse(route: Route, request: Request) -> None:
                if request.url.startswith("file:"):
                    route.continue_()
                else:
                    requests.append(request.url)
                    route.abort()

            context.route("**/*", refuse)
            for name, path in pages.items():
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error, seen=errors: seen.append(str(error)))
                page.on(
                    "console",
                    lambda message, seen=errors: (
                        seen.append(message.text) if message.type == "error" else None
                    ),
                )
                page.goto(path.as_uri(), wait_until="load")
                expected = int(page.get_attribute("body", "data-figures") or "0")
                assert expected > 0
                page.wait_for_function(
                    "n => document.querySelectorAll('.js-plotly-plot').length === n",
                    arg=expected,
                    timeout=20_000,
                )
                drawn = page.evaluate(
                    """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
                        d => d.querySelectorAll('svg.main-svg').length > 0 && d.data.length > 0)"""
                )
                assert drawn == [True] * expected, name
                outside = page.evaluate(
                    """() => Array.from(document.querySelectorAll(
                        '[src], [href], link, script[src]')).map(
                        e => e.getAttribute('src') || e.getAttribute('href') || e.tagName)
                        .filter(v => !v.startsWith('#'))"""
                )
                assert outside == [], name
                assert errors == [], name
                page.close()
            assert requests == [], "the report asked the network for something"
        finally:
            browser.close()
