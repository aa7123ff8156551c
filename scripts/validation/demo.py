"""The bundled demo data: does a trained churn model find the causes the generator hid?

The demo generator (`healthscore demo`, docs/demo-data.md) makes churn from known
drivers: a drop in logins, failed payments, a detractor NPS answer, severe tickets left
open, poor onboarding and the segment. A model trained on the example scorecard's
metrics should rank those first (by mean |contribution| to its log-odds), and it should
beat a deliberately naive scorecard, one measure on the renewal runway (which the
generator ignores), on the same held-out dates.

    python scripts/validation/demo.py prepare [--out DIR] [--accounts 2000] [--seed 7]
    python scripts/validation/demo.py train [--model logistic|lightgbm] [--out DIR]

`prepare` runs `healthscore demo --directory DIR` (data, DuckDB warehouse, the example
scorecard) and writes two scorecards beside it, both with the example's sources,
population, metrics and outcome and the same `model:` section, so a model trained with
either learns from the very same features:

- `scorecard-model.yaml`: the example scorecard 1.1.0 plus the `model:` section;
- `scorecard-naive.yaml`: one measure, days to renewal (0 days scores 0, 120 scores 100).

The default folder is `$HEALTHSCORE_DATA_CACHE/demo` (default `~/.cache/healthscore/demo`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore import Engine
from healthscore.evaluation import observation_dates
from healthscore.evaluation._training_report import TrainingReport
from healthscore.model import feature_matrix, load_model
from healthscore.model._estimator import ModelKind

# The demo's own backtest span: 12 monthly dates whose 30-day horizon the data covers.
START = dt.date(2025, 6, 1)
END = dt.date(2026, 5, 1)
EVERY = "1mo"
# Account columns the model may learn from (the industry is a negative control: the
# generator ignores it); the country is sensitive (bias check only). Not `segment`: the
# score frame's own `segment` column (the scorecard's variant, enterprise / self_serve)
# shadows the account column of that name in training (docs/validation.md).
MODEL_SECTION = """
# Added by scripts/validation/demo.py: the churn model's account attributes.
model:
  attributes: [plan, seats, industry]
  sensitive: [country]
"""
NAIVE_GROUPS = """groups:
  renewal:
    weight: 1
    measures:
      runway:                   # "renewal is near, so the account is at risk"
        kind: linear
        metric: days_to_renewal
        bad: 0
        good: 120

tiers:
  - {name: green, min: 75}
  - {name: yellow, min: 60}
  - {name: red, min: 0}

"""
# Which model feature stands for which hidden driver of the generator
# (healthscore.demo.HIDDEN_CHURN_DRIVERS; docs/demo-data.md).
CAUSES = {
    "logins_change_30d": "usage_decline_30d",
    "failed_payments_90d": "failed_payments_90d",
    "latest_nps": "detractor_nps",
    "open_severe_tickets": "stale_severe_tickets",
    "integrations_total": "poor_onboarding",
    # The segment itself is not a feature (see MODEL_SECTION); plan and seats follow it.
    "plan": "segment (via plan)",
    "seats": "segment (via seats)",
}


def cache_dir() -> Path:
    """$HEALTHSCORE_DATA_CACHE/demo (default ~/.cache/healthscore/demo)."""
    root = os.environ.get("HEALTHSCORE_DATA_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "healthscore"
    return base / "demo"


def write_scorecards(folder: Path) -> tuple[Path, Path]:
    """scorecard-model.yaml and scorecard-naive.yaml beside the demo's scorecard.yaml."""
    text = (folder / "scorecard.yaml").read_text(encoding="utf-8")
    head, marker, rest = text.partition("\ngroups:")
    _, outcome_marker, outcome = rest.partition("\noutcome:")
    if not marker or not outcome_marker:
        raise ValueError(f"{folder / 'scorecard.yaml'}: no top-level 'groups:' or 'outcome:'")
    model = folder / "scorecard-model.yaml"
    model.write_text(text.rstrip("\n") + "\n" + MODEL_SECTION, encoding="utf-8")
    head = re.sub(
        r'name: saas_health\nversion: "[^"]*".*', 'name: naive_renewal\nversion: "1"', head
    )
    naive = folder / "scorecard-naive.yaml"
    naive.write_text(
        head + "\n" + NAIVE_GROUPS + "outcome:" + outcome.rstrip("\n") + "\n" + MODEL_SECTION,
        encoding="utf-8",
    )
    return model, naive


def prepare(out: Path | None = None, accounts: int = 2000, seed: int = 7) -> Path:
    """`healthscore demo --directory out`, then the two scorecards; returns the folder."""
    out = out or cache_dir()
    command = [
        sys.executable,
        "-c",
        "from healthscore.cli.main import app; app()",
        "demo",
        "--directory",
        str(out),
        "--accounts",
        str(accounts),
        "--seed",
        str(seed),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    write_scorecards(out)
    return out


@dataclass(frozen=True)
class Importance:
    feature: str
    mean_abs: float
    cause: str | None


def train(folder: Path, scorecard: str, kind: ModelKind, out: Path) -> TrainingReport:
    """Train on the demo's 12 monthly dates (30-day churn) with one of the scorecards."""
    engine = Engine(folder / scorecard)
    try:
        return engine.train(START, END, out, EVERY, kind=kind)
    finally:
        engine.con.disconnect()


def importance(folder: Path, model_dir: Path) -> list[Importance]:
    """Mean |contribution| of each input to the saved model's churn log-odds, largest
    first, over every observation it was trained on (accounts in the population on the 12
    dates). A text attribute is one input: its categories' contributions are summed."""
    model, manifest = load_model(model_dir)
    engine = Engine(folder / "scorecard-model.yaml")
    try:
        frame = engine.metrics(observation_dates(START, END, EVERY))
    finally:
        engine.con.disconnect()
    frame = frame[frame["active_subscriptions"] > 0]
    features = manifest.feature_list
    contributions, _ = model.contributions(feature_matrix(frame, features))
    by_source = pd.DataFrame(contributions, columns=[f.name for f in features]).T.groupby(
        [f.source for f in features], sort=False
    )
    means = by_source.sum().abs().mean(axis=1).sort_values(ascending=False)
    return [
        Importance(str(name), float(value), CAUSES.get(str(name))) for name, value in means.items()
    ]


def describe(report: TrainingReport, naive: TrainingReport | None = None) -> str:
    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    held = report.held_out
    lines = [
        f"{report.kind} on {report.scorecard_name} {report.scorecard_version}: "
        f"{report.observations} observations, {report.churned} churned, "
        f"{len(report.features)} features, calibration {report.calibration}",
        "folds: "
        + ", ".join(f"{f.test_from}..{f.test_until} AUC {num(f.auc)}" for f in report.folds),
        f"held out {held.dates[0]}..{held.dates[-1]}: {held.observations} observations, "
        f"{held.churned} churned",
        f"  model AUC {num(held.auc)}, top-decile lift {num(held.top_decile_lift, 2)}, "
        f"Brier {num(held.brier, 4)}, log-loss {num(held.log_loss, 4)}",
        f"  rules score ({report.scorecard_name}) AUC {num(held.rules_auc)}, "
        f"top-decile lift {num(held.rules_top_decile_lift, 2)}",
    ]
    if naive is not None:
        other = naive.held_out
        lines.append(
            f"  naive scorecard ({naive.scorecard_name}) AUC {num(other.rules_auc)}, "
            f"top-decile lift {num(other.rules_top_decile_lift, 2)} (same held-out rows: "
            f"{other.observations} observations, {other.churned} churned)"
        )
    lines += [f"dropped {d['name']}: {d['reason']}" for d in report.dropped]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "train"])
    parser.add_argument("--out", type=Path, help="the demo folder (default: the cache)")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", choices=["logistic", "lightgbm"], default="lightgbm")
    args = parser.parse_args(argv)
    folder = args.out or cache_dir()
    if args.command == "prepare" or not (folder / "healthscore.duckdb").is_file():
        prepare(folder, args.accounts, args.seed)
    else:
        write_scorecards(folder)
    print(f"demo: {folder}")
    if args.command == "prepare":
        return 0
    kind: ModelKind = args.model
    report = train(folder, "scorecard-model.yaml", kind, folder / f"model-{kind}")
    naive = train(folder, "scorecard-naive.yaml", kind, folder / f"model-{kind}-naive")
    print(describe(report, naive))
    print("mean |contribution| to the churn log-odds (hidden driver in brackets):")
    for item in importance(folder, folder / f"model-{kind}"):
        cause = f"  [{item.cause}]" if item.cause else ""
        print(f"  {item.feature:<28} {item.mean_abs:.3f}{cause}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
