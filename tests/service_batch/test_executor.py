"""BatchExecutor against a Batch stand-in (requests checked with botocore's model), moto's S3 and Logs,
and the SQLite store: submission, the lease, no double submission, cancel, logs; then events and the
reconciler moving the run (events.py, reconcile.py).

The chain fixture pipeline over 3 days (tests/fixtures/pipeline): gen and side (arrays of 3), acc (an
array of 3 chained day to day), report (one job): 10 tasks in 4 jobs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from r2o.service import states
from r2o.service.aws import events, reconcile
from r2o.service.aws.batch import BatchExecutor, job_name
from r2o.service.store import RunRecord
from tests.service_batch.conftest import BUCKET, LOG_GROUP, QUEUE, make_executor, queue_run
from tests.service_batch.fakes import FakeBatch

BODY = {"product": "chain", "parameters": {"start": "2024-02-28", "days": 3}}
DAYS = ("2024-02-28", "2024-02-29", "2024-03-01")
TASKS = sorted([*(f"{s}/{d}" for s in ("gen", "acc", "side") for d in DAYS), "report"])


def fake(executor: BatchExecutor) -> FakeBatch:
    assert isinstance(executor.batch, FakeBatch)
    return executor.batch


def submitted(executor: BatchExecutor) -> RunRecord:
    run = queue_run(executor, BODY)
    executor.wake()
    found = executor.store.run(run.id)
    assert found is not None
    return found


def job_ids(executor: BatchExecutor, run_id: str) -> dict[str, str]:
    return {t.task_id: t.job_id or "" for t in executor.store.tasks(run_id)}


def test_wake_submits_the_planned_array_jobs_and_records_every_tasks_job(executor: BatchExecutor) -> None:
    run = submitted(executor)
    batch = fake(executor)
    assert run.state == states.RUNNING
    assert run.reason == f"submitted 4 AWS Batch job(s) for 10 task(s) to {QUEUE}"
    names = [c["jobName"] for c in batch.submitted]
    assert names == [job_name(run.id, f"chain-{s}") for s in ("gen", "acc", "side", "report")]
    sizes = [c.get("arrayProperties", {}).get("size", 1) for c in batch.submitted]
    assert sizes == [3, 3, 3, 1]
    gen, acc, _side, report = (c for c in batch.submitted)
    ids = {
        c["jobName"]: j
        for c, j in zip(
            batch.submitted,
            (s["jobId"] for s in batch.list_jobs(jobQueue=QUEUE)["jobSummaryList"]),
            strict=True,
        )
    }
    assert acc["dependsOn"] == [{"jobId": ids[gen["jobName"]], "type": "N_TO_N"}, {"type": "SEQUENTIAL"}]
    assert report["dependsOn"] == [{"jobId": ids[acc["jobName"]]}]
    assert all(c["jobDefinition"] == f"r2o-chain-{c['tags']['r2o:component']}" for c in batch.submitted)
    assert all(c["tags"]["r2o:run"] == run.id for c in batch.submitted)
    # the stager's command: the run's prefix in the results bucket
    spec = json.loads(gen["containerOverrides"]["command"][1])
    assert (gen["containerOverrides"]["command"][0], spec["bucket"], spec["run"]) == (
        "r2o-stage",
        BUCKET,
        f"runs/{run.id}",
    )
    recorded = job_ids(executor, run.id)
    assert sorted(recorded) == TASKS
    for i, day in enumerate(DAYS):
        assert recorded[f"gen/{day}"] == f"{ids[gen['jobName']]}:{i}"
        assert recorded[f"acc/{day}"] == f"{ids[acc['jobName']]}:{i}"
    assert recorded["report"] == ids[report["jobName"]]


def test_two_executors_never_submit_one_run_twice(chain_repo: Any, store: Any, aws: Any) -> None:
    batch = FakeBatch()
    first = make_executor(chain_repo, store, aws, batch)
    second = make_executor(chain_repo, store, aws, batch)
    run = queue_run(first, BODY)
    first.wake()
    second.wake()  # the run is leased (submitted: Batch has it)
    first.wake()
    assert len(batch.submitted) == 4
    assert store.run(run.id).state == states.RUNNING


def test_a_submitter_that_died_after_submit_job_is_not_doubled(executor: BatchExecutor) -> None:
    batch = fake(executor)
    run = queue_run(executor, BODY)
    # a Lambda submitted the first two jobs and died before recording them (its lease then expired)
    plan_names = [job_name(run.id, f"chain-{s}") for s in ("gen", "acc")]
    for name in plan_names:
        batch.submit_job(
            jobName=name, jobQueue=QUEUE, jobDefinition="r2o-chain-gen",
            containerOverrides={"command": ["x"]}, arrayProperties={"size": 3},
        )  # fmt: skip
    executor.wake()
    names = [c["jobName"] for c in batch.submitted]
    assert names.count(plan_names[0]) == 1 and names.count(plan_names[1]) == 1
    assert len(names) == 4  # the two found, then side and report
    assert executor.store.run(run.id).state == states.RUNNING
    assert all(job_ids(executor, run.id).values())


def test_a_queued_run_whose_submitter_died_is_submitted_by_the_reconciler(executor: BatchExecutor) -> None:
    run = queue_run(executor, BODY)
    assert executor.store.claim("a-dead-lambda", 0.01) is not None  # claimed, never submitted
    time.sleep(0.05)
    reconcile.run_once(executor)
    assert len(fake(executor).submitted) == 4
    assert executor.store.run(run.id).state == states.RUNNING


def test_a_refused_submission_fails_the_run_with_the_reason_and_stops_what_was_submitted(
    executor: BatchExecutor,
) -> None:
    fake(executor).refuse_after = 2
    run = queue_run(executor, BODY)
    executor.wake()
    found = executor.store.run(run.id)
    assert found is not None and found.state == states.SYSTEM_ERROR
    assert found.reason == (
        "could not submit its Batch jobs: ClientError: An error occurred (ClientException) when calling "
        "the SubmitJob operation: JobDefinition r2o-chain-side not found"
    )
    terminated = sorted(j for j, _ in fake(executor).terminated)
    assert terminated == sorted(
        s["jobId"] for s in fake(executor).list_jobs(jobQueue=QUEUE)["jobSummaryList"]
    )
    assert len(terminated) == 2


def test_events_move_tasks_forward_only_and_end_the_run(executor: BatchExecutor) -> None:
    run = submitted(executor)
    batch = fake(executor)
    ids = job_ids(executor, run.id)

    def deliver(job_id: str, status: str, **kw: Any) -> None:
        job = batch.set(job_id, status, **kw)
        out = events.handle(events.event_for(job, region="us-east-1", account="123456789012"), executor)
        assert out["runs"] == [run.id]

    deliver(ids["gen/2024-02-28"], "RUNNING")
    task = {t.task_id: t for t in executor.store.tasks(run.id)}["gen/2024-02-28"]
    assert task.state == states.RUNNING and task.reason.startswith("running after")
    runnable = batch.jobs[ids["gen/2024-02-28"]] | {"status": "RUNNABLE"}  # a late RUNNABLE event
    events.handle(events.event_for(runnable, region="us-east-1", account="123456789012"), executor)
    again = {t.task_id: t for t in executor.store.tasks(run.id)}["gen/2024-02-28"]
    assert (again.state, again.reason) == (states.RUNNING, task.reason)
    deliver(ids["gen/2024-02-28"], "SUCCEEDED", code=0)
    late = batch.jobs[ids["gen/2024-02-28"]] | {"status": "RUNNING"}  # a late RUNNING event
    events.handle(events.event_for(late, region="us-east-1", account="123456789012"), executor)
    events.handle(
        events.event_for(batch.jobs[ids["gen/2024-02-28"]], region="us-east-1", account="1"), executor
    )
    task = {t.task_id: t for t in executor.store.tasks(run.id)}["gen/2024-02-28"]
    assert (task.state, task.exit_code, task.seconds) == (states.COMPLETE, 0, 30.0)
    for task_id in TASKS:
        if task_id != "gen/2024-02-28" and task_id != "acc/2024-03-01":
            deliver(ids[task_id], "SUCCEEDED", code=0)
    assert executor.store.run(run.id).state == states.RUNNING
    assert executor.store.run(run.id).reason.startswith("9 of 10 task(s) ended")
    deliver(ids["acc/2024-03-01"], "FAILED", code=2, reason="Essential container in task exited")
    ended = executor.store.run(run.id)
    assert ended.state == states.EXECUTOR_ERROR
    assert ended.reason == "task acc/2024-03-01 failed: exited with code 2"
    # the same failure again, then a success out of order: nothing changes
    deliver(ids["acc/2024-03-01"], "FAILED", code=2, reason="Essential container in task exited")
    deliver(ids["acc/2024-03-01"], "SUCCEEDED", code=0)
    again = executor.store.run(run.id)
    assert (again.state, again.reason) == (ended.state, ended.reason)
    assert {t.task_id: t for t in executor.store.tasks(run.id)}["acc/2024-03-01"].exit_code == 2


def test_events_of_other_jobs_or_kinds_are_ignored(executor: BatchExecutor) -> None:
    assert "ignored" in events.handle({"source": "aws.ec2", "detail-type": "x", "detail": {}}, executor)
    other = {"jobId": "not-ours", "status": "SUCCEEDED", "jobName": "x"}
    assert events.handle(events.event_for(other, region="us-east-1", account="1"), executor)["runs"] == []


def test_the_reconciler_ends_a_run_whose_events_were_lost(executor: BatchExecutor) -> None:
    run = submitted(executor)
    batch = fake(executor)
    ids = job_ids(executor, run.id)
    for task_id in TASKS:  # Batch ran everything; no event arrived
        batch.set(ids[task_id], "SUCCEEDED", code=0)
    for parent in {i.split(":")[0] for i in ids.values()}:
        batch.jobs[parent]["status"] = "SUCCEEDED"
    report = reconcile.run_once(executor)
    assert report["ended"] == [run.id]
    ended = executor.store.run(run.id)
    assert (ended.state, ended.reason) == (states.COMPLETE, "10 task(s) done")
    assert all(t.state == states.COMPLETE for t in executor.store.tasks(run.id))


def test_the_reconciler_fails_a_run_whose_jobs_vanished(executor: BatchExecutor) -> None:
    run = submitted(executor)
    batch = fake(executor)
    ids = job_ids(executor, run.id)
    for day in DAYS:
        batch.set(ids[f"gen/{day}"], "SUCCEEDED", code=0)
    for job_id in {i.split(":")[0] for t, i in ids.items() if not t.startswith("gen/")}:
        batch.forget(job_id)  # Batch forgot them; their events were lost
    report = reconcile.run_once(executor)
    assert len(report["vanished"]) == 7
    ended = executor.store.run(run.id)
    assert ended.state == states.SYSTEM_ERROR
    assert "AWS Batch no longer knows job" in ended.reason
    assert {t.task_id: t.state for t in executor.store.tasks(run.id)}["gen/2024-02-28"] == states.COMPLETE


def test_cancel_terminates_every_job_of_the_run(executor: BatchExecutor) -> None:
    run = submitted(executor)
    executor.store.request_cancel(run.id)
    assert executor.cancel(run.id) is True
    parents = sorted({i.split(":")[0] for i in job_ids(executor, run.id).values()})
    assert sorted(j for j, _ in fake(executor).terminated) == parents
    batch = fake(executor)
    for job_id in job_ids(executor, run.id).values():
        batch.set(job_id, "FAILED", reason=events.CANCEL_REASON)
    reconcile.run_once(executor)
    assert executor.store.run(run.id).state == states.CANCELED


def test_read_log_pages_the_jobs_cloudwatch_stream(executor: BatchExecutor, aws: Any) -> None:
    run = submitted(executor)
    batch = fake(executor)
    task = {t.task_id: t for t in executor.store.tasks(run.id)}["report"]
    page = executor.read_log(run, task, 0, 100, finished=False)
    assert "has not started yet: no log stream exists so far" in page.text and page.next_offset == 0
    assert task.job_id is not None
    batch.set(task.job_id, "SUCCEEDED", code=0)
    stream = f"r2o/default/{task.job_id}"
    aws["logs"].create_log_group(logGroupName=LOG_GROUP)
    aws["logs"].create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    lines = [f"line {i:03d}" for i in range(300)]
    t0 = int(time.time() * 1000)
    aws["logs"].put_log_events(
        logGroupName=LOG_GROUP, logStreamName=stream,
        logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(lines)],
    )  # fmt: skip
    text = "".join(f"{m}\n" for m in lines)
    first = executor.read_log(run, task, 0, 1000, finished=True)
    assert first.text == text[:1000] and first.next_offset == 1000 and not first.complete
    rest = executor.read_log(run, task, 1000, 10_000, finished=True)
    assert first.text + rest.text == text and rest.complete
