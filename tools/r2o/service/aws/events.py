"""AWS Batch "Batch Job State Change" events -> task and run states.

An event's ``detail`` is the job as DescribeJobs shows it (jobId, jobName, status, statusReason,
createdAt/startedAt/stoppedAt in ms, attempts[].container.exitCode/reason, arrayProperties,
container.logStreamName, ...), so the reconciler applies the same :func:`apply_job` to what it
describes. The job's task is found by its job id (``store.task_by_job``; an array child's id is
``<parent>:<index>``). Applying is monotonic and idempotent: a task moves only forward (waiting ->
running -> ended) and an ended task keeps its record, so an event seen twice or late changes
nothing. When every task of a run has ended, the run ends too (COMPLETE, or the first failure's
state and reason), through the store's forward-only ``move``.

Reasons are for people: Batch's statusReason, the exit code, ``OutOfMemoryError``, a timeout, how
long the job waited in the queue before it ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from r2o.service import states
from r2o.service.store import Store, TaskRecord

if TYPE_CHECKING:
    from r2o.service.aws.batch import BatchExecutor

log = logging.getLogger("r2o.service.aws")

DETAIL_TYPE = "Batch Job State Change"
SOURCE = "aws.batch"
CANCEL_REASON = "canceled by its user through r2o"
ENDED = frozenset({*states.TERMINAL, states.SKIPPED})
_RANK = {states.QUEUED: 0, states.RUNNING: 1}
WAITING = {
    "SUBMITTED": "submitted to AWS Batch",
    "PENDING": "waiting for the tasks it depends on",
    "RUNNABLE": "RUNNABLE: waiting for an instance with the vCPUs and memory it asks for",
    "STARTING": "STARTING: its container is being started (image pull)",
}


@dataclass(frozen=True)
class Change:
    state: str
    reason: str
    fields: Mapping[str, Any]


def _rank(state: str) -> int:
    return 2 if state in ENDED else _RANK.get(state, 0)


def _seconds(ms: Any) -> float | None:
    return float(ms) / 1000.0 if isinstance(ms, (int, float)) and ms > 0 else None


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def change_of(job: Mapping[str, Any], now: float | None = None) -> Change:
    """The task state a Batch job's description means, with a reason a person can act on."""
    status = str(job.get("status", ""))
    attempts: Sequence[Mapping[str, Any]] = job.get("attempts") or []
    last = attempts[-1] if attempts else {}
    container: Mapping[str, Any] = last.get("container") or job.get("container") or {}
    code = container.get("exitCode")
    container_reason = str(container.get("reason") or "")
    status_reason = str(job.get("statusReason") or "")
    created = _seconds(job.get("createdAt"))
    started = _seconds(job.get("startedAt")) or _seconds(last.get("startedAt"))
    stopped = _seconds(job.get("stoppedAt")) or _seconds(last.get("stoppedAt"))
    tries = f" (attempt {len(attempts)})" if len(attempts) > 1 else ""
    if status in WAITING:
        reason = WAITING[status]
        if status == "RUNNABLE" and created is not None:
            reason += f"; submitted {_duration((now or time.time()) - created)} ago"
        return Change(states.QUEUED, reason, {})
    waited = f" after {_duration(started - created)} in the queue" if started and created else ""
    if status == "RUNNING":
        return Change(states.RUNNING, f"running{waited}{tries}", {"started": started or time.time()})
    ended: dict[str, Any] = {"finished": stopped or time.time()}
    if started is not None:
        ended["started"] = started
        if stopped is not None:
            ended["seconds"] = max(0.0, stopped - started)
    if code is not None:
        ended["exit_code"] = int(code)
    if status == "SUCCEEDED":
        took = f" in {_duration(ended['seconds'])}" if "seconds" in ended else ""
        return Change(states.COMPLETE, f"ran{took}{waited}{tries}", {**ended, "exit_code": int(code or 0)})
    if status != "FAILED":
        return Change(states.QUEUED, f"AWS Batch status {status or '(none)'}", {})
    if "dependent job" in status_reason.lower() or "dependency" in status_reason.lower():
        return Change(states.SKIPPED, "did not run: a task it depends on failed", ended)
    if status_reason == CANCEL_REASON:
        return Change(states.CANCELED, "canceled by its user", ended)
    if "OutOfMemoryError" in container_reason or "OutOfMemoryError" in status_reason:
        return Change(
            states.EXECUTOR_ERROR,
            f"out of memory: {container_reason or status_reason}{tries} (raise resources.memory_mib)",
            ended,
        )
    if "timeout" in status_reason.lower():
        took = f" after {_duration(ended['seconds'])}" if "seconds" in ended else ""
        return Change(states.EXECUTOR_ERROR, f"timed out{took}: {status_reason}{tries}", ended)
    if code is not None and int(code) != 0:
        detail = f": {container_reason}" if container_reason else ""
        return Change(states.EXECUTOR_ERROR, f"exited with code {int(code)}{detail}{tries}", ended)
    why = status_reason or container_reason or "failed without a reason"
    return Change(states.SYSTEM_ERROR, f"AWS Batch: {why}{tries}", ended)


def apply_job(
    store: Store,
    job: Mapping[str, Any],
    now: float | None = None,
    describe: Callable[[list[str]], list[Mapping[str, Any]]] | None = None,
) -> list[str]:
    """Apply one job's description to its task and its run; the ids of the runs it touched.

    An array parent that ended says only that its children ended, not how each did: with ``describe``
    (DescribeJobs) its children not yet ended are described and applied one by one."""
    job_id = str(job.get("jobId", ""))
    task = store.task_by_job(job_id) if job_id else None
    if task is not None:
        if _move_task(store, task, change_of(job, now)):
            settle_run(store, task.run_id)
        return [task.run_id]
    array: Mapping[str, Any] = job.get("arrayProperties") or {}
    size = array.get("size")
    if not isinstance(size, int) or "index" in array or job.get("status") not in ("SUCCEEDED", "FAILED"):
        return []  # not a job of ours, or an array parent still going (its children say more)
    first = store.task_by_job(f"{job_id}:0")
    if first is None or describe is None:
        return []
    open_ids = [
        t.job_id
        for t in store.tasks(first.run_id)
        if t.job_id and t.job_id.split(":", 1)[0] == job_id and t.state not in ENDED
    ]
    for i in range(0, len(open_ids), 100):
        for child in describe(open_ids[i : i + 100]):
            apply_job(store, child, now)
    return [first.run_id]


def _move_task(store: Store, task: TaskRecord, change: Change) -> bool:
    if _rank(change.state) <= _rank(task.state):
        return False  # a repeated or late event: never backwards, never a second end
    store.update_task(
        task.run_id, task.task_id, state=change.state, reason=change.reason[:2000], **change.fields
    )
    return True


def settle_run(store: Store, run_id: str) -> None:
    """The run's state from its tasks': ended when all ended, else RUNNING with a progress reason."""
    run = store.run(run_id)
    if run is None or run.terminal:
        return
    tasks = store.tasks(run_id)
    ended = [t for t in tasks if t.state in ENDED]
    if tasks and len(ended) == len(tasks):
        used = sum((t.seconds or 0.0) * t.vcpus for t in tasks) / 3600.0
        failed = [t for t in tasks if t.state not in (states.COMPLETE, states.SKIPPED)]
        if not failed and all(t.state == states.COMPLETE for t in tasks):
            state, reason = states.COMPLETE, f"{len(tasks)} task(s) done"
        elif run.cancel_requested or any(t.state == states.CANCELED for t in tasks):
            state, reason = states.CANCELED, "canceled: every job of the run was stopped"
        else:
            first = min(failed or tasks, key=lambda t: (t.finished or 0.0, t.task_id))
            state = states.EXECUTOR_ERROR if first.state == states.EXECUTOR_ERROR else states.SYSTEM_ERROR
            reason = f"task {first.task_id} failed: {first.reason}"
        store.move(run_id, state, reason, finished=time.time(), used_vcpu_hours=used)
        return
    running = sum(t.state == states.RUNNING for t in tasks)
    summary = f"{len(ended)} of {len(tasks)} task(s) ended, {running} running"
    if run.state in (states.QUEUED, states.INITIALIZING) and running:
        store.move(run_id, states.RUNNING, summary)
    elif run.state == states.RUNNING:
        waiting = [t for t in tasks if t.state == states.QUEUED and t.reason]
        if waiting and not running:
            summary += f"; {waiting[0].task_id}: {waiting[0].reason}"
        store.update(run_id, reason=summary)


def handle(event: Mapping[str, Any], executor: BatchExecutor | None = None) -> dict[str, Any]:
    """One EventBridge event (the Lambda entry point's work); events of other kinds are ignored."""
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        return {"ignored": f"not a {DETAIL_TYPE} event of {SOURCE}"}
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or not detail.get("jobId"):
        return {"ignored": "the event has no job in its detail"}
    if executor is None:
        from r2o.service.aws.reconcile import executor_from_env

        executor = executor_from_env()
    runs = apply_job(executor.store, detail, describe=executor.describe)
    return {"job": detail["jobId"], "status": detail.get("status"), "runs": runs}


def event_for(job: Mapping[str, Any], *, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event AWS Batch sends for ``job`` (a DescribeJobs job): how tests deliver the
    events moto does not emit."""
    import datetime as dt
    import uuid

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [job.get("jobArn", "")],
        "detail": dict(job),
    }
