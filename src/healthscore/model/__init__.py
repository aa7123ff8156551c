"""The churn model: features, a calibrated scikit-learn estimator, saved artifacts, drift."""

from healthscore.model._artifact import ArtifactError, Manifest, check_fits, load_model, save_model
from healthscore.model._estimator import Calibrator, ChurnModel, fit_calibrator
from healthscore.model._features import (
    Dropped,
    Feature,
    FeatureError,
    candidate_sources,
    feature_matrix,
    learn_features,
)

__all__ = [
    "ArtifactError",
    "Calibrator",
    "ChurnModel",
    "Dropped",
    "Feature",
    "FeatureError",
    "Manifest",
    "candidate_sources",
    "check_fits",
    "feature_matrix",
    "fit_calibrator",
    "learn_features",
    "load_model",
    "save_model",
]
