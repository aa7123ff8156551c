"""The churn model as a scikit-learn estimator: logistic regression or LightGBM, calibrated.

Both kinds output churn log-odds that split into per-feature contributions plus a bias
(`contributions`), so the same reason codes explain either: for the logistic model a
contribution is the coefficient times the feature's transformed value; for LightGBM it
is the tree path attribution LightGBM computes itself (`pred_contrib`). Calibration is a
monotone map from log-odds to probability (isotonic or Platt), so it never reorders
accounts and the contributions still explain the ranking.

Everything learned is plain numbers (and LightGBM's own text format), so a model is
saved as JSON and text, never as a pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from healthscore.model._contrib import tree_contributions

FloatArray = NDArray[np.float64]
ModelKind = Literal["logistic", "lightgbm"]
CalibrationKind = Literal["none", "isotonic", "sigmoid"]
SKEW_FOR_LOG = 1.0  # a nonnegative feature this skewed is modelled as log(1 + x)


@dataclass
class Calibrator:
    """Raw churn log-odds -> calibrated probability."""

    kind: CalibrationKind = "none"
    x: list[float] = field(default_factory=list)  # isotonic thresholds (log-odds)...
    y: list[float] = field(default_factory=list)  # ...and probabilities; sigmoid: [a, b]

    def apply(self, raw: FloatArray) -> FloatArray:
        if self.kind == "isotonic":
            return np.interp(raw, self.x, self.y)
        if self.kind == "sigmoid":
            a, b = self.y
            return 1.0 / (1.0 + np.exp(-(a * raw + b)))
        return 1.0 / (1.0 + np.exp(-raw))


def fit_calibrator(kind: CalibrationKind, raw: FloatArray, y: NDArray[Any]) -> Calibrator:
    """A calibrator fitted on out-of-sample log-odds `raw` and 0/1 outcomes `y`."""
    if kind == "isotonic":
        fit = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return Calibrator("isotonic", fit.X_thresholds_.tolist(), fit.y_thresholds_.tolist())
    if kind == "sigmoid":
        platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
        slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        if slope < 0:
            # Out-of-sample log-odds that rank backwards (a model no better than noise)
            # must not reverse the ranking: the calibrated probability is then the churn
            # rate, constant and so still monotone.
            rate = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6))
            slope, intercept = 0.0, float(np.log(rate / (1 - rate)))
        return Calibrator("sigmoid", [], [slope, intercept])
    return Calibrator()


class ChurnModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Churn probability from features (NaN allowed); the second class is "churned".

    >>> ChurnModel(kind="lightgbm").fit(X, y).predict_proba(X)[:, 1]   # doctest: +SKIP
    """

    def __init__(
        self,
        kind: ModelKind = "logistic",
        C: float = 1.0,  # noqa: N803 - scikit-learn's name for it
        calibration: CalibrationKind = "none",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.C = C
        self.calibration = calibration
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # ---------------------------------------------------------------- fitting

    def fit(self, X: Any, y: Any) -> ChurnModel:  # noqa: N803
        checked, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        values = np.asarray(checked, dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        self.classes_, target = np.unique(y, return_inverse=True)
        if y_type != "binary" or len(self.classes_) != 2:
            # scikit-learn's wording first, so its multiclass check recognises the refusal
            raise ValueError(
                f"Only binary classification is supported. The type of the target is "
                f"{y_type}: a churn model needs exactly two classes (churned and not); "
                f"got {len(self.classes_)} class(es)"
            )
        self._fit_raw(values, target)
        self.calibrator_ = Calibrator()
        if self.calibration != "none":
            raw = self._out_of_fold(values, target)
            self.calibrator_ = fit_calibrator(self.calibration, raw, target)
        return self

    def _fit_raw(self, X: FloatArray, y: NDArray[Any]) -> None:  # noqa: N803
        self.medians_ = np.array(
            [np.nanmedian(c) if not np.isnan(c).all() else 0.0 for c in X.T], dtype=np.float64
        )
        if self.kind == "lightgbm":
            params = {
                "objective": "binary",
                "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves,
                "min_data_in_leaf": self.min_child_samples,
                "seed": self.random_state,
                "deterministic": True,
                # One thread: churn data are small for LightGBM, and with more threads than
                # free cores OpenMP's spin-waiting made training 10-100x slower.
                "num_threads": 1,
                "verbosity": -1,
                "feature_pre_filter": False,
            }
            data = lgb.Dataset(X, label=y, params={"verbosity": -1})
            self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
            return
        filled = np.where(np.isnan(X), self.medians_, X)
        skew = _skew(filled)
        self.log_mask_ = (filled.min(axis=0, initial=0.0) >= 0) & (skew > SKEW_FOR_LOG)
        shaped = np.where(self.log_mask_, np.log1p(np.maximum(filled, 0)), filled)
        self.means_ = shaped.mean(axis=0)
        scales = shaped.std(axis=0)
        self.scales_ = np.where(scales > 0, scales, 1.0)
        regression = LogisticRegression(C=self.C, max_iter=5000)
        regression.fit((shaped - self.means_) / self.scales_, y)
        self.coef_ = regression.coef_[0].astype(np.float64)
        self.intercept_ = float(regression.intercept_[0])

    def _out_of_fold(self, X: FloatArray, y: NDArray[Any]) -> FloatArray:  # noqa: N803
        """Log-odds of each row from a model that did not see it (3 folds)."""
        raw = np.zeros(len(y))
        splits = min(3, int(np.bincount(y).min()))
        if splits < 2:
            raise ValueError(
                "calibration needs at least two observations of each class (churned and "
                f"not); got {np.bincount(y).tolist()}: use calibration='none'"
            )
        folds = StratifiedKFold(n_splits=splits, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X, y):
            part = self.__class__(**self.get_params())
            part._fit_raw(X[train], y[train])
            raw[test] = part.decision_function(X[test])
        return raw

    # ---------------------------------------------------------------- predicting

    def _transformed(self, X: FloatArray) -> FloatArray:  # noqa: N803
        filled = np.where(np.isnan(X), self.medians_, X)
        shaped = np.where(self.log_mask_, np.log1p(np.maximum(filled, 0)), filled)
        result: FloatArray = (shaped - self.means_) / self.scales_
        return result

    def _check(self, X: Any) -> FloatArray:  # noqa: N803
        check_is_fitted(self)
        checked = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(checked, dtype=np.float64)

    def decision_function(self, X: Any) -> FloatArray:  # noqa: N803
        """Raw churn log-odds (before calibration)."""
        values = self._check(X)
        if self.kind == "lightgbm":
            return np.asarray(self.booster_.predict(values, raw_score=True), dtype=np.float64)
        raw: FloatArray = self._transformed(values) @ self.coef_ + self.intercept_
        return raw

    def predict_proba(self, X: Any) -> FloatArray:  # noqa: N803
        raw = self.decision_function(X)  # first: it raises NotFittedError before fitting
        churn = self.calibrator_.apply(raw)
        return np.column_stack([1.0 - churn, churn])

    def predict(self, X: Any) -> NDArray[Any]:  # noqa: N803
        # predict_proba first: it raises NotFittedError before fitting. A tie (exactly 0.5,
        # a plateau of isotonic calibration) goes to the first class, as argmax does.
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[proba.argmax(axis=1)])

    def contributions(self, X: Any) -> tuple[FloatArray, FloatArray]:  # noqa: N803
        """Per-feature contributions to the raw log-odds, and the bias; they sum to it."""
        values = self._check(X)
        if self.kind == "lightgbm":
            parts = tree_contributions(self.booster_, values)
            return parts[:, :-1], parts[:, -1]
        return self._transformed(values) * self.coef_, np.full(len(values), self.intercept_)


def _skew(values: FloatArray) -> FloatArray:
    centered = values - values.mean(axis=0)
    spread = values.std(axis=0)
    third = (centered**3).mean(axis=0)
    return np.where(spread > 0, third / np.where(spread > 0, spread, 1.0) ** 3, 0.0)
