"""What a trained churn model costs: training on 12 dates, and scoring with it vs the rules.

    python benchmarks/model.py                    # 100k accounts, ~10M events, clustered
    python benchmarks/model.py --kind both        # LightGBM and logistic regression
    python benchmarks/model.py --large            # 1M accounts, ~100M events
    python benchmarks/model.py --accounts 20000 --events-target 2000000
    python benchmarks/model.py --data DIR         # demo Parquet files already in DIR

Three kinds of run on the same cached data (benchmarks/_data.py), each in a fresh
subprocess (``python -m benchmarks.model --child RUN ...``), so its peak memory is its own:

- train: ``Engine(card).train(start, end, out, every="1mo", kind=KIND)`` on the 12 monthly
  dates 2025-06-01..2026-05-01 (the last one's 30-day horizon and 7-day grace end before
  the data does), with the benchmark scorecard plus a ``model:`` section (MODEL_SECTION);
- rules: one batch ``Engine("scorecard.yaml").score(as_of)``, as of the day after the
  data: what benchmarks/run.py times;
- model: the same ``Engine.score(as_of)`` with the model's scorecard: the same metrics,
  then the trained model's probabilities, scores and reasons from its contributions.

The targets: scoring with a model costs at most 2x the rules-only score of the same data;
training on 100k accounts x 12 observation dates finishes in minutes on 2 cores.
"""

from __future__ import annotations

import time

START = time.perf_counter()

# Only the standard library here: the children's clock starts above, before healthscore
# is imported, as in benchmarks/_child.py; the parent imports Rich and the rest in main.
import argparse  # noqa: E402 - after the clock starts, on purpose
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, cast  # noqa: E402

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._child import peak_rss  # noqa: E402 - standard library only

KINDS = ("lightgbm", "logistic")
DATES = 12  # monthly training dates
EVERY = "1mo"
SCORE_TARGET = 2.0  # a model score may cost at most this many rules-only scores
TRAIN_TARGET_MINUTES = 10.0  # "in minutes": our reading of the training target
MIB = 1024**2
# Appended to benchmarks/scorecard.yaml (so the metrics are exactly the rules score's);
# {path} is the model folder, relative to the scorecard, one per kind.
MODEL_SECTION = """
# Added by benchmarks/model.py: the churn model learns from every metric plus these
# account columns, never from country; scoring with it replaces the groups (gates stay).
model:
  path: {path}
  attributes: [segment, seats]
  sensitive: [country]
"""
# The steps of a training run, cut where the backtest's observations report progress.
TRAIN_STEPS = {
    "setup": "imports, Engine",
    "metrics": "metrics (12 dates)",
    "scores": "rules scores",
    "outcomes": "labels, then fit, validate, calibrate, save",
}


def model_folder(kind: str) -> str:
    return f"model-{kind}"


def model_scorecard(directory: Path, kind: str) -> Path:
    """benchmarks/scorecard.yaml plus a model section, beside the data (written here)."""
    from benchmarks._data import SCORECARD

    path = directory / f"scorecard-model-{kind}.yaml"
    text = SCORECARD.read_text(encoding="utf-8") + MODEL_SECTION.format(path=model_folder(kind))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def training_dates(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """12 monthly dates ending two months before as_of: 2025-06-01..2026-05-01 by default."""
    from benchmarks.backtest import months_before

    return months_before(as_of, DATES + 1), months_before(as_of, 2)


# --- the children ----------------------------------------------------------------------


def _train(kind: str, directory: Path, start: dt.date, end: dt.date) -> dict[str, Any]:
    from healthscore import Engine
    from healthscore.model._estimator import ModelKind

    startup = time.perf_counter() - START
    stamps: dict[str, float] = {}

    def progress(step: str) -> None:  # "metrics at 12 dates", "scores", "outcomes"
        stamps[step.split()[0]] = time.perf_counter()

    if kind not in KINDS:
        raise SystemExit(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    engine = Engine(model_scorecard(directory, kind))
    out = directory / model_folder(kind)
    report = engine.train(start, end, out, EVERY, kind=cast(ModelKind, kind), progress=progress)
    finished = time.perf_counter()
    cuts = [("setup", START), *sorted(stamps.items(), key=lambda kv: kv[1]), ("end", finished)]
    held = report.held_out
    return {
        "startup_seconds": startup,
        "seconds": finished - START,
        "steps": {TRAIN_STEPS[name]: t1 - t0 for (name, t0), (_, t1) in pairwise(cuts)},
        "dates": len(report.dates),
        "observations": report.observations,
        "churned": report.churned,
        "censored": report.censored,
        "features": len(report.features),
        "calibration": report.calibration,
        "folds": [
            {"test_from": str(f.test_from), "train": f.train_observations, "auc": f.auc}
            for f in report.folds
        ],
        "held_out": {
            "dates": [str(d) for d in held.dates],
            "observations": held.observations,
            "churned": held.churned,
            "auc": held.auc,
            "rules_auc": held.rules_auc,
            "top_decile_lift": held.top_decile_lift,
            "rules_top_decile_lift": held.rules_top_decile_lift,
            "brier": held.brier,
        },
    }


def _score(card: Path, as_of: dt.date) -> dict[str, Any]:
    from healthscore import Engine

    startup = time.perf_counter() - START
    frame = Engine(card).score(as_of=as_of)
    seconds = time.perf_counter() - START
    probability = frame["churn_probability"]
    return {
        "startup_seconds": startup,
        "seconds": seconds,
        "rows": len(frame),
        "by_model": int(probability.notna().sum()),
        "mean_score": float(frame["score"].mean()) if len(frame) else None,
    }


def child(argv: list[str]) -> int:
    """One run in this fresh process; prints what it cost as one JSON line.

    train KIND DATA_DIR START END | rules DATA_DIR AS_OF | model KIND DATA_DIR AS_OF
    """
    run, rest = argv[0], argv[1:]
    load = os.getloadavg()[0]
    if run == "train":
        kind, directory, start, end = rest[:4]
        report = _train(
            kind, Path(directory), dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        )
    elif run == "rules":
        directory, as_of = rest[:2]
        report = _score(Path(directory) / "scorecard.yaml", dt.date.fromisoformat(as_of))
    elif run == "model":
        kind, directory, as_of = rest[:3]
        report = _score(model_scorecard(Path(directory), kind), dt.date.fromisoformat(as_of))
    else:
        raise SystemExit(f"unknown run {run!r}; one of train, rules, model")
    report |= {"run": run, "peak_rss_bytes": peak_rss(), "load_at_start": load}
    print(json.dumps(report, default=str), flush=True)
    return 0


def phases(kind: str, directory: Path, as_of: dt.date) -> dict[str, Any]:
    """Where a model score spends its time, step by step (no profiler), beside the rules.

    ``python -m benchmarks.model --step-by-step KIND DATA_DIR AS_OF``; the steps are those
    of Engine.score: metrics, then healthscore.model._predict.predict (load the folder, the
    feature matrix, the contributions, the calibration), then score_frame.
    """
    import numpy as np

    import healthscore.compute._model_reasons as model_reasons_module
    import healthscore.compute._scores as scores_module
    from healthscore import Engine
    from healthscore.compute import score_frame
    from healthscore.model import feature_matrix, load_model
    from healthscore.model._artifact import check_fits
    from healthscore.model._predict import predict_for

    imported = time.perf_counter()
    spent: dict[str, float] = {}
    patched: list[tuple[Any, str, Callable[..., Any]]] = []

    def time_calls(module: Any, name: str, key: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)
        patched.append((module, name, original))

    # Private functions, wrapped on purpose (as benchmarks/_engine.py does).
    time_calls(scores_module, "measure_reasons", "rules reason texts")
    time_calls(scores_module, "model_reasons", "model reasons")
    time_calls(model_reasons_module, "measure_reasons", "model reason texts")
    seconds: dict[str, float] = {"import healthscore": imported - START}
    differs: float | None = None

    def step(name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = work()
        seconds[name] = time.perf_counter() - started
        return result

    try:
        rules = step("rules: Engine(...)", lambda: Engine(directory / "scorecard.yaml"))
        rules_metrics = step("rules: metrics", lambda: rules.metrics(as_of))
        step("rules: score_frame", lambda: score_frame(rules.scorecard, rules_metrics))
        seconds["... of which reason texts"] = spent.get("rules reason texts", 0.0)
        engine = step("model: Engine(...)", lambda: Engine(model_scorecard(directory, kind)))
        frame = step("model: metrics (+ account attributes)", lambda: engine.metrics(as_of))
        folder = directory / model_folder(kind)
        model, manifest = step("model: load the folder (hash check)", lambda: load_model(folder))
        check_fits(manifest, set(frame.columns), folder)
        features = manifest.feature_list
        values = step("model: feature matrix", lambda: feature_matrix(frame, features))
        name = "LightGBM pred_contrib" if kind == "lightgbm" else "coef x value"
        contributions, bias = step(
            f"model: contributions ({name})", lambda: model.contributions(values)
        )
        step(
            "model: calibration",
            lambda: model.calibrator_.apply(contributions.sum(axis=1) + bias),
        )
        if kind == "lightgbm":
            step(
                "(for comparison) LightGBM raw prediction, no contributions",
                lambda: model.booster_.predict(values, raw_score=True),
            )
        if kind == "lightgbm":
            # The product explains once per distinct path (model/_contrib.py); LightGBM's
            # own pred_contrib explains every row against every tree.
            exact = step(
                "(for comparison) LightGBM's own pred_contrib, every row, every tree",
                lambda: model.booster_.predict(values, pred_contrib=True),
            )
            reference = np.column_stack([contributions, bias])
            differs = float(np.max(np.abs(exact - reference))) if len(values) else 0.0
        outputs = step(
            "model: predict_for (all of the above again)",
            lambda: predict_for(engine.scorecard, frame),
        )
        before = spent.get("model reason texts", 0.0)
        step("model: score_frame", lambda: score_frame(engine.scorecard, frame, outputs))
        seconds["... of which model_reasons"] = spent.get("model reasons", 0.0)
        seconds["... ... of which reason texts"] = spent.get("model reason texts", 0.0) - before
    finally:
        for module, attribute, original in patched:
            setattr(module, attribute, original)
    return {
        "kind": kind,
        "rows": len(frame),
        "deduplicated_max_abs_difference": differs,
        "features": len(features),
        "seconds": seconds,
        "peak_rss_bytes": peak_rss(),
    }


# --- the parent ------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run: best wall time of the repeats (and its report), worst peak memory."""

    run: str  # "train lightgbm", "rules", "model lightgbm"
    seconds: float
    startup_seconds: float
    peak_rss_bytes: int
    report: dict[str, Any]
    all_seconds: tuple[float, ...]
    loads: tuple[float, ...]


def _child(arguments: list[str]) -> dict[str, Any]:
    from benchmarks import _data
    from benchmarks.run import _child_env, console

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.model", "--child", *arguments],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"{' '.join(arguments)} failed (exit {done.returncode})")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def model_phases(kind: str, directory: Path, as_of: dt.date) -> dict[str, Any]:
    """python -m benchmarks.model --step-by-step ..., in a fresh process."""
    from benchmarks import _data
    from benchmarks.run import _child_env

    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.model", "--step-by-step"),
            *(kind, str(directory), as_of.isoformat()),
        ],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _best(run: str, reports: list[dict[str, Any]]) -> Run:
    best = min(reports, key=lambda r: float(r["seconds"]))
    return Run(
        run=run,
        seconds=float(best["seconds"]),
        startup_seconds=min(float(r["startup_seconds"]) for r in reports),
        peak_rss_bytes=max(int(r["peak_rss_bytes"]) for r in reports),
        report=best,
        all_seconds=tuple(round(float(r["seconds"]), 3) for r in reports),
        loads=tuple(round(float(r["load_at_start"]), 2) for r in reports),
    )


def measure(
    directory: Path,
    kinds: tuple[str, ...],
    as_of: dt.date,
    start: dt.date,
    end: dt.date,
    repeat: int,
    train_repeat: int,
) -> dict[str, Run]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.run import console

    trains: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    scores: dict[str, list[dict[str, Any]]] = {"rules": [], **{kind: [] for kind in kinds}}
    total = train_repeat * len(kinds) + repeat * (1 + len(kinds))
    days = (start.isoformat(), end.isoformat())
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("running", total=total)
        for round_ in range(train_repeat):
            for kind in kinds:
                progress.update(task, description=f"train {kind} ({round_ + 1})")
                trains[kind].append(_child(["train", kind, str(directory), *days]))
                progress.advance(task)
        for round_ in range(repeat):
            # Interleaved, so a noisy moment on the machine does not hit one run only.
            for run in scores:
                progress.update(task, description=f"score: {run} ({round_ + 1})")
                arguments = ["rules"] if run == "rules" else ["model", run]
                scores[run].append(_child([*arguments, str(directory), as_of.isoformat()]))
                progress.advance(task)
    runs = {f"train {kind}": _best(f"train {kind}", rs) for kind, rs in trains.items()}
    runs["rules"] = _best("rules", scores["rules"])
    runs |= {f"model {kind}": _best(f"model {kind}", scores[kind]) for kind in kinds}
    return runs


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def show(
    accounts: int, events: int, as_of: dt.date, kinds: tuple[str, ...], runs: dict[str, Run]
) -> tuple[list[str], bool]:
    """Print the tables and the targets; returns the target lines and whether the answers
    are sane (the model scored every account the rules scored)."""
    from rich.table import Table

    from benchmarks._common import ratio
    from benchmarks.run import console

    rules = runs["rules"]
    table = Table(
        title=f"Scoring {accounts:,} accounts, {events:,} events as of {as_of} "
        f"(best of {len(rules.all_seconds)})"
    )
    for column in ("score", "wall s", "start-up s", "accounts/s", "peak RSS", "time / rules"):
        table.add_column(column, justify="left" if column == "score" else "right")
    table.add_column("memory / rules", justify="right")
    for name in ("rules", *(f"model {kind}" for kind in kinds)):
        run = runs[name]
        table.add_row(
            "rules only" if name == "rules" else f"with the {name.split()[1]} model",
            f"{run.seconds:.2f}",
            f"{run.startup_seconds:.2f}",
            f"{run.report['rows'] / run.seconds / 1e3:,.1f}k",
            f"{run.peak_rss_bytes / MIB:,.0f} MiB",
            ratio(run.seconds, rules.seconds),
            ratio(run.peak_rss_bytes, rules.peak_rss_bytes),
        )
    console.print(table)

    table = Table(
        title=f"Training on {DATES} monthly dates "
        f"(best of {len(runs[f'train {kinds[0]}'].all_seconds)})"
    )
    for column in ("model", "wall s", "minutes", "observations", "churned", "peak RSS"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for column in ("held-out AUC", "rules AUC", "held-out obs."):
        table.add_column(column, justify="right")
    for kind in kinds:
        run = runs[f"train {kind}"]
        held = run.report["held_out"]
        table.add_row(
            kind,
            f"{run.seconds:.1f}",
            f"{run.seconds / 60:.2f}",
            f"{run.report['observations']:,}",
            f"{run.report['churned']:,}",
            f"{run.peak_rss_bytes / MIB:,.0f} MiB",
            _auc(held["auc"]),
            _auc(held["rules_auc"]),
            f"{held['observations']:,}",
        )
    console.print(table)

    lines: list[str] = []
    sane = True
    for kind in kinds:
        model, train = runs[f"model {kind}"], runs[f"train {kind}"]
        times = model.seconds / rules.seconds
        held = train.report["held_out"]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in train.report["steps"].items())
        console.print(
            f"{kind}: model score / rules score: time {times:.2f}x, memory "
            f"{ratio(model.peak_rss_bytes, rules.peak_rss_bytes)}"
        )
        console.print(
            f"{kind}: held-out AUC: model {_auc(held['auc'])}, rules {_auc(held['rules_auc'])}"
            f" ({held['observations']:,} observations at {', '.join(held['dates'])}, "
            f"{held['churned']:,} churned)"
        )
        console.print(f"{kind}: training steps: {steps}")
        minutes = train.seconds / 60
        for text, ok in (
            (
                f"scoring with the model costs <= {SCORE_TARGET:g}x the rules: {times:.2f}x",
                times <= SCORE_TARGET,
            ),
            (
                f"training on {train.report['observations']:,} observations ({DATES} dates) in "
                f"minutes (<= {TRAIN_TARGET_MINUTES:g}): {minutes:.2f} min",
                minutes <= TRAIN_TARGET_MINUTES,
            ),
        ):
            line = f"{kind}: {'met' if ok else 'NOT met'} - {text}"
            lines.append(line)
            console.print(f"[{'green' if ok else 'red'}]{line}[/]")
        if model.report["rows"] != rules.report["rows"] or model.report["by_model"] == 0:
            sane = False
            console.print(
                f"[red]{kind}: the model scored {model.report['by_model']:,} of "
                f"{model.report['rows']:,} accounts; the rules {rules.report['rows']:,}[/]"
            )
    return lines, sane


def show_phases(result: dict[str, Any]) -> None:
    from rich.table import Table

    from benchmarks.run import console

    table = Table(
        title=f"Where a {result['kind']} model score spends its time ({result['rows']:,} "
        f"accounts, {result['features']} features)"
    )
    table.add_column("step")
    table.add_column("s", justify="right")
    for step, seconds in result["seconds"].items():
        table.add_row(step, f"{seconds:.3f}")
    console.print(table)
    console.print(f"peak RSS of the step-by-step run: {result['peak_rss_bytes'] / MIB:,.0f} MiB")
    if result.get("deduplicated_max_abs_difference") is not None:
        console.print(
            "pred_contrib once per distinct path per tree against LightGBM's: max |difference| "
            f"{result['deduplicated_max_abs_difference']:.3g}"
        )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="1M accounts, ~100M events")
    parser.add_argument("--accounts", type=int, help="accounts (default 100,000)")
    parser.add_argument("--events-target", type=int, help="about this many events")
    parser.add_argument("--layout", choices=("clustered", "time"), default="clustered")
    parser.add_argument("--data", help="a directory of demo Parquet files to use instead")
    parser.add_argument(
        "--as-of", help="the scores' date (default 2026-07-01, the day after the data)"
    )
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="lightgbm")
    parser.add_argument(
        "--repeat", type=int, help="scores of each kind (default 3, 1 from 50M events)"
    )
    parser.add_argument("--train-repeat", type=int, default=1, help="trainings of each kind")
    parser.add_argument(
        "--phases", action="store_true", help="also time one model score step by step"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import lightgbm

    from benchmarks._common import describe_machine
    from benchmarks.backtest import find_target
    from benchmarks.run import console

    args = parse(argv)
    target, info = find_target(args)
    start, end = training_dates(target.as_of)
    target = replace(target, start=start, end=end)
    kinds = KINDS if args.kind == "both" else (args.kind,)
    repeat = args.repeat or (1 if target.events >= 50_000_000 else 3)
    for kind in kinds:
        model_scorecard(target.directory, kind)
    machine = describe_machine(console, lightgbm=lightgbm.__version__)
    runs = measure(
        target.directory, kinds, target.as_of, start, end, repeat, max(args.train_repeat, 1)
    )
    lines, sane = show(target.accounts, target.events, target.as_of, kinds, runs)
    step_by_step = None
    if args.phases:
        step_by_step = {kind: model_phases(kind, target.directory, target.as_of) for kind in kinds}
        for result in step_by_step.values():
            show_phases(result)
    machine["load_after"] = os.getloadavg()
    console.print(
        "load average (1 min) at the start of each run: "
        + "; ".join(f"{name} {', '.join(map(str, run.loads))}" for name, run in runs.items())
    )
    command = ["python", "benchmarks/model.py", *(sys.argv[1:] if argv is None else argv)]
    results = {
        "command": " ".join(command),
        **info,
        "accounts": target.accounts,
        "events": target.events,
        "as_of": target.as_of.isoformat(),
        "training_dates": {"start": start.isoformat(), "end": end.isoformat(), "every": EVERY},
        "machine": machine,
        "runs": {name: asdict(run) for name, run in runs.items()},
        "ratios": {
            f"model {kind} / rules": runs[f"model {kind}"].seconds / runs["rules"].seconds
            for kind in kinds
        },
        "training_minutes": {kind: runs[f"train {kind}"].seconds / 60 for kind in kinds},
        "phases": step_by_step,
        "targets": lines,
    }
    out = target.results / "model-results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {out}")
    return 0 if sane else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    if sys.argv[1:2] == ["--step-by-step"]:
        kind, directory, as_of = sys.argv[2:5]
        print(json.dumps(phases(kind, Path(directory), dt.date.fromisoformat(as_of))))
        sys.exit(0)
    sys.exit(main())
