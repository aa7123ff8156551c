"""Layering and the public API: imports point one way, core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import healthscore

PACKAGE = Path(healthscore.__file__).parent
# Lower layers first; a module may import its own layer and the layers before it.
LAYERS = [
    "spec",
    "core",
    "compute",
    "model",
    "evaluation",
    "playbooks",
    "store",
    "engine",
    "report",
    "dashboard",
    "api",
    "cli",
]
FORBIDDEN_IN_CORE = {"ibis", "pandas", "fastapi", "duckdb", "pyspark", "pyarrow"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "healthscore" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def test_imports_point_one_way() -> None:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        own = relative.parts[0].removesuffix(".py")
        if own not in LAYERS:
            continue
        for module in imports_of(path):
            target = layer_of(module)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                problems.append(f"{relative} imports {module}")
    assert problems == []


def test_core_imports_neither_ibis_nor_pandas() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        top = {module.split(".")[0] for module in imports_of(path)}
        assert not top & FORBIDDEN_IN_CORE, path


def test_public_api() -> None:
    assert sorted(healthscore.__all__) == [
        "ArtifactError",
        "AssignmentError",
        "BacktestResult",
        "ChurnModel",
        "Engine",
        "Issue",
        "ResolvedScorecard",
        "Scorecard",
        "ScorecardError",
        "SourceError",
        "__version__",
        "load_scorecard",
        "load_scorecard_text",
        "risk_value_quadrants",
    ]
    for name in healthscore.__all__:
        assert hasattr(healthscore, name)
