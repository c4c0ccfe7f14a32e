"""The DynamoDB store keeps the SQLite store's contracts: the same tests (tests/service/test_store.py)
run here against DynamoDB in a moto server, plus what only DynamoDB has (TTL, the sparse indexes) and
what the SQLite tests check with two connections to one file (two claimers at once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from r2o.render import service_tables
from r2o.service import states
from r2o.service import store as store_module
from r2o.service.aws.dynamo import DynamoStore
from r2o.service.store import RunFilter, RunRecord, TaskRecord, Upload

# The contract tests, collected again in this module: their `db` is the fixture below.
from tests.service.test_store import (  # noqa: F401
    T0,
    Clock,
    add,
    clock,
    test_a_claimed_run_has_one_holder_until_its_lease_expires,
    test_a_cursor_that_is_not_one_is_refused,
    test_a_finished_task_is_never_rewritten,
    test_a_run_moves_forward_only,
    test_a_running_task_goes_on_to_any_end,
    test_cancel_ends_a_queued_run_and_stops_a_running_one,
    test_claim_takes_the_oldest_waiting_run_and_never_a_finished_one,
    test_paging_neither_repeats_nor_skips_a_run_while_runs_are_added,
    test_renewing_keeps_a_run_from_other_servers,
    walk,
)


@pytest.fixture
def db(dynamo_store: DynamoStore) -> Iterator[DynamoStore]:
    yield dynamo_store


def item(store: DynamoStore, table: str, key: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return store.db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]  # type: ignore[return-value]


def test_a_claimer_that_read_a_stale_index_does_not_take_a_taken_run(
    db: DynamoStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two claimers race: both read the index before either writes. The take is a conditional write
    on the lease, so the second one is refused and moves on. (DynamoDB makes a conditional write
    atomic; moto does not lock between threads, so the race is staged here rather than run.)"""
    add(db, "r1", T0 - 10)  # type: ignore[arg-type]
    add(db, "r2", T0 - 5)  # type: ignore[arg-type]
    stale = db._waiting(store_module.now())  # what both claimers read: r1 and r2 waiting
    assert [run_id for _, run_id in stale] == ["r1", "r2"]
    first = db.claim("server-a", lease_s=30)
    assert first is not None and first.id == "r1"
    monkeypatch.setattr(db, "_waiting", lambda t: stale)
    second = db.claim("server-b", lease_s=30)
    assert second is not None and second.id == "r2"  # r1 came first in its read; the write refused it
    run = db.run("r1")
    assert run is not None and run.lease_owner == "server-a"
    assert db.claim("server-c", lease_s=30) is None  # both taken: the stale read offers nothing


def test_an_ended_run_and_its_tasks_expire_and_leave_the_active_count(db: DynamoStore, clock: Clock) -> None:  # noqa: F811
    add(db, "r1", T0, user="ann")  # type: ignore[arg-type]
    add(db, "r2", T0 + 1, user="ann")  # type: ignore[arg-type]
    assert db.active_runs("ann") == 2
    assert "expires_at" not in item(db, db.runs_table, {"id": {"S": "r1"}})
    clock.t = T0 + 100
    assert db.move("r1", states.COMPLETE, "done", finished=T0 + 100)
    assert db.active_runs("ann") == 1
    week = 7 * 86400
    assert item(db, db.runs_table, {"id": {"S": "r1"}})["expires_at"] == {"N": str(int(T0) + 100 + week)}
    task = item(db, db.tasks_table, {"run_id": {"S": "r1"}, "task_id": {"S": "identity-matrix"}})
    assert task["expires_at"] == {"N": str(int(T0) + 100 + week)}
    canceled = db.request_cancel("r2")
    assert canceled is not None and canceled.state == states.CANCELED
    assert db.active_runs("ann") == 0
    assert db.state_counts() == {states.COMPLETE: 1, states.CANCELED: 1}


def test_filters_quota_sums_and_task_means(db: DynamoStore, clock: Clock) -> None:  # noqa: F811
    def run(run_id: str, created: float, **fields: object) -> None:
        record = RunRecord(
            id=run_id, user="ann", product="p", kind="pipeline", name=run_id, created=created, vcpu_hours=2.0
        )
        db.create_run(record.__class__(**{**record.__dict__, **fields}), [])

    run("Alpha-1", T0, tags={"project": "x"})
    run("beta-2", T0 + 10, product="q", kind="tes")
    run("alpha-3", T0 + 20, user="bob")
    db.move("Alpha-1", states.COMPLETE, "done", used_vcpu_hours=0.5)

    def ids(**where: object) -> list[str]:
        return walk(db, RunFilter(**where), limit=2)  # type: ignore[arg-type]

    assert ids() == ["alpha-3", "beta-2", "Alpha-1"]
    assert ids(name="ALPHA") == ["alpha-3", "Alpha-1"]
    assert ids(user="ann", name="alpha") == ["Alpha-1"]
    assert ids(product="q") == ["beta-2"]
    assert ids(state=states.COMPLETE) == ["Alpha-1"]
    assert ids(state=states.QUEUED, user="bob") == ["alpha-3"]
    assert ids(tag=("project", "x")) == ["Alpha-1"]
    assert ids(tag=("project", "y")) == []
    assert ids(kinds=("tes",)) == ["beta-2"]
    assert ids(kinds=()) == []
    assert ids(since=T0 + 10) == ["alpha-3", "beta-2"]
    assert ids(since=T0, until=T0 + 20) == ["beta-2", "Alpha-1"]
    # finished runs count what they used, active ones what they reserved
    assert db.vcpu_hours_since("ann", T0) == 0.5 + 2.0
    assert db.vcpu_hours_since("ann", T0 + 5) == 2.0
    assert db.active_runs("ann") == 1

    db.create_run(
        RunRecord(id="t", user="ann", product="c", kind="component", name="t", created=T0),
        [TaskRecord("t", f"k{i}", "s", "comp", None, 1.0) for i in range(4)],
    )
    db.update_task("t", "k0", state=states.COMPLETE, seconds=10.0, finished=T0 + 1)
    db.update_task("t", "k1", state=states.COMPLETE, seconds=30.0, finished=T0 + 2)
    db.update_task("t", "k2", state=states.COMPLETE, seconds=1.0, cache_hit="run", finished=T0 + 3)
    db.update_task("t", "k3", state=states.EXECUTOR_ERROR, seconds=99.0, finished=T0 + 4)
    assert db.mean_task_seconds("comp") == 20.0
    assert db.mean_task_seconds("other") is None


def test_a_run_s_tasks_keep_their_order_and_are_found_by_job(db: DynamoStore) -> None:
    names = [f"step-{i}" for i in (3, 1, 20, 2)] * 10
    tasks = [TaskRecord("r1", f"{n}/{i}", n, "c", None, 1.0) for i, n in enumerate(names)]  # 40: two batches
    db.create_run(RunRecord(id="r1", user="u", product="p", kind="pipeline", name="n", created=T0), tasks)
    assert [t.task_id for t in db.tasks("r1")] == [t.task_id for t in tasks]
    db.update_task("r1", "step-1/1", job_id="abc:1", state=states.RUNNING)
    found = db.task_by_job("abc:1")
    assert found is not None and (found.task_id, found.state, found.job_id) == (
        "step-1/1",
        states.RUNNING,
        "abc:1",
    )
    assert db.task_by_job("abc") is None
    with pytest.raises(Exception, match="ConditionalCheckFailed"):  # an id is never reused
        db.create_run(RunRecord(id="r1", user="v", product="p", kind="pipeline", name="n", created=T0), [])


def test_uploads_round_trip_and_expire(db: DynamoStore) -> None:
    upload = Upload("u1", "ann", "in.nc", 12, "ab" * 32, "uploads/u1/in.nc", T0)
    db.add_upload(upload)
    assert db.upload("u1") == upload
    assert db.upload("u2") is None
    assert item(db, db.uploads_table, {"id": {"S": "u1"}})["expires_at"] == {"N": str(int(T0) + 7 * 86400)}


def test_the_tables_are_the_rendered_ones(db: DynamoStore) -> None:
    described = db.db.describe_table(TableName=db.runs_table)["Table"]
    assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {
        i.name for i in service_tables.RUNS.indexes
    }


def test_a_run_whose_tasks_could_not_all_be_written_never_appears(
    db: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tasks go first and the run last: a writer that dies in between leaves no run without tasks."""
    tasks = [TaskRecord("r1", f"t{i:02d}", "s", "c", None, 1.0) for i in range(60)]  # three batches
    real = db.db.batch_write_item
    calls: list[int] = []

    def dies_on_the_second_batch(**request: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("the Lambda was stopped here")
        return real(**request)  # type: ignore[arg-type]

    monkeypatch.setattr(db.db, "batch_write_item", dies_on_the_second_batch)
    run = RunRecord(id="r1", user="u", product="p", kind="pipeline", name="n", created=T0)
    with pytest.raises(ConnectionError):
        db.create_run(run, tasks)
    assert db.run("r1") is None
    assert db.runs(RunFilter(), cursor=None, limit=10).items == ()
    monkeypatch.setattr(db.db, "batch_write_item", real)
    db.create_run(run, tasks)  # the client's retry (same id: nothing of the first attempt is in the way)
    assert [t.task_id for t in db.tasks("r1")] == [t.task_id for t in tasks]
