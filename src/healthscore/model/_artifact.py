"""A trained model as a versioned folder of JSON and text, never a pickle.

    model/
      manifest.json    kind, parameters, features, learned numbers, calibration, the
                       scorecard (name, version, hash) and training window, held-out
                       metrics, library versions, and a content hash over everything
      lightgbm.txt     LightGBM's own model text (LightGBM models only)
      profile.json     the training distribution of each feature and of the output (drift)
      report.json      the training report

Loading checks the content hash (a changed or truncated file is an error, never a
silently different model) and, against a scorecard, that every feature still exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from healthscore.model._estimator import Calibrator, ChurnModel
from healthscore.model._features import Dropped, Feature

FORMAT = 1
LIBRARIES = ("healthscore", "scikit-learn", "lightgbm", "numpy", "pandas")


class ArtifactError(ValueError):
    """The model folder is missing, corrupted, or does not fit the scorecard."""


class FeatureRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    source: str
    label: str
    category: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: int
    kind: str
    params: dict[str, Any]
    classes: list[Any]
    features: list[FeatureRecord]
    dropped: list[dict[str, str]]
    scorecard_name: str
    scorecard_version: str
    scorecard_hash: str
    trained_at: dt.datetime
    window: dict[str, Any]
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    learned: dict[str, Any]
    versions: dict[str, str]
    content_hash: str = ""

    @property
    def feature_list(self) -> list[Feature]:
        return [Feature(f.name, f.source, f.label, f.category) for f in self.features]


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def _learned(model: ChurnModel) -> dict[str, Any]:
    learned: dict[str, Any] = {"medians": model.medians_.tolist()}
    if model.kind == "logistic":
        learned |= {
            "log_mask": model.log_mask_.tolist(),
            "means": model.means_.tolist(),
            "scales": model.scales_.tolist(),
            "coef": model.coef_.tolist(),
            "intercept": model.intercept_,
        }
    return learned


def _hash(folder: Path, manifest: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    body = {key: value for key, value in manifest.items() if key != "content_hash"}
    digest.update(json.dumps(body, sort_keys=True, default=str).encode())
    for name in ("lightgbm.txt", "profile.json", "report.json"):
        path = folder / name
        if path.exists():
            digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()[:32]


def save_model(
    folder: Path,
    model: ChurnModel,
    features: list[Feature],
    dropped: list[Dropped],
    about: dict[str, Any],
    extras: dict[str, str] | None = None,
) -> Manifest:
    """Write the folder; `about` has the scorecard, window and metrics; `extras` more files."""
    folder.mkdir(parents=True, exist_ok=True)
    if model.kind == "lightgbm":
        model.booster_.save_model(str(folder / "lightgbm.txt"))
    for name, text in (extras or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    body = {
        "format": FORMAT,
        "kind": model.kind,
        "params": model.get_params(),
        "classes": [c.item() if hasattr(c, "item") else c for c in model.classes_],
        "features": [vars(f) for f in features],
        "dropped": [{"name": d.name, "reason": d.reason} for d in dropped],
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "calibration": vars(model.calibrator_),
        "learned": _learned(model),
        "versions": _versions(),
        **about,
    }
    # Hashed as written (JSON), so loading recomputes exactly the same bytes.
    written = json.loads(Manifest.model_validate(body).model_dump_json())
    manifest = Manifest.model_validate({**written, "content_hash": _hash(folder, written)})
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def load_model(folder: Path) -> tuple[ChurnModel, Manifest]:
    """The model in `folder`, after checking it is complete and unchanged."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise ArtifactError(f"{folder}: not a model folder (no manifest.json); train one first")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest.model_validate(raw)
    except (json.JSONDecodeError, ValidationError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise ArtifactError(f"{path}: corrupted model manifest ({first})") from None
    if manifest.format != FORMAT:
        raise ArtifactError(f"{path}: model format {manifest.format}; this version reads {FORMAT}")
    if _hash(folder, raw) != manifest.content_hash:
        raise ArtifactError(
            f"{folder}: content hash mismatch: a file of the model was changed or damaged "
            "after training; train it again"
        )
    model = ChurnModel(**manifest.params)
    model.classes_ = np.array(manifest.classes)
    model.n_features_in_ = len(manifest.features)
    learned = manifest.learned
    model.medians_ = np.array(learned["medians"], dtype=np.float64)
    if manifest.kind == "lightgbm":
        model.booster_ = lgb.Booster(model_file=str(folder / "lightgbm.txt"))
    else:
        model.log_mask_ = np.array(learned["log_mask"], dtype=bool)
        model.means_ = np.array(learned["means"], dtype=np.float64)
        model.scales_ = np.array(learned["scales"], dtype=np.float64)
        model.coef_ = np.array(learned["coef"], dtype=np.float64)
        model.intercept_ = float(learned["intercept"])
    model.calibrator_ = Calibrator(**manifest.calibration)
    return model, manifest


def check_fits(manifest: Manifest, available: set[str], folder: Path) -> None:
    """Every feature the model was trained on must still be a metric or account column."""
    missing = sorted({f.source for f in manifest.features} - available)
    if missing:
        raise ArtifactError(
            f"{folder}: the model was trained with {manifest.scorecard_name} "
            f"{manifest.scorecard_version} ({manifest.scorecard_hash}) and needs "
            f"{', '.join(missing)}, which this scorecard no longer has; train it again"
        )
