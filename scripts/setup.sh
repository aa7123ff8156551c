#!/usr/bin/env bash
# Create .venv and install healthscore with everything its tests need.
# Sourced by demo.sh and test.sh; safe to run again (it only installs what is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
EXTRAS="${HEALTHSCORE_EXTRAS:-dev}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$EXTRAS"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
  touch "$stamp"
fi

# Spark (for the backend contract tests) needs a Java runtime: Debian's, when missing.
if [ "$EXTRAS" = "dev" ] && ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "Java 17 is missing: install it (e.g. apt-get install openjdk-17-jre-headless)" >&2
  fi
fi

# The report's browser test draws every chart in Chromium: Debian's, when missing.
if [ "$EXTRAS" = "dev" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install it (e.g. apt-get install chromium)," \
      "or set HEALTHSCORE_SKIP_BROWSER=1 to skip the browser test" >&2
  fi
fi
# The score store's tests start their own PostgreSQL server (tests/_postgres.py): Debian's,
# when missing. Debian keeps initdb/pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH.
if [ "$EXTRAS" = "dev" ] && ! command -v initdb >/dev/null 2>&1 \
  && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is missing: install it (e.g. apt-get install postgresql)," \
      "or its tests are skipped (and fail when CI is set)" >&2
  fi
fi
export PATH="$ROOT/.venv/bin:$PATH"
