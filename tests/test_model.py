"""The churn model: scikit-learn's estimator contract, explanations, calibration, artifacts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.utils.estimator_checks import parametrize_with_checks

from healthscore.model import (
    ArtifactError,
    ChurnModel,
    Dropped,
    Feature,
    Manifest,
    check_fits,
    fit_calibrator,
    load_model,
    save_model,
)
from healthscore.model._estimator import CalibrationKind, ModelKind

FloatArray = NDArray[np.float64]

ABOUT: dict[str, Any] = {
    "scorecard_name": "t",
    "scorecard_version": "1",
    "scorecard_hash": "abc",
    "window": {"start": "2026-01-01", "end": "2026-06-01", "dates": 6},
    "metrics": {"auc": 0.81, "brier": 0.12},
}


def _churn_problem(
    seed: int = 0, rows: int = 600, columns: int = 5, strength: float = 2.5
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Churn depends on feature 0 only; feature 2 is skewed and nonnegative (log-scaled)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, columns))
    x[:, 2] = rng.exponential(3.0, size=rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-strength * x[:, 0]))).astype(np.int64)
    return x, y


def _with_nans(x: FloatArray, seed: int = 1, share: float = 0.15) -> FloatArray:
    holed = x.copy()
    holed[np.random.default_rng(seed).random(x.shape) < share] = np.nan
    return holed


# ---------------------------------------------------------------- scikit-learn's checks


def _not_applicable(estimator: ChurnModel) -> dict[str, str]:
    if estimator.calibration == "none":
        return {}
    return {
        "check_classifiers_train": (
            "decision_function is by design the raw, uncalibrated churn log-odds (the "
            "contributions explain it and training calibrates it out of sample), while "
            "predict follows the calibrated predict_proba; calibration moves the 0.5 "
            "threshold, so the check's 'decision_function > 0 == predict' cannot hold. "
            "test_calibrated_predictions_agree checks the rest of what it checks."
        )
    }


@parametrize_with_checks(
    [
        ChurnModel(kind="logistic"),
        ChurnModel(kind="lightgbm", n_estimators=20, min_child_samples=2),
        ChurnModel(kind="logistic", calibration="isotonic"),
    ],
    expected_failed_checks=_not_applicable,
)
def test_scikit_learn_estimator_checks(estimator: ChurnModel, check: Callable[..., Any]) -> None:
    check(estimator)


@pytest.mark.parametrize(
    ("kind", "calibration"), [("logistic", "isotonic"), ("lightgbm", "sigmoid")]
)
def test_calibrated_predictions_agree(kind: ModelKind, calibration: CalibrationKind) -> None:
    x, y = _churn_problem(rows=400)
    labels = np.array(["active", "churned"])[y]  # the second class is the churn one
    model = ChurnModel(kind=kind, calibration=calibration, n_estimators=50).fit(x, labels)
    proba = model.predict_proba(x)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(model.predict(x), model.classes_[proba.argmax(axis=1)])
    assert model.decision_function(x).shape == (400,)
    assert list(model.classes_) == ["active", "churned"]
    assert proba[y == 1, 1].mean() > proba[y == 0, 1].mean() + 0.3
    assert (model.predict(x) == labels).mean() > 0.75
    with pytest.raises(ValueError, match="features"):
        model.predict(x[:, :3])


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
def test_calibration_needs_two_of_each_class(kind: ModelKind) -> None:
    x, _ = _churn_problem(rows=60)
    y = np.zeros(60, dtype=np.int64)
    y[:2] = 1
    model = ChurnModel(kind=kind, calibration="isotonic", n_estimators=10)
    assert model.fit(x, y).predict_proba(x).shape == (60, 2)  # no warning about folds either
    y[1] = 0
    with pytest.raises(ValueError, match=r"at least two observations of each class"):
        model.fit(x, y)


def test_multiclass_is_refused_clearly() -> None:
    x, _ = _churn_problem(rows=30)
    with pytest.raises(ValueError, match=r"Only binary.*exactly two classes"):
        ChurnModel().fit(x, np.arange(30) % 3)


# ---------------------------------------------------------------- explanations and calibration


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
@pytest.mark.parametrize("calibration", ["none", "isotonic", "sigmoid"])
def test_contributions_sum_to_the_log_odds(kind: ModelKind, calibration: CalibrationKind) -> None:
    x, y = _churn_problem()
    x = _with_nans(x)
    model = ChurnModel(kind=kind, calibration=calibration, n_estimators=40).fit(x, y)
    fresh = _with_nans(_churn_problem(seed=5, rows=200)[0], seed=6, share=0.3)
    fresh[0] = np.nan  # a row missing everything
    for rows in (x, fresh):
        parts, bias = model.contributions(rows)
        assert parts.shape == rows.shape and bias.shape == (len(rows),)
        assert np.isfinite(parts).all() and np.isfinite(bias).all()
        np.testing.assert_allclose(
            parts.sum(axis=1) + bias, model.decision_function(rows), atol=1e-9
        )


def _assert_non_decreasing(model: ChurnModel, x: FloatArray) -> None:
    raw = model.decision_function(x)
    churn = model.predict_proba(x)[:, 1]
    order = np.argsort(raw, kind="stable")
    assert (np.diff(churn[order]) >= -1e-12).all()
    # ties in the log-odds get the same probability
    same = np.isclose(np.diff(raw[order]), 0, atol=0)
    np.testing.assert_allclose(np.diff(churn[order])[same], 0)


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid"])
def test_calibration_is_monotone_in_the_log_odds(
    kind: ModelKind, calibration: CalibrationKind
) -> None:
    x, y = _churn_problem()
    model = ChurnModel(kind=kind, calibration=calibration, n_estimators=40).fit(x, y)
    grid = np.linspace(-4, 4, 41)[:, None] * np.ones((1, x.shape[1]))
    for rows in (x, _with_nans(x), grid):
        _assert_non_decreasing(model, rows)
    churn = model.predict_proba(x)[:, 1]
    assert churn[y == 1].mean() > churn[y == 0].mean() + 0.3


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid"])
def test_calibration_never_reverses_a_model_of_noise(
    kind: ModelKind, calibration: CalibrationKind
) -> None:
    # Out of sample, a model of pure noise can rank backwards; calibrating must not then
    # reverse the ranking (this seed does, for Platt scaling of either kind).
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 5)), rng.integers(0, 2, 300)
    model = ChurnModel(kind=kind, calibration=calibration, n_estimators=50).fit(x, y)
    _assert_non_decreasing(model, x)


def test_platt_scaling_of_backward_log_odds_is_the_churn_rate() -> None:
    raw = np.linspace(-3, 3, 200)
    churned = (np.random.default_rng(0).random(200) < 1 / (1 + np.exp(-raw))).astype(np.int64)
    backward = fit_calibrator("sigmoid", raw, 1 - churned)  # higher log-odds, fewer churners
    np.testing.assert_allclose(backward.apply(raw), 1 - churned.mean())
    forward = fit_calibrator("sigmoid", raw, churned)
    assert forward.y[0] > 0 and (np.diff(forward.apply(raw)) > 0).all()


def test_isotonic_calibration_is_clipped_outside_training() -> None:
    raw = np.linspace(-2, 2, 100)
    y = (raw > 0).astype(np.int64)
    calibrator = fit_calibrator("isotonic", raw, y)
    far = calibrator.apply(np.array([-100.0, 100.0]))
    np.testing.assert_allclose(far, [0.0, 1.0])


# ---------------------------------------------------------------- what the model learns


def test_logistic_finds_the_one_feature_that_matters() -> None:
    x, y = _churn_problem(seed=11, rows=1500)
    model = ChurnModel(kind="logistic").fit(x, y)
    weights = np.abs(model.coef_)
    assert model.coef_[0] > 0
    assert weights[0] > 10 * weights[1:].max(), weights


def test_lightgbm_finds_the_one_feature_that_matters() -> None:
    x, y = _churn_problem(seed=11, rows=1500)
    model = ChurnModel(kind="lightgbm", n_estimators=100).fit(x, y)
    parts, _ = model.contributions(x)
    weights = np.abs(parts).mean(axis=0)
    assert weights[0] > 5 * weights[1:].max(), weights
    # it pushes the churn log-odds up exactly where feature 0 is high
    assert np.corrcoef(parts[:, 0], x[:, 0])[0, 1] > 0.9


# ---------------------------------------------------------------- artifacts


def _features(count: int) -> list[Feature]:
    return [Feature(f"f{i}", f"f{i}", f"feature {i}") for i in range(count)]


def _save(
    folder: Path, kind: ModelKind = "logistic", calibration: CalibrationKind = "none"
) -> tuple[ChurnModel, Manifest, FloatArray]:
    x, y = _churn_problem(rows=300)
    x = _with_nans(x)
    model = ChurnModel(kind=kind, calibration=calibration, n_estimators=40).fit(x, y)
    manifest = save_model(
        folder,
        model,
        _features(x.shape[1]),
        [Dropped("plan", "the same value (1) everywhere")],
        ABOUT,
        {"profile.json": '{"f0": [1, 2, 3]}', "report.json": '{"observations": 300}'},
    )
    return model, manifest, x


@pytest.mark.parametrize(
    ("kind", "calibration"),
    [("logistic", "none"), ("logistic", "isotonic"), ("lightgbm", "none"), ("lightgbm", "sigmoid")],
)
def test_round_trip_gives_the_same_model(
    tmp_path: Path, kind: ModelKind, calibration: CalibrationKind
) -> None:
    folder = tmp_path / "model"
    model, saved, x = _save(folder, kind, calibration)
    loaded, manifest = load_model(folder)
    assert manifest == saved
    assert manifest.kind == kind and manifest.calibration["kind"] == calibration
    assert manifest.feature_list == _features(5)
    assert manifest.dropped == [{"name": "plan", "reason": "the same value (1) everywhere"}]
    assert (manifest.scorecard_name, manifest.scorecard_version, manifest.scorecard_hash) == (
        "t",
        "1",
        "abc",
    )
    assert manifest.window == ABOUT["window"] and manifest.metrics == ABOUT["metrics"]
    assert {"python", "scikit-learn", "lightgbm", "numpy"} <= set(manifest.versions)
    assert loaded.get_params() == model.get_params()
    fresh = _with_nans(_churn_problem(seed=9, rows=100)[0], seed=4)
    for rows in (x, fresh):
        np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
        np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
        for mine, theirs in zip(loaded.contributions(rows), model.contributions(rows), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="features"):
        loaded.predict_proba(x[:, :4])


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
def test_the_folder_holds_no_pickle(tmp_path: Path, kind: ModelKind) -> None:
    folder = tmp_path / "model"
    _save(folder, kind)
    names = sorted(path.name for path in folder.iterdir())
    expected = ["manifest.json", "profile.json", "report.json"]
    assert names == sorted([*expected, "lightgbm.txt"] if kind == "lightgbm" else expected)
    for path in folder.iterdir():
        assert path.suffix not in {".pkl", ".pickle", ".joblib", ".npy", ".npz"}
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path.name} looks like a pickle"
        data.decode("utf-8")  # all text
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == 1 and manifest["kind"] == kind and manifest["content_hash"]


def _edit_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    change(body)
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")


def _bump_intercept(body: dict[str, Any]) -> None:
    body["learned"]["intercept"] += 0.5


def _bump_coefficient(body: dict[str, Any]) -> None:
    body["learned"]["coef"][0] *= -1


def _bump_median(body: dict[str, Any]) -> None:
    body["learned"]["medians"][2] += 1


def _bump_calibration(body: dict[str, Any]) -> None:
    body["calibration"]["y"][0] = 0.9


def _bump_parameter(body: dict[str, Any]) -> None:
    body["params"]["n_estimators"] = 7


def _bump_class(body: dict[str, Any]) -> None:
    body["classes"] = [1, 0]


@pytest.mark.parametrize(
    ("kind", "calibration", "change"),
    [
        ("logistic", "none", _bump_intercept),
        ("logistic", "none", _bump_coefficient),
        ("logistic", "none", _bump_median),
        ("logistic", "none", _bump_class),
        ("logistic", "isotonic", _bump_calibration),
        ("lightgbm", "none", _bump_median),
        ("lightgbm", "sigmoid", _bump_calibration),
        ("lightgbm", "none", _bump_parameter),
    ],
)
def test_an_edited_number_is_detected(
    tmp_path: Path,
    kind: ModelKind,
    calibration: CalibrationKind,
    change: Callable[[dict[str, Any]], None],
) -> None:
    _save(tmp_path, kind, calibration)
    _edit_manifest(tmp_path, change)
    with pytest.raises(ArtifactError, match="content hash mismatch") as caught:
        load_model(tmp_path)
    assert str(tmp_path) in str(caught.value) and "train it again" in str(caught.value)


def test_a_number_edited_in_the_text_is_detected(tmp_path: Path) -> None:
    _save(tmp_path)
    path = tmp_path / "manifest.json"
    text = path.read_text(encoding="utf-8")
    intercept = json.loads(text)["learned"]["intercept"]
    assert text.count(repr(intercept)) == 1
    path.write_text(text.replace(repr(intercept), repr(intercept + 1e-9)), encoding="utf-8")
    with pytest.raises(ArtifactError, match="content hash mismatch"):
        load_model(tmp_path)


def test_only_the_hash_edited_is_detected(tmp_path: Path) -> None:
    _save(tmp_path)
    _edit_manifest(tmp_path, lambda body: body.update(content_hash="0" * 32))
    with pytest.raises(ArtifactError, match="content hash mismatch"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_text(path.read_text()[: len(path.read_text()) // 2]),
        lambda path: path.write_text(path.read_text()[:-200]),
        lambda path: path.unlink(),
        lambda path: path.write_text(path.read_text().replace("leaf_value=", "leaf_value=1 ", 1)),
    ],
    ids=["truncated-half", "truncated-tail", "deleted", "leaf-edited"],
)
def test_a_damaged_lightgbm_file_is_detected(tmp_path: Path, damage: Callable[[Path], Any]) -> None:
    _save(tmp_path, "lightgbm")
    damage(tmp_path / "lightgbm.txt")
    with pytest.raises(ArtifactError, match="content hash mismatch") as caught:
        load_model(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_a_replaced_lightgbm_file_is_detected(tmp_path: Path) -> None:
    _save(tmp_path / "a", "lightgbm")
    other = tmp_path / "b"
    x, y = _churn_problem(seed=2, rows=300)
    save_model(
        other, ChurnModel(kind="lightgbm", n_estimators=40).fit(x, y), _features(5), [], ABOUT
    )
    (tmp_path / "a" / "lightgbm.txt").write_bytes((other / "lightgbm.txt").read_bytes())
    with pytest.raises(ArtifactError, match="content hash mismatch"):
        load_model(tmp_path / "a")


@pytest.mark.parametrize("name", ["profile.json", "report.json"])
def test_an_edited_companion_file_is_detected(tmp_path: Path, name: str) -> None:
    _save(tmp_path)
    (tmp_path / name).write_text("{}", encoding="utf-8")
    with pytest.raises(ArtifactError, match="content hash mismatch"):
        load_model(tmp_path)


def test_a_missing_manifest_is_reported(tmp_path: Path) -> None:
    _save(tmp_path, "lightgbm")
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"not a model folder \(no manifest.json\)") as caught:
        load_model(tmp_path)
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(ArtifactError, match="not a model folder"):
        load_model(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": 1, "kind": "logistic", ',
        b"not json at all",
        b"[1, 2, 3]",
        b"null",
        b"\xff\xfe\x00garbage",
        b"",
    ],
    ids=["cut-short", "text", "a-list", "null", "binary", "empty"],
)
def test_garbage_json_is_reported(tmp_path: Path, content: bytes) -> None:
    _save(tmp_path)
    (tmp_path / "manifest.json").write_bytes(content)
    with pytest.raises(ArtifactError, match="corrupted model manifest") as caught:
        load_model(tmp_path)
    assert str(tmp_path / "manifest.json") in str(caught.value)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda body: body.pop("learned"), "corrupted model manifest"),
        (lambda body: body.update(surprise=1), "corrupted model manifest"),
        (lambda body: body.update(features=[{"name": "f0"}]), "corrupted model manifest"),
        (lambda body: body.update(format="one"), "corrupted model manifest"),
    ],
    ids=["missing-field", "unknown-field", "bad-feature", "format-not-a-number"],
)
def test_a_malformed_manifest_is_reported(
    tmp_path: Path, change: Callable[[dict[str, Any]], Any], fragment: str
) -> None:
    _save(tmp_path)
    _edit_manifest(tmp_path, change)
    with pytest.raises(ArtifactError, match=fragment):
        load_model(tmp_path)


@pytest.mark.parametrize("version", [0, 2, 99])
def test_a_wrong_format_is_reported(tmp_path: Path, version: int) -> None:
    _save(tmp_path, "lightgbm")
    _edit_manifest(tmp_path, lambda body: body.update(format=version))
    with pytest.raises(ArtifactError, match=rf"model format {version}; this version reads 1"):
        load_model(tmp_path)


# ---------------------------------------------------------------- does it fit the scorecard


def test_check_fits_names_what_is_missing_and_what_it_was_trained_with(tmp_path: Path) -> None:
    x, y = _churn_problem(rows=200, columns=4)
    features = [
        Feature("logins_30d", "logins_30d", "Logins (30 days)"),
        Feature("tickets", "tickets", "Support tickets"),
        Feature("segment=smb", "segment", "segment smb", "smb"),
        Feature("segment=enterprise", "segment", "segment enterprise", "enterprise"),
    ]
    manifest = save_model(tmp_path, ChurnModel().fit(x, y), features, [], ABOUT)
    check_fits(manifest, {"logins_30d", "tickets", "segment", "seats"}, tmp_path)
    with pytest.raises(ArtifactError) as caught:
        check_fits(manifest, {"logins_30d", "seats"}, tmp_path)
    message = str(caught.value)
    assert "needs segment, tickets," in message  # each missing source once, sorted
    assert "logins_30d" not in message and "seats" not in message
    assert "trained with t 1 (abc)" in message and str(tmp_path) in message
    with pytest.raises(ArtifactError, match="needs logins_30d, segment, tickets,"):
        check_fits(load_model(tmp_path)[1], set(), tmp_path)


def test_contributions_per_path_equal_lightgbms_own() -> None:
    from healthscore.model._contrib import path_contributions, tree_contributions

    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 5))
    x[:, 3] = rng.integers(0, 4, 3000)  # few distinct values: many rows share a path
    x[rng.random(3000) < 0.1, 1] = np.nan
    y = rng.random(3000) < 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 3] - 2)))
    model = ChurnModel(kind="lightgbm", n_estimators=60).fit(x, y)
    own = model.booster_.predict(x, pred_contrib=True)
    # Without the check against LightGBM that would hide a wrong answer behind its own.
    fast = path_contributions(model.booster_, x)
    assert fast is not None
    np.testing.assert_allclose(fast, own, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tree_contributions(model.booster_, x), own, rtol=1e-9, atol=1e-12)
    assert tree_contributions(model.booster_, x[:0]).shape == (0, 6)
