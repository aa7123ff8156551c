"""(a) healthscore: the Engine with benchmarks/scorecard.yaml, whose sources are the files.

``python -m benchmarks._engine DATA_DIR AS_OF`` prints where one run spends its time and
memory (a diagnostic for benchmarks/run.py --profile; the measured number is `score`).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import datetime as dt  # noqa: E402 - after the clock starts, on purpose
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import healthscore.compute._scores as scores_module  # noqa: E402
from benchmarks._common import Scores  # noqa: E402
from healthscore import Engine  # noqa: E402
from healthscore.compute import score_frame  # noqa: E402

IMPORTED = time.perf_counter()


def score(data_dir: Path, as_of: dt.date) -> Scores:
    frame = Engine(data_dir / "scorecard.yaml").score(as_of=as_of)
    return Scores(
        frame["account_id"].to_numpy(dtype=object),
        frame["score"].to_numpy(dtype=np.float64),
        frame["tier"].to_numpy(dtype=object),
    )


def _peak_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def phases(data_dir: Path, as_of: dt.date) -> dict[str, Any]:
    """Engine.score in its two steps, timed, with the reason texts timed on their own."""
    spent = {"reasons": 0.0}
    original: Callable[..., Any] = getattr(scores_module, "measure_reasons")  # noqa: B009

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["reasons"] += time.perf_counter() - started

    setattr(scores_module, "measure_reasons", timed)  # noqa: B010 - private, on purpose
    try:
        t0 = time.perf_counter()
        engine = Engine(data_dir / "scorecard.yaml")
        t1 = time.perf_counter()
        frame = engine.metrics(as_of)
        t2 = time.perf_counter()
        peak_after_metrics = _peak_mib()
        score_frame(engine.scorecard, frame)
        t3 = time.perf_counter()
    finally:
        setattr(scores_module, "measure_reasons", original)  # noqa: B010
    return {
        "import_s": round(IMPORTED - START, 3),
        "engine_init_s": round(t1 - t0, 3),
        "metrics_s (query + to_pandas + sort)": round(t2 - t1, 3),
        "score_frame_s": round(t3 - t2, 3),
        "of which measure_reasons_s": round(spent["reasons"], 3),
        "peak_after_metrics_mib": peak_after_metrics,
        "peak_after_score_frame_mib": _peak_mib(),
    }


if __name__ == "__main__":
    print(json.dumps(phases(Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]))))
