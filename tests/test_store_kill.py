"""A run killed in the middle of writing its rows leaves nothing behind, on both stores.

A real process is killed with SIGKILL while its write transaction is open (its rows
already inserted, not committed); the previous run must stay current, no row of the
killed run may be visible, and the next run must take over its lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from healthscore.store import Store
from tests._stores import STORE_KINDS, fresh_store_target
from tests.conftest import toy_frames

RUNNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import ibis

    from healthscore import Engine
    from healthscore.store import _database

    data, store, as_of, marker = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    warehouse = ibis.duckdb.connect()
    for path in sorted(data.glob("*.parquet")):
        warehouse.create_table(path.stem, warehouse.read_parquet(path).to_pyarrow())

    if marker != "-":
        for kind in (_database.DuckDBDatabase, _database.PostgresDatabase):
            original = kind.insert_frame

            def stall(self, table, frame, original=original):
                original(self, table, frame)
                if table == "healthscore_scores":
                    Path(marker).write_text(str(len(frame)))
                    time.sleep(600)  # killed here, inside the open transaction

            kind.insert_frame = stall
    Engine(sys.argv[5], warehouse, store=store).run(as_of=as_of)
    """
)


def run_scoring(data: Path, store: str, as_of: str, marker: str) -> subprocess.Popen[bytes]:
    from tests.conftest import EXAMPLE

    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(data), store, as_of, marker, str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_killed_run_leaves_the_previous_one_current(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in toy_frames().items():
        frame.to_parquet(data / f"{name}.parquet")
    store_target = fresh_store_target(request, kind, tmp_path)

    first = run_scoring(data, store_target, "2026-05-01", "-")
    _, error = first.communicate(timeout=300)
    assert first.returncode == 0, error.decode()

    marker = tmp_path / "inside-the-write"
    victim = run_scoring(data, store_target, "2026-06-01", str(marker))
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[1].decode()
        assert time.monotonic() < deadline, "the run never reached its write"
        time.sleep(0.05)
    assert int(marker.read_text()) > 0  # its rows were inserted, not yet committed
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)

    store = Store.open(store_target)
    try:
        runs = store.runs().set_index("run_id")
        assert sorted(runs["status"]) == ["done", "running"]
        killed = runs.index[runs["status"] == "running"][0]
        rows = store.db.query("SELECT run_id FROM healthscore_scores")
        assert killed not in set(rows["run_id"])
        current = store.current("saas_health")
        assert set(current["as_of"].dt.strftime("%Y-%m-%d")) == {"2026-05-01"}
        assert len(current) == len(rows)
    finally:
        store.close()

    # The next run finds the dead process's lock, marks its run abandoned and goes on.
    after = run_scoring(data, store_target, "2026-06-01", "-")
    _, error = after.communicate(timeout=300)
    assert after.returncode == 0, error.decode()
    store = Store.open(store_target)
    try:
        statuses = store.runs().set_index("run_id")["status"]
        assert statuses[killed] == "abandoned"
        current = store.current("saas_health")
        assert set(current["as_of"].dt.strftime("%Y-%m-%d")) == {"2026-06-01"}
    finally:
        store.close()
