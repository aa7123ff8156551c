#!/usr/bin/env bash
# Set up, then run the demo: generated data -> DuckDB -> scores -> summary.
set -euo pipefail
HEALTHSCORE_EXTRAS="${HEALTHSCORE_EXTRAS:-dev}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
healthscore demo "$@"
