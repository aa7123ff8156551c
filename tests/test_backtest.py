"""Backtests, weight suggestions and comparisons end to end on the demo's hidden churn."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from healthscore import Engine
from healthscore.cli.main import app
from healthscore.evaluation import BacktestResult, Comparison
from healthscore.spec import load_scorecard

runner = CliRunner()
START, END = "2025-07-01", "2026-06-01"
SPAN = ("--start", START, "--end", END)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 demo accounts over 18 months in DuckDB, with the example scorecard."""
    directory = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--directory", str(directory), "--accounts", "1000"])
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture(scope="module")
def backtest(demo: Path) -> BacktestResult:
    return Engine(demo / "scorecard.yaml").backtest(START, END, "1mo")


def variant(demo: Path, name: str, replacements: dict[str, str]) -> Path:
    """A copy of the demo scorecard with some text replaced (each must match once)."""
    text = (demo / "scorecard.yaml").read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = demo / name
    path.write_text(text)
    return path


def test_backtest_ranks_churners_and_finds_the_hidden_drivers(backtest: BacktestResult) -> None:
    assert len(backtest.dates) == 12
    assert backtest.observations > 5000 and backtest.churned > 50
    assert backtest.auc is not None and backtest.auc > 0.68
    interval = backtest.auc_interval
    assert interval is not None and interval.low < backtest.auc < interval.high
    assert backtest.top_decile_lift is not None and backtest.top_decile_lift > 2
    # The causes of churn in the generator (docs/demo-data.md) rank at the top...
    ranked = sorted(
        (m for m in backtest.measures if m.auc is not None), key=lambda m: m.auc or 0.0
    )[::-1]
    top = [m.name for m in ranked[:4]]
    assert "usage.login_trend" in top and "sentiment.nps" in top
    # ...and a measure with no causal link does not.
    runway = next(m for m in backtest.measures if m.name == "commercial.renewal_runway")
    assert runway.auc is not None and abs(runway.auc - 0.5) < 0.06
    # Every number has a value or is None with a reason; nothing is NaN in the JSON.
    assert "NaN" not in backtest.to_json()


def test_backtest_slices_tiers_calibration_and_lead_time(backtest: BacktestResult) -> None:
    assert [row.tier for row in backtest.tiers] == ["red", "yellow", "green"]
    assert sum(row.observations for row in backtest.tiers) == backtest.observations
    assert sum(row.churned for row in backtest.tiers) == backtest.churned
    assert {s.name for s in backtest.segments} == {"enterprise", "self_serve"}
    assert sum(s.observations for s in backtest.stages) == backtest.observations
    assert sum(b.observations for b in backtest.calibration.bands) == backtest.observations
    probabilities = backtest.calibration.churn_probability([10.0, 50.0, 90.0])
    assert probabilities[0] >= probabilities[1] >= probabilities[2]
    lead = backtest.lead_time
    assert lead is not None and lead.churners >= backtest.churned // 2
    assert len(lead.days) == lead.flagged and all(day >= 0 for day in lead.days)
    assert sum(row.observations for row in backtest.by_date) == backtest.observations
    frame = backtest.observation_frame
    assert frame["as_of"].nunique() == 12


def test_cli_backtest_writes_json_with_the_same_fields(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = runner.invoke(
        app,
        ["backtest", "-c", str(demo / "scorecard.yaml"), *SPAN, "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "AUC" in result.output and "Churn by tier" in result.output
    loaded = BacktestResult.model_validate_json(out.read_text())
    direct = Engine(demo / "scorecard.yaml").backtest(START, END)
    assert loaded.model_dump() == direct.model_dump()
    assert json.loads(out.read_text())["tier_order_failures"] == direct.tier_order_failures


def test_suggested_weights_beat_a_deliberately_bad_scorecard(demo: Path, tmp_path: Path) -> None:
    # Nearly all weight on a measure with no link to churn; the causes nearly ignored.
    bad = variant(
        demo,
        "bad.yaml",
        {
            "usage:\n    weight: 40": "usage:\n    weight: 1",
            "sentiment:\n    weight: 15": "sentiment:\n    weight: 1",
            "        weight: 0.5\n": "        weight: 60\n",
        },
    )
    out = demo / "suggested.yaml"  # beside the warehouse its relative URL names
    result = runner.invoke(
        app,
        ["suggest-weights", "-c", str(bad), "--start", START, "--end", END, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Weights suggested by `healthscore suggest-weights`")
    card = load_scorecard(out)
    assert card.version == "1.3.0"
    before = Engine(bad).backtest(START, END)
    after = Engine(out).backtest(START, END)
    assert before.auc is not None and after.auc is not None
    assert after.auc > before.auc + 0.03
    # The user's comments survive the rewrite.
    assert "# gates: conditions that cap or floor the final score" in text
    # Every measure given weight 0 is named with a reason, in the file and on screen.
    zeroed = re.findall(r"^# Weight 0: (\S+):$", text, flags=re.MULTILINE)
    for code in zeroed:
        assert f"weight 0: {code}:" in result.output


def test_engine_suggestion_holds_out_later_dates(demo: Path) -> None:
    suggestion = Engine(demo / "scorecard.yaml").suggest_weights(START, END, "1mo")
    assert max(suggestion.train_dates) < min(suggestion.test_dates)
    assert suggestion.before.observations == suggestion.after.observations
    assert sum(suggestion.weights.values()) == pytest.approx(100, abs=0.1)
    zero = {code for code, weight in suggestion.weights.items() if weight == 0}
    assert zero == {item.measure for item in suggestion.dropped}


def test_compare_reports_both_and_the_tier_changes(demo: Path, tmp_path: Path) -> None:
    strict = variant(demo, "strict.yaml", {"{name: green, min: 75,": "{name: green, min: 85,"})
    changes = tmp_path / "changes.csv"
    out = tmp_path / "compare.json"
    result = runner.invoke(
        app,
        [
            *("compare", "-c", str(demo / "scorecard.yaml"), "-c", str(strict), *SPAN),
            *("--as-of", "2026-06-01", "--json", str(out), "--changes", str(changes)),
        ],
    )
    assert result.exit_code == 0, result.output
    comparison = Comparison.model_validate_json(out.read_text())
    assert comparison.a.auc == comparison.b.auc  # same ranking, other thresholds
    assert comparison.changed > 0
    assert {(m.from_tier, m.to_tier) for m in comparison.moves} == {("green", "yellow")}
    assert sum(m.accounts for m in comparison.moves) == comparison.changed
    assert len(changes.read_text().strip().splitlines()) == comparison.changed + 1


def test_a_horizon_past_the_data_censors_instead_of_calling_accounts_retained(
    demo: Path,
) -> None:
    result = Engine(demo / "scorecard.yaml").backtest("2026-06-15", "2026-06-15", horizon="30d")
    assert result.observations == 0 and result.censored > 0
    assert result.auc is None and result.top_decile_lift is None
    assert any("censored" in warning for warning in result.warnings)
    assert "NaN" not in result.to_json()


def test_dates_before_any_data_say_so(demo: Path) -> None:
    result = Engine(demo / "scorecard.yaml").backtest("2010-01-01", "2010-03-01")
    assert result.observations == 0 and result.auc is None
    assert any("no eligible observations" in warning for warning in result.warnings)
    assert any("before the data begins" in warning for warning in result.warnings)


def test_an_outcome_that_never_occurs_and_a_constant_score(demo: Path) -> None:
    never = variant(
        demo,
        "never.yaml",
        {
            "  kind: subscription_end\n  grace: 7d": "  kind: table\n  kinds: [renewed]",
            "  subscriptions: {table: subscriptions}": "  subscriptions: {table: subscriptions}\n"
            "  outcomes: {table: outcomes}",
        },
    )
    result = Engine(never).backtest(START, END)
    assert result.churned == 0 and result.auc is None and result.observations > 0
    assert any("no churn among" in warning for warning in result.warnings)
    flat = variant(
        demo,
        "flat.yaml",
        {
            'when: "failed_payments_90d >= 2"\n    cap: 40': 'when: "seats >= 0"\n    floor: 100',
        },
    )
    constant = Engine(flat).backtest(START, END)
    assert any("constant" in warning for warning in constant.warnings)
    assert constant.auc == 0.5


def test_a_scorecard_without_an_outcome_is_a_clear_error(demo: Path) -> None:
    text = (demo / "scorecard.yaml").read_text()
    cut = variant(demo, "no-outcome.yaml", {text[text.index("\noutcome:") :]: "\n"})
    result = runner.invoke(app, ["backtest", "-c", str(cut), "--start", START, "--end", END])
    assert result.exit_code == 2
    assert "declares no outcome" in result.output


def test_bad_every_is_a_clear_error(demo: Path) -> None:
    result = runner.invoke(
        app,
        ["backtest", "-c", str(demo / "scorecard.yaml"), *SPAN, "--every", "fortnightly"],
    )
    assert result.exit_code == 2
    assert "--every" in result.output


def test_month_steps_keep_month_ends() -> None:
    from healthscore.evaluation import observation_dates

    assert observation_dates(dt.date(2026, 1, 31), dt.date(2026, 4, 30), "1mo") == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
    ]


def test_validate_checks_the_outcome_against_the_data(demo: Path) -> None:
    wrong = variant(
        demo,
        "wrong-outcome.yaml",
        {
            "  kind: subscription_end\n  grace: 7d": "  kind: inactivity\n  days: 30\n"
            "  where: \"kind == 'login'\"",
        },
    )
    result = runner.invoke(app, ["validate", "-c", str(wrong)])
    assert result.exit_code == 2
    assert "outcome.where" in result.output and "unknown name(s) kind" in result.output
