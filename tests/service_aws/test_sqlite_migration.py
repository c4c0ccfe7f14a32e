"""The SQLite store opens a database file an older r2o wrote (no ``tasks.job_id``) and adds the column;
``task_by_job`` finds a task by the Batch job id recorded on it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from r2o.service.store import RunRecord, SqliteStore, TaskRecord

# The tasks table as r2o made it before the Batch executor (issue 19): no job_id column.
OLD_TASKS = """
CREATE TABLE tasks (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, step TEXT NOT NULL, component TEXT NOT NULL, day TEXT,
    vcpus REAL NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, started REAL, finished REAL,
    seconds REAL, exit_code INTEGER, cache_hit TEXT, PRIMARY KEY (run_id, task_id)
);
INSERT INTO tasks VALUES ('r1', 't1', 's', 'c', NULL, 1.0, 'COMPLETE', 'ran', 1.0, 2.0, 1.0, 0, NULL);
"""


def test_an_old_database_gains_job_id_and_keeps_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "r2o.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_TASKS)
    store = SqliteStore(path)
    try:
        (old,) = store.tasks("r1")
        assert (old.task_id, old.state, old.job_id) == ("t1", "COMPLETE", None)
        store.create_run(
            RunRecord(id="r2", user="u", product="p", kind="component", name="n", created=5.0),
            [TaskRecord("r2", "a", "a", "c", None, 1.0), TaskRecord("r2", "b", "b", "c", None, 1.0)],
        )
        store.update_task("r2", "b", job_id="0b5c-parent:3")
        found = store.task_by_job("0b5c-parent:3")
        assert found is not None and (found.run_id, found.task_id) == ("r2", "b")
        assert store.task_by_job("0b5c-parent") is None
    finally:
        store.close()
    reopened = SqliteStore(path)  # the second open finds the column and adds nothing
    try:
        found = reopened.task_by_job("0b5c-parent:3")
        assert found is not None and found.task_id == "b"
    finally:
        reopened.close()
