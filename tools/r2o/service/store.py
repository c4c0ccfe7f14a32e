"""The service's durable state: runs, their tasks, uploads. A small interface, and SQLite behind it.

Everything the API answers comes from here, never from the executor's memory: a run is committed
before `POST /runs` answers, a server killed at any moment finds every run again when it restarts,
and two servers on one store share the work through leases (a run is executed by the server whose
lease on it has not expired). State changes only move forward (:mod:`r2o.service.states`); the
check is part of the same SQL statement, so concurrent writers cannot undo each other.

SQLite runs in WAL mode with full synchronous commits, one file (default ``.r2o/service/r2o.db``);
the AWS deployment puts DynamoDB behind the same interface.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from r2o.service import states

PAGE_MAX = 200


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class RunRecord:
    """One run of a product (a pipeline, a component, or a TES task)."""

    id: str
    user: str
    product: str
    kind: str  # "pipeline" | "component" | "tes"
    name: str
    created: float
    state: str = states.QUEUED
    reason: str = "waiting for a free worker"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)  # name -> upload id ({day: upload id} per day)
    tags: Mapping[str, str] = field(default_factory=dict)
    start: str | None = None  # pipelines: the first day
    days: int | None = None
    tasks_total: int = 0
    vcpu_hours: float = 0.0  # estimated when submitted
    cost: float = 0.0
    started: float | None = None
    finished: float | None = None
    updated: float = 0.0
    cancel_requested: bool = False
    lease_owner: str | None = None
    lease_expires: float = 0.0
    relaunch_of: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)  # what the client sent (WES shows it)
    used_vcpu_hours: float = 0.0  # measured, for the quota

    @property
    def terminal(self) -> bool:
        return self.state in states.TERMINAL


@dataclass(frozen=True)
class TaskRecord:
    run_id: str
    task_id: str
    step: str
    component: str
    day: str | None
    vcpus: float
    state: str = states.QUEUED
    reason: str = ""
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    exit_code: int | None = None
    cache_hit: str | None = None
    job_id: str | None = None  # the Batch job running it (an array child's: "<parent id>:<index>")


@dataclass(frozen=True)
class Upload:
    id: str
    user: str
    filename: str
    size: int
    sha256: str
    path: str  # where the service keeps it
    created: float


@dataclass(frozen=True)
class Page:
    items: tuple[RunRecord, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class RunFilter:
    user: str | None = None  # None: every user (admins)
    product: str | None = None
    state: str | None = None
    name: str | None = None  # substring
    since: float | None = None  # created at or after
    until: float | None = None  # created before
    tag: tuple[str, str] | None = None  # key, value
    kinds: tuple[str, ...] | None = None  # None: every kind; the GA4GH facades list their own


class Store(Protocol):
    def create_run(self, run: RunRecord, tasks: Sequence[TaskRecord]) -> None: ...
    def run(self, run_id: str) -> RunRecord | None: ...
    def runs(self, where: RunFilter, *, cursor: str | None, limit: int) -> Page: ...
    def move(self, run_id: str, state: str, reason: str, **changes: Any) -> bool: ...
    def update(self, run_id: str, **changes: Any) -> None: ...
    def request_cancel(self, run_id: str) -> RunRecord | None: ...
    def claim(self, owner: str, lease_s: float) -> RunRecord | None: ...
    def renew(self, run_id: str, owner: str, lease_s: float) -> bool: ...
    def tasks(self, run_id: str) -> list[TaskRecord]: ...
    def update_task(self, run_id: str, task_id: str, **changes: Any) -> None: ...
    def task_by_job(self, job_id: str) -> TaskRecord | None: ...
    def active_runs(self, user: str) -> int: ...
    def state_counts(self) -> dict[str, int]: ...
    def vcpu_hours_since(self, user: str, since: float) -> float: ...
    def mean_task_seconds(self, component: str) -> float | None: ...
    def add_upload(self, upload: Upload) -> None: ...
    def upload(self, upload_id: str) -> Upload | None: ...
    def close(self) -> None: ...


_JSON_RUN = ("parameters", "inputs", "tags", "request")
_RUN_COLUMNS = [f.name for f in fields(RunRecord)]
_TASK_COLUMNS = [f.name for f in fields(TaskRecord)]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, product TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    created REAL NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, parameters TEXT NOT NULL,
    inputs TEXT NOT NULL, tags TEXT NOT NULL, start TEXT, days INTEGER, tasks_total INTEGER NOT NULL,
    vcpu_hours REAL NOT NULL, cost REAL NOT NULL, started REAL, finished REAL, updated REAL NOT NULL,
    cancel_requested INTEGER NOT NULL, lease_owner TEXT, lease_expires REAL NOT NULL, relaunch_of TEXT,
    request TEXT NOT NULL, used_vcpu_hours REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_user ON runs (user, created DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, created);
CREATE INDEX IF NOT EXISTS runs_by_user_state ON runs (user, state);  -- active_runs: every POST, /me
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, step TEXT NOT NULL, component TEXT NOT NULL, day TEXT,
    vcpus REAL NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, started REAL, finished REAL,
    seconds REAL, exit_code INTEGER, cache_hit TEXT, job_id TEXT, PRIMARY KEY (run_id, task_id)
);
-- mean_task_seconds (every launch's estimate) reads the index alone
CREATE INDEX IF NOT EXISTS tasks_by_component ON tasks (component, state, cache_hit, seconds);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL
);
"""


def encode_cursor(run: RunRecord) -> str:
    return f"{run.created!r}:{run.id}"  # exact: a rounded time would repeat or skip runs at page ends


def decode_cursor(cursor: str) -> tuple[float, str]:
    created, sep, run_id = cursor.partition(":")
    if not sep or not run_id:
        raise ValueError(f"not a cursor: {cursor!r}")
    return float(created), run_id


class SqliteStore:
    """The store in one SQLite file (WAL); safe to share between this process's threads and with
    other processes (a second server) on the same file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed run survives even a power cut
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database file an older r2o made up to this schema (columns added since)."""
        with self._tx() as db:
            columns = {r["name"] for r in db.execute("PRAGMA table_info(tasks)")}
            if "job_id" not in columns:
                db.execute("ALTER TABLE tasks ADD COLUMN job_id TEXT")
            db.execute("CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job_id) WHERE job_id IS NOT NULL")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    # --- runs ------------------------------------------------------------------------------------

    def create_run(self, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        row = _run_row(replace(run, updated=now()))
        with self._tx() as db:
            db.execute(
                f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
                [row[c] for c in _RUN_COLUMNS],
            )
            db.executemany(
                f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_TASK_COLUMNS))})",
                [[row[c] for c in _TASK_COLUMNS] for row in map(asdict, tasks)],  # asdict once a task
            )

    def run(self, run_id: str) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def runs(self, where: RunFilter, *, cursor: str | None, limit: int) -> Page:
        limit = max(1, min(limit, PAGE_MAX))
        sql = ["SELECT * FROM runs WHERE 1=1"]
        args: list[Any] = []
        if where.user is not None:
            sql.append("AND user = ?")
            args.append(where.user)
        if where.product is not None:
            sql.append("AND product = ?")
            args.append(where.product)
        if where.state is not None:
            sql.append("AND state = ?")
            args.append(where.state)
        if where.name:
            sql.append("AND instr(lower(name), lower(?)) > 0")
            args.append(where.name)
        if where.since is not None:
            sql.append("AND created >= ?")
            args.append(where.since)
        if where.until is not None:
            sql.append("AND created < ?")
            args.append(where.until)
        if where.tag is not None:
            sql.append("AND json_extract(tags, ?) = ?")
            args += [f'$."{where.tag[0]}"', where.tag[1]]
        if where.kinds is not None:
            sql.append(f"AND kind IN ({', '.join('?' * len(where.kinds))})")
            args += list(where.kinds)
        if cursor is not None:
            created, run_id = decode_cursor(cursor)
            sql.append("AND (created, id) < (?, ?)")  # a row value: SQLite seeks its index to the cursor
            args += [created, run_id]
        sql.append("ORDER BY created DESC, id DESC LIMIT ?")
        args.append(limit + 1)
        rows = self._query(" ".join(sql), args)
        items = tuple(_run(r) for r in rows[:limit])
        return Page(items, encode_cursor(items[-1]) if len(rows) > limit and items else None)

    def move(self, run_id: str, state: str, reason: str, **changes: Any) -> bool:
        """Move run ``run_id`` to ``state`` (with ``changes``) if that is a move forward."""
        allowed = [s for s in states.RUN_STATES if states.can_move(s, state)]
        sets = {"state": state, "reason": reason, **changes, "updated": now()}
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in sets)} "
                f"WHERE id = ? AND state IN ({', '.join('?' * len(allowed))})",
                [*(_column_value(k, v) for k, v in sets.items()), run_id, *allowed],
            )
            return cur.rowcount == 1

    def update(self, run_id: str, **changes: Any) -> None:
        if "state" in changes:
            raise ValueError("states change through move()")
        sets = {**changes, "updated": now()}
        with self._tx() as db:
            db.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                [*(_column_value(k, v) for k, v in sets.items()), run_id],
            )

    def request_cancel(self, run_id: str) -> RunRecord | None:
        """Mark the run for cancelation: a queued run is canceled at once, a running one moves to
        CANCELING until its executor has stopped every task. Returns the run as it now is."""
        t = now()
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET cancel_requested = 1, updated = ? WHERE id = ? AND state IN (?, ?, ?, ?)",
                (t, run_id, *sorted(states.ACTIVE)),
            )
            db.execute(
                "UPDATE runs SET state = ?, reason = ?, finished = ?, updated = ? WHERE id = ? AND state = ?",
                (states.CANCELED, "canceled before it started", t, t, run_id, states.QUEUED),
            )
            db.execute(
                "UPDATE runs SET state = ?, reason = ?, updated = ? WHERE id = ? AND state IN (?, ?)",
                (states.CANCELING, "stopping its tasks", t, run_id, states.INITIALIZING, states.RUNNING),
            )
        return self.run(run_id)

    def claim(self, owner: str, lease_s: float) -> RunRecord | None:
        """Take the oldest run that needs a worker: queued, or active under a lease that expired
        (its server died). The lease makes it ours for ``lease_s`` seconds, renewed while it runs."""
        t = now()
        with self._tx() as db:
            rows = list(
                db.execute(
                    # a queued run is leased too: once claimed it stays QUEUED until its worker starts it
                    "SELECT id FROM runs WHERE state IN (?, ?, ?, ?) AND lease_expires < ? "
                    "ORDER BY created, id LIMIT 1",
                    (states.QUEUED, states.INITIALIZING, states.RUNNING, states.CANCELING, t),
                )
            )
            if not rows:
                return None
            run_id = rows[0]["id"]
            db.execute(
                "UPDATE runs SET lease_owner = ?, lease_expires = ?, updated = ? WHERE id = ?",
                (owner, t + lease_s, t, run_id),
            )
        return self.run(run_id)

    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        t = now()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET lease_expires = ? WHERE id = ? AND lease_owner = ?",
                (t + lease_s, run_id, owner),
            )
            return cur.rowcount == 1

    def state_counts(self) -> dict[str, int]:
        """How many runs (every user's, every kind) are in each state (WES service-info)."""
        rows = self._query("SELECT state, count(*) AS n FROM runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def active_runs(self, user: str) -> int:
        rows = self._query(
            "SELECT count(*) AS n FROM runs WHERE user = ? "
            f"AND state IN ({', '.join('?' * len(states.ACTIVE))})",
            (user, *sorted(states.ACTIVE)),
        )
        return int(rows[0]["n"])

    def vcpu_hours_since(self, user: str, since: float) -> float:
        """vCPU-hours a user's runs since ``since`` used (finished runs) or are reserved (active ones)."""
        rows = self._query(
            "SELECT coalesce(sum(CASE WHEN state IN (?, ?, ?, ?) THEN vcpu_hours "
            "ELSE used_vcpu_hours END), 0) AS h FROM runs WHERE user = ? AND created >= ?",
            (*sorted(states.ACTIVE), user, since),
        )
        return float(rows[0]["h"])

    # --- tasks -----------------------------------------------------------------------------------

    def tasks(self, run_id: str) -> list[TaskRecord]:
        rows = self._query("SELECT * FROM tasks WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [TaskRecord(**{c: r[c] for c in _TASK_COLUMNS}) for r in rows]

    def update_task(self, run_id: str, task_id: str, **changes: Any) -> None:
        """Change a task that has not ended: an ended task keeps its record (a resumed run reports its
        finished tasks again, RUNNING and then found in the cache)."""
        with self._tx() as db:
            db.execute(
                f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in changes)} "
                "WHERE run_id = ? AND task_id = ? AND state IN (?, ?)",
                [*changes.values(), run_id, task_id, states.QUEUED, states.RUNNING],
            )

    def task_by_job(self, job_id: str) -> TaskRecord | None:
        """The task whose Batch job is ``job_id`` (a state-change event names only the job)."""
        rows = self._query("SELECT * FROM tasks WHERE job_id = ? LIMIT 1", (job_id,))
        return TaskRecord(**{c: rows[0][c] for c in _TASK_COLUMNS}) if rows else None

    def mean_task_seconds(self, component: str) -> float | None:
        """How long ``component``'s tasks took on average (those that ran, not cache hits)."""
        rows = self._query(
            "SELECT avg(seconds) AS s FROM tasks WHERE component = ? AND state = ? AND cache_hit IS NULL "
            "AND seconds IS NOT NULL",
            (component, states.COMPLETE),
        )
        value = rows[0]["s"]
        return float(value) if value is not None else None

    # --- uploads ---------------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        row = asdict(upload)
        with self._tx() as db:
            db.execute(
                f"INSERT INTO uploads ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )

    def upload(self, upload_id: str) -> Upload | None:
        rows = self._query("SELECT * FROM uploads WHERE id = ?", (upload_id,))
        return Upload(**dict(rows[0])) if rows else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _column_value(key: str, value: Any) -> Any:
    if key in _JSON_RUN:
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    return value


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {k: _column_value(k, v) for k, v in asdict(run).items()}


_RECORDS_MAX = 20_000
_records: dict[tuple[Any, ...], RunRecord] = {}  # a row's exact values -> its record (immutable)


def _run(row: sqlite3.Row) -> RunRecord:
    # Lists read the same rows again and again (a page polled, a list paged through): building a
    # record (four JSON columns, 25 fields) was most of a page's time; a row seen before is a lookup.
    values = tuple(row)
    found = _records.get(values)
    if found is not None:
        return found
    data = {c: row[c] for c in _RUN_COLUMNS}
    for key in _JSON_RUN:
        data[key] = json.loads(data[key])
    data["cancel_requested"] = bool(data["cancel_requested"])
    found = RunRecord(**data)
    if len(_records) >= _RECORDS_MAX:
        _records.clear()
    _records[values] = found
    return found
