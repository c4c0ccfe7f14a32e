"""The SQLite store's contracts: leases (claim, renew, expiry; one holder, even across two
connections), forward-only state moves, and cursor paging that neither repeats nor skips a run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2o.service import states
from r2o.service import store as store_module
from r2o.service.store import RunFilter, RunRecord, SqliteStore, TaskRecord

T0 = 1_733_000_000.0


class Clock:
    """The store's clock, moved by hand: leases expire when a test says so, not when a machine is slow."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(store_module, "now", c)
    return c


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "r2o.db")
    yield s
    s.close()


def add(s: SqliteStore, run_id: str, created: float, user: str = "alice", state: str = states.QUEUED) -> None:
    s.create_run(
        RunRecord(
            id=run_id,
            user=user,
            product="identity-matrix",
            kind="component",
            name=run_id,
            created=created,
            state=state,
        ),
        [TaskRecord(run_id, "identity-matrix", "identity-matrix", "identity-matrix", None, 1.0)],
    )


# --- leases ---------------------------------------------------------------------------------------


def test_a_claimed_run_has_one_holder_until_its_lease_expires(db: SqliteStore, clock: Clock) -> None:
    add(db, "r1", T0 - 10)
    first = db.claim("server-a", lease_s=30)
    assert first is not None and first.id == "r1" and first.lease_owner == "server-a"
    db.move("r1", states.RUNNING, "running")
    clock.t = T0 + 29
    assert db.claim("server-b", lease_s=30) is None  # a's lease holds: b finds nothing to do
    clock.t = T0 + 31
    taken = db.claim("server-b", lease_s=30)  # a stopped renewing (it died): b takes the run over
    assert taken is not None and taken.id == "r1" and taken.lease_owner == "server-b"
    assert taken.state == states.RUNNING  # taken over as it stood, not queued again
    assert not db.renew("r1", "server-a", 30)  # a, back from a stall, no longer holds it
    assert db.renew("r1", "server-b", 30)


def test_renewing_keeps_a_run_from_other_servers(db: SqliteStore, clock: Clock) -> None:
    add(db, "r1", T0 - 10)
    assert db.claim("server-a", lease_s=30) is not None
    db.move("r1", states.RUNNING, "running")
    for step in range(1, 10):  # a heartbeat every 10 s for 90 s
        clock.t = T0 + 10 * step
        assert db.renew("r1", "server-a", 30)
        assert db.claim("server-b", lease_s=30) is None
    assert not db.renew("r1", "server-b", 30)  # renewing someone else's lease changes nothing
    run = db.run("r1")
    assert run is not None and run.lease_owner == "server-a" and run.lease_expires == T0 + 90 + 30


def test_claim_takes_the_oldest_waiting_run_and_never_a_finished_one(db: SqliteStore, clock: Clock) -> None:
    add(db, "done", T0 - 30, state=states.COMPLETE)
    add(db, "canceled", T0 - 25, state=states.CANCELED)
    add(db, "newer", T0 - 10)
    add(db, "older", T0 - 20)
    claimed = [db.claim("server-a", lease_s=30), db.claim("server-a", lease_s=30)]
    assert [r.id if r else None for r in claimed] == ["older", "newer"]
    clock.t = T0 + 3600  # leases of queued runs long expired, finished runs still never claimed
    for run_id in ("older", "newer"):
        db.move(run_id, states.COMPLETE, "done")
    assert db.claim("server-b", lease_s=30) is None


def test_two_stores_on_one_file_never_hand_a_run_to_two_servers(tmp_path: Path) -> None:
    """Two servers (two connections) and several threads each claim concurrently: each run once."""
    stores = [SqliteStore(tmp_path / "r2o.db"), SqliteStore(tmp_path / "r2o.db")]
    for i in range(60):
        add(stores[0], f"r{i:03d}", T0 + i)
    got: dict[str, list[str]] = {}
    lock = threading.Lock()

    def server(n: int) -> None:
        s = stores[n % 2]
        owner = f"server-{n}"
        for _ in range(100):  # bounded: a store that hands out a run twice could hand it out forever
            run = s.claim(owner, lease_s=3600)
            if run is None:
                return
            with lock:
                got.setdefault(run.id, []).append(owner)

    threads = [threading.Thread(target=server, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(got) == [f"r{i:03d}" for i in range(60)]
    assert all(len(owners) == 1 for owners in got.values()), {k: v for k, v in got.items() if len(v) > 1}


# --- forward-only moves -----------------------------------------------------------------------------


def test_a_run_moves_forward_only(db: SqliteStore, clock: Clock) -> None:
    add(db, "r1", T0)

    def state() -> str:
        run = db.run("r1")
        assert run is not None
        return run.state

    assert db.move("r1", states.INITIALIZING, "preparing")
    assert db.move("r1", states.RUNNING, "running")
    assert not db.move("r1", states.INITIALIZING, "preparing again")
    assert not db.move("r1", states.QUEUED, "queued again")
    assert not db.move("r1", states.RUNNING, "running again")  # no move to the same state either
    assert state() == states.RUNNING
    assert db.move("r1", states.CANCELING, "stopping")
    assert not db.move("r1", states.RUNNING, "running")  # a run being canceled only ends
    assert db.move("r1", states.COMPLETE, "finished anyway")
    for later in (states.EXECUTOR_ERROR, states.SYSTEM_ERROR, states.CANCELED, states.QUEUED, states.RUNNING):
        assert not db.move("r1", later, "reopened")
    run = db.run("r1")
    assert run is not None and run.state == states.COMPLETE and run.reason == "finished anyway"
    with pytest.raises(ValueError, match="move"):
        db.update("r1", state=states.QUEUED)


def test_cancel_ends_a_queued_run_and_stops_a_running_one(db: SqliteStore, clock: Clock) -> None:
    add(db, "queued", T0)
    add(db, "running", T0 + 1)
    add(db, "done", T0 + 2, state=states.COMPLETE)
    db.move("running", states.RUNNING, "running")
    queued, running, done = (db.request_cancel(r) for r in ("queued", "running", "done"))
    assert queued is not None and queued.state == states.CANCELED and queued.finished == T0
    assert running is not None and running.state == states.CANCELING and running.cancel_requested
    assert done is not None and done.state == states.COMPLETE and not done.cancel_requested


def test_a_finished_task_is_never_rewritten(db: SqliteStore, clock: Clock) -> None:
    """A resumed run reports its tasks again (RUNNING, then found in the cache): a task the store
    already holds as finished keeps its state and its record of the execution that finished it."""
    add(db, "r1", T0)
    task = "identity-matrix"
    db.update_task("r1", task, state=states.RUNNING, reason="running", started=T0)
    db.update_task("r1", task, state=states.COMPLETE, reason="ran", seconds=2.5, exit_code=0)
    db.update_task("r1", task, state=states.RUNNING, reason="running", started=T0 + 60)
    db.update_task("r1", task, state=states.COMPLETE, reason="found in the cache (run)", cache_hit="run")
    [record] = db.tasks("r1")
    assert (record.state, record.reason, record.seconds, record.cache_hit, record.started) == (
        states.COMPLETE,
        "ran",
        2.5,
        None,
        T0,
    )
    db.update_task("r1", task, state=states.QUEUED, reason="waiting")
    assert db.tasks("r1")[0].state == states.COMPLETE


def test_a_running_task_goes_on_to_any_end(db: SqliteStore, clock: Clock) -> None:
    add(db, "r1", T0)
    task = "identity-matrix"
    db.update_task("r1", task, state=states.RUNNING, reason="running")
    db.update_task("r1", task, state=states.RUNNING, reason="running", started=T0 + 5)  # resumed
    db.update_task("r1", task, state=states.EXECUTOR_ERROR, reason="exit 1")
    db.update_task("r1", task, state=states.RUNNING, reason="running")
    [record] = db.tasks("r1")
    assert (record.state, record.reason, record.started) == (states.EXECUTOR_ERROR, "exit 1", T0 + 5)


# --- cursor paging ----------------------------------------------------------------------------------


def walk(s: SqliteStore, where: RunFilter, limit: int, between: object = None) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = s.runs(where, cursor=cursor, limit=limit)
        ids += [r.id for r in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor
        if callable(between):
            between()


def test_paging_neither_repeats_nor_skips_a_run_while_runs_are_added(db: SqliteStore, clock: Clock) -> None:
    # times as time.time() gives them (sub-microsecond digits), and runs created at the same moment
    created = [T0 + i * 0.1234567891 for i in range(90)] + [T0 + 5.5] * 10
    for i, t in enumerate(created):
        add(db, f"run-{i:03d}", t, user="alice" if i % 3 else "bob")
    newer = iter(range(1000))

    def insert_newer() -> None:  # runs submitted while a client pages through the list
        n = next(newer)
        add(db, f"new-{n:03d}", T0 + 1000 + n)

    seen = walk(db, RunFilter(), limit=7, between=insert_newer)
    assert len(seen) == len(set(seen)) == 100
    assert sorted(seen) == sorted(f"run-{i:03d}" for i in range(100))
    keys = [(db.run(r).created, r) for r in seen]  # type: ignore[union-attr]
    assert keys == sorted(keys, reverse=True)  # newest first, ties by id, descending
    bob = walk(db, RunFilter(user="bob"), limit=4)
    assert sorted(bob) == sorted(f"run-{i:03d}" for i in range(100) if i % 3 == 0)


@settings(max_examples=40, deadline=None)
@given(
    times=st.lists(
        st.floats(min_value=1.0e9, max_value=2.0e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=40,
    ),
    limit=st.integers(min_value=1, max_value=9),
)
def test_paging_returns_every_run_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, times: list[float], limit: int
) -> None:
    s = SqliteStore(tmp_path_factory.mktemp("paging") / "r2o.db")
    try:
        for i, t in enumerate(times):
            add(s, f"run-{i:03d}", t)
        seen = walk(s, RunFilter(), limit=limit)
        expected = [r for _, r in sorted(((t, f"run-{i:03d}") for i, t in enumerate(times)), reverse=True)]
        assert seen == expected
    finally:
        s.close()


def test_a_cursor_that_is_not_one_is_refused(db: SqliteStore) -> None:
    with pytest.raises(ValueError, match="cursor"):
        db.runs(RunFilter(), cursor="garbage", limit=10)
    with pytest.raises(ValueError):
        db.runs(RunFilter(), cursor="abc:run-1", limit=10)


def test_a_server_reads_what_another_server_wrote(tmp_path: Path, clock: Clock) -> None:
    """Records built from rows are reused while a row is unchanged, never after another server changed it."""
    a, b = SqliteStore(tmp_path / "r2o.db"), SqliteStore(tmp_path / "r2o.db")
    try:
        add(a, "r1", T0)
        seen = b.run("r1")
        assert seen is not None and seen.state == states.QUEUED
        assert b.runs(RunFilter(), cursor=None, limit=10).items == (seen,)
        a.move("r1", states.RUNNING, "running")
        a.update("r1", used_vcpu_hours=0.5)
        later = b.run("r1")
        assert later is not None and (later.state, later.used_vcpu_hours) == (states.RUNNING, 0.5)
        assert b.runs(RunFilter(), cursor=None, limit=10).items == (later,)
    finally:
        a.close()
        b.close()
