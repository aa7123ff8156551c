"""Features for the churn model: the scorecard's metrics and named account attributes.

A feature is a metric or an account column. Numbers are used as they are (missing stays
missing); text columns become one 0/1 column per category seen in training (the
`segment=enterprise` kind). Sensitive attributes never become features unless the
scorecard allows them by name. Features that cannot teach anything (constant, or missing
everywhere) are dropped at training, each with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from healthscore.spec._resolved import AggregateSpec, ResolvedScorecard

MAX_CATEGORIES = 20


@dataclass(frozen=True)
class Feature:
    """One input column of the model (a category of a text attribute is its own feature)."""

    name: str  # as the model knows it: 'logins_30d' or 'segment=enterprise'
    source: str  # the metric or account column it comes from
    label: str  # for reason texts
    category: str | None = None  # for one-hot features


@dataclass(frozen=True)
class Dropped:
    name: str
    reason: str


class FeatureError(ValueError):
    """Features are missing from the data, or none is left to learn from."""


def candidate_sources(scorecard: ResolvedScorecard) -> list[str]:
    """The metrics and attributes a model may learn from, sensitive ones left out."""
    spec = scorecard.model
    names: list[str]
    if spec is not None and spec.features is not None:
        names = list(spec.features)
    else:
        names = [m.name for m in scorecard.metrics if not m.name.startswith("_")]
        names += list(spec.attributes) if spec is not None else []
    if spec is not None:
        blocked = set(spec.sensitive) - set(spec.allow_sensitive)
        names = [name for name in names if name not in blocked]
    return list(dict.fromkeys(names))


def _label(scorecard: ResolvedScorecard, source: str) -> str:
    try:
        metric = scorecard.metric(source)
    except KeyError:
        return source.replace("_", " ")
    return metric.label if isinstance(metric, AggregateSpec) else source.replace("_", " ")


def learn_features(
    scorecard: ResolvedScorecard, frame: pd.DataFrame
) -> tuple[list[Feature], list[Dropped]]:
    """The features to train on, from the training frame, and those dropped with why."""
    sources = candidate_sources(scorecard)
    absent = [name for name in sources if name not in frame.columns]
    if absent:
        raise FeatureError(
            f"features not in the data: {', '.join(absent)} (each must be a metric of the "
            "scorecard or an account column listed in model.attributes)"
        )
    features: list[Feature] = []
    dropped: list[Dropped] = []
    for source in sources:
        column = frame[source]
        label = _label(scorecard, source)
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            values = column.astype("float64")
            if values.isna().all():
                dropped.append(Dropped(source, "missing for every training observation"))
            elif values.nunique(dropna=True) < 2 and not values.isna().any():
                dropped.append(Dropped(source, f"the same value ({values.iloc[0]:g}) everywhere"))
            else:
                features.append(Feature(source, source, label))
            continue
        counts = column.astype("string").value_counts(dropna=True)
        if len(counts) < 2:
            dropped.append(Dropped(source, "fewer than two categories in training"))
            continue
        for category in counts.index[:MAX_CATEGORIES]:
            features.append(
                Feature(f"{source}={category}", source, f"{label} {category}", str(category))
            )
        if len(counts) > MAX_CATEGORIES:
            dropped.append(
                Dropped(
                    f"{source} (rare categories)",
                    f"{len(counts) - MAX_CATEGORIES} categories beyond the {MAX_CATEGORIES} "
                    "most frequent are not learned",
                )
            )
    if not features:
        raise FeatureError("no feature left to learn from: " + _why(dropped))
    return features, dropped


def _why(dropped: Sequence[Dropped]) -> str:
    return "; ".join(f"{item.name}: {item.reason}" for item in dropped) or "none named"


def feature_matrix(frame: pd.DataFrame, features: Sequence[Feature]) -> NDArray[np.float64]:
    """Rows of `frame` as model inputs (NaN = missing), in the order of `features`."""
    absent = sorted({f.source for f in features} - set(frame.columns))
    if absent:
        raise FeatureError(f"the data lacks the model's features: {', '.join(absent)}")
    columns = []
    for feature in features:
        column = frame[feature.source]
        if feature.category is None:
            columns.append(pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64))
        else:
            text = column.astype("string")
            hit = (text == feature.category).fillna(False).to_numpy(dtype=bool)
            values = hit.astype(np.float64)
            values[text.isna().to_numpy(dtype=bool)] = np.nan
            columns.append(values)
    if not columns:
        return np.empty((len(frame), 0))
    return np.column_stack(columns)
