#!/usr/bin/env bash
# Set up, then run every check: ruff, mypy --strict, and the whole pytest suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ruff check .
ruff format --check src tests benchmarks
mypy
pytest "$@"
