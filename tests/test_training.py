"""The churn model end to end on the demo's hidden churn: train, score, explain, drift."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import healthscore
from healthscore import ArtifactError, Engine
from healthscore.cli.main import app
from healthscore.evaluation import BacktestError
from healthscore.evaluation._training_report import TrainingReport

runner = CliRunner()
START, END = "2025-06-01", "2026-05-01"
MODEL_SECTION = """
model:
  path: model
  attributes: [segment, seats]
  sensitive: [country]
value: arr
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 demo accounts in DuckDB, plus a planted leak: a 'churn_notice' event stamped
    on each churned account's churn day, and a metric counting those events."""
    directory = tmp_path_factory.mktemp("model-demo")
    result = runner.invoke(app, ["demo", "--directory", str(directory), "--accounts", "1000"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(directory / "healthscore.duckdb")) as con:
        con.execute(
            "INSERT INTO events SELECT 10000000000 + row_number() OVER (), account_id, NULL, "
            "ts, 'churn_notice', 1.0 FROM outcomes WHERE kind = 'churned'"
        )
    text = (directory / "scorecard.yaml").read_text()
    text = text.replace(
        "  users_invited_total:",
        "  churn_notices:\n    kind: count\n    table: events\n"
        "    where: \"type == 'churn_notice'\"\n  users_invited_total:",
    )
    (directory / "model.yaml").write_text(text + MODEL_SECTION)
    return directory


@pytest.fixture(scope="module")
def trained(demo: Path) -> TrainingReport:
    return Engine(demo / "model.yaml").train(START, END, demo / "model", by=["segment"])


def test_training_validates_forward_in_time_and_beats_the_rules(trained: TrainingReport) -> None:
    assert len(trained.folds) >= 2
    for fold in trained.folds:
        assert fold.train_until < fold.test_from  # never tested on dates before training
    held = trained.held_out
    assert held.auc is not None and held.rules_auc is not None
    assert held.auc > 0.7 and held.auc > held.rules_auc - 0.02
    assert held.brier is not None and 0 < held.brier < 0.1
    assert trained.calibration in {"isotonic", "sigmoid"}
    assert set(trained.calibration_log_loss) == {"isotonic", "sigmoid"}
    assert sum(band.observations for band in held.calibration) == held.observations


def test_a_feature_that_leaks_the_future_cannot_be_seen(trained: TrainingReport) -> None:
    # Churn notices are stamped on the churn day, after every observation that labels
    # it: the point-in-time engine shows 0 for all of them, so the model drops the
    # feature rather than learning the future.
    assert "churn_notices" not in trained.features
    assert {"name": "churn_notices", "reason": "the same value (0) everywhere"} in trained.dropped
    assert trained.held_out.auc is not None and trained.held_out.auc < 0.95


def test_sensitive_attributes_are_excluded_but_reported(trained: TrainingReport) -> None:
    assert trained.excluded_sensitive == ["country"]
    assert not any(name.startswith("country") for name in trained.features)
    assert "segment=enterprise" in trained.features and "seats" in trained.features
    # The account's own segment column (smb, mid_market, enterprise), not the scorecard's
    # segment variants (enterprise, self_serve) that share its name: as scoring reads it.
    assert "segment=mid_market" in trained.features
    assert "segment=self_serve" not in trained.features
    attributes = {row.attribute for row in trained.bias}
    assert attributes == {"segment", "country"}
    segment = [row for row in trained.bias if row.attribute == "segment"]
    assert {row.value for row in segment} == {"smb", "mid_market", "enterprise"}
    assert sum(row.observations for row in segment) == trained.observations


def test_the_artifact_records_what_made_it(demo: Path, trained: TrainingReport) -> None:
    manifest = json.loads((demo / "model" / "manifest.json").read_text())
    card = healthscore.load_scorecard(demo / "model.yaml")
    assert manifest["scorecard_hash"] == card.hash
    assert [f["name"] for f in manifest["features"]] == trained.features
    assert manifest["window"]["horizon_days"] == 30
    assert {"lightgbm", "scikit-learn", "python"} <= set(manifest["versions"])
    assert not list((demo / "model").glob("*.pkl"))


def test_scoring_with_the_model_explains_and_values_each_account(
    demo: Path, trained: TrainingReport
) -> None:
    scores = Engine(demo / "model.yaml").score("2026-07-01")
    probability = scores["churn_probability"].to_numpy()
    assert np.isfinite(probability).all() and ((probability > 0) & (probability < 1)).all()
    # Gates still apply on top of the model (2+ failed payments cap the score at 40).
    gated = np.array([any(r["code"].startswith("gate.") for r in rs) for rs in scores["reasons"]])
    assert (scores.loc[gated, "score"] <= 40).all()
    np.testing.assert_allclose(
        scores.loc[~gated, "score"], np.round(100 * (1 - probability[~gated]), 2), atol=0.01
    )
    np.testing.assert_allclose(
        scores["revenue_at_risk"], probability * scores["value"], rtol=1e-4, atol=0.01
    )
    assert set(scores["value_tier"]) == {"high", "medium", "low"}
    high = (scores["value_tier"] == "high").mean()
    assert 0.15 < high < 0.25
    codes = [r["code"] for reasons in scores["reasons"] for r in reasons]
    assert codes and all(code.startswith(("model.", "gate.")) for code in codes)
    texts = [r["text"] for r in scores["reasons"].iloc[0] if not r["code"].endswith(".missing")]
    assert texts and all(text.endswith("to churn log-odds)") for text in texts)
    quadrants = healthscore.risk_value_quadrants(scores)
    assert len(quadrants) == 4 and quadrants["accounts"].sum() == len(scores)


def test_the_model_recovers_the_hidden_causes(demo: Path, trained: TrainingReport) -> None:
    from healthscore.model import feature_matrix, load_model

    model, manifest = load_model(demo / "model")
    frame = Engine(demo / "model.yaml").metrics(["2026-01-01", "2026-03-01", "2026-05-01"])
    contributions, _ = model.contributions(feature_matrix(frame, manifest.feature_list))
    weight = pd.Series(np.abs(contributions).mean(axis=0), index=trained.features)
    top = set(weight.nlargest(6).index)
    # docs/demo-data.md: usage decline and detractor NPS drive most of the hazard.
    assert "logins_change_30d" in top or "logins_30d" in top
    assert "latest_nps" in top


def test_a_model_from_another_scorecard_is_a_clear_error(
    demo: Path, trained: TrainingReport
) -> None:
    text = (demo / "model.yaml").read_text()
    cut = text.replace("  latest_nps:\n", "  nps_last:\n").replace(
        "metric: latest_nps", "metric: nps_last"
    )
    (demo / "renamed.yaml").write_text(cut)
    with pytest.raises(ArtifactError, match="no longer has") as caught:
        Engine(demo / "renamed.yaml").score("2026-07-01")
    assert "latest_nps" in str(caught.value) and trained.scorecard_hash in str(caught.value)


def test_too_few_churners_to_train_says_how_many(demo: Path, tmp_path: Path) -> None:
    with pytest.raises(BacktestError, match=r"at least 20 churned .* there are \d+ churned"):
        Engine(demo / "model.yaml").train(
            "2026-04-01", "2026-04-15", tmp_path / "m", every="7d", horizon="7d"
        )


def test_drift_flags_what_moved_since_training(demo: Path, trained: TrainingReport) -> None:
    report = Engine(demo / "model.yaml").drift("2026-07-01")
    assert report.rows_train == trained.observations
    by_name = {item.name: item for item in report.features}
    # The demo's renewal_date is a snapshot taken at the end of the data, so "days to
    # renewal" at past dates was longer than it is now: a shift drift must catch.
    assert by_name["days_to_renewal"].status == "shifted"
    assert "days_to_renewal" in report.flagged
    assert by_name["segment=enterprise"].status == "stable"


def test_cli_train_and_drift(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "logistic"
    result = runner.invoke(
        app,
        [
            *("train", "-c", str(demo / "model.yaml"), "--start", START, "--end", END),
            *("--model", "logistic", "--out", str(out), "--by", "segment"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Held out" in result.output and "rules score" in result.output
    assert "sensitive, not used: country" in result.output
    assert (out / "manifest.json").exists()
    drift = runner.invoke(
        app,
        [
            *("drift", "-c", str(demo / "model.yaml"), "--model", str(out)),
            *("--as-of", "2026-07-01", "--strict"),
        ],
    )
    assert drift.exit_code == 1, drift.output  # days_to_renewal moved
    assert "days_to_renewal" in drift.output


def test_one_stage_can_score_with_the_model_while_others_keep_their_rules(
    demo: Path, trained: TrainingReport
) -> None:
    text = (demo / "model.yaml").read_text().replace("  path: model\n", "")
    text = text.replace("  mature: {}", "  mature: {model: model}")
    (demo / "mature-model.yaml").write_text(text)
    scores = Engine(demo / "mature-model.yaml").score("2026-07-01")
    mature = (scores["stage"] == "mature").to_numpy()
    assert mature.any() and (~mature).any()
    assert scores.loc[mature, "churn_probability"].notna().all()
    assert scores.loc[~mature, "churn_probability"].isna().all()
    assert scores.loc[~mature, "measure.usage.integration_connected"].notna().any()
    assert scores.loc[mature, "measure.usage.login_trend"].isna().all()
