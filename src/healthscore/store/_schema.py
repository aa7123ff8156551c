"""The store's tables, created on first use, in SQL both DuckDB and PostgreSQL accept.

JSON payloads (reasons, sub-scores, metric values) are stored as text: every database
stores text, not every one nests, and the store never filters inside them.
"""

from __future__ import annotations

from healthscore.store._database import Database

RUNS = "healthscore_runs"
RUN_LOCKS = "healthscore_run_locks"
SCORES = "healthscore_scores"
OVERRIDES = "healthscore_overrides"
AUDIT = "healthscore_audit"
TASKS = "healthscore_tasks"
ACTIONS = "healthscore_actions"
DELIVERIES = "healthscore_deliveries"
DEAD_LETTERS = "healthscore_dead_letters"
API_KEYS = "healthscore_api_keys"

SCORE_COLUMNS = (
    "run_id",
    "account_id",
    "as_of",
    "score",
    "tier",
    "computed_score",
    "computed_tier",
    "confidence",
    "reasons",
    "segment",
    "stage",
    "owner",
    "churn_probability",
    "value",
    "revenue_at_risk",
    "value_tier",
    "gates",
    "subscores",
    "metrics",
    "trend_7d",
    "trend_30d",
    "direction",
    "override_id",
    "scorecard_name",
    "scorecard_version",
    "scorecard_hash",
)

_TABLES = {
    RUNS: """
        run_id TEXT PRIMARY KEY,
        scorecard_name TEXT NOT NULL,
        scorecard_version TEXT NOT NULL,
        scorecard_hash TEXT NOT NULL,
        as_of DATE NOT NULL,
        mode TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        row_count BIGINT,
        error TEXT,
        host TEXT,
        pid INTEGER,
        actor TEXT""",
    RUN_LOCKS: """
        scorecard_name TEXT NOT NULL,
        mode TEXT NOT NULL,
        run_id TEXT NOT NULL,
        host TEXT,
        pid INTEGER,
        started_at TIMESTAMP NOT NULL,
        PRIMARY KEY (scorecard_name, mode)""",
    SCORES: """
        run_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        as_of DATE NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        tier TEXT NOT NULL,
        computed_score DOUBLE PRECISION NOT NULL,
        computed_tier TEXT NOT NULL,
        confidence DOUBLE PRECISION,
        reasons TEXT,
        segment TEXT,
        stage TEXT,
        owner TEXT,
        churn_probability DOUBLE PRECISION,
        value DOUBLE PRECISION,
        revenue_at_risk DOUBLE PRECISION,
        value_tier TEXT,
        gates TEXT,
        subscores TEXT,
        metrics TEXT,
        trend_7d DOUBLE PRECISION,
        trend_30d DOUBLE PRECISION,
        direction TEXT,
        override_id TEXT,
        scorecard_name TEXT NOT NULL,
        scorecard_version TEXT NOT NULL,
        scorecard_hash TEXT NOT NULL""",
    OVERRIDES: """
        override_id TEXT PRIMARY KEY,
        scorecard_name TEXT NOT NULL,
        account_id TEXT NOT NULL,
        score DOUBLE PRECISION,
        tier TEXT,
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        until DATE NOT NULL,
        revoked_at TIMESTAMP,
        revoked_by TEXT""",
    AUDIT: """
        logged_at TIMESTAMP NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        detail TEXT""",
    TASKS: """
        task_id TEXT PRIMARY KEY,
        action_id TEXT NOT NULL,
        scorecard_name TEXT NOT NULL,
        playbook TEXT NOT NULL,
        account_id TEXT NOT NULL,
        title TEXT NOT NULL,
        owner TEXT,
        due DATE NOT NULL,
        status TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        updated_by TEXT""",
    ACTIONS: """
        action_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        scorecard_name TEXT NOT NULL,
        playbook TEXT NOT NULL,
        account_id TEXT NOT NULL,
        as_of DATE NOT NULL,
        trigger_kind TEXT NOT NULL,
        why TEXT NOT NULL,
        tier TEXT,
        score DOUBLE PRECISION,
        action_index INTEGER NOT NULL,
        action_type TEXT NOT NULL,
        group_name TEXT NOT NULL,
        status TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        detail TEXT,
        logged_at TIMESTAMP NOT NULL""",
    DELIVERIES: """
        action_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        attempted_at TIMESTAMP NOT NULL,
        status_code INTEGER,
        error TEXT,
        elapsed_ms DOUBLE PRECISION""",
    DEAD_LETTERS: """
        action_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        last_error TEXT,
        failed_at TIMESTAMP NOT NULL""",
    API_KEYS: """
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        created_by TEXT,
        last_used_at TIMESTAMP,
        revoked_at TIMESTAMP,
        revoked_by TEXT""",
}

# Columns added after a table first shipped: (table, column, definition for old rows).
_ADDED = ((RUNS, "scope", "TEXT DEFAULT 'all'"),)

_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS healthscore_scores_run ON {SCORES} (run_id)",
    f"CREATE INDEX IF NOT EXISTS healthscore_scores_account ON {SCORES} (account_id)",
    f"CREATE INDEX IF NOT EXISTS healthscore_actions_account ON {ACTIONS} (account_id, playbook)",
)


def ensure_schema(db: Database) -> None:
    """Create what is missing; an old score table (before runs existed) is kept aside."""
    existing = db.tables()
    if SCORES in existing and "run_id" not in db.columns(SCORES):
        legacy = f"{SCORES}_before_runs"
        if legacy not in existing:
            db.execute(f"ALTER TABLE {SCORES} RENAME TO {legacy}")
        else:
            db.execute(f"DROP TABLE {SCORES}")
    for table, columns in _TABLES.items():
        db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    for table, column, definition in _ADDED:
        if column not in db.columns(table):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    if db.dialect == "postgresql":
        # DuckDB scans its columns faster than it maintains an index on every insert.
        for statement in _INDEXES:
            db.execute(statement)
