"""Score a metric frame with the trained models a scorecard names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.compute._model_output import ModelOutput
from healthscore.model._artifact import ArtifactError, check_fits, load_model
from healthscore.model._drift import DriftReport, Profile, compare_to_profile
from healthscore.model._features import feature_matrix
from healthscore.spec._resolved import ResolvedScorecard


def predict(folder: Path, frame: pd.DataFrame) -> ModelOutput:
    """The model at `folder` applied to every row of `frame`."""
    model, manifest = load_model(folder)
    check_fits(manifest, set(frame.columns), folder)
    features = manifest.feature_list
    values = feature_matrix(frame, features)
    if len(frame) == 0:
        contributions, bias = np.zeros((0, len(features))), np.zeros(0)
    else:
        contributions, bias = model.contributions(values)
    log_odds = contributions.sum(axis=1) + bias
    return ModelOutput(
        probability=model.calibrator_.apply(log_odds),
        log_odds=log_odds,
        bias=bias,
        contributions=contributions,
        values=values,
        names=tuple(f.name for f in features),
        labels=tuple(f.label for f in features),
    )


def predict_for(scorecard: ResolvedScorecard, frame: pd.DataFrame) -> dict[Path, ModelOutput]:
    """Each model the scorecard uses, applied to the whole frame."""
    return {path: predict(path, frame) for path in scorecard.model_paths}


def in_sample_notes(scorecard: ResolvedScorecard, dates: list[dt.date]) -> list[str]:
    """Warnings for models that were trained on some of these observation dates."""
    notes = []
    for path in scorecard.model_paths:
        _, manifest = load_model(path)
        trained = {dt.date.fromisoformat(day) for day in manifest.window.get("dates", [])}
        overlap = sorted(trained & set(dates))
        if overlap:
            notes.append(
                f"the model at {path} was trained on {len(overlap)} of these dates "
                f"({overlap[0]}..{overlap[-1]}): its numbers here are in-sample and flatter it; "
                "judge it on later dates or by its training report's held-out figures"
            )
    return notes


def drift_for(folder: Path, frame: pd.DataFrame) -> DriftReport:
    """The frame's features and churn probabilities against the model's training profile."""
    model, manifest = load_model(folder)
    check_fits(manifest, set(frame.columns), folder)
    path = folder / "profile.json"
    try:
        profile = Profile.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable training profile ({error})") from None
    features = manifest.feature_list
    values = feature_matrix(frame, features)
    probability = model.predict_proba(values)[:, 1] if len(frame) else np.zeros(0)
    names = [f.name for f in features]
    return compare_to_profile(profile, pd.DataFrame(values, columns=names), probability)
